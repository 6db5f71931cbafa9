"""Transcoding songs with the ffmpeg binary: profiles, the concurrency limit, the on-disk cache,
and the responses that stream ffmpeg's output.

Profiles follow Navidrome's defaults ([000] names none): mp3 192 kbit/s, opus 128, aac 256 (as
ADTS, which a browser's `<audio>` plays from a stream); a requested bit rate is clamped to the
profile's range. ffmpeg is the one on PATH, else the binary shipped by imageio-ffmpeg.

At most `transcode_max_concurrent` ffmpeg processes run per server process; a request that finds
them all busy waits up to `transcode_queue_seconds`, then gets 503 `transcode_busy` with
`Retry-After`. A transcode from the start of a song (no `time_offset`) is also written to the
cache (`<data_dir>/cache/transcode`, keyed by song id, content fingerprint, file size and
mtime, format, bit rate and ffmpeg binary): into a temporary file renamed into place only once
ffmpeg exited cleanly, so a half-written entry is never served, then kept in a size-bounded
LRU. Concurrent requests for the same uncached transcode share one ffmpeg: the first starts it,
the others follow the temporary file as it grows. When the last listener of a transcode leaves,
ffmpeg is killed and the unfinished entry deleted.

This module never decides who may hear a song (the caller did) and never touches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import hashlib
import math
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

import anyio
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cinesonic.config import Settings
from cinesonic.errors import AppError, ServiceUnavailable, render_error
from cinesonic.kit.filesend import (
    CHUNK_SIZE,
    Delivery,
    Meter,
    OpenFile,
    read_at,
    send_chunks,
    watching_disconnect,
)

log = structlog.get_logger("cinesonic.music.transcode")

# Bump when the ffmpeg arguments change: cached entries made with the old ones are not reused.
PROFILE_VERSION = 1
_TEMP_PREFIX = ".part-"
# Leftover temporary files older than this are from a process that died; others may be live
# (another replica sharing the data directory).
_STALE_TEMP_SECONDS = 3600
_STDERR_LIMIT = 4000


class TranscodeFormat(enum.StrEnum):
    mp3 = "mp3"
    opus = "opus"
    aac = "aac"


@dataclass(frozen=True)
class Profile:
    format: TranscodeFormat
    encoder: str
    muxer: str
    content_type: str
    codecs: frozenset[str]  # source codecs already in this format (served as they are)
    default_kbps: int
    min_kbps: int
    max_kbps: int
    options: tuple[str, ...] = ()

    def clamp(self, kbps: int | None) -> int:
        if kbps is None or kbps <= 0:
            return self.default_kbps
        return max(self.min_kbps, min(self.max_kbps, kbps))


PROFILES: dict[TranscodeFormat, Profile] = {
    TranscodeFormat.mp3: Profile(
        format=TranscodeFormat.mp3,
        encoder="libmp3lame",
        muxer="mp3",
        content_type="audio/mpeg",
        codecs=frozenset({"mp3"}),
        default_kbps=192,
        min_kbps=32,
        max_kbps=320,
        # Through a pipe ffmpeg cannot go back to fill in a Xing header; CBR needs none.
        options=("-write_xing", "0"),
    ),
    TranscodeFormat.opus: Profile(
        format=TranscodeFormat.opus,
        encoder="libopus",
        muxer="opus",  # Ogg Opus
        content_type="audio/ogg",
        codecs=frozenset({"opus"}),
        default_kbps=128,
        min_kbps=16,
        max_kbps=256,
    ),
    TranscodeFormat.aac: Profile(
        format=TranscodeFormat.aac,
        encoder="aac",
        muxer="adts",  # MP4 cannot be written to a pipe without seeking back; ADTS can
        content_type="audio/aac",
        codecs=frozenset({"aac"}),
        default_kbps=256,
        min_kbps=32,
        max_kbps=320,
    ),
}
# What a `time_offset` without a `format` is transcoded to: the format every player decodes.
OFFSET_DEFAULT_FORMAT = TranscodeFormat.mp3


class TranscodeBusy(ServiceUnavailable):
    code = "transcode_busy"
    message = "Every transcoder is busy; try again shortly, or stream the original format."


class TranscoderUnavailable(ServiceUnavailable):
    code = "transcoder_unavailable"
    message = "No ffmpeg binary is available to transcode with."


class TranscodeFailed(AppError):
    status_code, code = 502, "transcode_failed"
    message = "ffmpeg could not transcode this song."


@functools.cache
def ffmpeg_binary() -> str:
    """ffmpeg from PATH, else imageio-ffmpeg's; raises `TranscoderUnavailable`."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        binary: str = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as error:
        raise TranscoderUnavailable() from error
    return binary


@dataclass(frozen=True)
class TranscodeJob:
    """One transcode to produce: a source file into a profile from an offset."""

    source: str
    profile: Profile
    kbps: int
    offset: float  # seconds
    duration: float  # seconds of output, as far as the song's tags know
    key: str | None  # the cache key; None when the output is not cached (an offset)

    @property
    def content_type(self) -> str:
        return self.profile.content_type

    def command(self, binary: str) -> list[str]:
        seek = ["-ss", f"{self.offset:.3f}"] if self.offset > 0 else []
        return [
            binary,
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            *seek,
            "-i",
            f"file:{self.source}",
            "-map",
            "0:a:0",
            "-vn",
            "-sn",
            "-dn",
            "-c:a",
            self.profile.encoder,
            "-b:a",
            f"{self.kbps}k",
            *self.profile.options,
            "-f",
            self.profile.muxer,
            "pipe:1",
        ]

    def seconds_for(self, sent: int, completed: bool) -> float:
        """Seconds of audio in the first `sent` bytes of a live output (at the profile's bit
        rate; all of it once the output is complete)."""
        if completed:
            return self.duration
        return min(self.duration, sent * 8 / (self.kbps * 1000))

    @property
    def bytes_per_second(self) -> float:
        return self.kbps * 1000 / 8


def cache_key(
    *, song_id: object, fingerprint: str, size: int, mtime_ns: int, profile: Profile, kbps: int
) -> str:
    material = ":".join(
        str(part)
        for part in (
            PROFILE_VERSION,
            song_id,
            fingerprint,
            size,
            mtime_ns,
            profile.format,
            kbps,
            ffmpeg_binary(),
        )
    )
    return hashlib.sha256(material.encode()).hexdigest()[:40]


class FfmpegRun:
    """One ffmpeg process writing to a pipe; its stderr is kept (the tail) for the log."""

    def __init__(self, process: asyncio.subprocess.Process, job: TranscodeJob) -> None:
        self.process = process
        self.job = job
        self._stderr = bytearray()
        self._stderr_task = asyncio.create_task(self._drain_stderr())

    # Every ffmpeg this process runs, while it runs.
    running: ClassVar[set[FfmpegRun]] = set()

    @classmethod
    async def start(cls, job: TranscodeJob) -> FfmpegRun:
        try:
            process = await asyncio.create_subprocess_exec(
                *job.command(ffmpeg_binary()),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as error:
            log.error("ffmpeg_start_failed", error=repr(error))
            raise TranscoderUnavailable() from error
        run = cls(process, job)
        cls.running.add(run)
        return run

    async def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(4096):
            self._stderr += chunk
            del self._stderr[:-_STDERR_LIMIT]

    async def read(self) -> bytes:
        assert self.process.stdout is not None
        return await self.process.stdout.read(CHUNK_SIZE)

    async def finish(self) -> None:
        """Wait for the exit; raise `TranscodeFailed` when ffmpeg failed."""
        code = await self.process.wait()
        FfmpegRun.running.discard(self)
        await self._stderr_task
        if code != 0:
            log.warning(
                "transcode_failed",
                source=self.job.source,
                format=self.job.profile.format,
                exit_code=code,
                stderr=self._stderr.decode(errors="replace").strip(),
            )
            raise TranscodeFailed()

    async def kill(self) -> None:
        """Stop ffmpeg if it still runs, and reap it (safe to call from a cancelled task)."""
        with anyio.CancelScope(shield=True):
            if self.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
            await self.process.wait()
            FfmpegRun.running.discard(self)
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task


class Source(Protocol):
    """Where a transcode response reads its bytes from."""

    async def first(self) -> None:
        """Wait until the first bytes exist (or the transcode ended); raise its error if it
        failed before producing any — the answer can then still be an error envelope."""

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class LiveSource:
    """ffmpeg's output straight to one client (an offset, or no cache)."""

    def __init__(self, run: FfmpegRun, release: Callable[[], None]) -> None:
        self.run = run
        self._release = release
        self._pending = b""
        self._closed = False

    async def first(self) -> None:
        self._pending = await self.run.read()
        if not self._pending:
            await self.run.finish()

    async def chunks(self) -> AsyncIterator[bytes]:
        chunk, self._pending = self._pending, b""
        while chunk:
            yield chunk
            chunk = await self.run.read()
        await self.run.finish()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.run.kill()
            self._release()


@dataclass(eq=False)
class Production:
    """A cacheable transcode in progress: ffmpeg → a temporary file that readers follow."""

    transcoder: Transcoder
    job: TranscodeJob
    key: str
    run: FfmpegRun
    temp_path: Path
    fd: int
    written: int = 0
    done: bool = False
    error: AppError | None = None
    readers: int = 0
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def _advance(self) -> None:
        event, self.progress = self.progress, asyncio.Event()
        event.set()

    async def pump(self) -> None:
        try:
            while chunk := await self.run.read():
                await anyio.to_thread.run_sync(_write_all, self.fd, chunk)
                self.written += len(chunk)
                self._advance()
            await self.run.finish()
            self.done = True
            self._advance()
            await anyio.to_thread.run_sync(_publish, self.fd, self.temp_path, self.final_path)
            self.transcoder.schedule_eviction()
        except AppError as error:
            self.error = error
            self._advance()
        except Exception as error:
            log.exception("transcode_cache_write_failed", error=repr(error))
            if not self.done:
                self.error = TranscodeFailed()
                self._advance()
        finally:
            await self.run.kill()
            self.transcoder.release_slot()
            self.transcoder.forget(self)
            os.close(self.fd)
            with contextlib.suppress(FileNotFoundError):
                self.temp_path.unlink()  # gone already when published

    @property
    def final_path(self) -> Path:
        return self.transcoder.entry_path(self.key)

    def attach(self) -> ProductionReader:
        self.readers += 1
        return ProductionReader(self, os.dup(self.fd))

    def detach(self) -> None:
        self.readers -= 1
        if self.readers == 0 and not self.done and self.error is None:
            # Nobody listens any more: stop ffmpeg, keep no half entry.
            self.transcoder.forget(self)
            if self.task is not None:
                self.task.cancel()


class ProductionReader:
    def __init__(self, production: Production, fd: int) -> None:
        self.production = production
        self.fd = fd
        self.offset = 0
        self._closed = False

    async def _wait(self) -> bool:
        """Wait for bytes past `offset`; False once the production has ended."""
        production = self.production
        while True:
            event = production.progress
            if self.offset < production.written:
                return True
            if production.error is not None:
                raise production.error
            if production.done:
                return False
            await event.wait()

    async def first(self) -> None:
        await self._wait()

    async def chunks(self) -> AsyncIterator[bytes]:
        while await self._wait():
            size = min(CHUNK_SIZE, self.production.written - self.offset)
            chunk = await read_at(self.fd, self.offset, size)
            self.offset += len(chunk)
            yield chunk

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.fd)
            self.production.detach()


class FileSource:
    """A finished cache entry, read out as a stream (found after waiting for a slot)."""

    def __init__(self, file: OpenFile) -> None:
        self.file = file

    async def first(self) -> None:
        return None

    async def chunks(self) -> AsyncIterator[bytes]:
        offset = 0
        while chunk := await read_at(self.file.fd, offset, CHUNK_SIZE):
            offset += len(chunk)
            yield chunk

    async def close(self) -> None:
        self.file.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _publish(fd: int, temp_path: Path, final_path: Path) -> None:
    os.fsync(fd)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp_path, final_path)


def _evict(root: Path, max_bytes: int) -> list[Path]:
    """Delete least recently used entries until the cache fits; return what went."""
    entries: list[tuple[int, int, Path]] = []
    total = 0
    for path in root.glob("*/*"):
        if path.name.startswith(_TEMP_PREFIX):
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        entries.append((stat.st_atime_ns, stat.st_size, path))
        total += stat.st_size
    removed = []
    for _atime, size, path in sorted(entries):
        if total <= max_bytes:
            break
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a reader holding it open keeps reading (POSIX)
        total -= size
        removed.append(path)
    return removed


def _remove_stale_temporaries(root: Path) -> None:
    horizon = time.time() - _STALE_TEMP_SECONDS
    for path in root.glob(f"*/{_TEMP_PREFIX}*"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < horizon:
                path.unlink()


@dataclass
class _Decider:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Transcoder:
    """A server process's transcoding: its slots, its cache, the transcodes in flight."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.data_dir / "cache" / "transcode"
        self._slots = asyncio.Semaphore(settings.transcode_max_concurrent)
        self._inflight: dict[str, Production] = {}
        self._deciders: dict[str, _Decider] = {}
        self._eviction: asyncio.Task[None] | None = None
        self._eviction_again = False
        self._cleaned = False

    @property
    def caches(self) -> bool:
        return self.settings.transcode_cache_max_bytes > 0

    def entry_path(self, key: str) -> Path:
        return self.root / key[:2] / key

    # ---- slots

    async def acquire_slot(self) -> None:
        """Take a transcoding slot, waiting up to `transcode_queue_seconds`."""
        wait = self.settings.transcode_queue_seconds
        if not self._slots.locked():
            await self._slots.acquire()
            return
        busy = TranscodeBusy(headers={"Retry-After": str(max(1, math.ceil(wait)))})
        if wait <= 0:
            raise busy
        try:
            async with asyncio.timeout(wait):
                await self._slots.acquire()
        except TimeoutError:
            raise busy from None

    def release_slot(self) -> None:
        self._slots.release()

    # ---- cache

    async def open_cached(self, key: str) -> OpenFile | None:
        """The finished cache entry for `key`, marked as just used; None when absent."""

        def open_and_touch() -> OpenFile | None:
            path = self.entry_path(key)
            try:
                entry = OpenFile(str(path))
            except FileNotFoundError:
                return None
            # The access time orders the LRU (mounts with relatime would not keep it fresh).
            with contextlib.suppress(OSError):
                os.utime(entry.fd, ns=(time.time_ns(), entry.stat.st_mtime_ns))
            return entry

        return await anyio.to_thread.run_sync(open_and_touch)

    def schedule_eviction(self) -> None:
        if self._eviction is not None and not self._eviction.done():
            self._eviction_again = True
            return
        self._eviction = asyncio.create_task(self._evict())

    async def _evict(self) -> None:
        while True:
            self._eviction_again = False
            removed = await anyio.to_thread.run_sync(
                _evict, self.root, self.settings.transcode_cache_max_bytes
            )
            if removed:
                log.info("transcode_cache_evicted", entries=len(removed))
            if not self._eviction_again:
                return

    async def _clean_once(self) -> None:
        if not self._cleaned:
            self._cleaned = True
            await anyio.to_thread.run_sync(_remove_stale_temporaries, self.root)

    # ---- transcodes

    def forget(self, production: Production) -> None:
        if self._inflight.get(production.key) is production:
            del self._inflight[production.key]

    async def open_source(self, job: TranscodeJob) -> Source:
        """Where this transcode's bytes come from: a running production of the same cache
        entry, a new one, or (no key) a process of its own."""
        if job.key is None or not self.caches:
            await self.acquire_slot()
            try:
                run = await FfmpegRun.start(job)
            except BaseException:
                self.release_slot()
                raise
            return LiveSource(run, self.release_slot)
        production = self._inflight.get(job.key)
        if production is None:
            # One request per cache entry decides at a time, so concurrent requests for the
            # same transcode share one ffmpeg (every step below awaits).
            async with self._deciding(job.key):
                production = self._inflight.get(job.key)
                if production is None:
                    finished = await self.open_cached(job.key)
                    if finished is not None:
                        return FileSource(finished)
                    await self.acquire_slot()
                    try:
                        production = await self._start_production(job, job.key)
                    except BaseException:
                        self.release_slot()
                        raise
        return production.attach()

    @contextlib.asynccontextmanager
    async def _deciding(self, key: str) -> AsyncIterator[None]:
        entry = self._deciders.setdefault(key, _Decider())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._deciders[key]

    async def _start_production(self, job: TranscodeJob, key: str) -> Production:
        await self._clean_once()
        directory = self.entry_path(key).parent
        temp_path = directory / f"{_TEMP_PREFIX}{key}-{os.getpid()}-{secrets.token_hex(4)}"

        def create() -> int:
            directory.mkdir(parents=True, exist_ok=True)
            return os.open(temp_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)

        fd = await anyio.to_thread.run_sync(create)
        try:
            run = await FfmpegRun.start(job)
        except BaseException:
            os.close(fd)
            temp_path.unlink(missing_ok=True)
            raise
        production = Production(self, job, key, run, temp_path, fd)
        self._inflight[key] = production
        production.task = asyncio.create_task(production.pump())
        return production


def transcoder_of(app: Starlette, settings: Settings) -> Transcoder:
    """The app's transcoder, made on first use (its slots and in-flight table are per app)."""
    holder = app.state
    transcoder: Transcoder | None = getattr(holder, "music_transcoder", None)
    if transcoder is None or transcoder.settings is not settings:
        transcoder = Transcoder(settings)
        holder.music_transcoder = transcoder
    return transcoder


class TranscodeResponse(Response):
    """200, chunked, with ffmpeg's output as it is made (no Range: `Accept-Ranges: none`).

    Failures before the first byte (busy, no ffmpeg, ffmpeg refusing the file) are answered as
    error envelopes; a failure later cuts the body short (the client sees a truncated chunked
    stream, never a complete-looking one). HEAD answers the headers without starting ffmpeg.
    """

    def __init__(
        self,
        transcoder: Transcoder,
        job: TranscodeJob,
        *,
        headers: dict[str, str] | None = None,
        meter: Meter | None = None,
    ) -> None:
        self.transcoder = transcoder
        self.job = job
        self.status_code = 200
        self.media_type = job.content_type
        self.background = None
        self.meter = meter or Meter(None, every_bytes=CHUNK_SIZE)
        # No Content-Length (there is no `body`): the size is known only at the end.
        self.init_headers({**(headers or {}), "Accept-Ranges": "none"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
        if scope.get("method", "GET").upper() == "HEAD":
            await send(start)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        try:
            source = await self.transcoder.open_source(self.job)
        except AppError as error:
            await _refuse(scope, receive, send, error)
            return
        delivery = Delivery()
        try:
            try:
                await source.first()
            except AppError as error:
                await _refuse(scope, receive, send, error)
                return
            await send(start)
            async with watching_disconnect(receive, delivery):
                await send_chunks(send, delivery, source.chunks(), self.meter)
        finally:
            await source.close()
            if delivery.sent or delivery.completed:
                # Also after a failure half-way: the bytes that went out were heard.
                await self.meter.finish(delivery)


async def _refuse(scope: Scope, receive: Receive, send: Send, error: AppError) -> None:
    response = render_error(
        Request(scope), error.status_code, error.code, error.message, None, error.headers
    )
    await response(scope, receive, send)
