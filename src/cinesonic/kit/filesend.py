"""Sending file bytes over ASGI: a whole file or one byte range, by the cheapest way the server
offers, knowing how many bytes went out and stopping when the client goes away.

- `http.response.zerocopysend` (the server calls `sendfile(2)` on our descriptor, ranges
  included) and `http.response.pathsend` (whole files by path) when the server advertises them.
  uvicorn does neither (0.54; its pull request #2840 is open), so under `cinesonic serve` the
  bytes are read here:
- reads try `preadv2(RWF_NOWAIT)` on the event loop first — a file in the page cache (what a
  busy server serves) is copied without a thread hop — and go to a worker thread only when the
  kernel would block on the disk;
- a task watches `receive()` for `http.disconnect` while the body goes out: uvicorn silently
  drops what is sent after a client left, so without the watch a closed player would still
  "receive" the whole file and be counted for it;
- a `Meter` reports the bytes sent as they go (every so many bytes or seconds) and once at the
  end, so a caller can count what a client got — and stop the body by raising.

`FileRegionResponse` owns an open descriptor (`open_file`), so the bytes served are those of
the file that was stat-ed for the validators, even if the path is replaced meanwhile. Nothing
here knows a domain.
"""

from __future__ import annotations

import errno
import os
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import structlog
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cinesonic.kit.conditional import ByteRange

CHUNK_SIZE = 256 * 1024
ZEROCOPY = "http.response.zerocopysend"
PATHSEND = "http.response.pathsend"

# `preadv2(RWF_NOWAIT)` is Linux ≥ 4.14; a filesystem without it answers EOPNOTSUPP once.
_nowait = {"supported": hasattr(os, "preadv") and hasattr(os, "RWF_NOWAIT")}

log = structlog.get_logger("cinesonic.kit.filesend")


class OpenFile:
    """A descriptor and its `fstat`, closed by `close()` or, failing that, when collected."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._finalizer = weakref.finalize(self, os.close, self.fd)
        try:
            self.stat = os.fstat(self.fd)
        except OSError:
            self.close()
            raise

    @property
    def size(self) -> int:
        return self.stat.st_size

    def close(self) -> None:
        self._finalizer()


async def open_file(path: str) -> OpenFile:
    """Open a file off the event loop. Raises `OSError` (FileNotFoundError, PermissionError,
    IsADirectoryError…) as `os.open` does."""
    return await anyio.to_thread.run_sync(OpenFile, path)


def _read_cached(fd: int, offset: int, size: int) -> bytes | None:
    """The bytes at `offset` if the kernel has them in memory; None if reading would block."""
    if not _nowait["supported"]:
        return None
    buffer = bytearray(size)
    try:
        count = os.preadv(fd, [buffer], offset, os.RWF_NOWAIT)
    except BlockingIOError:
        return None
    except OSError as error:
        if error.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            _nowait["supported"] = False
            return None
        raise
    return bytes(memoryview(buffer)[:count])


def _read_fully(fd: int, offset: int, size: int) -> bytes:
    parts = []
    while size > 0:
        part = os.pread(fd, size, offset)
        if not part:
            break  # end of file
        parts.append(part)
        offset, size = offset + len(part), size - len(part)
    return b"".join(parts)


async def read_at(fd: int, offset: int, size: int) -> bytes:
    """`size` bytes at `offset` (fewer only at the end of the file; b"" past it)."""
    cached = _read_cached(fd, offset, size) or b""
    if len(cached) == size:
        return cached
    # Not (all) in memory: the rest from a worker thread, where waiting on the disk is fine.
    rest = await anyio.to_thread.run_sync(_read_fully, fd, offset + len(cached), size - len(cached))
    return cached + rest


@dataclass
class Delivery:
    """How a body is going out: bytes handed to the server so far, and how it ended."""

    sent: int = 0
    disconnected: bool = False
    completed: bool = False  # the whole body went out


# Hears a delivery while it goes (`final` False) and once when it has ended (`final` True).
OnDelivered = Callable[[Delivery, bool], Awaitable[None]]


class Meter:
    """Tells `report` how a delivery goes: after every `every_bytes` more bytes or
    `every_seconds` of wall time, whichever comes first, and once at the end.

    An error raised by a report during the body stops the body there (a share whose budget
    ran out); one raised by the final report is logged, as the body is already gone.
    """

    def __init__(
        self, report: OnDelivered | None, *, every_bytes: int, every_seconds: float = 5.0
    ) -> None:
        self.report = report
        self.every_bytes = max(every_bytes, 1)
        self.every_seconds = every_seconds
        self._reported = 0
        self._at = time.monotonic()

    async def tick(self, delivery: Delivery) -> None:
        if self.report is None:
            return
        now = time.monotonic()
        due_by_bytes = delivery.sent - self._reported >= self.every_bytes
        if due_by_bytes or now - self._at >= self.every_seconds:
            self._reported, self._at = delivery.sent, now
            await self.report(delivery, False)

    async def finish(self, delivery: Delivery) -> None:
        if self.report is None:
            return
        with anyio.CancelScope(shield=True):
            try:
                await self.report(delivery, True)
            except Exception as error:
                log.warning("delivery_report_failed", error=repr(error))


@asynccontextmanager
async def watching_disconnect(receive: Receive, delivery: Delivery) -> AsyncIterator[None]:
    """Run the block while a task listens for `http.disconnect`; a disconnect cancels the
    block (its `finally` clauses still run) and marks the delivery `disconnected`."""
    failure: Exception | None = None
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            delivery.disconnected = True
            group.cancel_scope.cancel()

        group.start_soon(watch)
        try:
            yield
        except OSError:
            # ASGI ≥ 2.4 servers raise from `send` once the connection is gone.
            delivery.disconnected = True
        except Exception as error:
            failure = error  # raised below as itself, not wrapped in an ExceptionGroup
        group.cancel_scope.cancel()
    if failure is not None:
        raise failure


async def send_chunks(
    send: Send, delivery: Delivery, chunks: AsyncIterator[bytes], meter: Meter
) -> None:
    """Send each chunk as it comes, then end the body; count what the server accepted."""
    async for chunk in chunks:
        if chunk:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            delivery.sent += len(chunk)
            await meter.tick(delivery)
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    delivery.completed = True


class FileRegionResponse(Response):
    """200 with a whole file, or 206 with one `ByteRange` of it; HEAD sends the headers only.

    `headers` adds to Content-Type, Content-Length, Content-Range and `Accept-Ranges: bytes`
    (validators, Cache-Control, Content-Disposition). `meter` hears how many body bytes go
    out (not for HEAD). The response closes `file`.
    """

    chunk_size = CHUNK_SIZE

    def __init__(
        self,
        file: OpenFile,
        *,
        media_type: str,
        byte_range: ByteRange | None = None,
        headers: Mapping[str, str] | None = None,
        meter: Meter | None = None,
    ) -> None:
        self.file = file
        self.region = byte_range or ByteRange(0, file.size, file.size)
        self.status_code = 206 if byte_range is not None else 200
        self.media_type = media_type
        self.background = None
        self.meter = meter or Meter(None, every_bytes=file.size)
        self.init_headers(
            {
                **(headers or {}),
                "Accept-Ranges": "bytes",
                "Content-Length": str(self.region.length),
                **({"Content-Range": self.region.content_range} if byte_range else {}),
            }
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            start = {"type": "http.response.start", "status": self.status_code}
            await send({**start, "headers": self.raw_headers})
            if scope.get("method", "GET").upper() == "HEAD":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            delivery = Delivery()
            try:
                await self._send_body(scope, receive, send, delivery)
            finally:
                await self.meter.finish(delivery)
        finally:
            self.file.close()

    async def _send_body(
        self, scope: Scope, receive: Receive, send: Send, delivery: Delivery
    ) -> None:
        region = self.region
        extensions = scope.get("extensions") or {}
        if region.length == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif ZEROCOPY in extensions:
            # A file object over our open descriptor: no path lookup, nothing blocks.
            with open(self.file.fd, "rb", closefd=False) as handle:  # noqa: ASYNC230
                await send(
                    {
                        "type": ZEROCOPY,
                        "file": handle,
                        "offset": region.start,
                        "count": region.length,
                        "more_body": False,
                    }
                )
            delivery.sent = region.length
        elif PATHSEND in extensions and region.is_whole:
            await send({"type": PATHSEND, "path": self.file.path})
            delivery.sent = region.length
        elif region.length <= self.chunk_size:
            # One send: nothing to stop half-way, so no watcher.
            body = await read_at(self.file.fd, region.start, region.length)
            if len(body) < region.length:
                raise RuntimeError(f"{self.file.path} became shorter while being sent")
            await send({"type": "http.response.body", "body": body, "more_body": False})
            delivery.sent = len(body)
        else:
            async with watching_disconnect(receive, delivery):
                await self._send_chunks(send, delivery)
            return
        delivery.completed = True

    async def _send_chunks(self, send: Send, delivery: Delivery) -> None:
        region = self.region
        position = region.start
        while position < region.end:
            wanted = min(self.chunk_size, region.end - position)
            chunk = await read_at(self.file.fd, position, wanted)
            if not chunk:
                raise RuntimeError(f"{self.file.path} became shorter while being sent")
            position += len(chunk)
            more = position < region.end
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
            delivery.sent += len(chunk)
            if more:
                await self.meter.tick(delivery)
        delivery.completed = True
