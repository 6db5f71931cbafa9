"""Library engines of a worker process: scan-on-start, and the folder watcher.

`LibraryEngines.start()` enqueues a scan of every enabled music library with `scan_on_start`,
then watches the roots of those with `watch_for_changes` (watchfiles: inotify on Linux). When
a watched folder has been quiet for `scan_watch_quiet_seconds` after a change, the library gets
an incremental scan. A change seen while that library's scan is already running is kept and
enqueued again once the running scan is over (it may have walked past the change). Creating,
changing or deleting a library (the `library` events) restarts the watch with the new roots.

Every process that runs a worker runs these; with several, the scan job's unique key keeps it
to one scan per library. This module only enqueues jobs; it never reads media files.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from typing import Any

import structlog
from watchfiles import Change, awatch

from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.events.bus import EventBus
from cinesonic.library import service as library_service
from cinesonic.models.job import JobStatus
from cinesonic.models.library import Library
from cinesonic.worker.queue import DuplicateJob

log = structlog.get_logger("cinesonic.library.watcher")

READY_TIMEOUT_MS = 500
RESTART_EVENTS = frozenset({"library.created", "library.updated", "library.deleted"})


def _interesting(change: Change, path: str) -> bool:
    return not os.path.basename(path).startswith(".")


class LibraryEngines:
    def __init__(self, db: Database, bus: EventBus, settings: Settings) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.quiet_seconds = settings.scan_watch_quiet_seconds
        self.roots: dict[str, uuid.UUID] = {}
        self.pending: set[uuid.UUID] = set()
        self._watch_task: asyncio.Task[None] | None = None
        self._retry_task: asyncio.Task[None] | None = None
        self._restart_task: asyncio.Task[None] | None = None
        self._stop_watch: asyncio.Event | None = None
        self._started = False
        # Set once the watcher has its watches in place (cleared while it restarts).
        self.ready = asyncio.Event()

    async def start(self) -> None:
        self._started = True
        await self.scan_on_start()
        self.bus.subscribe(library_service.LIBRARY_CHANNEL, self._on_library_event)
        await self.restart()

    async def stop(self) -> None:
        self._started = False
        for task in (self._restart_task, self._retry_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._stop_watching()

    @property
    def watching(self) -> bool:
        return self._watch_task is not None and not self._watch_task.done()

    # ------------------------------------------------------------------ scan on start

    async def scan_on_start(self) -> list[uuid.UUID]:
        """Enqueue the scans asked for at start; answers the libraries concerned."""
        try:
            async with self.db.sessionmaker() as session:
                libraries = await library_service.libraries_to_scan_on_start(session)
        except Exception:
            log.exception("scan_on_start_failed")
            return []
        for library in libraries:
            await self._enqueue(library.id)
        return [library.id for library in libraries]

    # ------------------------------------------------------------------ watching

    async def _on_library_event(self, data: Any) -> None:
        if not self._started or not isinstance(data, dict):
            return
        if data.get("event") not in RESTART_EVENTS:
            return
        if self._restart_task is None or self._restart_task.done():
            self._restart_task = asyncio.create_task(self.restart(), name="library-watch-restart")

    async def restart(self) -> None:
        """Watch the roots the libraries ask to watch now (nothing when none does)."""
        await self._stop_watching()
        try:
            async with self.db.sessionmaker() as session:
                roots = await library_service.watched_roots(session)
        except Exception:
            log.exception("library_watch_roots_failed")
            return
        present = await asyncio.to_thread(
            lambda: {r: i for r, i in roots.items() if os.path.isdir(r)}
        )
        self.roots = present
        for missing in sorted(set(roots) - set(present)):
            log.warning("library_watch_root_missing", root=missing)
        if not present or not self._started:
            return
        self._stop_watch = asyncio.Event()
        self._watch_task = asyncio.create_task(
            self._watch(present, self._stop_watch), name="library-watch"
        )
        log.info("library_watch_started", roots=sorted(present))

    async def _stop_watching(self) -> None:
        self.ready.clear()
        if self._stop_watch is not None:
            self._stop_watch.set()
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch_task
        self._watch_task = None
        self._stop_watch = None

    async def _watch(self, roots: dict[str, uuid.UUID], stop: asyncio.Event) -> None:
        quiet_ms = max(1, int(self.quiet_seconds * 1000))
        while not stop.is_set():
            try:
                async for changes in awatch(
                    *roots,
                    watch_filter=_interesting,
                    step=quiet_ms,
                    # Group changes for at most this long, even if the folder never settles.
                    debounce=max(quiet_ms * 6, 60_000),
                    stop_event=stop,
                    ignore_permission_denied=True,
                    # An empty yield now and then says the watches are in place.
                    rust_timeout=READY_TIMEOUT_MS,
                    yield_on_timeout=True,
                ):
                    self.ready.set()
                    if not changes:
                        continue
                    libraries = {
                        library_id
                        for _, path in changes
                        for root, library_id in roots.items()
                        if path == root or path.startswith(root.rstrip(os.sep) + os.sep)
                    }
                    self.pending.update(libraries)
                    await self._enqueue_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A root that vanished, a watch limit reached: try again after a quiet period.
                log.exception("library_watch_failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.quiet_seconds)

    async def _enqueue_pending(self) -> None:
        for library_id in sorted(self.pending):
            settled = await self._enqueue(library_id)
            if settled:
                self.pending.discard(library_id)
        if self.pending and (self._retry_task is None or self._retry_task.done()):
            self._retry_task = asyncio.create_task(self._retry_later(), name="library-watch-retry")

    async def _retry_later(self) -> None:
        await asyncio.sleep(self.quiet_seconds)
        await self._enqueue_pending()

    async def _enqueue(self, library_id: uuid.UUID) -> bool:
        """Queue an incremental scan; False when a scan is running already (try later)."""
        try:
            async with self.db.session() as session:
                library = await session.get(Library, library_id)
                if library is None or not library.is_enabled:
                    return True
                started = await library_service.enqueue_scan(
                    session, library, full=False, owner_id=None
                )
        except DuplicateJob:
            return False  # another process enqueued it at the same moment
        except library_service.ScanNotSupported:
            return True
        except Exception:
            log.exception("library_scan_enqueue_failed", library_id=str(library_id))
            return True
        if not started.is_new and started.status == JobStatus.running:
            return False
        log.info("library_scan_enqueued", library_id=str(library_id), job_id=str(started.job_id))
        return True
