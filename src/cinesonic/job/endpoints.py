"""Job routes: your own jobs (`/jobs`) and everyone's for `jobs.manage` (`/admin/jobs`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from cinesonic.auth.principal import Principal
from cinesonic.deps import CurrentPrincipal, DbSession, State, require
from cinesonic.errors import ValidationFailed, error_responses
from cinesonic.job import service as job_service
from cinesonic.job.schemas import (
    BulkResult,
    DeadJobPage,
    DeadJobRead,
    JobIds,
    JobPage,
    JobRead,
    PurgeRequest,
    ScheduleRead,
)
from cinesonic.kit.pagination import PaginationDep
from cinesonic.models.job import JobStatus
from cinesonic.worker.registry import registry

router = APIRouter(tags=["jobs"])

JobManager = Annotated[Principal, Depends(require("jobs.manage"))]
StatusFilter = Annotated[
    list[JobStatus] | None, Query(description="Repeat for several: `status=dead&status=failed`.")
]


def _statuses(values: list[JobStatus] | None) -> list[JobStatus]:
    return list(values or [])


@router.get(
    "/jobs",
    response_model=JobPage,
    summary="Your background jobs, newest first",
    responses=error_responses(ValidationFailed),
)
async def list_own_jobs(
    principal: CurrentPrincipal,
    session: DbSession,
    params: PaginationDep,
    status: StatusFilter = None,
    type: Annotated[str | None, Query(max_length=128)] = None,
) -> JobPage:
    rows, total = await job_service.list_jobs(
        session, params, owner_id=principal.id, statuses=_statuses(status), job_type=type
    )
    return JobPage(data=[JobRead.model_validate(r) for r in rows], pagination=params.meta(total))


@router.get(
    "/jobs/{job_id}",
    response_model=JobRead,
    summary="One job with its progress",
    responses=error_responses(job_service.JobNotFound),
)
async def read_job(job_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> JobRead:
    job = await job_service.get_job(
        session, job_id, viewer_id=principal.id, may_manage=principal.can("jobs.manage")
    )
    return JobRead.model_validate(job)


@router.delete(
    "/jobs/{job_id}",
    response_model=JobRead,
    summary="Cancel a job",
    description="A queued job is cancelled at once; a running one is asked to stop and its "
    "worker cancels it promptly (`cancel_requested` is true until then). Answers the job.",
    responses=error_responses(job_service.JobNotFound, job_service.JobFinished),
)
async def cancel_job(
    job_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, state: State
) -> JobRead:
    job = await job_service.get_job(
        session, job_id, viewer_id=principal.id, may_manage=principal.can("jobs.manage")
    )
    return JobRead.model_validate(await job_service.cancel_job(session, state.bus, job))


@router.get(
    "/admin/jobs",
    response_model=JobPage,
    summary="Every job, filtered by status, queue and type",
    responses=error_responses(ValidationFailed),
)
async def list_all_jobs(
    _: JobManager,
    session: DbSession,
    params: PaginationDep,
    status: StatusFilter = None,
    queue: Annotated[str | None, Query(max_length=64)] = None,
    type: Annotated[str | None, Query(max_length=128)] = None,
    owner_id: uuid.UUID | None = None,
) -> JobPage:
    rows, total = await job_service.list_jobs(
        session, params, owner_id=owner_id, statuses=_statuses(status), queue=queue, job_type=type
    )
    return JobPage(data=[JobRead.model_validate(r) for r in rows], pagination=params.meta(total))


@router.get(
    "/admin/jobs/dlq",
    response_model=DeadJobPage,
    summary="The dead-letter queue: jobs out of attempts, with their reason",
    responses=error_responses(ValidationFailed),
)
async def list_dead_jobs(
    _: JobManager,
    session: DbSession,
    params: PaginationDep,
    queue: Annotated[str | None, Query(max_length=64)] = None,
    type: Annotated[str | None, Query(max_length=128)] = None,
) -> DeadJobPage:
    rows, total = await job_service.list_jobs(
        session, params, statuses=[JobStatus.dead], queue=queue, job_type=type
    )
    data = [
        DeadJobRead(
            id=job.id,
            queue=job.queue,
            type=job.type,
            reason=job.last_error,
            payload=job.payload,
            attempts=job.attempts,
            owner_id=job.owner_id,
            created_at=job.created_at,
            failed_at=job.finished_at,
        )
        for job in rows
    ]
    return DeadJobPage(data=data, pagination=params.meta(total))


@router.post(
    "/admin/jobs/requeue",
    response_model=BulkResult,
    summary="Put dead, failed or cancelled jobs back in the queue",
    description="Each id gets its own result: `requeued`, `not_found`, `active` (still queued "
    "or running) or `not_dead` (it succeeded).",
    responses=error_responses(ValidationFailed),
)
async def requeue_jobs(body: JobIds, _: JobManager, session: DbSession) -> BulkResult:
    results = await job_service.requeue_jobs(session, body.ids)
    return BulkResult(count=sum(r.result == "requeued" for r in results), results=results)


@router.post(
    "/admin/jobs/purge",
    response_model=BulkResult,
    summary="Delete finished jobs by id or by filter (default: dead jobs)",
    responses=error_responses(ValidationFailed),
)
async def purge_jobs(body: PurgeRequest, _: JobManager, session: DbSession) -> BulkResult:
    count, results = await job_service.purge_jobs(session, body)
    return BulkResult(count=count, results=results)


@router.get(
    "/admin/jobs/schedules",
    response_model=list[ScheduleRead],
    summary="Periodic jobs declared in code, with their next run",
)
async def list_schedules(_: JobManager) -> list[ScheduleRead]:
    return job_service.schedules(registry)
