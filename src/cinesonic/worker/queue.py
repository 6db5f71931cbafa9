"""Queue operations on the `job` table: enqueue (inside the caller's transaction), claim with a
lease, heartbeat, finish, retry with back-off, cancel, requeue and purge.

Claiming takes a batch of ready jobs in one statement. On PostgreSQL the inner select uses
`FOR UPDATE SKIP LOCKED`, so any number of workers on any number of machines share the queue;
enqueueing sends `NOTIFY cinesonic_jobs` (delivered at commit) to wake them. On SQLite the
process's write lock serializes claims and an in-process signal wakes the local worker.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.db import after_commit
from cinesonic.errors import Conflict
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.job import ACTIVE_STATUSES, CLAIMABLE_STATUSES, Job, JobStatus

NOTIFY_CHANNEL = "cinesonic_jobs"
# Workers of this process waiting for work; enqueue wakes them after commit.
_local_wakeups: set[asyncio.Event] = set()


class DuplicateJob(Conflict):
    code, message = "duplicate_job", "The same job is already queued or running."


def register_local_wakeup(event: asyncio.Event) -> None:
    _local_wakeups.add(event)


def unregister_local_wakeup(event: asyncio.Event) -> None:
    _local_wakeups.discard(event)


def wake_local_workers() -> None:
    for event in list(_local_wakeups):
        event.set()


async def enqueue(
    session: AsyncSession,
    job_type: str,
    payload: dict[str, Any] | None = None,
    *,
    queue: str = "default",
    priority: int = 0,
    run_at: datetime | None = None,
    max_attempts: int = 3,
    unique_key: str | None = None,
    owner_id: uuid.UUID | None = None,
) -> Job:
    """Add a job to the caller's transaction: it exists exactly when the caller's write does.
    With `unique_key`, a second active job with the same key is refused (`DuplicateJob`)."""
    if unique_key is not None:
        existing = await session.scalar(
            select(Job.id).where(Job.unique_key == unique_key, Job.status.in_(ACTIVE_STATUSES))
        )
        if existing is not None:
            raise DuplicateJob(details={"job_id": str(existing), "unique_key": unique_key})
    job = Job(
        queue=queue,
        type=job_type,
        payload=payload or {},
        priority=priority,
        status=JobStatus.queued,
        run_at=run_at or utcnow(),
        max_attempts=max_attempts,
        unique_key=unique_key,
        owner_id=owner_id,
        progress={},
    )
    session.add(job)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent enqueue won the unique key; the unit fails
        raise DuplicateJob(details={"unique_key": unique_key}) from exc
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_notify(:channel, :queue)"), {"channel": NOTIFY_CHANNEL, "queue": queue}
        )

    async def _wake() -> None:
        wake_local_workers()

    after_commit(session, _wake)
    return job


async def claim(
    session: AsyncSession,
    *,
    worker_id: str,
    queues: Sequence[str] | None,
    limit: int,
    lease_seconds: float,
    is_postgres: bool,
) -> list[Job]:
    """Take up to `limit` ready jobs for this worker (status running, attempt counted)."""
    now = utcnow()
    ready = (
        select(Job.id)
        .where(Job.status.in_(CLAIMABLE_STATUSES), Job.run_at <= now)
        .order_by(Job.priority.desc(), Job.run_at, Job.id)
        .limit(limit)
    )
    if queues:
        ready = ready.where(Job.queue.in_(list(queues)))
    if is_postgres:
        ready = ready.with_for_update(skip_locked=True)
    result = await session.execute(
        update(Job)
        .where(Job.id.in_(ready.scalar_subquery()))
        .values(
            status=JobStatus.running,
            attempts=Job.attempts + 1,
            lease_owner=worker_id,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            started_at=func.coalesce(Job.started_at, now),
            updated_at=now,
        )
        .returning(Job)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars().all())


async def reclaim_expired_leases(session: AsyncSession) -> list[Job]:
    """Jobs whose worker vanished (lease expired): retry them, or bury them when out of tries."""
    now = utcnow()
    lost = (
        await session.scalars(
            select(Job).where(Job.status == JobStatus.running, Job.lease_expires_at < now)
        )
    ).all()
    for job in lost:
        _schedule_retry_or_bury(job, "worker lost (lease expired)", base_seconds=0.0)
    await session.flush()
    return list(lost)


async def heartbeat(
    session: AsyncSession, worker_id: str, job_ids: Sequence[uuid.UUID], lease_seconds: float
) -> set[uuid.UUID]:
    """Extend our leases; answer the ids whose cancellation was requested."""
    if not job_ids:
        return set()
    now = utcnow()
    await session.execute(
        update(Job)
        .where(
            Job.id.in_(list(job_ids)), Job.lease_owner == worker_id, Job.status == JobStatus.running
        )
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    cancelled = await session.scalars(
        select(Job.id).where(Job.id.in_(list(job_ids)), Job.cancel_requested.is_(True))
    )
    return set(cancelled.all())


def retry_delay(attempt: int, base_seconds: float) -> float:
    delay = base_seconds * 2.0 ** max(0, attempt - 1)
    jitter: float = random.uniform(0.8, 1.2)  # noqa: S311 — jitter, not security
    return delay * jitter


def _schedule_retry_or_bury(
    job: Job, error: str, base_seconds: float, *, bury: bool = False
) -> None:
    now = utcnow()
    job.last_error = error[:4000]
    job.lease_owner = None
    job.lease_expires_at = None
    job.updated_at = now
    if bury or job.attempts >= job.max_attempts:
        job.status = JobStatus.dead
        job.finished_at = now
    else:
        job.status = JobStatus.failed
        job.run_at = now + timedelta(seconds=retry_delay(job.attempts, base_seconds))


async def _owned(session: AsyncSession, job_id: uuid.UUID, worker_id: str) -> Job | None:
    """The job if this worker still holds it (a lost lease means another worker may have it)."""
    job = await session.get(Job, job_id, populate_existing=True)
    if job is None or job.status != JobStatus.running or job.lease_owner != worker_id:
        return None
    return job


async def mark_succeeded(
    session: AsyncSession, job_id: uuid.UUID, worker_id: str, result: dict[str, Any] | None
) -> Job | None:
    job = await _owned(session, job_id, worker_id)
    if job is None:
        return None
    now = utcnow()
    job.status = JobStatus.succeeded
    job.result = result or {}
    job.finished_at = now
    job.updated_at = now
    job.lease_owner = None
    job.lease_expires_at = None
    await session.flush()
    return job


async def mark_failed(
    session: AsyncSession,
    job_id: uuid.UUID,
    worker_id: str,
    error: str,
    base_seconds: float,
    *,
    permanent: bool = False,
) -> Job | None:
    job = await _owned(session, job_id, worker_id)
    if job is None:
        return None
    _schedule_retry_or_bury(job, error, base_seconds, bury=permanent)
    await session.flush()
    return job


async def mark_cancelled(session: AsyncSession, job_id: uuid.UUID, worker_id: str) -> Job | None:
    job = await _owned(session, job_id, worker_id)
    if job is None:
        return None
    now = utcnow()
    job.status = JobStatus.cancelled
    job.finished_at = now
    job.updated_at = now
    job.lease_owner = None
    job.lease_expires_at = None
    await session.flush()
    return job


async def save_progress(
    session: AsyncSession, job_id: uuid.UUID, worker_id: str, progress: dict[str, Any]
) -> None:
    await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == worker_id)
        .values(progress=progress, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def release(session: AsyncSession, job_id: uuid.UUID, worker_id: str) -> None:
    """Hand a job back untouched (worker shutdown): queued again, the attempt not counted."""
    job = await _owned(session, job_id, worker_id)
    if job is None:
        return
    job.status = JobStatus.queued
    job.attempts = max(0, job.attempts - 1)
    job.lease_owner = None
    job.lease_expires_at = None
    job.run_at = utcnow()
    await session.flush()
