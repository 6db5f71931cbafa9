"""Where job types and periodic schedules are declared.

    @registry.job("library.scan", queue="scan", max_attempts=3)
    async def scan_library(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]: ...

    registry.every("sessions.cleanup", cron="*/15 * * * *")

A handler takes ids in its payload, is idempotent (it may run again after a crash), reports
progress through `ctx`, and returns a small JSON-able result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cinesonic.kit.cron import Cron

if TYPE_CHECKING:
    from cinesonic.worker.runner import JobContext

Handler = Callable[["JobContext", dict[str, Any]], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class JobDefinition:
    type: str
    handler: Handler
    queue: str = "default"
    max_attempts: int = 3
    timeout_seconds: float | None = None
    # Retry n waits base * 2**(n-1) seconds (2 s, 4 s, 8 s by default [000]), ±20 % jitter.
    retry_base_seconds: float = 2.0


@dataclass(frozen=True)
class PeriodicJob:
    job_type: str
    cron: Cron
    payload: dict[str, Any] = field(default_factory=dict)


class Registry:
    def __init__(self) -> None:
        self.definitions: dict[str, JobDefinition] = {}
        self.periodic: list[PeriodicJob] = []

    def job(
        self,
        job_type: str,
        *,
        queue: str = "default",
        max_attempts: int = 3,
        timeout_seconds: float | None = None,
        retry_base_seconds: float = 2.0,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if job_type in self.definitions:
                raise ValueError(f"job type {job_type!r} is declared twice")
            self.definitions[job_type] = JobDefinition(
                job_type, handler, queue, max_attempts, timeout_seconds, retry_base_seconds
            )
            return handler

        return register

    def every(self, job_type: str, *, cron: str, payload: dict[str, Any] | None = None) -> None:
        self.periodic.append(PeriodicJob(job_type, Cron.parse(cron), payload or {}))

    def get(self, job_type: str) -> JobDefinition | None:
        return self.definitions.get(job_type)


# The process-wide registry the domains' `tasks.py` modules declare into.
registry = Registry()
