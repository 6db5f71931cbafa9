"""The command-line tests start from nothing: `database_url` is overridden to an EMPTY database
(a SQLite file in the test's data directory, or a fresh PostgreSQL database when
`CINESONIC_TEST_DATABASE_URL` is set), so the commands under test run the migrations
themselves. The shared `settings` fixture stands on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("CINESONIC_TEST_DATABASE_URL") or None


async def _on_pg_server(statement: str) -> None:
    assert PG_URL is not None
    dsn = make_url(PG_URL).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    if PG_URL is None:
        # The file `cinesonic serve` would use by default: `<data_dir>/cinesonic.db`.
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'cinesonic.db'}"
        return
    name = f"cinesonic_cli_{uuid.uuid4().hex[:12]}"
    await _on_pg_server(f'CREATE DATABASE "{name}"')
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    await _on_pg_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
