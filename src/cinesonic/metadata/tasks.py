"""Jobs of the metadata domain: `metadata.refresh` (match and fill in one library's movies or
shows from TMDb; see `metadata.refresh`).

One transaction per item, so a retried attempt skips what earlier attempts matched (they are
no longer unmatched) and a provider error costs one item, never the job.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from cinesonic.metadata import refresh
from cinesonic.metadata import service as metadata_service
from cinesonic.metadata.errors import MetadataNotFound, ProviderError, ProviderUnavailable
from cinesonic.models.library import Library
from cinesonic.state import new_http_client
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import JobContext, PermanentJobError

MAX_LISTED_ERRORS = 20


@registry.job(
    refresh.REFRESH_JOB, queue=refresh.REFRESH_QUEUE, max_attempts=refresh.REFRESH_ATTEMPTS
)
async def refresh_library_metadata(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    library_id = uuid.UUID(str(payload["library_id"]))
    force = bool(payload.get("force"))
    result: dict[str, Any] = {"library_id": str(library_id), "force": force}
    if not metadata_service.is_provider_configured(ctx.settings):
        raise PermanentJobError("No TMDb API key is configured: an administrator sets it.")
    async with ctx.db.sessionmaker() as session:
        library = await session.get(Library, library_id)
        if library is None or library.kind not in refresh.REFRESHABLE_KINDS:
            return {**result, "abandoned": True}
        model, wanted = refresh.items_to_refresh(library, ctx.settings, force=force)
        item_ids = list(await session.scalars(select(model.id).where(wanted).order_by(model.id)))
    counters = dict.fromkeys(("matched", "refreshed", "needs_review", "failed"), 0)
    counters["items"] = len(item_ids)
    errors: list[dict[str, str]] = []
    await ctx.progress(0.0 if item_ids else 100.0, f"{len(item_ids)} items to refresh", **counters)
    async with new_http_client() as http:
        for done, item_id in enumerate(item_ids, start=1):
            ctx.check_cancelled()
            try:
                async with ctx.db.session() as session:
                    outcome = await refresh.refresh_library_item(
                        session, http, ctx.settings, model, item_id
                    )
            except (ProviderUnavailable, ProviderError, MetadataNotFound) as exc:
                counters["failed"] += 1
                if len(errors) < MAX_LISTED_ERRORS:
                    errors.append({"id": str(item_id), "code": exc.code, "message": exc.message})
            else:
                if outcome is not None:
                    counters[outcome.value] += 1
            await ctx.progress(
                100.0 * done / len(item_ids),
                f"{done} of {len(item_ids)} items: {counters['matched']} matched, "
                f"{counters['needs_review']} to review, {counters['failed']} failed",
                **counters,
            )
    return {**result, **counters, "errors": errors}
