"""The stages an image goes through, each a pure function to test alone:

    sniff (what the bytes say they are) → decode (Pillow proves them whole, within the pixel
    limit) → prepare (orientation applied, metadata dropped, downscaled, re-encoded) →
    render_thumbnail.

The declared content type is never consulted: the magic bytes choose the format and Pillow must
then read the bytes as that format. Re-encoding is what strips EXIF, text chunks and the rest;
only the ICC colour profile is kept, since without it wide-gamut photos render with the wrong
colours. Pillow's encoders are deterministic, so the same upload always prepares to the same
bytes (and the same content address).

No I/O and no database here; decoding is CPU-bound, so callers run these in a thread.
"""

from __future__ import annotations

import enum
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from cinesonic.image.errors import ImageTooManyPixels, InvalidImage, UnsupportedImageType

# Decoded size bound (a 40 MP RGBA image is 160 MB in memory); checked from the header, before
# anything is decoded. Pillow's own bomb check (89 MP warning, 179 MP error) sits above it.
MAX_PIXELS = 40_000_000


class ThumbnailSize(enum.IntEnum):
    """Thumbnails are made in these sizes only (pixels on the long side): a bounded cache."""

    tiny = 64
    small = 128
    medium = 256
    large = 512
    huge = 1024


THUMBNAIL_SIZES: tuple[int, ...] = tuple(int(size) for size in ThumbnailSize)
JPEG_QUALITY = 90


@dataclass(frozen=True)
class ImageFormat:
    pillow_name: str
    content_type: str
    extension: str


JPEG = ImageFormat("JPEG", "image/jpeg", "jpg")
PNG = ImageFormat("PNG", "image/png", "png")
ACCEPTED_FORMATS = (JPEG, PNG)
_SIGNATURES = ((b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG))
# Recognised only to tell the uploader what was refused.
_REFUSED_SIGNATURES = (
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"%PDF-", "application/pdf"),
)
_ISO_BRANDS = {b"avif": "image/avif", b"avis": "image/avif", b"heic": "image/heic"}


@dataclass(frozen=True)
class PreparedImage:
    """Bytes ready to store, with what they are."""

    data: bytes
    format: ImageFormat
    width: int
    height: int


def format_of(content_type: str) -> ImageFormat:
    """The accepted format with this content type (stored rows name theirs)."""
    for candidate in ACCEPTED_FORMATS:
        if candidate.content_type == content_type:
            return candidate
    raise UnsupportedImageType(f"Images of type {content_type!r} are not handled.")


def _describe(data: bytes) -> str | None:
    for signature, content_type in _REFUSED_SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return _ISO_BRANDS.get(data[8:12])
    return None


def sniff(data: bytes) -> ImageFormat:
    """The format the magic bytes announce; 415 for anything but JPEG and PNG."""
    if not data:
        raise InvalidImage("The file is empty.")
    for signature, found in _SIGNATURES:
        if data.startswith(signature):
            return found
    detected = _describe(data)
    raise UnsupportedImageType(
        f"Only JPEG and PNG images are accepted; this file is {detected or 'not an image'}.",
        details={"detected": detected, "accepted": [f.content_type for f in ACCEPTED_FORMATS]},
    )


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageTooManyPixels(
            f"The image is {width}×{height} pixels; at most {MAX_PIXELS:,} pixels are accepted.",
            details={"width": width, "height": height, "max_pixels": MAX_PIXELS},
        )


def decode(data: bytes, found: ImageFormat, *, fit: int | None = None) -> Image.Image:
    """The image, fully loaded: `verify()` checks its structure (PNG checksums), a second open
    decodes every pixel (a truncated JPEG fails here). With `fit`, a JPEG decodes at a reduced
    scale that is still at least `fit` on each side."""
    formats = [found.pillow_name]
    try:
        with Image.open(io.BytesIO(data), formats=formats) as probe:
            _check_pixels(*probe.size)
            probe.verify()
        image = Image.open(io.BytesIO(data), formats=formats)
        if fit is not None:
            image.draft(None, (fit, fit))
        image.load()
    except Image.DecompressionBombError as exc:
        raise ImageTooManyPixels(f"The image has more than {MAX_PIXELS:,} pixels.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports damaged data as any of these, depending on the plugin and the damage.
        raise InvalidImage(
            f"The file is not a readable {found.pillow_name} image (corrupt or truncated)."
        ) from exc
    return image


def _resizable(image: Image.Image) -> Image.Image:
    """A mode Pillow resamples smoothly (palette and bilevel images only resample nearest)."""
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if image.has_transparency_data else "RGB")
    if image.mode == "1":
        return image.convert("L")
    if image.mode.startswith("I;16"):
        return image.convert("I")
    return image


def _encode(image: Image.Image, found: ImageFormat) -> PreparedImage:
    out = io.BytesIO()
    # Only what is passed here is written: EXIF, XMP, comments and text chunks are left behind.
    icc_profile = image.info.get("icc_profile")
    if found is JPEG:
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, icc_profile=icc_profile)
    else:
        if image.mode == "I":  # resampled 16-bit grey goes back to what PNG stores
            image = image.convert("I;16")
        image.save(out, "PNG", optimize=True, icc_profile=icc_profile)
    return PreparedImage(out.getvalue(), found, image.width, image.height)


def prepare(data: bytes, *, max_side: int) -> PreparedImage:
    """An upload made safe to store: validated by content, EXIF orientation applied, at most
    `max_side` pixels on its long side, re-encoded in its own format without metadata."""
    found = sniff(data)
    image = ImageOps.exif_transpose(decode(data, found, fit=max_side))
    if max(image.size) > max_side:
        image = _resizable(image)
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return _encode(image, found)


def render_thumbnail(data: bytes, found: ImageFormat, size: int) -> bytes:
    """A stored image scaled to `size` pixels on its long side, in the same format."""
    image = _resizable(decode(data, found, fit=size))
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return _encode(image, found).data
