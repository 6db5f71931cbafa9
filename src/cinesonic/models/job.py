"""Background jobs: the queue is this table (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite's
in-process worker). Dead jobs — out of attempts — are the dead-letter queue. The workers that
serve it register in `cinesonic.models.worker`."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.base import Base, IdMixin


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"  # an attempt failed; waiting for its retry (status goes back to queued)
    dead = "dead"
    cancelled = "cancelled"


# Active: may still run. A failed job waits for its retry at `run_at`.
ACTIVE_STATUSES = (JobStatus.queued, JobStatus.running, JobStatus.failed)
CLAIMABLE_STATUSES = (JobStatus.queued, JobStatus.failed)
FINISHED_STATUSES = (JobStatus.succeeded, JobStatus.dead, JobStatus.cancelled)
_ACTIVE_SQL = text("status IN ('queued', 'running', 'failed')")
# Literal, not bound: the planners only use a partial index when the query names the same
# constants (`worker.queue.claim` filters on exactly this text).
CLAIMABLE_SQL = "status IN ('queued', 'failed')"


class Job(IdMixin, Base):
    __tablename__ = "job"
    __table_args__ = (
        # Counting by status, and the queue filter of a claim.
        Index("ix_job_claim", "status", "queue", "run_at"),
        # What a worker claims next: the top priority's jobs in age order. A claim walks this
        # index and stops after `limit` rows instead of sorting every waiting job.
        Index(
            "ix_job_ready",
            "priority",
            "run_at",
            "id",
            sqlite_where=text(CLAIMABLE_SQL),
            postgresql_where=text(CLAIMABLE_SQL),
        ),
        # At most one active job per unique key ("one scan per library at a time").
        Index(
            "uq_job_active_unique_key",
            "unique_key",
            unique=True,
            sqlite_where=_ACTIVE_SQL,
            postgresql_where=_ACTIVE_SQL,
        ),
    )

    queue: Mapped[str] = mapped_column(String(64), default="default")
    type: Mapped[str] = mapped_column(String(128), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    priority: Mapped[int] = mapped_column(default=0)
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=16), default=JobStatus.queued
    )
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)
    unique_key: Mapped[str | None] = mapped_column(String(255))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
