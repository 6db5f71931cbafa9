"""Playlist test harness: signed-in accounts (an owner, another user, a guest, an
administrator), a library everyone may read and a restricted one, and songs in them."""

from __future__ import annotations

import httpx
import pytest

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
    """Four songs of one album, 10, 20, 30 and 40 seconds long."""
    return [
        await create_song(
            state, library, f"Track {n}", track_number=n, seconds=10.0 * n, artists=["Nina"]
        )
        for n in range(1, 5)
    ]
