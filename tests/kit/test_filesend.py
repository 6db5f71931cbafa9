"""`kit.filesend`: the ways a file region goes out over ASGI (zero-copy, path send, read in
chunks), what the meter hears, and a client that leaves half-way."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from cinesonic.kit import filesend
from cinesonic.kit.conditional import ByteRange
from cinesonic.kit.filesend import (
    CHUNK_SIZE,
    PATHSEND,
    ZEROCOPY,
    Delivery,
    FileRegionResponse,
    Meter,
    open_file,
    read_at,
)

SIZE = 3 * CHUNK_SIZE + 1234
DATA = os.urandom(SIZE)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    return path


class Server:
    """A minimal ASGI server side: records messages, can drop the connection after N bodies."""

    def __init__(self, *, extensions: dict[str, Any] | None = None, drop_after: int = 0) -> None:
        self.scope: dict[str, Any] = {
            "type": "http",
            "method": "GET",
            "extensions": extensions or {},
        }
        self.messages: list[dict[str, Any]] = []
        self.drop_after = drop_after
        self.gone = asyncio.Event()
        self.requested = False

    async def receive(self) -> dict[str, Any]:
        if not self.requested:
            self.requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # uvicorn waits for a paused transport first, then writes
        if self.gone.is_set():
            return  # as uvicorn does: silently dropped
        self.messages.append(message)
        bodies = [m for m in self.messages if m["type"] == "http.response.body"]
        if self.drop_after and len(bodies) >= self.drop_after:
            self.gone.set()

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if "body" in m)

    @property
    def start(self) -> dict[str, Any]:
        return self.messages[0]

    def header(self, name: str) -> str | None:
        for key, value in self.start["headers"]:
            if key.decode() == name:
                return str(value.decode())
        return None


class Reports:
    def __init__(self) -> None:
        self.seen: list[tuple[int, bool, bool]] = []

    async def __call__(self, delivery: Delivery, final: bool) -> None:
        self.seen.append((delivery.sent, delivery.completed, final))


async def serve(
    path: Path, server: Server, byte_range: ByteRange | None = None, reports: Reports | None = None
) -> None:
    file = await open_file(str(path))
    meter = Meter(reports, every_bytes=CHUNK_SIZE) if reports else None
    response = FileRegionResponse(
        file, media_type="audio/flac", byte_range=byte_range, headers={"ETag": '"x"'}, meter=meter
    )
    await response(server.scope, server.receive, server.send)


async def test_whole_file_is_read_in_chunks_and_reported(data_file: Path) -> None:
    server, reports = Server(), Reports()
    await serve(data_file, server, reports=reports)
    assert server.start["status"] == 200
    assert server.header("content-length") == str(SIZE)
    assert server.header("accept-ranges") == "bytes"
    assert server.header("etag") == '"x"'
    assert server.body == DATA
    assert server.messages[-1]["more_body"] is False
    assert reports.seen[-1] == (SIZE, True, True)
    assert all(not final for _sent, _completed, final in reports.seen[:-1])
    assert len(reports.seen) > 1  # progress reports came while sending


async def test_range_is_sent_as_206(data_file: Path) -> None:
    server = Server()
    await serve(data_file, server, ByteRange(100, 5000, SIZE))
    assert server.start["status"] == 206
    assert server.header("content-range") == f"bytes 100-4999/{SIZE}"
    assert server.header("content-length") == "4900"
    assert server.body == DATA[100:5000]


async def test_zero_copy_send_gets_the_descriptor_and_the_region(data_file: Path) -> None:
    server, reports = Server(extensions={ZEROCOPY: {}}), Reports()
    await serve(data_file, server, ByteRange(10, 20, SIZE), reports)
    message = server.messages[1]
    assert message["type"] == ZEROCOPY
    assert (message["offset"], message["count"], message["more_body"]) == (10, 10, False)
    assert message["file"].closed  # ours, closed once sent
    assert reports.seen == [(10, True, True)]


async def test_path_send_serves_whole_files_only(data_file: Path) -> None:
    server = Server(extensions={PATHSEND: {}})
    await serve(data_file, server)
    assert server.messages[1] == {"type": PATHSEND, "path": str(data_file)}

    ranged = Server(extensions={PATHSEND: {}})
    await serve(data_file, ranged, ByteRange(0, 10, SIZE))
    assert ranged.messages[1]["type"] == "http.response.body"
    assert ranged.body == DATA[:10]


async def test_a_client_that_leaves_stops_the_body_and_is_counted_for_what_it_got(
    data_file: Path,
) -> None:
    server, reports = Server(drop_after=2), Reports()
    await serve(data_file, server, reports=reports)
    sent, completed, final = reports.seen[-1]
    assert final and not completed
    assert sent == 2 * CHUNK_SIZE
    assert len(server.body) == 2 * CHUNK_SIZE


async def test_head_sends_headers_only(data_file: Path) -> None:
    server, reports = Server(), Reports()
    server.scope["method"] = "HEAD"
    await serve(data_file, server, reports=reports)
    assert server.header("content-length") == str(SIZE)
    assert server.body == b""
    assert reports.seen == []


async def test_a_report_that_raises_stops_the_body(data_file: Path) -> None:
    class Exhausted(Exception):
        pass

    async def stop(delivery: Delivery, final: bool) -> None:
        if not final:
            raise Exhausted

    server = Server()
    file = await open_file(str(data_file))
    response = FileRegionResponse(
        file, media_type="audio/flac", meter=Meter(stop, every_bytes=CHUNK_SIZE)
    )
    with pytest.raises(Exhausted):
        await response(server.scope, server.receive, server.send)
    assert len(server.body) == CHUNK_SIZE
    with pytest.raises(OSError):
        os.fstat(file.fd)  # closed


async def test_read_at_reads_past_the_page_cache_too(data_file: Path) -> None:
    file = await open_file(str(data_file))
    try:
        assert await read_at(file.fd, 5, 10) == DATA[5:15]
        assert await read_at(file.fd, SIZE, 10) == b""
    finally:
        file.close()


@pytest.mark.parametrize("cached", [None, 10])
async def test_a_read_the_page_cache_cannot_finish_is_finished_from_the_disk(
    data_file: Path, monkeypatch: pytest.MonkeyPatch, cached: int | None
) -> None:
    def partly_cached(fd: int, offset: int, size: int) -> bytes | None:
        return None if cached is None else DATA[offset : offset + cached]

    monkeypatch.setattr(filesend, "_read_cached", partly_cached)
    file = await open_file(str(data_file))
    try:
        assert await read_at(file.fd, 100, 5000) == DATA[100:5100]
        assert await read_at(file.fd, SIZE - 3, 5000) == DATA[-3:]
    finally:
        file.close()
