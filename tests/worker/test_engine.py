from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.job import Job, JobStatus
from cinesonic.models.worker import WorkerProcess
from cinesonic.state import AppState
from cinesonic.worker import queue
from cinesonic.worker.registry import Registry
from cinesonic.worker.runner import (
    CANCEL_CHANNEL,
    JOBS_CHANNEL,
    JobContext,
    PermanentJobError,
    Worker,
)
from tests.fixtures.users import create_user

Factory = Callable[..., Awaitable[Worker]]


@pytest.fixture
async def make_worker(state: AppState) -> AsyncIterator[Factory]:
    workers: list[Worker] = []

    async def factory(registry: Registry, **options: Any) -> Worker:
        options.setdefault("poll_interval", 0.05)
        options.setdefault("lease_seconds", 2.0)
        worker = Worker(state.db, state.bus, registry, state.settings, **options)
        await worker.start()
        workers.append(worker)
        return worker

    yield factory
    for worker in workers:
        await worker.stop(grace_seconds=1)


async def enqueue(state: AppState, job_type: str, **kwargs: Any) -> uuid.UUID:
    async with state.db.session() as session:
        job = await queue.enqueue(session, job_type, **kwargs)
    return job.id


async def wait_for_status(
    state: AppState, job_id: uuid.UUID, *statuses: JobStatus, within: float = 10.0
) -> Job:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with state.db.sessionmaker() as session:
            job = await session.get(Job, job_id)
            assert job is not None
            if job.status in statuses:
                return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"job stayed {job.status}, wanted {statuses}")
        await asyncio.sleep(0.02)


async def test_job_runs_and_stores_result_and_progress(
    state: AppState, make_worker: Factory
) -> None:
    registry = Registry()
    events: list[dict[str, Any]] = []

    async def collect(data: Any) -> None:
        events.append(data)

    state.bus.subscribe(JOBS_CHANNEL, collect)

    @registry.job("test.add")
    async def add(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        await ctx.progress(100, "added", items=2)
        return {"sum": payload["a"] + payload["b"]}

    await make_worker(registry)
    job_id = await enqueue(state, "test.add", payload={"a": 2, "b": 3})
    job = await wait_for_status(state, job_id, JobStatus.succeeded)
    assert job.result == {"sum": 5}
    assert job.progress == {"percent": 100.0, "message": "added", "counters": {"items": 2}}
    assert job.attempts == 1 and job.finished_at is not None
    kinds = [e["event"] for e in events if e["job"]["id"] == str(job_id)]
    assert kinds[0] == "job.running" and "job.progress" in kinds and kinds[-1] == "job.succeeded"


async def test_rolled_back_transaction_leaves_no_job(state: AppState) -> None:
    with pytest.raises(RuntimeError):
        async with state.db.session() as session:
            await queue.enqueue(session, "test.noop")
            raise RuntimeError("the request failed")
    async with state.db.sessionmaker() as session:
        assert (await session.scalars(select(Job))).all() == []


async def test_failing_job_retries_then_goes_dead_with_reason(
    state: AppState, make_worker: Factory
) -> None:
    registry = Registry()
    calls: list[int] = []

    @registry.job("test.boom", max_attempts=3, retry_base_seconds=0.01)
    async def boom(ctx: JobContext, payload: dict[str, Any]) -> None:
        calls.append(ctx.attempt)
        raise ValueError("disk on fire")

    await make_worker(registry)
    job_id = await enqueue(state, "test.boom", max_attempts=3)
    job = await wait_for_status(state, job_id, JobStatus.dead)
    assert calls == [1, 2, 3]
    assert job.attempts == 3
    assert job.last_error is not None and job.last_error.startswith("ValueError: disk on fire")


def test_retry_back_off_doubles() -> None:
    delays = [queue.retry_delay(n, 2.0) for n in (1, 2, 3)]
    for delay, expected in zip(delays, (2.0, 4.0, 8.0), strict=True):
        assert expected * 0.8 <= delay <= expected * 1.2


async def test_permanent_error_skips_retries(state: AppState, make_worker: Factory) -> None:
    registry = Registry()

    @registry.job("test.bad_input")
    async def bad_input(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise PermanentJobError("payload names no library")

    await make_worker(registry)
    job_id = await enqueue(state, "test.bad_input")
    job = await wait_for_status(state, job_id, JobStatus.dead)
    assert job.attempts == 1
    assert job.last_error == "payload names no library"


async def test_unknown_job_type_is_dead_at_once(state: AppState, make_worker: Factory) -> None:
    await make_worker(Registry())
    job_id = await enqueue(state, "test.nobody_handles_this")
    job = await wait_for_status(state, job_id, JobStatus.dead)
    assert "no handler" in (job.last_error or "")


async def test_unique_key_refuses_a_second_active_job(state: AppState) -> None:
    await enqueue(state, "test.scan", unique_key="scan:library-1")
    with pytest.raises(queue.DuplicateJob):
        await enqueue(state, "test.scan", unique_key="scan:library-1")
    await enqueue(state, "test.scan", unique_key="scan:library-2")


async def test_cancelling_a_running_job_stops_it_promptly(
    state: AppState, make_worker: Factory
) -> None:
    registry = Registry()
    started = asyncio.Event()

    @registry.job("test.forever")
    async def forever(ctx: JobContext, payload: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(3600)

    await make_worker(registry)
    job_id = await enqueue(state, "test.forever")
    await asyncio.wait_for(started.wait(), 5)
    async with state.db.session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
    await state.bus.publish(CANCEL_CHANNEL, {"job_id": str(job_id)})
    job = await wait_for_status(state, job_id, JobStatus.cancelled, within=2)
    assert job.finished_at is not None


async def test_job_of_a_lost_worker_is_reclaimed_and_completes_once(
    state: AppState, make_worker: Factory
) -> None:
    registry = Registry()
    runs: list[str] = []

    @registry.job("test.once")
    async def once(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        runs.append(ctx.worker_id)
        return {"ok": True}

    job_id = await enqueue(state, "test.once")
    # A worker that vanished after claiming: its lease is held and then expires.
    async with state.db.session() as session:
        claimed = await queue.claim(
            session,
            worker_id="ghost",
            queues=None,
            limit=1,
            lease_seconds=0.2,
            is_postgres=not state.db.is_sqlite,
        )
    assert [job.id for job in claimed] == [job_id]
    worker = await make_worker(registry, lease_seconds=0.6)
    job = await wait_for_status(state, job_id, JobStatus.succeeded)
    assert runs == [worker.worker_id]
    assert job.attempts == 2
    async with state.db.session() as session:
        late = await queue.complete(session, "ghost", {job_id: {"ok": "late"}})
    assert late == set()  # the ghost's late result is discarded


async def test_future_jobs_wait_for_run_at(state: AppState, make_worker: Factory) -> None:
    registry = Registry()

    @registry.job("test.later")
    async def later(ctx: JobContext, payload: dict[str, Any]) -> None:
        return None

    await make_worker(registry)
    job_id = await enqueue(state, "test.later", run_at=utcnow() + timedelta(hours=1))
    await asyncio.sleep(0.3)
    async with state.db.sessionmaker() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.status == JobStatus.queued


async def test_queues_are_served_only_by_their_workers(
    state: AppState, make_worker: Factory
) -> None:
    registry = Registry()

    @registry.job("test.encode", queue="encode")
    async def encode(ctx: JobContext, payload: dict[str, Any]) -> None:
        return None

    await make_worker(registry, queues=["scan"])
    job_id = await enqueue(state, "test.encode", queue="encode")
    await asyncio.sleep(0.3)
    async with state.db.sessionmaker() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.status == JobStatus.queued
    await make_worker(registry, queues=["encode"])
    await wait_for_status(state, job_id, JobStatus.succeeded)


async def test_stopping_a_worker_hands_running_jobs_back(
    state: AppState, make_worker: Factory
) -> None:
    registry = Registry()
    started = asyncio.Event()

    @registry.job("test.slow")
    async def slow(ctx: JobContext, payload: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(3600)

    worker = await make_worker(registry)
    job_id = await enqueue(state, "test.slow")
    await asyncio.wait_for(started.wait(), 5)
    await worker.stop(grace_seconds=0.1)
    async with state.db.sessionmaker() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        assert job.status == JobStatus.queued and job.attempts == 0


async def test_a_burst_of_jobs_all_succeed_once_with_their_own_results(
    state: AppState, make_worker: Factory
) -> None:
    registry = Registry()
    runs: list[int] = []
    events: list[dict[str, Any]] = []

    async def collect(data: Any) -> None:
        events.append(data)

    state.bus.subscribe(JOBS_CHANNEL, collect)

    @registry.job("test.square")
    async def square(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any] | None:
        runs.append(payload["n"])
        # Jobs without a result and jobs with one share the rounds that record them.
        return {"square": payload["n"] ** 2} if payload["n"] % 2 else None

    async with state.db.session() as session:
        ids = [(await queue.enqueue(session, "test.square", {"n": n})).id for n in range(60)]
    await make_worker(registry, concurrency=8)
    for job_id in ids:
        await wait_for_status(state, job_id, JobStatus.succeeded)
    assert sorted(runs) == list(range(60))
    async with state.db.sessionmaker() as session:
        jobs = {job.id: job for job in (await session.scalars(select(Job))).all()}
    for n, job_id in enumerate(ids):
        job = jobs[job_id]
        assert job.result == ({"square": n * n} if n % 2 else {})
        assert job.attempts == 1 and job.lease_owner is None and job.finished_at is not None
    succeeded = [e["job"]["id"] for e in events if e["event"] == "job.succeeded"]
    assert sorted(succeeded) == sorted(str(job_id) for job_id in ids)


async def test_success_events_carry_the_owner_and_the_last_progress(
    state: AppState, make_worker: Factory
) -> None:
    registry = Registry()
    events: list[dict[str, Any]] = []

    async def collect(data: Any) -> None:
        events.append(data)

    state.bus.subscribe(JOBS_CHANNEL, collect)

    @registry.job("test.report")
    async def report(ctx: JobContext, payload: dict[str, Any]) -> None:
        await ctx.progress(40, "reading")

    owner = await create_user(state, "ada")
    job_id = await enqueue(state, "test.report", owner_id=owner.id)
    await make_worker(registry)
    await wait_for_status(state, job_id, JobStatus.succeeded)
    succeeded = [e for e in events if e["event"] == "job.succeeded"]
    assert len(succeeded) == 1
    # The owner is what per-user visibility on the WebSocket goes by.
    assert succeeded[0]["owner_id"] == str(owner.id)
    assert succeeded[0]["job"]["status"] == "succeeded"
    assert succeeded[0]["job"]["progress"] == {"percent": 40.0, "message": "reading"}


async def test_a_result_json_cannot_hold_buries_the_job_alone(
    state: AppState, make_worker: Factory
) -> None:
    registry = Registry()

    @registry.job("test.opaque")
    async def opaque(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        return {"when": object()} if payload["bad"] else {"ok": True}

    bad = await enqueue(state, "test.opaque", payload={"bad": True})
    good = await enqueue(state, "test.opaque", payload={"bad": False})
    await make_worker(registry)
    buried = await wait_for_status(state, bad, JobStatus.dead)
    assert (buried.last_error or "").startswith("result is not JSON")
    assert (await wait_for_status(state, good, JobStatus.succeeded)).result == {"ok": True}


async def test_worker_registers_beats_and_leaves_its_row(
    state: AppState, make_worker: Factory
) -> None:
    registry = Registry()
    release = asyncio.Event()

    @registry.job("test.hold")
    async def hold(ctx: JobContext, payload: dict[str, Any]) -> None:
        await release.wait()

    worker = await make_worker(registry, queues=["slow"], concurrency=3, heartbeat_seconds=0.2)
    async with state.db.sessionmaker() as session:
        row = await session.get(WorkerProcess, worker.worker_id)
        assert row is not None
        assert (row.pid, row.queues, row.concurrency, row.running) == (os.getpid(), ["slow"], 3, 0)
        first_beat = row.last_heartbeat_at
    job_id = await enqueue(state, "test.hold", queue="slow")
    await wait_for_status(state, job_id, JobStatus.running)
    for _ in range(100):  # the next beats count the running job
        async with state.db.sessionmaker() as session:
            row = await session.get(WorkerProcess, worker.worker_id)
            assert row is not None
            if row.running == 1 and row.last_heartbeat_at > first_beat:
                break
        await asyncio.sleep(0.05)
    assert row.running == 1 and row.last_heartbeat_at > first_beat
    async with state.db.sessionmaker() as session:
        live = await queue.live_workers(session, fresh_within=60)
    assert [w.id for w in live] == [worker.worker_id]
    release.set()
    await wait_for_status(state, job_id, JobStatus.succeeded)
    await worker.stop()
    async with state.db.sessionmaker() as session:
        assert await session.get(WorkerProcess, worker.worker_id) is None


async def test_heartbeats_prune_dead_workers_and_restore_a_lost_row(
    state: AppState, make_worker: Factory
) -> None:
    async with state.db.session() as session:
        await queue.register_worker(
            session,
            worker_id="gone:1:abcdef",
            hostname="gone",
            pid=1,
            queues=[],
            concurrency=4,
            version="0.0.1",
        )
        await session.execute(
            update(WorkerProcess)
            .where(WorkerProcess.id == "gone:1:abcdef")
            .values(last_heartbeat_at=utcnow() - queue.WORKER_ROW_RETENTION - timedelta(minutes=1))
        )
    worker = await make_worker(Registry(), heartbeat_seconds=0.2)
    async with state.db.session() as session:  # as if pruned while this worker was stalled
        await queue.unregister_worker(session, worker.worker_id)
    for _ in range(100):
        async with state.db.sessionmaker() as session:
            ids = set((await session.scalars(select(WorkerProcess.id))).all())
        if ids == {worker.worker_id}:
            break
        await asyncio.sleep(0.05)
    assert ids == {worker.worker_id}


async def test_stale_workers_are_not_live(state: AppState) -> None:
    async with state.db.session() as session:
        for name, age in (("fresh", 1), ("stale", 30)):
            await queue.register_worker(
                session,
                worker_id=name,
                hostname=name,
                pid=1,
                queues=[],
                concurrency=1,
                version="x",
            )
            await session.execute(
                update(WorkerProcess)
                .where(WorkerProcess.id == name)
                .values(last_heartbeat_at=utcnow() - timedelta(seconds=age))
            )
    async with state.db.sessionmaker() as session:
        assert [w.id for w in await queue.live_workers(session, fresh_within=15)] == ["fresh"]
        latest = await queue.last_heartbeat(session)
    assert latest is not None and utcnow() - latest < timedelta(seconds=15)
