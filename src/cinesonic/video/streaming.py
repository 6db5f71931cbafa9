"""Serving a video file's bytes: `stream_video_file`, behind `/media-files/{id}/stream`.

The original file goes out with its validators (a strong `ETag` from path, size and mtime;
`Last-Modified`), answers `If-None-Match` / `If-Modified-Since` with 304, one `Range` with 206
(`If-Range` honoured) and a malformed or past-the-end `Range` with 416 in the error envelope,
through `kit.filesend` (sendfile when the server offers it). HLS sessions come later.

This module decides nothing about who may watch: callers pass a file already found visible
(`video.service.get_streamable_file`).
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from cinesonic.errors import NotFound
from cinesonic.kit.conditional import (
    Validators,
    file_etag,
    is_not_modified,
    parse_range,
    range_applies,
)
from cinesonic.kit.filesend import FileRegionResponse, OpenFile, open_file
from cinesonic.models.video import VideoFile

CACHE_CONTROL = "private, no-cache"
CONTENT_TYPES = {
    ".mkv": "video/x-matroska",
    ".mp4": "video/mp4",
    ".m4v": "video/x-m4v",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".ts": "video/mp2t",
    ".m2ts": "video/mp2t",
    ".mov": "video/quicktime",
    ".wmv": "video/x-ms-wmv",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
}


class VideoFileMissing(NotFound):
    code = "video_file_missing"
    message = "The file is missing on disk; a library scan will notice."


def content_type_of(path: str) -> str:
    return CONTENT_TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")


async def _open(path: str) -> OpenFile:
    try:
        file = await open_file(path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as error:
        raise VideoFileMissing() from error
    if not stat.S_ISREG(file.stat.st_mode):
        file.close()
        raise VideoFileMissing()
    return file


async def stream_video_file(request: Request, video: VideoFile) -> Response:
    """The answer to a GET or HEAD for the file's bytes. Raises `VideoFileMissing` (404),
    `RangeNotSatisfiable` / `InvalidRange` (416)."""
    file = await _open(video.path)
    st = file.stat
    validators = Validators(
        etag=file_etag(video.path, st.st_size, st.st_mtime_ns),
        last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
    )
    headers = {**validators.headers(), "Cache-Control": CACHE_CONTROL}
    try:
        if is_not_modified(request.headers, validators):
            file.close()
            return Response(status_code=304, headers=headers)
        byte_range = None
        if range_applies(request.headers, validators):
            byte_range = parse_range(request.headers.get("range"), file.size)
    except BaseException:
        file.close()
        raise
    return FileRegionResponse(
        file, media_type=content_type_of(video.path), byte_range=byte_range, headers=headers
    )
