"""Liveness (`/health`, `/healthz`, `/api/v1/health`) and readiness (`/readyz`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import text

from cinesonic import __version__
from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.migrations.runner import alembic_config, head_revision
from cinesonic.state import AppState


async def execute(state: AppState, statement: str) -> None:
    async with state.db.engine.begin() as connection:
        await connection.execute(text(statement))


@pytest.mark.parametrize("path", ["/health", "/healthz", "/api/v1/health", "/api/v1/healthz"])
async def test_liveness_answers_ok_with_version_and_time(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    timestamp = datetime.fromisoformat(body["timestamp"])
    assert timestamp.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - timestamp) < timedelta(minutes=1)


@pytest.mark.parametrize("path", ["/readyz", "/api/v1/readyz"])
async def test_migrated_database_is_ready(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "migration": head_revision(),
        "expected_migration": head_revision(),
    }


async def test_database_stamped_at_an_older_revision_is_not_ready(
    client: httpx.AsyncClient, state: AppState
) -> None:
    url = state.settings.resolved_database_url
    await asyncio.to_thread(command.stamp, alembic_config(url), "base", purge=True)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["migration"] is None
    assert response.json()["expected_migration"] == head_revision()


async def test_database_at_an_unknown_revision_is_not_ready(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await execute(state, "UPDATE alembic_version SET version_num = '0000_elsewhere'")
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["migration"] == "0000_elsewhere"


async def test_database_without_a_version_table_is_not_ready(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await execute(state, "DROP TABLE alembic_version")
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "database": "ok",
        "migration": None,
        "expected_migration": head_revision(),
    }


async def test_unreachable_database_is_not_ready(
    client: httpx.AsyncClient, state: AppState, tmp_path: Path
) -> None:
    # Nothing listens on port 1: a real connection attempt that is refused.
    nowhere = Settings(
        data_dir=tmp_path, database_url="postgresql+asyncpg://nobody@127.0.0.1:1/nowhere"
    )
    working, state.db = state.db, Database(nowhere)
    try:
        response = await client.get("/readyz")
    finally:
        await state.db.dispose()
        state.db = working
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["database"].startswith("unreachable: ")
    assert "127.0.0.1" not in response.text


async def test_readiness_documents_its_503_body(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    not_ready = document["paths"]["/readyz"]["get"]["responses"]["503"]
    assert not_ready["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Ready"
    }
