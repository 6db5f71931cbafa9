"""The settings tests start from an administrator (who holds `settings.manage`) and an ordinary
user, and can start more apps on the same database: a restart, or another replica."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager

from cinesonic.app import create_app
from cinesonic.config import Settings
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login

SERVER = "/api/v1/settings/server"
USER = "/api/v1/settings/user"
ADMIN_CONFIG = "/api/v1/admin/config"


@pytest.fixture
async def admin(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "root", role="admin")


@pytest.fixture
async def member(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "bob")


@pytest.fixture(autouse=True)
def configured(settings: Settings) -> Settings:
    """The settings as configured, copied before the test's app applies stored values to its
    own (autouse fixtures run first)."""
    return settings.model_copy(deep=True)


@asynccontextmanager
async def another_app(configured: Settings, **changes: object) -> AsyncIterator[AppState]:
    """Another app on the same database (and bus) as the test's, configured as the test's app
    was: a restarted server, or a second replica."""
    application = create_app(configured.model_copy(update=changes, deep=True))
    async with LifespanManager(application):
        app_state: AppState = application.state.cinesonic
        yield app_state
