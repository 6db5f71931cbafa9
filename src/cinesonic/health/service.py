"""The checks behind `/readyz` and `/api/v1/health`: the database (and its migration), Redis,
the job workers (their heartbeats in the `worker` table, and the queue) and the disk of the data
directory.

Every check runs under `health_check_timeout_seconds` and reports what it found; none raises,
since a probe must answer precisely when things are broken. The dependency checks run
concurrently, and one report serves `health_cache_seconds` of requests (the route is public and
outside the rate limit: it must not become a way to load the database).

Readiness and workers: a process that runs a worker is ready only while its own worker's
heartbeat is fresh; an API-only replica (`--no-worker`) reports the workers it sees without
depending on them — taking API replicas out of a load balancer because a separate worker fleet
is down would only add an outage (`readiness_requires_worker` changes this).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal, TypeVar

from sqlalchemy import text

from cinesonic.health.schemas import (
    CheckStatus,
    DatabaseHealth,
    Dependencies,
    DiskHealth,
    Ready,
    RedisHealth,
    SystemHealth,
    WorkerHealth,
    WorkerReadiness,
)
from cinesonic.kit.timeutil import utcnow
from cinesonic.migrations.runner import current_revision, head_revision
from cinesonic.models.job import JobStatus
from cinesonic.state import AppState
from cinesonic.worker import queue

# A worker is live while its last heartbeat is younger than this many heartbeat intervals.
HEARTBEATS_OF_GRACE = 3
PROCESS_STARTED_AT = utcnow()
_STARTED_MONOTONIC = time.monotonic()
_REPORT_KEY = "health:dependencies"
_DOWN_STATUSES = (CheckStatus.down,)

C = TypeVar("C", DatabaseHealth, RedisHealth, WorkerHealth, DiskHealth)


def live_window_seconds(state: AppState) -> float:
    return HEARTBEATS_OF_GRACE * state.settings.worker_heartbeat_seconds


def _failure(exc: BaseException) -> str:
    # The exception's type only: messages can carry host names and credentials.
    return f"unreachable: {type(exc).__name__}"


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


# ---------------------------------------------------------------- readiness


async def readiness(state: AppState) -> Ready:
    expected = head_revision()
    revision: str | None = None
    try:
        async with asyncio.timeout(state.settings.health_check_timeout_seconds):
            async with state.db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            revision = await current_revision(state.db.engine)
        database = "ok"
    except Exception as exc:
        database = _failure(exc)
    migrated = database == "ok" and revision == expected
    workers = await _worker_readiness(state, checked=migrated)
    satisfied = not workers.required or (
        workers.local in (None, "ok")
        and (state.settings.readiness_requires_worker != "always" or workers.live > 0)
    )
    return Ready(
        status="ready" if migrated and satisfied else "not_ready",
        database=database,
        migration=revision,
        expected_migration=expected,
        workers=workers,
    )


async def _worker_readiness(state: AppState, *, checked: bool) -> WorkerReadiness:
    mode = state.settings.readiness_requires_worker
    local_worker = state.worker
    required = mode == "always" or (mode == "auto" and local_worker is not None)
    if not checked:
        return WorkerReadiness(required=required, status="unknown", live=0, local=None)
    try:
        async with asyncio.timeout(state.settings.health_check_timeout_seconds):
            async with state.db.sessionmaker() as session:
                live = await queue.live_workers(session, live_window_seconds(state))
                latest = await queue.last_heartbeat(session)
    except Exception:
        return WorkerReadiness(required=required, status="unknown", live=0, local=None)
    local = None
    if local_worker is not None:
        local = "ok" if any(w.id == local_worker.worker_id for w in live) else "stale"
    return WorkerReadiness(
        required=required,
        status="ok" if live else ("stale" if latest is not None else "none"),
        live=len(live),
        local=local,
        last_heartbeat_at=latest,
    )


# ---------------------------------------------------------------- the dependency report


async def system_health(state: AppState) -> SystemHealth:
    dependencies = state.aggregates.get(_REPORT_KEY)
    if not isinstance(dependencies, Dependencies):
        dependencies = await check_dependencies(state)
        state.aggregates.set(_REPORT_KEY, dependencies, ttl=state.settings.health_cache_seconds)
    return SystemHealth(
        status=overall_status(dependencies),
        timestamp=utcnow(),
        started_at=PROCESS_STARTED_AT,
        uptime_seconds=round(time.monotonic() - _STARTED_MONOTONIC, 1),
        dependencies=dependencies,
    )


def overall_status(dependencies: Dependencies) -> Literal["ok", "degraded", "down"]:
    essential = (dependencies.database, dependencies.redis, dependencies.disk)
    if any(check.status in _DOWN_STATUSES for check in essential):
        return "down"
    checks = (*essential, dependencies.worker)
    if any(check.status == CheckStatus.degraded for check in checks):
        return "degraded"
    return "ok"


def summary(report: SystemHealth) -> SystemHealth:
    """What anyone may see: the statuses and timings, without the details."""
    deps = report.dependencies
    return report.model_copy(
        update={
            "dependencies": Dependencies(
                database=DatabaseHealth(
                    status=deps.database.status, response_ms=deps.database.response_ms
                ),
                redis=RedisHealth(status=deps.redis.status, response_ms=deps.redis.response_ms),
                worker=WorkerHealth(status=deps.worker.status, response_ms=deps.worker.response_ms),
                disk=DiskHealth(status=deps.disk.status, response_ms=deps.disk.response_ms),
            )
        }
    )


async def check_dependencies(state: AppState) -> Dependencies:
    timeout = state.settings.health_check_timeout_seconds
    database, redis, worker, disk = await asyncio.gather(
        _bounded(check_database(state), timeout, DatabaseHealth, CheckStatus.down),
        _bounded(check_redis(state), timeout, RedisHealth, CheckStatus.down),
        _bounded(check_workers(state), timeout, WorkerHealth, CheckStatus.unknown),
        _bounded(check_disk(state), timeout, DiskHealth, CheckStatus.down),
    )
    return Dependencies(database=database, redis=redis, worker=worker, disk=disk)


async def _bounded(
    check: Awaitable[C], seconds: float, model: Callable[..., C], on_timeout: CheckStatus
) -> C:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(seconds):
            return await check
    except TimeoutError:
        return model(
            status=on_timeout,
            response_ms=_elapsed_ms(started),
            error=f"no answer within {seconds:g} s",
        )


async def check_database(state: AppState) -> DatabaseHealth:
    backend = "sqlite" if state.db.is_sqlite else "postgresql"
    started = time.perf_counter()
    try:
        async with state.db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return DatabaseHealth(
            status=CheckStatus.down,
            response_ms=_elapsed_ms(started),
            backend=backend,
            error=_failure(exc),
        )
    return DatabaseHealth(status=CheckStatus.ok, response_ms=_elapsed_ms(started), backend=backend)


async def check_redis(state: AppState) -> RedisHealth:
    """A PING through the rate limiter's connection pool: the Redis every request needs."""
    if not state.settings.redis_url:
        return RedisHealth(status=CheckStatus.not_configured)
    started = time.perf_counter()
    try:
        answered = await state.limiter.storage.check()
    except Exception as exc:
        return RedisHealth(
            status=CheckStatus.down, response_ms=_elapsed_ms(started), error=_failure(exc)
        )
    if not answered:
        return RedisHealth(
            status=CheckStatus.down, response_ms=_elapsed_ms(started), error="no answer to PING"
        )
    return RedisHealth(status=CheckStatus.ok, response_ms=_elapsed_ms(started))


async def check_workers(state: AppState) -> WorkerHealth:
    started = time.perf_counter()
    try:
        async with state.db.sessionmaker() as session:
            live = await queue.live_workers(session, live_window_seconds(state))
            latest: datetime | None = await queue.last_heartbeat(session)
            counts = await queue.count_jobs(
                session, [JobStatus.queued, JobStatus.failed, JobStatus.running, JobStatus.dead]
            )
    except Exception as exc:
        return WorkerHealth(
            status=CheckStatus.unknown, response_ms=_elapsed_ms(started), error=_failure(exc)
        )
    queued = counts[JobStatus.queued] + counts[JobStatus.failed]
    if live:
        status = CheckStatus.ok
    elif state.worker is not None or latest is not None or queued:
        status = CheckStatus.degraded  # jobs are expected to run, and nothing runs them
    else:
        status = CheckStatus.not_configured
    return WorkerHealth(
        status=status,
        response_ms=_elapsed_ms(started),
        workers=len(live),
        last_heartbeat_at=latest,
        queued=queued,
        running=counts[JobStatus.running],
        dead=counts[JobStatus.dead],
    )


async def check_disk(state: AppState) -> DiskHealth:
    path = state.settings.data_dir.resolve()
    started = time.perf_counter()
    try:
        usage = await asyncio.to_thread(shutil.disk_usage, path)
    except OSError as exc:
        return DiskHealth(
            status=CheckStatus.down,
            response_ms=_elapsed_ms(started),
            path=str(path),
            error=f"unreadable: {type(exc).__name__}",
        )
    minimum = state.settings.health_min_free_disk_mb * 1024 * 1024
    return DiskHealth(
        status=CheckStatus.degraded if usage.free < minimum else CheckStatus.ok,
        response_ms=_elapsed_ms(started),
        free_bytes=usage.free,
        total_bytes=usage.total,
        path=str(path),
    )
