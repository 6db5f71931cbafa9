"""The image domain's errors, raised by its processing stages and its service."""

from __future__ import annotations

from cinesonic.errors import NotFound, UnsupportedMediaType, ValidationFailed


class ImageNotFound(NotFound):
    message = "No such image."


class AvatarNotFound(NotFound):
    message = "You have no avatar."


class UnsupportedImageType(UnsupportedMediaType):
    message = "Only JPEG and PNG images are accepted."


class InvalidImage(ValidationFailed):
    code, message = "invalid_image", "The file is not a readable image (corrupt or truncated)."


class ImageTooManyPixels(ValidationFailed):
    code = "image_too_large_in_pixels"
    message = "The image has too many pixels."
