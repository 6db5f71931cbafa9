"""Jobs of the import pipeline: `import.process` (inbound → staging or quarantine) and
`import.promote` (staging → production libraries). Both settle interrupted moves first, so a
retried attempt after a crash resumes without duplicating anything: files already recorded
are skipped (or, once promoted, no longer staged), half-done moves are put back. Every worker
also settles them as it starts (`settle_interrupted_moves`), so a crash is repaired at the
restart even when no pipeline job runs again."""

from __future__ import annotations

import uuid
from typing import Any

from cinesonic.db import Database
from cinesonic.importer.checks import TemplateError
from cinesonic.importer.moves import recover_moves
from cinesonic.importer.pipeline import Pipeline
from cinesonic.importer.service import IMPORT_ATTEMPTS, IMPORT_QUEUE, PROCESS_JOB, PROMOTE_JOB
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import JobContext, PermanentJobError


def _pipeline(ctx: JobContext) -> Pipeline:
    async def report(percent: float | None, message: str, counters: dict[str, int]) -> None:
        ctx.check_cancelled()
        await ctx.progress(percent, message, **counters)

    return Pipeline(
        ctx.db,
        ctx.bus,
        ctx.settings,
        job_id=ctx.job_id,
        owner_id=ctx.owner_id,
        final_attempt=ctx.attempt >= ctx.max_attempts,
        progress=report,
    )


@registry.on_start
async def settle_interrupted_moves(db: Database) -> None:
    """A worker starting after a crash puts back every file a dead job left half moved, before
    anything else runs (the pipeline's jobs also do it before they start)."""
    await recover_moves(db)


@registry.job(PROCESS_JOB, queue=IMPORT_QUEUE, max_attempts=IMPORT_ATTEMPTS)
async def process_inbound(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        return await _pipeline(ctx).process(
            force=bool(payload.get("force")), paths=payload.get("paths")
        )
    except TemplateError as exc:  # a setting to fix; retrying cannot help
        raise PermanentJobError(str(exc)) from exc


@registry.job(PROMOTE_JOB, queue=IMPORT_QUEUE, max_attempts=IMPORT_ATTEMPTS)
async def promote_staged(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    raw = payload.get("album_ids")
    album_ids = [uuid.UUID(str(value)) for value in raw] if raw is not None else None
    try:
        return await _pipeline(ctx).promote(album_ids)
    except TemplateError as exc:
        raise PermanentJobError(str(exc)) from exc
