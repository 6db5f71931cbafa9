"""Fixtures of the import pipeline tests: an administrator and a library manager signed in,
the pipeline's folders under the test's data directory, a real worker for the jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cinesonic.importer.pipeline import Folders, folders
from cinesonic.state import AppState
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import Worker
from tests.fixtures.users import SignedIn, assign_role, create_and_login, create_role


@pytest.fixture
async def admin(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "boss", role="admin")


@pytest.fixture
async def manager(state: AppState, client: httpx.AsyncClient, admin: SignedIn) -> SignedIn:
    """A curator: `library.manage` without being an administrator."""
    signed_in = await create_and_login(state, client, "curator")
    await create_role(client, admin, "curators", ["library.read", "library.manage"])
    await assign_role(client, admin, signed_in.user_id, "curators")
    return signed_in


@pytest.fixture
async def user(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "listener")


@pytest.fixture
def places(state: AppState) -> Folders:
    return folders(state.settings)


@pytest.fixture
def inbound(places: Folders) -> Path:
    return places.inbound


@pytest.fixture
async def worker(state: AppState) -> AsyncIterator[Worker]:
    import cinesonic.importer.tasks  # noqa: F401  (declares import.process, import.promote)

    running = Worker(
        state.db, state.bus, registry, state.settings, poll_interval=0.05, lease_seconds=10
    )
    await running.start()
    yield running
    await running.stop(grace_seconds=2)
