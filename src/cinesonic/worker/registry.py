"""Where job types and periodic schedules are declared.

    @registry.job("library.scan", queue="scan", max_attempts=3)
    async def scan_library(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]: ...

    registry.every("sessions.cleanup", cron="*/15 * * * *")

    @registry.on_start
    async def settle_interrupted_work(db: Database) -> None: ...

A handler takes ids in its payload, is idempotent (it may run again after a crash), reports
progress through `ctx`, and returns a small JSON-able result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cinesonic.kit.cron import Cron

if TYPE_CHECKING:
    from cinesonic.db import Database
    from cinesonic.worker.runner import JobContext

Handler = Callable[["JobContext", dict[str, Any]], Awaitable[dict[str, Any] | None]]
# Run by every worker as it starts, before it claims a job: a domain settles what a crash
# of an earlier worker left half done (the import pipeline's interrupted file moves).
StartHook = Callable[["Database"], Awaitable[object]]


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
        self.start_hooks: list[StartHook] = []

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

    def on_start(self, hook: StartHook) -> StartHook:
        """Declare a hook every worker runs as it starts (see `StartHook`)."""
        self.start_hooks.append(hook)
        return hook

    def get(self, job_type: str) -> JobDefinition | None:
        return self.definitions.get(job_type)


# The process-wide registry the domains' `tasks.py` modules declare into.
registry = Registry()
