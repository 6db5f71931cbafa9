"""The fake TMDb server (one per test process, reset for each test), settings pointing the app
at it, and the signed-in users the metadata tests start from."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login
from tests.metadata.fake_tmdb import API_KEY, FakeTmdb


@pytest.fixture(scope="session")
def tmdb_server() -> Iterator[FakeTmdb]:
    server = FakeTmdb()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tmdb(tmdb_server: FakeTmdb) -> FakeTmdb:
    tmdb_server.reset()
    return tmdb_server


@pytest.fixture
def settings_overrides(tmdb: FakeTmdb) -> dict[str, object]:
    return {
        "tmdb_api_key": API_KEY,
        "tmdb_base_url": tmdb.api_url,
        # Retries without real waits: the client's own tests check the waits it asks for.
        "tmdb_retry_backoff_seconds": 0.0,
        "tmdb_retry_after_max_seconds": 0.0,
        "tmdb_timeout_seconds": 5.0,
    }


@pytest.fixture
async def ada(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "ada")
