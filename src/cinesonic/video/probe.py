"""Reading one video file: its content fingerprint, its streams (PyAV) and what its name says.

`read_many` is what the scanner runs in its reader pool (processes by default): a chunk of
files per call, each outcome a `VideoInfo` or the `VideoUnreadable` it raised. Opening a
container reads its header only; no frame is decoded.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from typing import Any

from cinesonic.video import naming
from cinesonic.video.naming import ParsedName

FINGERPRINT_BLOCK = 64 * 1024
# FFmpeg's AVColorTransferCharacteristic values (PyAV answers them as integers).
TRC_PQ = 16  # SMPTE ST 2084: HDR10 (and HDR10+)
TRC_HLG = 18  # ARIB STD-B67
DOLBY_VISION_TAGS = frozenset({"dvh1", "dvhe", "dva1", "dvav"})
DISPOSITION_FORCED = 0x0040
CONTAINERS = {
    "matroska": "mkv",
    "matroska,webm": "mkv",
    "webm": "webm",
    "mov,mp4,m4a,3gp,3g2,mj2": "mp4",
    "avi": "avi",
    "mpegts": "ts",
    "asf": "wmv",
    "mpeg": "mpeg",
}


class VideoUnreadable(Exception):
    """A file that is not a readable video; `code` goes into the scan's error list."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[VideoUnreadable], tuple[str, str]]:
        return VideoUnreadable, (self.code, self.message)  # crosses process pools whole


@dataclass(slots=True)
class VideoInfo:
    path: str
    size: int
    fingerprint: str
    parsed: ParsedName
    container: str | None = None
    duration_seconds: float | None = None
    bit_rate: int | None = None
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    hdr: str = "none"
    audio_streams: list[dict[str, Any]] = field(default_factory=list)
    subtitle_streams: list[dict[str, Any]] = field(default_factory=list)


# path, size, path relative to the library root, library kind
ReadRequest = tuple[str, int, str, str]


def fingerprint_of(handle: Any, size: int) -> str:
    """SHA-256 of the size and the first and last 64 KiB: the same content at a new path."""
    digest = hashlib.sha256(size.to_bytes(8, "big"))
    digest.update(handle.read(FINGERPRINT_BLOCK))
    if size > FINGERPRINT_BLOCK:
        handle.seek(max(FINGERPRINT_BLOCK, size - FINGERPRINT_BLOCK))
        digest.update(handle.read(FINGERPRINT_BLOCK))
    return digest.hexdigest()


def _positive(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _text(value: Any, limit: int = 200) -> str | None:
    return str(value)[:limit] if value else None


def _hdr(stream: Any) -> str:
    context = stream.codec_context
    tag = str(getattr(context, "codec_tag", "") or "").strip("\x00 ").lower()
    if tag in DOLBY_VISION_TAGS:
        return "dolby_vision"
    trc = getattr(context, "color_trc", None)
    if trc == TRC_PQ:
        return "hdr10"
    if trc == TRC_HLG:
        return "hlg"
    return "none"


def _language(metadata: Any) -> str | None:
    value = metadata.get("language") or metadata.get("LANGUAGE")
    if not value or str(value).lower() in ("und", "unk"):
        return None
    return str(value).lower()[:16]


def _probe(info: VideoInfo) -> None:
    import av  # in the reader processes only

    try:
        with av.open(info.path, metadata_errors="ignore") as container:
            video: Any = next((s for s in container.streams.video), None)
            if video is None:
                raise VideoUnreadable("not_video", "The file holds no video stream.")
            duration = container.duration / 1_000_000 if container.duration else None
            if not duration and video.duration and video.time_base:
                duration = float(video.duration * video.time_base)
            name = CONTAINERS.get(container.format.name, container.format.name[:32])
            if name == "mkv" and info.path.lower().endswith(".webm"):
                name = "webm"  # FFmpeg names one demuxer for both
            info.container = name
            info.duration_seconds = round(duration, 3) if duration else None
            info.bit_rate = _positive(container.bit_rate)
            info.video_codec = str(video.codec_context.name)[:32]
            info.width = _positive(video.codec_context.width)
            info.height = _positive(video.codec_context.height)
            info.hdr = _hdr(video)
            for stream in container.streams.audio:
                info.audio_streams.append(
                    {
                        "index": stream.index,
                        "codec": str(stream.codec_context.name),
                        "language": _language(stream.metadata),
                        "channels": _positive(stream.codec_context.channels),
                        "title": _text(stream.metadata.get("title")),
                    }
                )
            for subtitle in container.streams.subtitles:
                info.subtitle_streams.append(
                    {
                        "index": subtitle.index,
                        "codec": str(subtitle.codec_context.name),
                        "language": _language(subtitle.metadata),
                        "title": _text(subtitle.metadata.get("title")),
                        "forced": bool(int(subtitle.disposition) & DISPOSITION_FORCED),
                    }
                )
    except VideoUnreadable:
        raise
    except Exception as exc:
        raise VideoUnreadable("corrupt", f"The video file cannot be read: {exc}"[:1000]) from exc


def read_video(path: str, size: int, relative: str, library_kind: str) -> VideoInfo:
    """Read `path` (a regular file of `size` bytes); raise `VideoUnreadable`."""
    if size == 0:
        raise VideoUnreadable("empty", "The file is empty (0 bytes).")
    try:
        # O_NONBLOCK: a file swapped for a FIFO since the walk must not hang the scan.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise VideoUnreadable(
                    "unreadable", "Not a regular file (a FIFO, device or socket)."
                )
            fingerprint = fingerprint_of(handle, size)
    except OSError as exc:
        raise VideoUnreadable(
            "unreadable", f"Cannot read the file: {exc.strerror or exc}."
        ) from exc
    info = VideoInfo(path, size, fingerprint, naming.parse(relative, library_kind))
    _probe(info)
    return info


def read_many(requests: list[ReadRequest]) -> list[VideoInfo | Exception]:
    results: list[VideoInfo | Exception] = []
    for path, size, relative, kind in requests:
        try:
            results.append(read_video(path, size, relative, kind))
        except VideoUnreadable as exc:
            results.append(exc)
        except Exception as exc:
            message = f"The file could not be read: {exc!r}"[:1000]
            results.append(VideoUnreadable("corrupt", message))
    return results
