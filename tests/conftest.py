"""Test harness: every test gets its own migrated database and a running app.

SQLite (default): the migrations run once into a template file that each test copies.
PostgreSQL (`CINESONIC_TEST_DATABASE_URL`): the migrations run once into a template database per
xdist worker; each worker copies it once and empties it back to the template's rows after every
test (`tests.fixtures.pgreuse`). Redis (`CINESONIC_TEST_REDIS_URL`)
backs the event bus and rate limits, with a key prefix of the test's own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from cinesonic.app import create_app
from cinesonic.config import Settings
from cinesonic.logs import configure_logging
from cinesonic.migrations.runner import upgrade
from cinesonic.state import AppState
from tests.fixtures.pgreuse import ReusableDatabase

PG_URL = os.environ.get("CINESONIC_TEST_DATABASE_URL") or None
REDIS_URL = os.environ.get("CINESONIC_TEST_REDIS_URL") or None
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_admin_dsn(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    dsn = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    return dsn, parsed.database or "test"


async def _pg_exec(url: str, *statements: str) -> None:
    dsn, _ = _pg_admin_dsn(url)
    connection = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session", autouse=True)
def quiet_logs() -> None:
    """Warnings and errors only, as JSON lines: what a test prints should be worth reading."""
    configure_logging(Settings(log_level="warning", log_format="json"))


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database to copy: a file path (SQLite) or a database name (PostgreSQL)."""
    if PG_URL is None:
        path = tmp_path_factory.mktemp("template") / "template.db"
        upgrade(f"sqlite+aiosqlite:///{path}")
        yield str(path)
        return
    # Unique per process: concurrent runs against one server must not share a template.
    name = f"cinesonic_template_{WORKER}_{os.getpid()}"
    asyncio.run(
        _pg_exec(
            PG_URL,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}"',
        )
    )
    upgrade(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    yield name
    asyncio.run(_pg_exec(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def reusable_database(database_template: str) -> Iterator[ReusableDatabase | None]:
    """PostgreSQL: this worker's test database, emptied between tests (`fixtures.pgreuse`)."""
    if PG_URL is None:
        yield None
        return
    database = ReusableDatabase(PG_URL, database_template, f"cinesonic_t_{WORKER}_{os.getpid()}")
    asyncio.run(database.create())
    yield database
    asyncio.run(database.drop())


@pytest.fixture
async def database_url(
    database_template: str, reusable_database: ReusableDatabase | None, tmp_path: Path
) -> AsyncIterator[str]:
    if reusable_database is None:
        path = tmp_path / "cinesonic.db"
        shutil.copyfile(database_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    yield reusable_database.url
    await reusable_database.reset()


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module (or with `@pytest.mark.parametrize`) to change settings."""
    return {}


def wait_out_minute_boundary(margin: float = 10.0) -> None:
    """Sleep past the next minute boundary when it is under `margin` seconds away.

    `limits`' sliding-window counter rounds the previous window's weighted count down, so a
    test that makes N + 1 hits against an "N/minute" rule across a minute boundary can see the
    last one pass. A test that starts at least `margin` seconds before a boundary ends before
    it."""
    into = time.time() % 60
    if into > 60 - margin:
        time.sleep(60 - into + 0.05)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, settings_overrides: dict[str, object]) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "redis_url": REDIS_URL,
        "redis_prefix": f"cinesonic-test-{uuid.uuid4().hex[:12]}",
        "secret_key": "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 1024,
        "log_format": "json",
        "log_level": "warning",
        # Tests start the workers they need; an app worker would race them for jobs.
        "worker_enabled": False,
    }
    values.update(settings_overrides)
    if any(isinstance(value, str) and value.endswith("/minute") for value in values.values()):
        wait_out_minute_boundary()
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
def state(app: FastAPI) -> AppState:
    result: AppState = app.state.cinesonic
    return result


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
