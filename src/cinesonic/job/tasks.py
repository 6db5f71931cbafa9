"""Jobs about jobs: pruning finished ones past retention, and the rows of dead workers."""

from __future__ import annotations

from typing import Any

import structlog

from cinesonic.job import service as job_service
from cinesonic.worker import queue as job_queue
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import JobContext

PRUNE = "jobs.prune"
log = structlog.get_logger("cinesonic.job")


@registry.job(PRUNE, queue="maintenance")
async def prune_finished_jobs(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    async with ctx.db.session() as session:
        removed = await job_service.prune_finished(session, ctx.settings.job_retention_days)
        # Live workers prune these on their heartbeats too; this catches a fleet that all died.
        workers = await job_queue.prune_workers(session)
    if workers:
        log.info("dead_workers_pruned", count=workers)
    return {"removed": removed}


registry.every(PRUNE, cron="17 3 * * *")
