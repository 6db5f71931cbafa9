"""What the streaming, transcoding and plays tests start from: signed-in users, a library, real
audio files, a long file made once by ffmpeg, and the URLs of a song's bytes.

Imported by those test modules (`from tests.music.stream_fixtures import *` is avoided: each
names what it uses).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from cinesonic.models.library import Library
from cinesonic.models.music import Song
from cinesonic.music.transcode import ffmpeg_binary
from cinesonic.state import AppState
from tests.fixtures.music import create_library, create_song
from tests.fixtures.users import SignedIn, create_and_login

LONG_SECONDS = 300.0


def stream_url(song: Song | str, **query: Any) -> str:
    song_id = song if isinstance(song, str) else song.id
    return str(httpx.URL(f"/api/v1/songs/{song_id}/stream", params=query))


def download_url(song: Song | str, **query: Any) -> str:
    song_id = song if isinstance(song, str) else song.id
    return str(httpx.URL(f"/api/v1/songs/{song_id}/download", params=query))


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


@pytest.fixture
async def ada(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "ada")


@pytest.fixture
async def library(state: AppState) -> Library:
    return await create_library(state, "Music")


@pytest.fixture
async def flac_song(state: AppState, library: Library) -> Song:
    return await create_song(state, library, "Flac Song", fmt="flac", seconds=3.0, write_file=True)


@pytest.fixture(scope="session")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five minutes of a stereo tone as 16-bit WAV (53 MB: far more than socket buffers hold),
    made once per session by ffmpeg itself."""
    path = tmp_path_factory.mktemp("long") / "long.wav"
    subprocess.run(
        [
            ffmpeg_binary(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=330:duration={LONG_SECONDS}:sample_rate=44100",
            "-ac",
            "2",
            "-c:a",
            "pcm_s16le",
            str(path),
        ],
        check=True,
    )
    return path


async def create_long_song(state: AppState, library: Library, long_wav: Path) -> Song:
    """A song row for a (hard-linked) copy of the long WAV in the library."""
    song = await create_song(
        state, library, "Long", fmt="wav", seconds=LONG_SECONDS, relative_path="Long/long.wav"
    )
    target = anyio.Path(song.path)
    await target.parent.mkdir(parents=True, exist_ok=True)
    await target.hardlink_to(long_wav)
    stat = await target.stat()
    async with state.db.session() as session:
        row = await session.get_one(Song, song.id)
        row.size_bytes, row.mtime_ns = stat.st_size, stat.st_mtime_ns
    song.size_bytes = stat.st_size
    return song
