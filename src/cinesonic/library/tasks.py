"""Jobs of the library domain: `library.scan` (one scan of one library), and the same scan run
in the foreground by `cinesonic scan`.

The payload names the `library_scan` row the request created; the scan itself reads its
library, roots and mode from the database, so a retried attempt (after a crash or a lost
worker) resumes the same scan where its last committed batch left it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.events.bus import EventBus
from cinesonic.library import service as library_service
from cinesonic.library.scanner import Progress, RootUnavailable, ScanAbandoned, Scanner
from cinesonic.library.schemas import ScanStarted
from cinesonic.library.service import SCAN_ATTEMPTS, SCAN_JOB, SCAN_QUEUE
from cinesonic.models.library import Library, LibraryKind, LibraryScan
from cinesonic.video.scanner import VIDEO_KINDS, VideoScanner
from cinesonic.worker import queue as job_queue
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import JobContext, PermanentJobError


@registry.job(SCAN_JOB, queue=SCAN_QUEUE, max_attempts=SCAN_ATTEMPTS)
async def scan_library(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    async def report(progress: Progress) -> None:
        ctx.check_cancelled()
        await ctx.progress(progress.percent, progress.message, **progress.counters)

    scan_id = uuid.UUID(str(payload["scan_id"]))
    kind = await _kind_of_scan(ctx.db, scan_id)
    if kind is None:
        return {"scan_id": str(scan_id), "abandoned": True}
    scanner = scanner_for(kind)(
        ctx.db, ctx.bus, ctx.settings, scan_id, job_id=ctx.job_id, progress=report
    )
    try:
        return await scanner.run()
    except RootUnavailable as exc:
        # Retrying cannot bring a disk back; the scan row already says what happened.
        raise PermanentJobError(str(exc)) from exc
    except ScanAbandoned:
        return {"scan_id": str(payload["scan_id"]), "abandoned": True}


def scanner_for(kind: LibraryKind) -> type[Scanner] | type[VideoScanner]:
    """The music scanner for music libraries, the video scanner for movies and TV."""
    return VideoScanner if kind in VIDEO_KINDS else Scanner


async def _kind_of_scan(db: Database, scan_id: uuid.UUID) -> LibraryKind | None:
    async with db.sessionmaker() as session:
        kind: LibraryKind | None = await session.scalar(
            select(Library.kind)
            .join(LibraryScan, LibraryScan.library_id == Library.id)
            .where(LibraryScan.id == scan_id)
        )
        return kind


# ---------------------------------------------------------------- `cinesonic scan`


@dataclass(frozen=True)
class ForegroundScan:
    library: str
    status: str  # succeeded | failed | busy
    counters: dict[str, Any]
    message: str | None = None


async def scan_in_foreground(
    db: Database,
    bus: EventBus,
    settings: Settings,
    library_ref: str | None,
    *,
    full: bool,
    on_progress: Callable[[str, Progress], None],
) -> list[ForegroundScan]:
    """Scan one library (by name or id) or every enabled library in this process, as
    `cinesonic scan` does. Each scan is still a job row, claimed by this process with a lease
    it renews, so servers see it (one scan per library) and its history is the same."""
    async with db.sessionmaker() as session:
        libraries = await library_service.libraries_for_cli(session, library_ref)
    owner = f"cli:{socket.gethostname()}:{os.getpid()}"
    outcomes: list[ForegroundScan] = []
    for library in libraries:
        async with db.session() as session:
            started = await library_service.enqueue_scan(session, library, full=full, owner_id=None)
            if started.is_new:
                await library_service.claim_scan_job(
                    session, started.job_id, owner, settings.job_lease_seconds
                )
        if not started.is_new:
            message = f"a scan is already {started.status.value} (job {started.job_id})"
            outcomes.append(ForegroundScan(library.name, "busy", {}, message))
            continue
        outcomes.append(
            await _run_claimed(db, bus, settings, library.name, started, owner, on_progress)
        )
    return outcomes


async def _run_claimed(
    db: Database,
    bus: EventBus,
    settings: Settings,
    name: str,
    started: ScanStarted,
    owner: str,
    on_progress: Callable[[str, Progress], None],
) -> ForegroundScan:
    async def report(progress: Progress) -> None:
        on_progress(name, progress)

    async def keep_lease() -> None:
        while True:
            await asyncio.sleep(max(0.5, settings.job_lease_seconds / 3))
            async with db.session() as session:
                await job_queue.heartbeat(
                    session, owner, [started.job_id], settings.job_lease_seconds
                )

    heartbeat = asyncio.create_task(keep_lease())
    kind = await _kind_of_scan(db, started.scan_id) or LibraryKind.music
    scanner = scanner_for(kind)(
        db, bus, settings, started.scan_id, job_id=started.job_id, progress=report
    )
    try:
        result = await scanner.run()
    except (RootUnavailable, Exception) as exc:
        async with db.session() as session:
            await job_queue.mark_failed(session, started.job_id, owner, str(exc), 0, permanent=True)
        return ForegroundScan(name, "failed", scanner.counters.as_dict(), str(exc))
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    async with db.session() as session:
        await job_queue.complete(session, owner, {started.job_id: result})
    return ForegroundScan(name, "succeeded", result)
