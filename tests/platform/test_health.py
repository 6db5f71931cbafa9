"""Liveness (`/health`, `/healthz`), readiness (`/readyz`, with worker heartbeats) and the
dependency report (`/api/v1/health`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import text, update

from cinesonic import __version__
from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.kit.ratelimit import RateLimiter
from cinesonic.kit.timeutil import utcnow
from cinesonic.migrations.runner import alembic_config, head_revision
from cinesonic.models.job import JobStatus
from cinesonic.models.worker import WorkerProcess
from cinesonic.state import AppState
from cinesonic.worker import queue
from tests.conftest import REDIS_URL
from tests.fixtures.users import create_and_login

NOWHERE_DATABASE = "postgresql+asyncpg://nobody@127.0.0.1:1/nowhere"  # nothing listens on 1
NO_WORKERS = {"required": False, "status": "none", "live": 0, "local": None}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # A report per request: these tests change the world between two of them.
    return {"health_cache_seconds": 0}


def settings_with(**values: object) -> Any:
    """Parametrize one test's settings (on top of this module's)."""
    return pytest.mark.parametrize("settings_overrides", [{"health_cache_seconds": 0, **values}])


async def execute(state: AppState, statement: str) -> None:
    async with state.db.engine.begin() as connection:
        await connection.execute(text(statement))


async def register_worker(state: AppState, worker_id: str, heartbeat_age_seconds: float) -> None:
    """A worker row as another process would leave it, its heartbeat this old."""
    async with state.db.session() as session:
        await queue.register_worker(
            session,
            worker_id=worker_id,
            hostname="elsewhere",
            pid=4242,
            queues=[],
            concurrency=4,
            version=__version__,
        )
        await set_heartbeat_age(session, worker_id, heartbeat_age_seconds)


async def set_heartbeat_age(session: Any, worker_id: str, seconds: float) -> None:
    await session.execute(
        update(WorkerProcess)
        .where(WorkerProcess.id == worker_id)
        .values(last_heartbeat_at=utcnow() - timedelta(seconds=seconds))
    )


@asynccontextmanager
async def unreachable_database(state: AppState, tmp_path: Path) -> AsyncIterator[None]:
    """Point the running app at a database that refuses connections."""
    working = state.db
    state.db = Database(Settings(data_dir=tmp_path, database_url=NOWHERE_DATABASE))
    try:
        yield
    finally:
        broken, state.db = state.db, working
        await broken.dispose()


@asynccontextmanager
async def admin_client(state: AppState, client: httpx.AsyncClient) -> AsyncIterator[dict[str, str]]:
    admin = await create_and_login(state, client, "root", role="admin")
    yield admin.headers


# ---------------------------------------------------------------- liveness


@pytest.mark.parametrize("path", ["/health", "/healthz", "/api/v1/healthz"])
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


# ---------------------------------------------------------------- readiness


@pytest.mark.parametrize("path", ["/readyz", "/api/v1/readyz"])
async def test_migrated_database_is_ready(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "migration": head_revision(),
        "expected_migration": head_revision(),
        "workers": {**NO_WORKERS, "last_heartbeat_at": None},
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
    assert response.json()["workers"]["status"] == "unknown"


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
        "workers": {**NO_WORKERS, "status": "unknown", "last_heartbeat_at": None},
    }


async def test_unreachable_database_is_not_ready(
    client: httpx.AsyncClient, state: AppState, tmp_path: Path
) -> None:
    async with unreachable_database(state, tmp_path):
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["database"].startswith("unreachable: ")
    assert "127.0.0.1" not in response.text


@settings_with(worker_enabled=True)
async def test_process_with_a_live_worker_is_ready(
    client: httpx.AsyncClient, state: AppState
) -> None:
    assert state.worker is not None
    response = await client.get("/readyz")
    assert response.status_code == 200
    workers = response.json()["workers"]
    assert workers["required"] is True
    assert workers["local"] == "ok" and workers["status"] == "ok" and workers["live"] == 1


@settings_with(worker_enabled=True, worker_heartbeat_seconds=60)
async def test_stale_heartbeat_of_this_process_worker_is_not_ready(
    client: httpx.AsyncClient, state: AppState
) -> None:
    assert state.worker is not None
    # Another worker is live, but this process's own worker has gone quiet.
    await register_worker(state, "elsewhere:4242:live", heartbeat_age_seconds=0)
    async with state.db.session() as session:
        await set_heartbeat_age(session, state.worker.worker_id, 600)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["workers"]["local"] == "stale"
    assert response.json()["workers"]["live"] == 1


async def test_api_only_replica_reports_stale_workers_and_stays_ready(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await register_worker(state, "elsewhere:4242:gone", heartbeat_age_seconds=600)
    response = await client.get("/readyz")
    assert response.status_code == 200
    workers = response.json()["workers"]
    assert workers["required"] is False
    assert workers["status"] == "stale" and workers["live"] == 0 and workers["local"] is None
    assert workers["last_heartbeat_at"] is not None


@settings_with(readiness_requires_worker="always")
async def test_replica_that_requires_workers_waits_for_a_fresh_heartbeat(
    client: httpx.AsyncClient, state: AppState
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["workers"]["required"] is True
    assert response.json()["workers"]["status"] == "none"
    await register_worker(state, "elsewhere:4242:gone", heartbeat_age_seconds=600)
    assert (await client.get("/readyz")).status_code == 503
    await register_worker(state, "elsewhere:4243:live", heartbeat_age_seconds=1)
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["workers"]["live"] == 1


@settings_with(worker_enabled=True, readiness_requires_worker="never", worker_heartbeat_seconds=60)
async def test_readiness_can_ignore_workers(client: httpx.AsyncClient, state: AppState) -> None:
    assert state.worker is not None
    async with state.db.session() as session:
        await set_heartbeat_age(session, state.worker.worker_id, 600)
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["workers"]["required"] is False
    assert response.json()["workers"]["local"] == "stale"


async def test_readiness_documents_its_503_body(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    not_ready = document["paths"]["/readyz"]["get"]["responses"]["503"]
    assert not_ready["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Ready"
    }


# ---------------------------------------------------------------- /api/v1/health


async def test_health_summary_is_public_with_a_status_and_timing_per_dependency(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["uptime_seconds"] >= 0
    assert datetime.fromisoformat(body["started_at"]) <= datetime.fromisoformat(body["timestamp"])
    dependencies = body["dependencies"]
    assert set(dependencies) == {"database", "redis", "worker", "disk"}
    assert dependencies["database"]["status"] == "ok"
    assert dependencies["worker"]["status"] == "not_configured"  # no worker, nothing waiting
    assert dependencies["disk"]["status"] == "ok"
    for name in ("database", "worker", "disk"):
        assert dependencies[name]["response_ms"] >= 0
    # Details are for administrators.
    assert set(dependencies["database"]) == {"status", "response_ms"}
    assert set(dependencies["disk"]) == {"status", "response_ms"}
    assert "queued" not in dependencies["worker"]


async def test_ordinary_users_get_the_summary_too(
    client: httpx.AsyncClient, state: AppState
) -> None:
    user = await create_and_login(state, client, "ada")
    body = (await client.get("/api/v1/health", headers=user.headers)).json()
    assert set(body["dependencies"]["database"]) == {"status", "response_ms"}


async def test_administrators_see_the_details(client: httpx.AsyncClient, state: AppState) -> None:
    async with state.db.session() as session:
        await queue.enqueue(session, "test.waiting")
        dead = await queue.enqueue(session, "test.broken")
        dead.status = JobStatus.dead
    await register_worker(state, "elsewhere:4242:live", heartbeat_age_seconds=1)
    async with admin_client(state, client) as headers:
        response = await client.get("/api/v1/health", headers=headers)
    assert response.status_code == 200
    dependencies = response.json()["dependencies"]
    assert dependencies["database"]["backend"] == ("sqlite" if state.db.is_sqlite else "postgresql")
    worker = dependencies["worker"]
    assert worker["status"] == "ok" and worker["workers"] == 1
    assert (worker["queued"], worker["running"], worker["dead"]) == (1, 0, 1)
    assert datetime.fromisoformat(worker["last_heartbeat_at"]) > utcnow() - timedelta(minutes=1)
    disk = dependencies["disk"]
    assert disk["path"] == str(state.settings.data_dir.resolve())
    assert 0 < disk["free_bytes"] <= disk["total_bytes"]


async def test_redis_is_checked_when_configured(client: httpx.AsyncClient, state: AppState) -> None:
    async with admin_client(state, client) as headers:
        redis = (await client.get("/api/v1/health", headers=headers)).json()["dependencies"][
            "redis"
        ]
    if REDIS_URL is None:
        assert redis == {"status": "not_configured"}
    else:
        assert redis["status"] == "ok"
        assert redis["response_ms"] >= 0


async def test_unreachable_redis_is_down(client: httpx.AsyncClient, state: AppState) -> None:
    # The running app is switched to a Redis that refuses connections (nothing on port 1).
    nowhere = "redis://127.0.0.1:1/0"
    working_settings, working_limiter = state.settings, state.limiter
    state.settings = state.settings.model_copy(update={"redis_url": nowhere})
    state.limiter = RateLimiter(nowhere)
    try:
        response = await client.get("/api/v1/health")
    finally:
        state.settings, state.limiter = working_settings, working_limiter
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["dependencies"]["redis"]["status"] == "down"


@settings_with(health_min_free_disk_mb=2**40)  # a disk with a zettabyte free: none here
async def test_disk_below_the_threshold_is_degraded(
    client: httpx.AsyncClient, state: AppState
) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["dependencies"]["disk"]["status"] == "degraded"


async def test_unreachable_database_is_down(
    client: httpx.AsyncClient, state: AppState, tmp_path: Path
) -> None:
    async with unreachable_database(state, tmp_path):
        response = await client.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["dependencies"]["database"]["status"] == "down"
    assert body["dependencies"]["worker"]["status"] == "unknown"


async def test_waiting_jobs_without_a_live_worker_are_degraded(
    client: httpx.AsyncClient, state: AppState
) -> None:
    async with state.db.session() as session:
        await queue.enqueue(session, "test.waiting")
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["dependencies"]["worker"]["status"] == "degraded"


@settings_with(health_cache_seconds=60)
async def test_one_report_serves_the_cache_period(
    client: httpx.AsyncClient, state: AppState, tmp_path: Path
) -> None:
    assert (await client.get("/api/v1/health")).json()["status"] == "ok"
    async with unreachable_database(state, tmp_path):
        response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["dependencies"]["database"]["status"] == "ok"


async def test_malformed_credentials_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health", headers={"Authorization": "Basic eA=="})
    assert response.status_code == 401


async def test_health_documents_its_503_body(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    operation = document["paths"]["/api/v1/health"]["get"]
    assert operation["responses"]["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SystemHealth"
    }
    assert "401" in operation["responses"]
