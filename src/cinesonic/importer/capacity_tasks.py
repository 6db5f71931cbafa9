"""The scheduled disk-capacity probe: `capacity.probe`, every minute.

Each run probes the roots that are due (see `cinesonic.importer.capacity`), so the probe
interval is a setting read at every run rather than a schedule fixed at startup. Idempotent: a
run repeated after a crash probes the same roots again, or finds them not due.
"""

from __future__ import annotations

from typing import Any

from cinesonic.importer import capacity as capacity_service
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import JobContext


@registry.job(capacity_service.PROBE_JOB, queue=capacity_service.PROBE_QUEUE, max_attempts=1)
async def probe_due_roots(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    # One attempt: the next minute's run retries whatever this one missed.
    async with ctx.db.session() as session:
        return await capacity_service.probe_due_roots(session, ctx.bus, ctx.settings)


registry.every(capacity_service.PROBE_JOB, cron="* * * * *")
