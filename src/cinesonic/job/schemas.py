"""Request and response models of jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from cinesonic.kit.pagination import Page
from cinesonic.kit.schemas import Schema
from cinesonic.models.job import JobStatus


class JobRead(Schema):
    id: uuid.UUID
    queue: str
    type: str
    status: JobStatus
    priority: int
    attempts: int
    max_attempts: int
    payload: dict[str, Any]
    progress: dict[str, Any] = Field(
        description="`percent`, `message` and `counters`, as the job last reported them."
    )
    result: dict[str, Any] | None = None
    last_error: str | None = None
    cancel_requested: bool
    unique_key: str | None = None
    owner_id: uuid.UUID | None = None
    run_at: datetime
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime


class DeadJobRead(Schema):
    """A dead-letter queue entry [000]."""

    id: uuid.UUID
    queue: str
    type: str
    reason: str | None = Field(description="The last error.")
    payload: dict[str, Any]
    attempts: int
    owner_id: uuid.UUID | None = None
    created_at: datetime
    failed_at: datetime | None = None


class JobIds(Schema):
    ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class PurgeRequest(Schema):
    """Purge by ids, or by filter (default: dead jobs). Active jobs are never purged."""

    ids: list[uuid.UUID] | None = Field(None, min_length=1, max_length=1000)
    status: list[JobStatus] | None = None
    queue: str | None = None
    type: str | None = None
    older_than_days: int | None = Field(None, ge=0)


IdOutcome = Literal["requeued", "purged", "not_found", "active", "not_dead"]


class IdResult(Schema):
    id: uuid.UUID
    result: IdOutcome


class BulkResult(Schema):
    count: int = Field(description="How many jobs were changed.")
    results: list[IdResult] = Field(description="One entry per requested id (empty for filters).")


class ScheduleRead(Schema):
    job_type: str
    cron: str
    queue: str
    next_run_at: datetime


class JobPage(Page[JobRead]):
    pass


class DeadJobPage(Page[DeadJobRead]):
    pass
