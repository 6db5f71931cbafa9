"""Transcoded streams: decodable mp3/opus/aac, bit rates, time offsets, the cache (hits, ranges,
size bound, nothing half-written), shared ffmpeg runs, the concurrency limit, ffmpeg failures,
and ffmpeg killed when the client leaves."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import av
import httpx
import pytest
from fastapi import FastAPI

from cinesonic.models.library import Library
from cinesonic.models.music import Song
from cinesonic.music import transcode
from cinesonic.music.transcode import FfmpegRun, transcoder_of
from cinesonic.state import AppState
from tests.fixtures.live import serve
from tests.fixtures.music import create_song
from tests.fixtures.users import SignedIn
from tests.music.stream_fixtures import (
    ada,
    create_long_song,
    error_code,
    flac_song,
    library,
    long_wav,
    stream_url,
)

__all__ = ["ada", "flac_song", "library", "long_wav"]

CODECS = {"mp3": "mp3", "opus": "opus", "aac": "aac"}
CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac"}


def probe(data: bytes) -> dict[str, Any]:
    """Codec, decoded seconds and declared bit rate of an audio stream in `data`."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        rate = stream.codec_context.sample_rate
        return {
            "codec": stream.codec_context.name,
            "seconds": samples / rate,
            "bit_rate": stream.codec_context.bit_rate or container.bit_rate,
        }


def cache_root(state: AppState) -> Path:
    return state.settings.data_dir / "cache" / "transcode"


def cache_files(state: AppState) -> list[Path]:
    root = cache_root(state)
    return sorted(p for p in root.glob("*/*")) if root.exists() else []


async def wait_for(check: Any, seconds: float = 15.0) -> None:
    """Poll `check` until it holds (background work: cache publishing, ffmpeg's exit)."""
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    assert check()


@pytest.fixture
def ffmpeg_starts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FfmpegRun]]:
    """Every ffmpeg the server starts during the test."""
    started: list[FfmpegRun] = []
    original = FfmpegRun.start.__func__  # type: ignore[attr-defined]

    async def counting(cls: type[FfmpegRun], job: transcode.TranscodeJob) -> FfmpegRun:
        run: FfmpegRun = await original(cls, job)
        started.append(run)
        return run

    monkeypatch.setattr(FfmpegRun, "start", classmethod(counting))
    yield started


@pytest.fixture
def no_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(cls: type[FfmpegRun], job: transcode.TranscodeJob) -> FfmpegRun:
        raise AssertionError("ffmpeg must not run here")

    monkeypatch.setattr(FfmpegRun, "start", classmethod(refuse))


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac"])
async def test_transcode_is_decodable_audio_of_the_song(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song, fmt: str
) -> None:
    response = await client.get(stream_url(flac_song, format=fmt), headers=ada.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPES[fmt]
    assert response.headers["accept-ranges"] == "none"
    assert "content-length" not in response.headers
    probed = probe(response.content)
    assert probed["codec"].startswith(CODECS[fmt])
    assert abs(probed["seconds"] - flac_song.duration) < 0.2
    await wait_for(lambda: len(cache_files(state)) == 1)  # kept for next time


@pytest.mark.parametrize(("asked", "expected"), [(None, 192), (64, 64), (5000, 320), (8, 32)])
async def test_bitrate_defaults_to_the_profile_and_is_clamped(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song, asked: int | None, expected: int
) -> None:
    query: dict[str, Any] = {"format": "mp3"}
    if asked is not None:
        query["bitrate"] = asked
    response = await client.get(stream_url(flac_song, **query), headers=ada.headers)
    assert response.status_code == 200
    assert probe(response.content)["bit_rate"] == expected * 1000


async def test_time_offset_starts_the_song_later(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    response = await client.get(
        stream_url(flac_song, format="opus", time_offset=2), headers=ada.headers
    )
    assert response.status_code == 200
    assert abs(probe(response.content)["seconds"] - 1.0) < 0.1
    without_format = await client.get(stream_url(flac_song, time_offset=1), headers=ada.headers)
    assert without_format.headers["content-type"] == "audio/mpeg"
    assert abs(probe(without_format.content)["seconds"] - 2.0) < 0.1


async def test_offset_transcodes_are_not_cached(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    response = await client.get(
        stream_url(flac_song, format="mp3", time_offset=1), headers=ada.headers
    )
    assert response.status_code == 200
    assert cache_files(state) == []


async def test_second_request_is_served_from_the_cache_like_a_file(
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    flac_song: Song,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = stream_url(flac_song, format="mp3")
    first = await client.get(url, headers=ada.headers)
    await wait_for(lambda: len(cache_files(state)) == 1)
    entry = cache_files(state)[0]
    assert not entry.name.startswith(".")

    async def refuse(cls: type[FfmpegRun], job: transcode.TranscodeJob) -> FfmpegRun:
        raise AssertionError("a cache hit runs no ffmpeg")

    monkeypatch.setattr(FfmpegRun, "start", classmethod(refuse))
    second = await client.get(url, headers=ada.headers)
    assert second.status_code == 200
    assert second.content == first.content == await anyio.Path(entry).read_bytes()
    assert second.headers["content-length"] == str(len(first.content))
    assert second.headers["accept-ranges"] == "bytes"
    assert second.headers["content-type"] == "audio/mpeg"

    ranged = await client.get(url, headers={**ada.headers, "Range": "bytes=100-199"})
    assert ranged.status_code == 206
    assert ranged.content == first.content[100:200]
    unchanged = await client.get(
        url, headers={**ada.headers, "If-None-Match": second.headers["etag"]}
    )
    assert unchanged.status_code == 304
    past_the_end = await client.get(url, headers={**ada.headers, "Range": "bytes=99999999-"})
    assert past_the_end.status_code == 416


async def test_a_changed_source_file_is_transcoded_again(
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    flac_song: Song,
    ffmpeg_starts: list[FfmpegRun],
) -> None:
    url = stream_url(flac_song, format="mp3")
    await client.get(url, headers=ada.headers)
    await wait_for(lambda: len(cache_files(state)) == 1)
    stat = os.stat(flac_song.path)
    os.utime(flac_song.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert (await client.get(url, headers=ada.headers)).status_code == 200
    assert len(ffmpeg_starts) == 2


async def test_same_codec_at_no_higher_rate_is_the_original_file(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, library: Library
) -> None:
    song = await create_song(state, library, "Mp3", fmt="mp3", seconds=2.0, write_file=True)
    original = await client.get(stream_url(song, format="mp3"), headers=ada.headers)
    assert original.headers["accept-ranges"] == "bytes"
    assert original.content == await anyio.Path(song.path).read_bytes()
    lower = await client.get(stream_url(song, format="mp3", bitrate=64), headers=ada.headers)
    assert lower.headers["accept-ranges"] == "none"
    assert probe(lower.content)["bit_rate"] == 64_000


async def test_concurrent_requests_for_one_transcode_share_one_ffmpeg(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song, ffmpeg_starts: list[FfmpegRun]
) -> None:
    url = stream_url(flac_song, format="aac")
    responses = await asyncio.gather(*(client.get(url, headers=ada.headers) for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert len({r.content for r in responses}) == 1
    assert len(ffmpeg_starts) == 1


@pytest.mark.parametrize(
    "settings_overrides", [{"transcode_max_concurrent": 1, "transcode_queue_seconds": 30}]
)
async def test_requests_queued_behind_a_transcode_get_its_result(
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    flac_song: Song,
    ffmpeg_starts: list[FfmpegRun],
) -> None:
    url = stream_url(flac_song, format="opus")
    responses = await asyncio.gather(*(client.get(url, headers=ada.headers) for _ in range(3)))
    assert [r.status_code for r in responses] == [200] * 3
    assert len({r.content for r in responses}) == 1
    assert len(ffmpeg_starts) == 1


@pytest.mark.parametrize(
    "settings_overrides", [{"transcode_max_concurrent": 1, "transcode_queue_seconds": 0}]
)
async def test_busy_transcoders_answer_503_with_retry_after(
    app: FastAPI, state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    transcoder = transcoder_of(app, state.settings)
    await transcoder.acquire_slot()  # another transcode holds the only slot
    busy = await client.get(stream_url(flac_song, format="mp3"), headers=ada.headers)
    assert busy.status_code == 503
    assert error_code(busy) == "transcode_busy"
    assert busy.headers["retry-after"] == "1"
    original = await client.get(stream_url(flac_song), headers=ada.headers)
    assert original.status_code == 200  # the original needs no slot
    transcoder.release_slot()
    assert (
        await client.get(stream_url(flac_song, format="mp3"), headers=ada.headers)
    ).status_code == 200


@pytest.mark.parametrize(
    "settings_overrides", [{"transcode_max_concurrent": 1, "transcode_queue_seconds": 30}]
)
async def test_a_transcode_waits_in_line_for_a_slot(
    app: FastAPI, state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    transcoder = transcoder_of(app, state.settings)
    await transcoder.acquire_slot()
    asyncio.get_running_loop().call_later(0.3, transcoder.release_slot)
    response = await client.get(stream_url(flac_song, format="opus"), headers=ada.headers)
    assert response.status_code == 200


async def test_ffmpeg_failure_is_502_and_leaves_no_cache_entry(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, library: Library
) -> None:
    song = await create_song(state, library, "Broken", fmt="flac")
    await anyio.Path(song.path).parent.mkdir(parents=True, exist_ok=True)
    await anyio.Path(song.path).write_bytes(b"this is not audio at all\n" * 200)
    for query in ({"format": "mp3"}, {"format": "mp3", "time_offset": 1}):
        response = await client.get(stream_url(song, **query), headers=ada.headers)
        assert response.status_code == 502
        assert error_code(response) == "transcode_failed"
    assert leftovers(state) == []


async def test_head_of_a_transcode_starts_no_ffmpeg(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song, no_ffmpeg: None
) -> None:
    response = await client.head(stream_url(flac_song, format="opus"), headers=ada.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/ogg"
    assert response.headers["accept-ranges"] == "none"
    assert response.content == b""


@pytest.mark.parametrize("settings_overrides", [{"transcode_cache_max_bytes": 100_000}])
async def test_the_cache_keeps_to_its_size_dropping_the_least_recently_used(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, library: Library
) -> None:
    first = await create_song(state, library, "One", fmt="flac", seconds=3.0, write_file=True)
    second = await create_song(
        state, library, "Two", fmt="flac", seconds=3.0, track_number=2, write_file=True
    )
    await client.get(stream_url(first, format="mp3"), headers=ada.headers)  # ~72 kB
    await wait_for(lambda: len(cache_files(state)) == 1)
    kept = await client.get(stream_url(second, format="mp3"), headers=ada.headers)
    await wait_for(lambda: len(cache_files(state)) == 1 and cache_files(state)[0].stat().st_size)
    await asyncio.sleep(0.2)  # eviction runs after publishing; let it settle
    remaining = cache_files(state)
    assert len(remaining) == 1
    assert await anyio.Path(remaining[0]).read_bytes() == kept.content


@pytest.mark.parametrize("settings_overrides", [{"transcode_cache_max_bytes": 0}])
async def test_a_cache_of_size_zero_keeps_nothing(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    for _ in range(2):
        response = await client.get(stream_url(flac_song, format="mp3"), headers=ada.headers)
        assert response.status_code == 200
    assert cache_files(state) == []


@pytest.mark.parametrize("query", [{"format": "mp3"}, {"format": "mp3", "time_offset": 1}])
async def test_ffmpeg_is_killed_when_the_client_disconnects(
    app: FastAPI,
    state: AppState,
    ada: SignedIn,
    library: Library,
    long_wav: Path,
    ffmpeg_starts: list[FfmpegRun],
    query: dict[str, Any],
) -> None:
    song = await create_long_song(state, library, long_wav)
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        url = stream_url(song, bitrate=320, **query)
        async with http.stream("GET", url, headers=ada.headers) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_raw():
                assert chunk
                break
            assert len(ffmpeg_starts) == 1
            assert ffmpeg_starts[0].process.returncode is None  # still transcoding
        run = ffmpeg_starts[0]
        await wait_for(lambda: run.process.returncode is not None)
        assert run.process.returncode == -9  # killed, not finished
        assert run not in FfmpegRun.running
        # The unfinished cache entry went with it.
        await wait_for(lambda: leftovers(state) == [])


def leftovers(state: AppState) -> list[Path]:
    root = cache_root(state)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []
