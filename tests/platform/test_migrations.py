"""Migrations: an empty database goes to head, back to base and up again, and what the migrations
build is exactly what the models describe."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from cinesonic.migrations.runner import alembic_config, head_revision, upgrade
from cinesonic.models import Base
from tests.conftest import PG_URL, _pg_exec

BUILTIN_ROLES = {"admin", "moderator", "user", "guest"}


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    if PG_URL is None:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"cinesonic_m_{uuid.uuid4().hex[:12]}"
    await _pg_exec(PG_URL, f'CREATE DATABASE "{name}"')
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    await _pg_exec(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def migrate(url: str, revision: str = "head") -> None:
    # Alembic drives its own event loop; keep it off ours.
    await asyncio.to_thread(upgrade, url, revision)


async def downgrade(url: str, revision: str = "base") -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)


async def inspect_database(url: str, query: str | None = None) -> dict[str, Any]:
    """Table names, the current revision and (optionally) one query's first column."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:

            def read(sync: Connection) -> dict[str, Any]:
                return {
                    "tables": set(inspect(sync).get_table_names()),
                    "revision": MigrationContext.configure(sync).get_current_revision(),
                    "rows": set(sync.execute(text(query)).scalars()) if query else None,
                }

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def differences_from_models(url: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:

            def compare(sync: Connection) -> list[Any]:
                context = MigrationContext.configure(
                    sync, opts={"compare_type": True, "compare_server_default": True}
                )
                return list(compare_metadata(context, Base.metadata))

            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


async def test_empty_database_upgrades_to_head(empty_database_url: str) -> None:
    await migrate(empty_database_url)
    found = await inspect_database(empty_database_url, "SELECT name FROM role")
    assert found["revision"] == head_revision()
    assert set(Base.metadata.tables) <= found["tables"]
    assert found["rows"] == BUILTIN_ROLES


async def test_upgrade_at_head_changes_nothing(empty_database_url: str) -> None:
    await migrate(empty_database_url)
    await migrate(empty_database_url)
    found = await inspect_database(empty_database_url, "SELECT name FROM role")
    assert found["revision"] == head_revision()
    assert found["rows"] == BUILTIN_ROLES


async def test_downgrade_to_base_removes_every_table(empty_database_url: str) -> None:
    await migrate(empty_database_url)
    await downgrade(empty_database_url)
    found = await inspect_database(empty_database_url)
    assert found["revision"] is None
    assert found["tables"] <= {"alembic_version"}


async def test_database_upgrades_again_after_a_downgrade(empty_database_url: str) -> None:
    await migrate(empty_database_url)
    await downgrade(empty_database_url)
    await migrate(empty_database_url)
    found = await inspect_database(empty_database_url, "SELECT name FROM role")
    assert found["revision"] == head_revision()
    assert found["rows"] == BUILTIN_ROLES


async def test_models_match_the_migrated_schema(empty_database_url: str) -> None:
    await migrate(empty_database_url)
    assert await differences_from_models(empty_database_url) == []


async def test_test_template_matches_the_models(database_url: str) -> None:
    assert await differences_from_models(database_url) == []


async def test_every_revision_can_step_down_and_up_one_at_a_time(
    empty_database_url: str,
) -> None:
    await migrate(empty_database_url)
    config = alembic_config(empty_database_url)
    revisions = list(ScriptDirectory.from_config(config).walk_revisions())
    for _ in revisions:
        await downgrade(empty_database_url, "-1")
    assert (await inspect_database(empty_database_url))["revision"] is None
    for _ in revisions:
        await migrate(empty_database_url, "+1")
    assert (await inspect_database(empty_database_url))["revision"] == head_revision()
