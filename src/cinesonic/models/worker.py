"""The job workers that are running, one row each: registered when a worker starts, its
heartbeat refreshed every few seconds, deleted when it stops cleanly. A row whose heartbeat is
old belongs to a worker that died; health checks count only fresh rows, and stale ones are
pruned. Nothing else depends on these rows: leases on the `job` rows are what keep a job safe."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.base import Base


class WorkerProcess(Base):
    __tablename__ = "worker"

    # The worker's id, as written into `job.lease_owner` ("host:pid:random").
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    queues: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every queue
    concurrency: Mapped[int]
    running: Mapped[int] = mapped_column(default=0)
    version: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
