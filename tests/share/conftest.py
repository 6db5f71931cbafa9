"""Share test harness: signed-in accounts (an owner, another user, a guest, an administrator),
a library everyone may read, songs in it, and one song with a real, playable file."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from cinesonic.models.library import Library
from cinesonic.models.music import Song
from cinesonic.state import AppState
from tests.fixtures.music import create_library, create_song
from tests.fixtures.users import SignedIn, create_and_login


@pytest.fixture
async def ada(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "ada")


@pytest.fixture
async def bob(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "bob")


@pytest.fixture
async def guest(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "gus", role="guest")


@pytest.fixture
async def admin(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "root", role="admin")


@pytest.fixture
async def library(state: AppState) -> Library:
    return await create_library(state, "Music")


@pytest.fixture
async def songs(state: AppState, library: Library) -> list[Song]:
    """Three songs of one album (no files), 10, 20 and 30 seconds long."""
    return [
        await create_song(
            state, library, f"Track {n}", track_number=n, seconds=10.0 * n, artists=["Nina"]
        )
        for n in range(1, 4)
    ]


@pytest.fixture
async def playable(state: AppState, library: Library) -> Song:
    """A song with a real 6-second MP3 file behind it."""
    return await create_song(
        state,
        library,
        "Playable",
        album="Live",
        artists=["Band"],
        seconds=6.0,
        write_file=True,
    )


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client from another address, with no account."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 51000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"User-Agent": "ShareTest/1.0"}
    ) as http:
        yield http
