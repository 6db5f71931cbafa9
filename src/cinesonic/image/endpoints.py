"""Image routes: any stored image by id, whole or as a thumbnail [000]; the signed-in user's
avatar, uploaded with `POST /images/avatar` [000] or `PUT /users/me/avatar` [001].

Who may read an image: any signed-in principal, with `?api_key=` accepted for players that
cannot send headers. Avatars are visible to every signed-in user anyway (`avatar_image_id` is in
the public profile) and image ids are random UUIDv7s; routes of domains with private art can
check their own rights before handing out an id.

Uploads are read by `upload.read_file_field`, not FastAPI's `UploadFile`, so a body past the
limit is refused while it streams in rather than after it has been spooled to disk.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import QueryParams
from starlette.routing import Match, Route
from starlette.types import Scope

from cinesonic.auth import service as auth_service
from cinesonic.deps import (
    ClientInfo,
    CurrentPrincipal,
    DbSession,
    MediaPrincipal,
    State,
    get_media_principal,
    get_state,
)
from cinesonic.errors import (
    AuthenticationRequired,
    BadRequest,
    InvalidToken,
    PayloadTooLarge,
    ValidationFailed,
    error_responses,
)
from cinesonic.image import service as image_service
from cinesonic.image.cache import ImageCache
from cinesonic.image.errors import (
    AvatarNotFound,
    ImageNotFound,
    ImageTooManyPixels,
    InvalidImage,
    UnsupportedImageType,
)
from cinesonic.image.processing import ThumbnailSize
from cinesonic.image.responses import IMMUTABLE, REVALIDATE, image_response
from cinesonic.image.schemas import ImageRead
from cinesonic.image.store import ImageStore
from cinesonic.image.upload import Upload, read_file_field
from cinesonic.kit.schemas import DeletedResponse
from cinesonic.state import AppState

router = APIRouter(tags=["images"])

SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
)
SIGNED_IN_WRITE = (*SIGNED_IN, auth_service.CsrfFailed)
UPLOAD_REFUSALS = (
    BadRequest,
    PayloadTooLarge,
    UnsupportedImageType,
    InvalidImage,
    ImageTooManyPixels,
    ValidationFailed,
)

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_IMAGE_CONTENT = {"image/jpeg": _BINARY, "image/png": _BINARY}
IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The bytes, in the image's own format, with `ETag`, `Last-Modified` "
        "and `Cache-Control`.",
        "content": _IMAGE_CONTENT,
    },
    206: {"description": "The requested `Range` of the bytes.", "content": _IMAGE_CONTENT},
    304: {"description": "Not modified: the client's copy is current (no body)."},
    416: {"description": "The `Range` lies outside the file."},
}
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A JPEG or PNG image of at most 2 MiB; its type is "
                            "read from its content, not from the declared Content-Type.",
                        }
                    },
                }
            }
        },
    }
}
UPLOAD_DESCRIPTION = (
    "Multipart field `file`: a JPEG or PNG of at most 2 MiB, recognised by its content "
    "(a PNG named `.jpg` is a PNG). The image is re-encoded in its own format with its EXIF "
    "orientation applied and its metadata (EXIF, text) removed — only the colour profile stays "
    "— and scaled down to at most 1024 pixels on its long side. Identical images are stored "
    "once and share an id. Refusals: 413 past 2 MiB, 415 for other types, 422 `invalid_image` "
    "for corrupt or truncated files, 422 `image_too_large_in_pixels` beyond 40 megapixels "
    "(decompression bombs)."
)
SIZE_DESCRIPTION = (
    "Serve a thumbnail this many pixels on its long side, in the image's own format; made on "
    "first request, then served from disk. Images already that small are served whole."
)

SizeQuery = Annotated[ThumbnailSize | None, Query(description=SIZE_DESCRIPTION)]


async def get_store(state: State) -> ImageStore:
    # async: FastAPI runs a plain `def` dependency in a worker thread.
    return image_service.image_store(state.settings.data_dir)


def image_cache(request: Request) -> ImageCache | None:
    """The app's image cache (made on first use); none for `Range` requests, which are served
    from the file itself. A plain call, not a dependency: each dependency costs a request
    more than this lookup does."""
    if "range" in request.headers:
        return None
    app_state = request.app.state
    cache: ImageCache | None = getattr(app_state, "image_cache", None)
    if cache is None:
        cache = app_state.image_cache = ImageCache()
    return cache


async def read_avatar_upload(request: Request) -> Upload:
    return await read_file_field(request, name="file", limit=image_service.AVATAR_MAX_BYTES)


Store = Annotated[ImageStore, Depends(get_store)]
# Declared after the principal in each route: the body is read only once the caller is known.
AvatarUpload = Annotated[Upload, Depends(read_avatar_upload)]


@router.get(
    "/images/{image_id}",
    response_class=Response,
    response_model=None,
    summary="An image, or its thumbnail",
    description="Any signed-in principal (`?api_key=` accepted). `ETag` is the SHA-256 of the "
    "bytes (a thumbnail's adds `-<size>`); `If-None-Match` (lists, weak tags, `*`) and "
    "`If-Modified-Since` answer 304; `Range` answers 206. The bytes behind an id never "
    "change, so they may be cached for a year. HEAD answers the same headers.",
    responses={**IMAGE_RESPONSES, **error_responses(*SIGNED_IN, ImageNotFound, ValidationFailed)},
)
@router.head("/images/{image_id}", response_class=Response, include_in_schema=False)
async def read_image(
    image_id: uuid.UUID,
    request: Request,
    _principal: MediaPrincipal,
    state: State,
    size: SizeQuery = None,
) -> Response:
    return await _serve_image(request, state, image_id, size)


async def _serve_image(
    request: Request, state: AppState, image_id: uuid.UUID, size: ThumbnailSize | None
) -> Response:
    cache = image_cache(request)
    image = await image_service.open_image(state, image_id, size=size, cache=cache)
    return image_response(request, image, cache_control=IMMUTABLE)


def _size_of(query_string: bytes) -> ThumbnailSize | None:
    """The `size` query parameter, None when absent; ValueError when it is not a size."""
    raw = QueryParams(query_string).get("size")
    return None if raw is None else ThumbnailSize(int(raw))


class ImageFastRoute(Route):
    """`GET|HEAD /api/v1/images/{image_id}` without FastAPI's routing and dependency solving.

    A cached thumbnail is answered from memory; matching the request through the included
    routers and solving its dependencies cost more than that whole answer (measured: half the
    CPU of the request). This route sits first in the app's routes (`app.py`) and runs the same
    code as `read_image`, which stays the documented route. A request this route does not
    fully understand (a `size` that is not one of the thumbnail sizes) does not match it and
    reaches `read_image`, whose validation answers it.
    """

    def __init__(self, prefix: str) -> None:
        super().__init__(
            f"{prefix}/images/{{image_id:uuid}}",
            self._endpoint,
            methods=["GET", "HEAD"],
            include_in_schema=False,
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            try:
                _size_of(scope.get("query_string", b""))
            except ValueError:
                return Match.NONE, {}
        return match, child_scope

    @staticmethod
    async def _endpoint(request: Request) -> Response:
        state = await get_state(request)
        await get_media_principal(request, state)
        size = _size_of(request.scope.get("query_string", b""))  # matches() checked it
        return await _serve_image(request, state, request.path_params["image_id"], size)


@router.post(
    "/images/avatar",
    status_code=201,
    response_model=ImageRead,
    summary="Upload my avatar",
    description=UPLOAD_DESCRIPTION + " Answers the image, with its URL in `Location`.",
    openapi_extra=UPLOAD_BODY,
    responses=error_responses(*SIGNED_IN_WRITE, *UPLOAD_REFUSALS),
)
@router.put(
    "/users/me/avatar",
    response_model=ImageRead,
    summary="Replace my avatar",
    description=UPLOAD_DESCRIPTION + " The same as `POST /images/avatar`, answered with 200.",
    openapi_extra=UPLOAD_BODY,
    responses=error_responses(*SIGNED_IN_WRITE, *UPLOAD_REFUSALS),
)
async def upload_my_avatar(
    principal: CurrentPrincipal,
    upload: AvatarUpload,
    session: DbSession,
    state: State,
    store: Store,
    origin: ClientInfo,
    response: Response,
) -> ImageRead:
    image = await image_service.set_avatar(session, state, store, principal, origin, upload)
    response.headers["Location"] = f"/api/v1/images/{image.id}"
    return image


@router.get(
    "/users/me/avatar",
    response_class=Response,
    response_model=None,
    summary="My avatar's bytes",
    description="404 when you have none (`?api_key=` accepted). `Cache-Control: no-cache`: "
    "the address answers another image once the avatar changes, so clients revalidate with "
    "`If-None-Match` (304); `If-Modified-Since` is not trusted here, as an avatar may change "
    "back to an older image. `?size=` serves a thumbnail, as for `/images/{id}`.",
    responses={**IMAGE_RESPONSES, **error_responses(*SIGNED_IN, AvatarNotFound, ValidationFailed)},
)
@router.head("/users/me/avatar", response_class=Response, include_in_schema=False)
async def read_my_avatar(
    request: Request,
    principal: MediaPrincipal,
    state: State,
    size: SizeQuery = None,
) -> Response:
    cache = image_cache(request)
    image = await image_service.open_avatar(state, principal, size=size, cache=cache)
    return image_response(request, image, cache_control=REVALIDATE, trust_dates=False)


@router.delete(
    "/users/me/avatar",
    response_model=DeletedResponse,
    summary="Remove my avatar",
    description="The image itself stays: identical bytes may be someone else's avatar too.",
    responses=error_responses(*SIGNED_IN_WRITE, AvatarNotFound),
)
async def remove_my_avatar(
    principal: CurrentPrincipal, session: DbSession, state: State, origin: ClientInfo
) -> DeletedResponse:
    await image_service.clear_avatar(session, state, principal, origin)
    return DeletedResponse()
