"""Images: storing uploads by their content, finding the file (or thumbnail) a request asks for,
and users' avatars.

An upload is prepared in a thread (validated by content, orientation applied, metadata dropped,
re-encoded; see `processing`), written to the content-addressed store, then recorded: one
`image` row per distinct blob, found again by its SHA-256, so the same bytes uploaded twice are
one image. The file is written before the row: a rolled-back transaction leaves an unreferenced
file, which a content-addressed store can hold harmlessly. Files are never deleted here.

Thumbnails are rendered on first request into the store and served from disk afterwards. Two
first requests racing may both render; each rename puts a complete, identical file in place.
What a request resolved to — small files with their bytes — is kept in an `ImageCache`, so
repeated requests for a thumbnail touch neither the database nor the disk.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth.principal import Principal
from cinesonic.errors import NotFound, ValidationFailed
from cinesonic.image import processing
from cinesonic.image.cache import ImageCache
from cinesonic.image.errors import AvatarNotFound, ImageNotFound
from cinesonic.image.processing import ImageFormat, PreparedImage
from cinesonic.image.schemas import ImageRead
from cinesonic.image.store import ImageStore, write_atomically
from cinesonic.image.upload import Upload
from cinesonic.models.image import Image, ImageKind
from cinesonic.state import AppState
from cinesonic.user import service as user_service

log = structlog.get_logger("cinesonic.image")

AVATAR_MAX_BYTES = 2 * 1024 * 1024
AVATAR_MAX_SIDE = 1024


@dataclass(frozen=True)
class ImageFile:
    """What answers a request for an image: the file on disk and its validators."""

    path: Path
    stat: os.stat_result
    content_type: str
    etag: str  # the opaque value; the header quotes it
    last_modified: datetime
    body: bytes | None = None  # the bytes, when small enough to keep in memory


def image_store(data_dir: Path) -> ImageStore:
    return ImageStore(data_dir / "images")


def to_read(image: Image) -> ImageRead:
    return ImageRead(
        id=image.id,
        etag=image.sha256,
        kind=image.kind,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        size_bytes=image.size_bytes,
        created_at=image.created_at,
    )


# ---------------------------------------------------------------- storing


def _prepare_and_put(store: ImageStore, data: bytes, max_side: int) -> tuple[PreparedImage, str]:
    prepared = processing.prepare(data, max_side=max_side)
    return prepared, store.put(prepared.data, prepared.format.extension)


async def _record(
    session: AsyncSession,
    prepared: PreparedImage,
    sha256: str,
    kind: ImageKind,
    owner_id: uuid.UUID | None,
) -> Image:
    """The row for these bytes: inserted unless it exists (also when a concurrent upload of the
    same bytes inserts it first), then read back."""
    values = {
        "sha256": sha256,
        "kind": kind,
        "content_type": prepared.format.content_type,
        "width": prepared.width,
        "height": prepared.height,
        "size_bytes": len(prepared.data),
        "owner_id": owner_id,
    }
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            postgresql_insert(Image)
            .values(values)
            .on_conflict_do_nothing(index_elements=["sha256"])
        )
    else:
        await session.execute(
            sqlite_insert(Image).values(values).on_conflict_do_nothing(index_elements=["sha256"])
        )
    return (await session.scalars(select(Image).where(Image.sha256 == sha256))).one()


async def store_image(
    session: AsyncSession,
    store: ImageStore,
    data: bytes,
    *,
    kind: ImageKind,
    owner_id: uuid.UUID | None,
    max_side: int,
) -> Image:
    """Validate, clean and store an image's bytes; the existing image when they are known."""
    prepared, sha256 = await asyncio.to_thread(_prepare_and_put, store, data, max_side)
    return await _record(session, prepared, sha256, kind, owner_id)


# ---------------------------------------------------------------- serving


def _check_size(size: int | None) -> None:
    if size is not None and size not in processing.THUMBNAIL_SIZES:
        allowed = ", ".join(map(str, processing.THUMBNAIL_SIZES))
        raise ValidationFailed(
            details=[
                {
                    "field": "size",
                    "location": "query",
                    "message": f"must be one of {allowed}",
                    "type": "value_error",
                }
            ]
        )


def _locate(
    store: ImageStore, sha256: str, found: ImageFormat, size: int | None, keep_below: int
) -> tuple[Path, os.stat_result, bytes | None]:
    """The original, or the thumbnail of `size` — rendered now if this is its first request —
    with its bytes when there are at most `keep_below` of them."""
    original = store.blob_path(sha256, found.extension)
    path = original if size is None else store.thumbnail_path(sha256, found.extension, size)
    if size is not None and not path.exists():
        write_atomically(path, processing.render_thumbnail(original.read_bytes(), found, size))
    with path.open("rb") as handle:
        stat = os.fstat(handle.fileno())
        return path, stat, handle.read() if stat.st_size <= keep_below else None


async def _open(
    store: ImageStore, image: Image, size: int | None, cache: ImageCache | None
) -> ImageFile:
    requested = size
    if size is not None:
        # Never upscaled: an image that already fits is served whole.
        size = int(size) if size < max(image.width, image.height) else None
    found = processing.format_of(image.content_type)
    keep_below = cache.largest_body if cache is not None else -1
    try:
        path, stat, body = await asyncio.to_thread(
            _locate, store, image.sha256, found, size, keep_below
        )
    except FileNotFoundError as exc:
        log.error("image_file_missing", image_id=str(image.id), sha256=image.sha256)
        raise ImageNotFound("The image's file is missing from the store.") from exc
    answer = ImageFile(
        path=path,
        stat=stat,
        content_type=image.content_type,
        etag=image.sha256 if size is None else f"{image.sha256}-{size}",
        last_modified=image.created_at,
        body=body,
    )
    if cache is not None:
        cache.put(image.id, requested, answer)
    return answer


async def _resolve(
    state: AppState,
    image_id: uuid.UUID,
    size: int | None,
    cache: ImageCache | None,
    missing: type[NotFound],
) -> ImageFile:
    """From `cache` when it holds the answer, else looked up (and kept there when small)."""
    _check_size(size)
    if cache is not None and (cached := cache.get(image_id, size)) is not None:
        return cached
    # A read behind a cache, like the principal's in `auth.service`: the requests the cache
    # answers open no session at all (a request's unused session still costs its set-up,
    # commit and close — more than the rest of the image work).
    async with state.db.sessionmaker() as session:
        image = await session.get(Image, image_id)
    if image is None:
        raise missing()
    return await _open(image_store(state.settings.data_dir), image, size, cache)


async def open_image(
    state: AppState,
    image_id: uuid.UUID,
    *,
    size: int | None = None,
    cache: ImageCache | None = None,
) -> ImageFile:
    """The file answering `GET /images/{id}[?size=]`."""
    return await _resolve(state, image_id, size, cache, ImageNotFound)


# ---------------------------------------------------------------- avatars


async def open_avatar(
    state: AppState,
    principal: Principal,
    *,
    size: int | None = None,
    cache: ImageCache | None = None,
) -> ImageFile:
    """The signed-in user's avatar file (the principal carries the avatar's id and is forgotten
    whenever it changes, so a new avatar is asked for under a new id)."""
    image_id = principal.user.avatar_image_id
    if not image_id:
        raise AvatarNotFound()
    return await _resolve(state, uuid.UUID(image_id), size, cache, AvatarNotFound)


async def set_avatar(
    session: AsyncSession,
    state: AppState,
    store: ImageStore,
    principal: Principal,
    origin: Origin,
    upload: Upload,
) -> ImageRead:
    """Store an uploaded avatar (at most `AVATAR_MAX_SIDE` pixels on its long side) and make it
    the user's."""
    image = await store_image(
        session,
        store,
        upload.data,
        kind=ImageKind.avatar,
        owner_id=principal.id,
        max_side=AVATAR_MAX_SIDE,
    )
    await user_service.set_avatar(session, state, principal.id, image.id)
    await activity_service.record_by(
        session,
        principal,
        action="user.avatar_set",
        resource_type="image",
        resource_id=image.id,
        origin=origin,
        details={
            "filename": (upload.filename or "")[:255] or None,
            "declared_type": (upload.declared_type or "")[:128] or None,
            "content_type": image.content_type,
            "size_bytes": image.size_bytes,
        },
    )
    return to_read(image)


async def clear_avatar(
    session: AsyncSession, state: AppState, principal: Principal, origin: Origin
) -> None:
    """Remove the user's avatar; the image itself stays (other users may share its bytes)."""
    previous = await user_service.set_avatar(session, state, principal.id, None)
    if previous is None:
        raise AvatarNotFound()
    await activity_service.record_by(
        session,
        principal,
        action="user.avatar_clear",
        resource_type="image",
        resource_id=previous,
        origin=origin,
    )
