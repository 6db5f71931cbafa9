"""Jobs about jobs: pruning finished ones past retention."""

from __future__ import annotations

from typing import Any

from cinesonic.job import service as job_service
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import JobContext

PRUNE = "jobs.prune"


@registry.job(PRUNE, queue="maintenance")
async def prune_finished_jobs(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    async with ctx.db.session() as session:
        removed = await job_service.prune_finished(session, ctx.settings.job_retention_days)
    return {"removed": removed}


registry.every(PRUNE, cron="17 3 * * *")
