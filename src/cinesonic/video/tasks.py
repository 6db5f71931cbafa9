"""Jobs of the video domain: `video.prune_people` (people no credit names any more go, after
a movie or a show was deleted [004]). Idempotent: a second run finds nobody to remove."""

from __future__ import annotations

from typing import Any

from cinesonic.video import service as video_service
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import JobContext


@registry.job(video_service.PRUNE_PEOPLE_JOB, max_attempts=3)
async def prune_people(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    async with ctx.db.session() as session:
        removed = await video_service.prune_people(session)
    await ctx.progress(100.0, f"{removed} people removed", removed=removed)
    return {"removed": removed}
