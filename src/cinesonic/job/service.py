"""Job queries and the operations people run on jobs (cancel, requeue, purge).

A user sees and cancels their own jobs; `jobs.manage` sees and manages everyone's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from cinesonic.db import after_commit
from cinesonic.errors import Conflict, NotFound
from cinesonic.events.bus import EventBus
from cinesonic.job.schemas import IdResult, PurgeRequest, ScheduleRead
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.job import ACTIVE_STATUSES, FINISHED_STATUSES, Job, JobStatus
from cinesonic.worker import queue as job_queue
from cinesonic.worker.registry import Registry
from cinesonic.worker.runner import CANCEL_CHANNEL, JOBS_CHANNEL, job_event

SORTABLE: dict[str, QueryableAttribute[Any]] = {
    "created_at": Job.created_at,
    "updated_at": Job.updated_at,
    "run_at": Job.run_at,
    "status": Job.status,
    "type": Job.type,
    "priority": Job.priority,
}


class JobNotFound(NotFound):
    message = "No such job."


class JobFinished(Conflict):
    code, message = "job_finished", "The job has already finished; there is nothing to cancel."


async def list_jobs(
    session: AsyncSession,
    params: PageParams,
    *,
    owner_id: uuid.UUID | None = None,
    statuses: Sequence[JobStatus] = (),
    queue: str | None = None,
    job_type: str | None = None,
) -> tuple[Sequence[Job], int]:
    statement = select(Job)
    if owner_id is not None:
        statement = statement.where(Job.owner_id == owner_id)
    if statuses:
        statement = statement.where(Job.status.in_(list(statuses)))
    if queue:
        statement = statement.where(Job.queue == queue)
    if job_type:
        statement = statement.where(Job.type == job_type)
    statement = apply_sort(statement, params, SORTABLE, [Job.created_at.desc()], Job.id.desc())
    return await paginate_rows(session, statement, params)


async def get_job(
    session: AsyncSession, job_id: uuid.UUID, *, viewer_id: uuid.UUID, may_manage: bool
) -> Job:
    job = await session.get(Job, job_id)
    # Someone else's job is "not found", not "forbidden": ids are not to be probed.
    if job is None or (not may_manage and job.owner_id != viewer_id):
        raise JobNotFound()
    return job


async def cancel_job(session: AsyncSession, bus: EventBus, job: Job) -> Job:
    """Queued or waiting jobs are cancelled at once; a running one is asked to stop (its
    worker cancels it promptly and marks it cancelled); finished jobs answer 409."""
    if job.status in FINISHED_STATUSES:
        raise JobFinished(details={"status": job.status.value})
    now = utcnow()
    if job.status == JobStatus.running:
        job.cancel_requested = True
        job.updated_at = now
        event = {"job_id": str(job.id)}

        async def _signal() -> None:
            await bus.publish(CANCEL_CHANNEL, event)

        after_commit(session, _signal)
    else:
        job.status = JobStatus.cancelled
        job.finished_at = now
        job.updated_at = now
        message = job_event(job, "job.cancelled")

        async def _announce() -> None:
            await bus.publish(JOBS_CHANNEL, message)

        after_commit(session, _announce)
    await session.flush()
    return job


async def requeue_jobs(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[IdResult]:
    """Dead, cancelled or failed jobs go back to the queue with fresh attempts."""
    jobs = {job.id: job for job in await session.scalars(select(Job).where(Job.id.in_(ids)))}
    results: list[IdResult] = []
    now = utcnow()
    for job_id in dict.fromkeys(ids):
        job = jobs.get(job_id)
        if job is None:
            results.append(IdResult(id=job_id, result="not_found"))
        elif job.status in (JobStatus.queued, JobStatus.running):
            results.append(IdResult(id=job_id, result="active"))
        elif job.status == JobStatus.succeeded:
            results.append(IdResult(id=job_id, result="not_dead"))
        else:
            job.status = JobStatus.queued
            job.attempts = 0
            job.run_at = now
            job.cancel_requested = False
            job.finished_at = None
            job.updated_at = now
            results.append(IdResult(id=job_id, result="requeued"))
    await session.flush()
    if any(r.result == "requeued" for r in results):

        async def _wake() -> None:
            job_queue.wake_local_workers()

        after_commit(session, _wake)
    return results


async def purge_jobs(session: AsyncSession, request: PurgeRequest) -> tuple[int, list[IdResult]]:
    """Delete finished jobs by id or by filter; active jobs are never purged."""
    finished = [s for s in JobStatus if s not in ACTIVE_STATUSES]
    if request.ids:
        rows = dict(
            (await session.execute(select(Job.id, Job.status).where(Job.id.in_(request.ids)))).all()
        )
        results: list[IdResult] = []
        doomed: list[uuid.UUID] = []
        for job_id in dict.fromkeys(request.ids):
            status = rows.get(job_id)
            if status is None:
                results.append(IdResult(id=job_id, result="not_found"))
            elif status in ACTIVE_STATUSES:
                results.append(IdResult(id=job_id, result="active"))
            else:
                doomed.append(job_id)
                results.append(IdResult(id=job_id, result="purged"))
        if doomed:
            await session.execute(delete(Job).where(Job.id.in_(doomed)))
        return len(doomed), results
    statuses = [s for s in (request.status or [JobStatus.dead]) if s in finished]
    statement = delete(Job).where(Job.status.in_(statuses))
    if request.queue:
        statement = statement.where(Job.queue == request.queue)
    if request.type:
        statement = statement.where(Job.type == request.type)
    if request.older_than_days is not None:
        cutoff = utcnow() - timedelta(days=request.older_than_days)
        statement = statement.where(Job.updated_at < cutoff)
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0), []  # type: ignore[attr-defined]


async def prune_finished(session: AsyncSession, retention_days: int) -> int:
    """Drop succeeded and cancelled jobs past retention; dead ones wait for a person."""
    cutoff = utcnow() - timedelta(days=retention_days)
    result = await session.execute(
        delete(Job)
        .where(Job.status.in_([JobStatus.succeeded, JobStatus.cancelled]), Job.updated_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def schedules(registry: Registry) -> list[ScheduleRead]:
    now = utcnow()
    entries = []
    for periodic in registry.periodic:
        definition = registry.get(periodic.job_type)
        entries.append(
            ScheduleRead(
                job_type=periodic.job_type,
                cron=periodic.cron.expression,
                queue=definition.queue if definition else "default",
                next_run_at=periodic.cron.next_after(now),
            )
        )
    return entries
