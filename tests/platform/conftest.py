"""The platform tests run against the real app with the probe routes mounted beside the API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from cinesonic.app import create_app
from cinesonic.config import Settings
from tests.platform import probe


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    application.include_router(probe.router, prefix=probe.PREFIX, include_in_schema=False)
    async with LifespanManager(application):
        yield application
