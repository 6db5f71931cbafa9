"""The worker: claims jobs, runs their handlers with a heartbeat-extended lease, retries with
back-off, buries the hopeless in the dead-letter queue, and honours cancellation promptly.

One `Worker` runs inside `cinesonic serve` by default; `cinesonic worker` runs more of them.
A worker killed outright loses its leases; another worker reclaims those jobs when the lease
expires, so each job still completes exactly once (handlers are idempotent; a lost worker's
late result is discarded because it no longer holds the lease).

Throughput: the work loop runs in rounds, one transaction each, that record every job that
succeeded since the last round and claim as many ready jobs as there are free slots — one
commit for many jobs instead of two per job. Failures, cancellations and progress are rarer
and are written at once. Each worker registers a row in the `worker` table, refreshed by its
heartbeat and deleted when it stops, which `/readyz` and `/api/v1/health` read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic import __version__
from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.events.bus import EventBus
from cinesonic.kit.timeutil import utcnow
from cinesonic.metrics import JobObserver, timed_job
from cinesonic.models.job import Job, JobStatus
from cinesonic.worker import queue
from cinesonic.worker.queue import ClaimedJob
from cinesonic.worker.registry import JobDefinition, Registry

log = structlog.get_logger("cinesonic.worker")

JOBS_CHANNEL = "jobs"
CANCEL_CHANNEL = "jobs.cancel"
PROGRESS_WRITE_INTERVAL = 0.5


class JobCancelled(Exception):
    """Raised inside a handler by `ctx.check_cancelled()`."""


class PermanentJobError(Exception):
    """Raise from a handler to fail the job at once, without retries."""


class JobState(Protocol):
    """What an event tells of a job: a `Job` row or a worker's `ClaimedJob`."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def type(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def status(self) -> JobStatus: ...
    @property
    def attempts(self) -> int: ...
    @property
    def progress(self) -> dict[str, Any]: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def owner_id(self) -> uuid.UUID | None: ...


def job_event(job: JobState, event: str) -> dict[str, Any]:
    return {
        "event": event,
        "owner_id": str(job.owner_id) if job.owner_id else None,
        "job": {
            "id": str(job.id),
            "type": job.type,
            "queue": job.queue,
            "status": job.status.value,
            "attempts": job.attempts,
            "progress": job.progress,
            "last_error": job.last_error,
        },
    }


@dataclass
class JobContext:
    """What a handler gets besides its payload."""

    job_id: uuid.UUID
    job_type: str
    attempt: int
    max_attempts: int
    owner_id: uuid.UUID | None
    db: Database
    bus: EventBus
    settings: Settings
    worker_id: str
    cancel_event: asyncio.Event = field(default_factory=asyncio.Event)
    _progress: dict[str, Any] = field(default_factory=dict)
    _last_write: float = 0.0

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled()

    async def progress(
        self, percent: float | None = None, message: str | None = None, **counters: int
    ) -> None:
        """Report progress; stored at most every half second (always at 100 %) and published."""
        if percent is not None:
            self._progress["percent"] = round(max(0.0, min(100.0, percent)), 2)
        if message is not None:
            self._progress["message"] = message[:500]
        if counters:
            self._progress.setdefault("counters", {}).update(counters)
        now = time.monotonic()
        if now - self._last_write < PROGRESS_WRITE_INTERVAL and percent != 100:
            return
        self._last_write = now
        snapshot = dict(self._progress)
        async with self.db.session() as session:
            await queue.save_progress(session, self.job_id, self.worker_id, snapshot)
        await self.bus.publish(
            JOBS_CHANNEL,
            {
                "event": "job.progress",
                "owner_id": str(self.owner_id) if self.owner_id else None,
                "job": {"id": str(self.job_id), "type": self.job_type, "progress": snapshot},
            },
        )


@dataclass(slots=True)
class _Succeeded:
    """A job whose handler returned; the next round of the work loop records it."""

    job: ClaimedJob
    ctx: JobContext
    result: dict[str, Any] | None
    seconds: float


class Worker:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        registry: Registry,
        settings: Settings,
        *,
        queues: list[str] | None = None,
        concurrency: int = 4,
        lease_seconds: float = 30.0,
        poll_interval: float = 1.0,
        run_periodic: bool = True,
        worker_id: str | None = None,
        observer: JobObserver | None = None,
        heartbeat_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.bus = bus
        self.registry = registry
        self.settings = settings
        self.queues = queues or None
        self.concurrency = max(1, concurrency)
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.run_periodic = run_periodic
        self.observer = observer  # told how long each job attempt ran and how it ended
        self.hostname = socket.gethostname()
        self.worker_id = worker_id or f"{self.hostname[:100]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        # How often the worker's row gets a fresh heartbeat (health checks allow 3× this).
        self.heartbeat_seconds = heartbeat_seconds
        # Claimed and not yet recorded as finished: running handlers, and succeeded jobs
        # waiting for the next round (their leases must still be extended).
        self.active: dict[uuid.UUID, tuple[asyncio.Task[None], JobContext]] = {}
        self._succeeded: list[_Succeeded] = []
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        # Set by stop() once handlers are done: the loops finish what they are doing and end.
        # They are not cancelled: a cancel landing inside a database call can leave SQLite's
        # write lock or the connection in a broken state.
        self._closing = asyncio.Event()
        self._work_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pg_listener: Any = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        async with self.db.session() as session:
            await self._register(session)
        for hook in self.registry.start_hooks:
            try:
                await hook(self.db)
            except Exception:  # the jobs themselves settle it again; the worker still starts
                log.exception("worker_start_hook_failed", hook=getattr(hook, "__name__", "?"))
        queue.register_local_wakeup(self._wakeup)
        self.bus.subscribe(CANCEL_CHANNEL, self._on_cancel)
        if not self.db.is_sqlite:
            await self._listen_postgres()
        self._work_task = asyncio.create_task(self._work_loop(), name="worker-rounds")
        self._tasks = [asyncio.create_task(self._heartbeat_loop(), name="worker-heartbeat")]
        if self.run_periodic and self.registry.periodic:
            self._tasks.append(asyncio.create_task(self._schedule_loop(), name="worker-cron"))
        log.info(
            "worker_started",
            worker_id=self.worker_id,
            queues=self.queues,
            concurrency=self.concurrency,
        )

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop claiming; let running jobs finish within the grace period, then hand the rest
        back to the queue (without counting the interrupted attempt)."""
        self._stopping.set()
        self._wakeup.set()
        running = [task for task, _ in self.active.values() if not task.done()]
        if running:
            await asyncio.wait(running, timeout=grace_seconds)
        interrupted: list[uuid.UUID] = []
        for job_id, (task, _ctx) in list(self.active.items()):
            if task.done():
                continue  # it succeeded: the last round records it
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            interrupted.append(job_id)
        self._closing.set()
        self._wakeup.set()
        # Its last round records what succeeded. Heartbeats ran until now: a job finishing in
        # the grace period kept its lease.
        loops = [task for task in (self._work_task, *self._tasks) if task is not None]
        if loops:
            await asyncio.wait(loops, timeout=self.lease_seconds)
        for task in loops:
            task.cancel()  # only one stuck past the wait above (a database that hangs)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for job_id in interrupted:
            await self._release(job_id)
        queue.unregister_local_wakeup(self._wakeup)
        if self._pg_listener is not None:
            with contextlib.suppress(Exception):
                await self._pg_listener.close()
        with contextlib.suppress(Exception):
            async with self.db.session() as session:
                await queue.unregister_worker(session, self.worker_id)
        log.info("worker_stopped", worker_id=self.worker_id)

    async def _register(self, session: AsyncSession) -> None:
        await queue.register_worker(
            session,
            worker_id=self.worker_id,
            hostname=self.hostname,
            pid=os.getpid(),
            queues=self.queues or [],
            concurrency=self.concurrency,
            version=__version__,
        )

    async def _listen_postgres(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        url = make_url(self.db.url).set(drivername="postgresql")
        self._pg_listener = await asyncpg.connect(url.render_as_string(hide_password=False))

        def _notified(*_args: Any) -> None:
            self._wakeup.set()

        await self._pg_listener.add_listener(queue.NOTIFY_CHANNEL, _notified)

    async def _on_cancel(self, data: Any) -> None:
        entry = self.active.get(uuid.UUID(data["job_id"]))
        if entry is not None:
            entry[1].cancel_event.set()
            entry[0].cancel()

    # ------------------------------------------------------------------ loops

    async def _work_loop(self) -> None:
        """Rounds of one transaction: record the jobs that succeeded since the last round and
        claim up to the free slots (none once stopping). Work that arrives during a round
        (a handler returning, a NOTIFY) sets the wake-up, so the next round starts at once;
        batches form by themselves when jobs are short, without waiting to fill."""
        while True:
            self._wakeup.clear()  # before looking: a wake-up during the round is kept
            closing = self._closing.is_set()
            succeeded = self._succeeded[:]
            free = 0
            if not self._stopping.is_set():
                free = self.concurrency - len(self.active) + len(succeeded)
            claimed: list[ClaimedJob] = []
            if succeeded or free > 0:
                try:
                    async with self.db.session() as session:
                        recorded = await queue.complete(
                            session, self.worker_id, {s.job.id: s.result for s in succeeded}
                        )
                        if free > 0:
                            claimed = await queue.claim(
                                session,
                                worker_id=self.worker_id,
                                queues=self.queues,
                                limit=free,
                                lease_seconds=self.lease_seconds,
                                is_postgres=not self.db.is_sqlite,
                            )
                except Exception:
                    log.exception("worker_round_failed")
                    if closing:
                        return  # unrecorded jobs are reclaimed when their leases expire
                    await asyncio.sleep(self.poll_interval)
                    continue
                del self._succeeded[: len(succeeded)]
                for entry in succeeded:
                    self.active.pop(entry.job.id, None)
                for job in claimed:
                    self._begin(job)
                await self._announce_succeeded(succeeded, recorded)
            if closing:
                return
            if self._succeeded or (claimed and len(self.active) < self.concurrency):
                continue  # there may be more ready work
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.poll_interval)

    async def _announce_succeeded(
        self, succeeded: list[_Succeeded], recorded: set[uuid.UUID]
    ) -> None:
        for entry in succeeded:
            job = entry.job
            if job.id not in recorded:
                # The lease was lost (reclaimed elsewhere): that attempt's result stands.
                log.warning("job_result_discarded", job_id=str(job.id), type=job.type)
                continue
            log.info("job_succeeded", job_id=str(job.id), type=job.type, seconds=entry.seconds)
            job.status = JobStatus.succeeded
            job.progress = entry.ctx._progress
            await self._publish(job_event(job, "job.succeeded"))

    async def _publish(self, event: dict[str, Any]) -> None:
        """Job events are best effort: a bus that fails must not stall or fail the jobs."""
        try:
            await self.bus.publish(JOBS_CHANNEL, event)
        except Exception:
            log.exception("job_event_publish_failed", job_event=event["event"])

    async def _heartbeat_loop(self) -> None:
        # Frequent enough that a cancel seen only here (no Redis) is still prompt. It runs
        # until stop() ends it, so jobs finishing during the grace period keep their leases.
        interval = max(0.2, min(self.lease_seconds / 3, 2.0, self.heartbeat_seconds))
        next_beat = time.monotonic() + self.heartbeat_seconds
        while not await self._closed_within(interval):
            try:
                async with self.db.session() as session:
                    cancelled = await queue.heartbeat(
                        session, self.worker_id, list(self.active), self.lease_seconds
                    )
                    reclaimed = await queue.reclaim_expired_leases(session)
                    if time.monotonic() >= next_beat:
                        # The worker's own row: one UPDATE every few seconds, not per job.
                        if not await queue.record_heartbeat(
                            session, self.worker_id, len(self.active)
                        ):
                            await self._register(session)
                        await queue.prune_workers(session)
                        next_beat = time.monotonic() + self.heartbeat_seconds
                for job in reclaimed:
                    log.warning("job_lease_expired", job_id=str(job.id), status=job.status.value)
                    await self._publish(job_event(job, f"job.{job.status.value}"))
                if reclaimed:
                    self._wakeup.set()
                for job_id in cancelled:
                    entry = self.active.get(job_id)
                    if entry is not None:
                        entry[1].cancel_event.set()
                        entry[0].cancel()
            except Exception:
                log.exception("heartbeat_failed")

    async def _closed_within(self, seconds: float) -> bool:
        """Sleep up to `seconds`; answer whether stop() is ending the loops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)
        return self._closing.is_set()

    async def _schedule_loop(self) -> None:
        while not self._stopping.is_set():
            now = utcnow()
            next_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            if await self._closed_within((next_minute - now).total_seconds()):
                return
            for periodic in self.registry.periodic:
                if not periodic.cron.matches(next_minute):
                    continue
                key = f"periodic:{periodic.job_type}:{next_minute:%Y%m%dT%H%M}"
                try:
                    async with self.db.session() as session:
                        if await session.scalar(select(Job.id).where(Job.unique_key == key)):
                            continue
                        definition = self.registry.get(periodic.job_type)
                        await queue.enqueue(
                            session,
                            periodic.job_type,
                            periodic.payload,
                            queue=definition.queue if definition else "default",
                            max_attempts=definition.max_attempts if definition else 3,
                            unique_key=key,
                        )
                except queue.DuplicateJob:
                    pass  # another worker scheduled it first
                except Exception:
                    log.exception("periodic_enqueue_failed", job_type=periodic.job_type)

    # ------------------------------------------------------------------ running one job

    def _begin(self, job: ClaimedJob) -> None:
        ctx = JobContext(
            job_id=job.id,
            job_type=job.type,
            attempt=job.attempts,
            max_attempts=job.max_attempts,
            owner_id=job.owner_id,
            db=self.db,
            bus=self.bus,
            settings=self.settings,
            worker_id=self.worker_id,
        )
        ctx._progress = dict(job.progress or {})
        task = asyncio.create_task(self._run(job, ctx), name=f"job-{job.id}")
        self.active[job.id] = (task, ctx)

    async def _run(self, job: ClaimedJob, ctx: JobContext) -> None:
        definition = self.registry.get(job.type)
        started = time.perf_counter()
        handed_on = False  # to the work loop, which records the success and frees the slot
        try:
            await self._publish(job_event(job, "job.running"))
            if definition is None:
                await self._finish_failed(job, f"no handler for job type {job.type!r}", 0, True)
                return
            try:
                result = await timed_job(
                    self.observer, job.queue, ctx, self._call(definition, ctx, job.payload)
                )
            except asyncio.CancelledError:
                if ctx.cancelled:
                    await self._finish_cancelled(job)
                    return
                raise  # worker shutdown: stop() hands the job back
            except JobCancelled:
                await self._finish_cancelled(job)
                return
            except PermanentJobError as exc:
                await self._finish_failed(job, str(exc) or type(exc).__name__, 0, True)
                return
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
                await self._finish_failed(job, error, definition.retry_base_seconds, False)
                return
            if result:
                # Refused here, alone, rather than failing the round that stores it with others.
                try:
                    json.dumps(result)
                except (TypeError, ValueError) as exc:
                    await self._finish_failed(job, f"result is not JSON: {exc}", 0, True)
                    return
            seconds = round(time.perf_counter() - started, 3)
            self._succeeded.append(_Succeeded(job, ctx, result, seconds))
            handed_on = True
        finally:
            if not handed_on:
                self.active.pop(job.id, None)
            self._wakeup.set()

    async def _call(
        self, definition: JobDefinition, ctx: JobContext, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        if definition.timeout_seconds is None:
            return await definition.handler(ctx, payload)
        return await asyncio.wait_for(definition.handler(ctx, payload), definition.timeout_seconds)

    async def _finish_failed(
        self, job: ClaimedJob, error: str, base_seconds: float, permanent: bool
    ) -> None:
        async with self.db.session() as session:
            failed = await queue.mark_failed(
                session, job.id, self.worker_id, error, base_seconds, permanent=permanent
            )
        if failed is not None:
            log.warning(
                "job_failed",
                job_id=str(job.id),
                type=job.type,
                status=failed.status.value,
                attempts=failed.attempts,
                error=error.splitlines()[0] if error else "",
            )
            await self._publish(job_event(failed, f"job.{failed.status.value}"))

    async def _finish_cancelled(self, job: ClaimedJob) -> None:
        async with self.db.session() as session:
            cancelled = await queue.mark_cancelled(session, job.id, self.worker_id)
        if cancelled is not None:
            await self._publish(job_event(cancelled, "job.cancelled"))

    async def _release(self, job_id: uuid.UUID) -> None:
        with contextlib.suppress(Exception):
            async with self.db.session() as session:
                await queue.release(session, job_id, self.worker_id)
