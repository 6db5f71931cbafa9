"""What the probes answer: liveness, readiness, and the dependency report."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

from pydantic import Field

from cinesonic import __version__
from cinesonic.kit.schemas import Schema


class Alive(Schema):
    status: Literal["ok"] = "ok"
    timestamp: datetime
    version: str = __version__


class WorkerReadiness(Schema):
    required: bool = Field(
        description="Whether readiness depends on workers here (`readiness_requires_worker`)."
    )
    status: Literal["ok", "stale", "none", "unknown"] = Field(
        description="`ok`: some worker has a fresh heartbeat; `stale`: workers are registered "
        "but none is fresh; `none`: no worker is registered; `unknown`: not checked (the "
        "database is not ready)."
    )
    live: int = Field(description="Workers with a fresh heartbeat.")
    local: Literal["ok", "stale"] | None = Field(
        description="This process's own worker, or null when it runs none (`--no-worker`)."
    )
    last_heartbeat_at: datetime | None = None


class Ready(Schema):
    status: Literal["ready", "not_ready"]
    database: str
    migration: str | None
    expected_migration: str | None
    workers: WorkerReadiness


class CheckStatus(enum.StrEnum):
    ok = "ok"
    degraded = "degraded"
    down = "down"
    not_configured = "not_configured"
    unknown = "unknown"  # could not be checked (what it needs is down)


# Fields other than `status` and `response_ms` are details: administrators see them.
class DatabaseHealth(Schema):
    status: CheckStatus
    response_ms: float | None = None
    backend: Literal["sqlite", "postgresql"] | None = None
    error: str | None = None


class RedisHealth(Schema):
    status: CheckStatus
    response_ms: float | None = None
    error: str | None = None


class WorkerHealth(Schema):
    status: CheckStatus = Field(
        description="`ok`: a worker heartbeat is fresh; `degraded`: workers are expected (one "
        "runs in this process, some registered before, or jobs wait) but none is live, so "
        "jobs are not being run; `not_configured`: no worker and nothing waiting."
    )
    response_ms: float | None = None
    workers: int | None = Field(None, description="Workers with a fresh heartbeat.")
    last_heartbeat_at: datetime | None = None
    queued: int | None = Field(None, description="Jobs waiting, including failed ones to retry.")
    running: int | None = None
    dead: int | None = Field(None, description="The dead-letter queue.")
    error: str | None = None


class DiskHealth(Schema):
    status: CheckStatus = Field(
        description="`degraded` below `health_min_free_disk_mb` free on the data directory."
    )
    response_ms: float | None = None
    free_bytes: int | None = None
    total_bytes: int | None = None
    path: str | None = None
    error: str | None = None


class Dependencies(Schema):
    database: DatabaseHealth
    redis: RedisHealth
    worker: WorkerHealth
    disk: DiskHealth


class SystemHealth(Schema):
    """[003] `GET /api/v1/health`. Fields without a value are left out."""

    status: Literal["ok", "degraded", "down"] = Field(
        description="`down` (HTTP 503) when the database, Redis (when configured) or the data "
        "disk is unusable; `degraded` when a worker or the disk needs attention."
    )
    version: str = __version__
    timestamp: datetime
    started_at: datetime = Field(description="When this server process started.")
    uptime_seconds: float
    dependencies: Dependencies
