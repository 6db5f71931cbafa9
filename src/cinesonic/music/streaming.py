"""Serving a song's bytes: `stream_song`, the one function behind `/songs/{id}/stream`,
`/songs/{id}/download` and the share links' stream and download routes.

The original file goes out with its validators (a strong `ETag` from path, size and mtime;
`Last-Modified`), answers `If-None-Match` / `If-Modified-Since` with 304, a `Range` with 206
(one range; `If-Range` honoured; several ranges that do not coalesce into one are answered
whole), and a malformed or past-the-end `Range` with 416 in the error envelope. A transcode
(`format`, `bitrate`, `time_offset`) comes from the cache like a file (validators, Range) or,
while ffmpeg makes it, as a chunked stream (`cinesonic.music.transcode`).

`on_sent(seconds, bytes)` hears what a client was actually sent, in increments: while the body
goes out (every 30 s of audio or 5 s of wall time) and once at the end, also when the client
disconnects half-way; the increments add up to what was sent. Shares count streamed minutes
with it (and stop a stream by raising from it), plays pass their threshold. It runs while the
response is sent, after the request's transaction has ended: a callback that writes opens its
own short unit of work.

This module decides nothing about who may hear a song: callers pass a song they have already
found visible (`music.service.get_visible_song`, or a share's own rule).
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import PurePath
from urllib.parse import quote

import anyio
from starlette.requests import Request
from starlette.responses import Response

from cinesonic.errors import NotFound, ValidationFailed
from cinesonic.kit.conditional import (
    ByteRange,
    Validators,
    file_etag,
    is_not_modified,
    parse_range,
    range_applies,
)
from cinesonic.kit.filesend import Delivery, FileRegionResponse, Meter, OpenFile, open_file
from cinesonic.models.music import Song
from cinesonic.music.transcode import (
    OFFSET_DEFAULT_FORMAT,
    PROFILES,
    TranscodeFormat,
    TranscodeJob,
    TranscodeResponse,
    cache_key,
    transcoder_of,
)
from cinesonic.state import AppState

OnSent = Callable[[float, int], Awaitable[None]]
RAW = "raw"
# The bytes behind a URL change when the file is rewritten or rescanned: revalidate each time
# (a 304 is cheap). Private: streams need a sign-in or a share token.
CACHE_CONTROL = "private, no-cache"
# `on_sent` hears a running stream at least every this many seconds of audio (and every few
# seconds of wall time), so a share's budget can stop a long download half-way.
REPORT_EVERY_AUDIO_SECONDS = 30


class SongFileMissing(NotFound):
    code = "song_file_missing"
    message = "The file of this song is missing on disk; a library scan will notice."


class TimeOffsetNeedsTranscode(ValidationFailed):
    code = "time_offset_needs_transcode"
    message = "time_offset cannot be applied to the original file; ask for a format."


def _stat_headers(validators: Validators, disposition: str | None) -> dict[str, str]:
    headers = {**validators.headers(), "Cache-Control": CACHE_CONTROL}
    if disposition is not None:
        headers["Content-Disposition"] = disposition
    return headers


def download_filename(song: Song) -> str:
    """`Artist - Title.ext`, safe as one file name on every system."""
    extension = PurePath(song.path).suffix
    stem = f"{song.artist_display} - {song.title}" if song.artist_display else song.title
    cleaned = "".join(
        "_" if ch in '/\\:*?"<>|' or unicodedata.category(ch).startswith("C") else ch for ch in stem
    ).strip(" .")
    return f"{cleaned[:200] or 'song'}{extension}"


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII `filename` for old clients and the exact name as RFC 6266 /
    RFC 8187 `filename*` (UTF-8, percent-encoded)."""
    folded = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%' else "_" for ch in folded)
    value = f'attachment; filename="{fallback or "download"}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


class _SentReport:
    """Turns a delivery's running byte count into `on_sent(seconds, bytes)` increments."""

    def __init__(self, on_sent: OnSent, to_seconds: Callable[[Delivery], float]) -> None:
        self.on_sent = on_sent
        self.to_seconds = to_seconds
        self.seconds = 0.0
        self.bytes = 0

    async def __call__(self, delivery: Delivery, final: bool) -> None:
        seconds = max(self.to_seconds(delivery), self.seconds)
        more_seconds, more_bytes = seconds - self.seconds, delivery.sent - self.bytes
        if more_seconds <= 0 and more_bytes <= 0:
            return
        self.seconds, self.bytes = seconds, delivery.sent
        await self.on_sent(more_seconds, more_bytes)


def _file_meter(on_sent: OnSent | None, duration: float, size: int) -> Meter | None:
    """Bytes of a file (original or cached transcode) → seconds of the song, in proportion."""
    if on_sent is None or size <= 0:
        return None

    def to_seconds(delivery: Delivery) -> float:
        return duration * delivery.sent / size

    every = size * REPORT_EVERY_AUDIO_SECONDS / duration if duration > 0 else size
    return Meter(_SentReport(on_sent, to_seconds), every_bytes=int(every))


async def _open_song_file(path: str) -> OpenFile:
    try:
        file = await open_file(path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as error:
        raise SongFileMissing() from error
    if not stat.S_ISREG(file.stat.st_mode):
        file.close()
        raise SongFileMissing()
    return file


def _requested_range(request: Request, validators: Validators, size: int) -> ByteRange | None:
    if not range_applies(request.headers, validators):
        return None
    return parse_range(request.headers.get("range"), size)


def _file_answer(
    request: Request,
    file: OpenFile,
    validators: Validators,
    *,
    media_type: str,
    disposition: str | None,
    meter: Meter | None,
) -> Response:
    headers = _stat_headers(validators, disposition)
    try:
        if is_not_modified(request.headers, validators):
            file.close()
            return Response(status_code=304, headers=headers)
        byte_range = _requested_range(request, validators, file.size)
    except BaseException:
        file.close()
        raise
    return FileRegionResponse(
        file,
        media_type=media_type,
        byte_range=byte_range,
        headers=headers,
        meter=meter,
    )


def _modified_at(stat_result: os.stat_result) -> datetime:
    return datetime.fromtimestamp(stat_result.st_mtime, UTC)


async def _original(
    request: Request, song: Song, on_sent: OnSent | None, disposition: str | None
) -> Response:
    file = await _open_song_file(song.path)
    st = file.stat
    validators = Validators(
        etag=file_etag(song.path, st.st_size, st.st_mtime_ns), last_modified=_modified_at(st)
    )
    return _file_answer(
        request,
        file,
        validators,
        media_type=song.content_type,
        disposition=disposition,
        meter=_file_meter(on_sent, song.duration, st.st_size),
    )


def _target_format(
    song: Song, format: str | None, bitrate: int | None, offset: float
) -> TranscodeFormat | None:
    """The format to transcode to, or None to serve the original file."""
    if format == RAW:
        if offset > 0:
            raise TimeOffsetNeedsTranscode()
        return None
    if format is None:
        return OFFSET_DEFAULT_FORMAT if offset > 0 else None
    try:
        target = TranscodeFormat(format)
    except ValueError:
        raise ValidationFailed(
            details=[
                {
                    "field": "format",
                    "location": "query",
                    "message": "must be one of raw, mp3, opus, aac",
                    "type": "enum",
                }
            ]
        ) from None
    profile = PROFILES[target]
    # Already this codec at no more than the asked rate: the original is the better answer.
    same_codec = bool({song.codec, song.format} & profile.codecs)
    wanted_bps = profile.clamp(bitrate) * 1000
    if same_codec and offset <= 0 and song.bit_rate is not None and song.bit_rate <= wanted_bps:
        return None
    return target


async def _transcoded(
    request: Request,
    song: Song,
    target: TranscodeFormat,
    bitrate: int | None,
    offset: float,
    on_sent: OnSent | None,
) -> Response:
    state: AppState = request.app.state.cinesonic
    transcoder = transcoder_of(request.app, state.settings)
    try:
        source_stat = await anyio.to_thread.run_sync(os.stat, song.path)
    except (FileNotFoundError, NotADirectoryError, PermissionError) as error:
        raise SongFileMissing() from error
    if not stat.S_ISREG(source_stat.st_mode):
        raise SongFileMissing()
    profile = PROFILES[target]
    kbps = profile.clamp(bitrate)
    key = None
    if offset <= 0 and transcoder.caches:
        key = cache_key(
            song_id=song.id,
            fingerprint=song.fingerprint,
            size=source_stat.st_size,
            mtime_ns=source_stat.st_mtime_ns,
            profile=profile,
            kbps=kbps,
        )
    job = TranscodeJob(
        source=song.path,
        profile=profile,
        kbps=kbps,
        offset=max(offset, 0.0),
        duration=max(song.duration - max(offset, 0.0), 0.0),
        key=key,
    )
    if key is not None:
        validators = Validators(etag=key, last_modified=_modified_at(source_stat))
        if is_not_modified(request.headers, validators):
            return Response(status_code=304, headers=_stat_headers(validators, None))
        cached = await transcoder.open_cached(key)
        if cached is not None:
            return _file_answer(
                request,
                cached,
                validators,
                media_type=profile.content_type,
                disposition=None,
                meter=_file_meter(on_sent, job.duration, cached.size),
            )
    meter = None
    if on_sent is not None:

        def to_seconds(delivery: Delivery) -> float:
            return job.seconds_for(delivery.sent, delivery.completed)

        every = job.bytes_per_second * REPORT_EVERY_AUDIO_SECONDS
        meter = Meter(_SentReport(on_sent, to_seconds), every_bytes=int(every))
    return TranscodeResponse(transcoder, job, headers={"Cache-Control": "no-store"}, meter=meter)


async def stream_song(
    request: Request,
    song: Song,
    *,
    format: str | None = None,
    bitrate: int | None = None,
    time_offset: float | None = None,
    on_sent: OnSent | None = None,
    as_download: bool = False,
) -> Response:
    """The answer to a GET or HEAD for `song`'s bytes.

    `format`: None or `raw` for the original file, else `mp3`, `opus` or `aac` (the original
    is still served when it already is that codec at no higher bit rate); `bitrate` in kbit/s,
    clamped to the format's profile; `time_offset` in seconds (a transcode; without a format,
    to mp3). `as_download` serves the original file as an attachment named after the song.
    Raises `SongFileMissing` (404), `RangeNotSatisfiable` / `InvalidRange` (416),
    `TimeOffsetNeedsTranscode` (422); transcode refusals (503 busy, 502 failed) are answered
    by the returned response.
    """
    offset = time_offset or 0.0
    if as_download:
        return await _original(request, song, on_sent, content_disposition(download_filename(song)))
    target = _target_format(song, format, bitrate, offset)
    if target is None:
        return await _original(request, song, on_sent, None)
    return await _transcoded(request, song, target, bitrate, offset, on_sent)
