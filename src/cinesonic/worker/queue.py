"""Queue operations on the `job` table: enqueue (inside the caller's transaction), claim with a
lease, heartbeat, finish, retry with back-off, cancel, requeue and purge; and the `worker` table
where running workers register and heartbeat.

Claiming takes a batch of ready jobs in one statement, and finishing takes a batch of succeeded
jobs in one statement per distinct result; the worker does both in one transaction per round.
On PostgreSQL the claim's inner select uses `FOR UPDATE SKIP LOCKED`, so any number of workers
on any number of machines share the queue; enqueueing sends `NOTIFY cinesonic_jobs` (delivered
at commit) to wake them. On SQLite the process's write lock serializes claims and an in-process
signal wakes the local worker. Every write is conditional on the lease (`lease_owner`), so a
worker that lost its lease cannot finish a job another worker now runs.

This module knows no domain.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Select,
    Table,
    Update,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.db import after_commit
from cinesonic.errors import Conflict
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.job import ACTIVE_STATUSES, CLAIMABLE_SQL, Job, JobStatus
from cinesonic.models.worker import WorkerProcess

NOTIFY_CHANNEL = "cinesonic_jobs"
# Workers of this process waiting for work; enqueue wakes them after commit.
_local_wakeups: set[asyncio.Event] = set()
# session.info key: the transaction whose enqueues already arranged their wake-ups.
_WAKE_ARRANGED = "cinesonic_jobs_wake_arranged"
# Core statements on the tables: the hot paths skip ORM state for plain rows.
JOB = cast(Table, Job.__table__)
WORKER = cast(Table, WorkerProcess.__table__)
_CLAIMABLE = text(CLAIMABLE_SQL)


class DuplicateJob(Conflict):
    code, message = "duplicate_job", "The same job is already queued or running."


def register_local_wakeup(event: asyncio.Event) -> None:
    _local_wakeups.add(event)


def unregister_local_wakeup(event: asyncio.Event) -> None:
    _local_wakeups.discard(event)


def wake_local_workers() -> None:
    for event in list(_local_wakeups):
        event.set()


async def _wake_local_workers() -> None:
    wake_local_workers()


@dataclass(slots=True)
class ClaimedJob:
    """What a worker needs of a job it has just claimed (plain values, no ORM state)."""

    id: uuid.UUID
    queue: str
    type: str
    payload: dict[str, Any]
    status: JobStatus
    attempts: int
    max_attempts: int
    owner_id: uuid.UUID | None
    progress: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None


_CLAIMED_COLUMNS = (
    JOB.c.id,
    JOB.c.queue,
    JOB.c.type,
    JOB.c.payload,
    JOB.c.status,
    JOB.c.attempts,
    JOB.c.max_attempts,
    JOB.c.owner_id,
    JOB.c.progress,
    JOB.c.last_error,
)


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
    # One NOTIFY per queue and one local wake-up per transaction, however many jobs it adds.
    transaction = session.sync_session.get_transaction()
    arranged: tuple[object, set[str]] | None = session.info.get(_WAKE_ARRANGED)
    if arranged is None or arranged[0] is not transaction:
        arranged = (transaction, set())
        session.info[_WAKE_ARRANGED] = arranged
        after_commit(session, _wake_local_workers)
    if queue not in arranged[1]:
        arranged[1].add(queue)
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            await session.execute(
                text("SELECT pg_notify(:channel, :queue)"),
                {"channel": NOTIFY_CHANNEL, "queue": queue},
            )
    return job


@functools.cache
def _claim_statement(by_queue: bool, skip_locked: bool) -> Update:
    """The claim, built once per shape (values are bound at execution): the two hot
    statements of the engine skip SQLAlchemy's statement construction on every round."""
    now = bindparam("now", type_=JOB.c.run_at.type)

    def ready(statement: Select[Any]) -> Select[Any]:
        statement = statement.where(_CLAIMABLE, JOB.c.run_at <= now)
        if by_queue:
            statement = statement.where(JOB.c.queue.in_(bindparam("queues", expanding=True)))
        return statement

    top_priority = (
        ready(select(JOB.c.priority)).order_by(JOB.c.priority.desc()).limit(1).scalar_subquery()
    )
    chosen = (
        ready(select(JOB.c.id))
        .where(JOB.c.priority == top_priority)
        .order_by(JOB.c.run_at, JOB.c.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if skip_locked:
        chosen = chosen.with_for_update(skip_locked=True)
    return (
        update(JOB)
        .where(JOB.c.id.in_(chosen.scalar_subquery()))
        .values(
            status=JobStatus.running,
            attempts=JOB.c.attempts + 1,
            lease_owner=bindparam("worker_id", type_=JOB.c.lease_owner.type),
            lease_expires_at=bindparam("lease_expires_at", type_=JOB.c.lease_expires_at.type),
            started_at=func.coalesce(JOB.c.started_at, now),
            updated_at=now,
        )
        .returning(*_CLAIMED_COLUMNS)
    )


async def claim(
    session: AsyncSession,
    *,
    worker_id: str,
    queues: Sequence[str] | None,
    limit: int,
    lease_seconds: float,
    is_postgres: bool,
) -> list[ClaimedJob]:
    """Take up to `limit` ready jobs for this worker (status running, attempt counted): the
    oldest of the highest priority waiting. A claim takes one priority at a time, so both
    steps walk `ix_job_ready` in order and stop early; the next round takes the next one.
    On PostgreSQL, rows other workers are claiming are skipped (`FOR UPDATE SKIP LOCKED`)."""
    now = utcnow()
    values: dict[str, Any] = {
        "now": now,
        "limit": limit,
        "worker_id": worker_id,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
    }
    if queues:
        values["queues"] = list(queues)
    result = await session.execute(_claim_statement(bool(queues), is_postgres), values)
    return [ClaimedJob(*row) for row in result]


_COMPLETE = (
    update(JOB)
    .where(
        JOB.c.id.in_(bindparam("ids", expanding=True)),
        JOB.c.lease_owner == bindparam("worker_id", type_=JOB.c.lease_owner.type),
        JOB.c.status == JobStatus.running,
    )
    .values(
        status=JobStatus.succeeded,
        result=bindparam("result", type_=JOB.c.result.type),
        finished_at=bindparam("now", type_=JOB.c.finished_at.type),
        updated_at=bindparam("now", type_=JOB.c.updated_at.type),
        lease_owner=None,
        lease_expires_at=None,
    )
    .returning(JOB.c.id)
)


async def complete(
    session: AsyncSession, worker_id: str, results: Mapping[uuid.UUID, dict[str, Any] | None]
) -> set[uuid.UUID]:
    """Mark succeeded the jobs of `results` this worker still holds, storing each one's result;
    answer their ids (a job missing from the answer lost its lease: its result is discarded).
    One UPDATE per distinct result; jobs without one — most — share a single statement."""
    groups: dict[str, tuple[dict[str, Any], list[uuid.UUID]]] = {}
    for job_id, result in results.items():
        key = json.dumps(result, sort_keys=True) if result else ""
        groups.setdefault(key, (result or {}, []))[1].append(job_id)
    now = utcnow()
    done: set[uuid.UUID] = set()
    for result, ids in groups.values():
        rows = await session.execute(
            _COMPLETE, {"ids": ids, "worker_id": worker_id, "result": result, "now": now}
        )
        done.update(rows.scalars())
    return done


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


# ---------------------------------------------------------------- workers


async def register_worker(
    session: AsyncSession,
    *,
    worker_id: str,
    hostname: str,
    pid: int,
    queues: Sequence[str],
    concurrency: int,
    version: str,
) -> None:
    now = utcnow()
    await session.execute(
        insert(WORKER).values(
            id=worker_id,
            hostname=hostname[:255],
            pid=pid,
            queues=list(queues),
            concurrency=concurrency,
            running=0,
            version=version[:64],
            started_at=now,
            last_heartbeat_at=now,
        )
    )


async def record_heartbeat(session: AsyncSession, worker_id: str, running: int) -> bool:
    """Refresh this worker's row; False when it has none any more (pruned while the worker
    was stalled for longer than `WORKER_ROW_RETENTION`): the caller registers it again."""
    result = await session.execute(
        update(WORKER)
        .where(WORKER.c.id == worker_id)
        .values(last_heartbeat_at=utcnow(), running=running)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def unregister_worker(session: AsyncSession, worker_id: str) -> None:
    await session.execute(delete(WORKER).where(WORKER.c.id == worker_id))


# A dead worker's row stays this long (health pages show it as stale), then goes.
WORKER_ROW_RETENTION = timedelta(hours=1)


async def prune_workers(session: AsyncSession, older_than: timedelta = WORKER_ROW_RETENTION) -> int:
    """Delete the rows of workers silent for longer than `older_than` (they died)."""
    result = await session.execute(
        delete(WORKER).where(WORKER.c.last_heartbeat_at < utcnow() - older_than)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def live_workers(session: AsyncSession, fresh_within: float) -> list[WorkerProcess]:
    """The workers whose last heartbeat is at most `fresh_within` seconds old."""
    cutoff = utcnow() - timedelta(seconds=fresh_within)
    rows = await session.scalars(
        select(WorkerProcess)
        .where(WorkerProcess.last_heartbeat_at >= cutoff)
        .order_by(WorkerProcess.started_at, WorkerProcess.id)
    )
    return list(rows.all())


async def last_heartbeat(session: AsyncSession) -> datetime | None:
    """The newest heartbeat of any registered worker, fresh or not."""
    latest: datetime | None = await session.scalar(
        select(func.max(WorkerProcess.last_heartbeat_at))
    )
    return latest


async def count_jobs(session: AsyncSession, statuses: Sequence[JobStatus]) -> dict[JobStatus, int]:
    """How many jobs are in each of `statuses` (zero for the absent ones)."""
    rows = await session.execute(
        select(Job.status, func.count()).where(Job.status.in_(list(statuses))).group_by(Job.status)
    )
    counts = dict.fromkeys(statuses, 0)
    counts.update({status: int(count) for status, count in rows})
    return counts
