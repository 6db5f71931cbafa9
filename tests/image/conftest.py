"""The signed-in users the image tests start from, and the store they write to."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login


@pytest.fixture
async def ada(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "ada")


@pytest.fixture
async def bob(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "bob")


@pytest.fixture
def store_root(state: AppState) -> Path:
    return state.settings.data_dir / "images"
