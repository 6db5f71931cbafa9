"""Jobs of search: rebuilding the index."""

from __future__ import annotations

from typing import Any

from cinesonic.search import service as search_service
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import JobContext


@registry.job(search_service.REINDEX_JOB, queue="maintenance", max_attempts=3)
async def rebuild_search_index(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Idempotent: the rebuild is one transaction that rewrites every document."""
    await ctx.progress(0, "rebuilding the search index")
    async with ctx.db.session() as session:
        counts = await search_service.rebuild_index(session)
    await ctx.progress(100, "search index rebuilt", **counts)
    return {"documents": counts}
