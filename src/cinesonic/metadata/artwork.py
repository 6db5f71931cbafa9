"""Provider artwork on disk: TMDb images fetched once, then served from the data directory.

    <data_dir>/images/provider/tmdb/<size>/<file>     (…/tmdb/w500/qJ2tW6WMUDux911r6m7haRef0WH.jpg)

TMDb never puts other bytes behind an image path (a new image gets a new path), so a file here
is final: it is written once (temporary file, fsync, rename), never refreshed, and answered
even while the provider is unreachable. Types and sizes are TMDb's (its `/configuration`);
file names are TMDb's too — letters, digits, `-`, `_` and a `.jpg`/`.png` extension — so
anything else (`..`, separators, NUL) is refused before a path is built.
"""

from __future__ import annotations

import enum
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import anyio

from cinesonic.errors import ValidationFailed
from cinesonic.kit.fsmove import fsync_dir

MAX_ARTWORK_BYTES = 20 * 1024 * 1024


class ArtworkType(enum.StrEnum):
    poster = "poster"
    backdrop = "backdrop"
    profile = "profile"
    still = "still"
    logo = "logo"


# TMDb's sizes per image type (`/configuration` → images.*_sizes).
SIZES: dict[ArtworkType, tuple[str, ...]] = {
    ArtworkType.poster: ("w92", "w154", "w185", "w342", "w500", "w780", "original"),
    ArtworkType.backdrop: ("w300", "w780", "w1280", "original"),
    ArtworkType.profile: ("w45", "w185", "h632", "original"),
    ArtworkType.still: ("w92", "w185", "w300", "original"),
    ArtworkType.logo: ("w45", "w92", "w154", "w185", "w300", "w500", "original"),
}
_FILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}\.(jpg|jpeg|png)")
_CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}
_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


@dataclass(frozen=True)
class ArtworkRequest:
    """A checked request for one provider image."""

    type: ArtworkType
    size: str
    file_name: str

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.file_name.rsplit(".", 1)[1].lower()]


@dataclass(frozen=True)
class ArtworkFile:
    path: Path
    stat: os.stat_result
    content_type: str


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        details=[{"field": field, "location": "path", "message": message, "type": "value_error"}]
    )


def check_request(image_type: ArtworkType, size: str, path: str) -> ArtworkRequest:
    """The request when its size exists for its type and its path is a TMDb file name (a
    leading `/`, as TMDb writes paths, is allowed); `ValidationFailed` (422) otherwise."""
    if size not in SIZES[image_type]:
        sizes = ", ".join(SIZES[image_type])
        raise _invalid("size", f"a {image_type.value} comes in sizes {sizes}")
    file_name = path[1:] if path.startswith("/") else path
    if not _FILE_NAME.fullmatch(file_name):
        raise _invalid("path", "a TMDb image file name: letters, digits, '-', '_' and .jpg or .png")
    return ArtworkRequest(image_type, size, file_name)


def is_image_of_type(data: bytes, content_type: str) -> bool:
    return data.startswith(_MAGIC[content_type])


class ArtworkStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, request: ArtworkRequest) -> Path:
        return self.root / "tmdb" / request.size / request.file_name

    async def find(self, request: ArtworkRequest) -> ArtworkFile | None:
        path = self.path_of(request)
        try:
            stat = await anyio.to_thread.run_sync(path.stat)
        except FileNotFoundError:
            return None
        return ArtworkFile(path, stat, request.content_type)

    async def put(self, request: ArtworkRequest, data: bytes) -> ArtworkFile:
        path = self.path_of(request)
        stat = await anyio.to_thread.run_sync(_write_once, path, data)
        return ArtworkFile(path, stat, request.content_type)


def _write_once(path: Path, data: bytes) -> os.stat_result:
    """Put `data` at `path` so no reader sees a partial file; two first fetches racing each
    rename a complete copy of the same bytes into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(draft, path)
    except BaseException:
        Path(draft).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path.stat()
