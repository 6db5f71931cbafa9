"""Signed-in accounts the user tests start from: an administrator and an ordinary user."""

from __future__ import annotations

import httpx
import pytest

from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login


@pytest.fixture
async def admin(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "root", role="admin")


@pytest.fixture
async def member(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "bob")
