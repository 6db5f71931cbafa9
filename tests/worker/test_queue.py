"""The queue's statements on their own: claim order, batch completion under leases, wake-ups."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.job import Job, JobStatus
from cinesonic.state import AppState
from cinesonic.worker import queue


async def claim(state: AppState, worker_id: str, limit: int) -> list[queue.ClaimedJob]:
    async with state.db.session() as session:
        return await queue.claim(
            session,
            worker_id=worker_id,
            queues=None,
            limit=limit,
            lease_seconds=30,
            is_postgres=not state.db.is_sqlite,
        )


async def test_claims_take_the_highest_priority_first_then_the_oldest(state: AppState) -> None:
    async with state.db.session() as session:
        low = [(await queue.enqueue(session, "test.low")).id for _ in range(3)]
        high = [(await queue.enqueue(session, "test.high", priority=5)).id for _ in range(2)]
        await queue.enqueue(session, "test.later", priority=9, run_at=utcnow() + timedelta(hours=1))
    first = await claim(state, "w1", limit=10)
    # One priority per claim: the urgent ones, oldest first; the next claim gets the rest.
    # (A claim's jobs start together: the order of the list it answers means nothing.)
    assert {job.id for job in first} == set(high)
    assert all(job.status == JobStatus.running and job.attempts == 1 for job in first)
    assert {job.id for job in await claim(state, "w1", limit=2)} == set(low[:2])
    assert {job.id for job in await claim(state, "w1", limit=10)} == set(low[2:])
    assert await claim(state, "w1", limit=10) == []  # the future job waits for its time


async def test_completion_records_only_jobs_still_held(state: AppState) -> None:
    async with state.db.session() as session:
        ids = [(await queue.enqueue(session, "test.job")).id for _ in range(3)]
    await claim(state, "w1", limit=3)
    async with state.db.session() as session:  # another worker took the last one over
        job = await session.get(Job, ids[2])
        assert job is not None
        job.lease_owner = "w2"
    results: dict[uuid.UUID, dict[str, object] | None] = {
        ids[0]: None,
        ids[1]: {"files": 3},
        ids[2]: {"files": 4},
    }
    async with state.db.session() as session:
        done = await queue.complete(session, "w1", results)
    assert done == {ids[0], ids[1]}
    async with state.db.sessionmaker() as session:
        rows = {job_id: await session.get(Job, job_id) for job_id in ids}
    assert rows[ids[0]] is not None and rows[ids[0]].result == {}
    assert rows[ids[1]] is not None and rows[ids[1]].result == {"files": 3}
    assert rows[ids[1]].status == JobStatus.succeeded and rows[ids[1]].lease_owner is None
    assert rows[ids[2]] is not None and rows[ids[2]].status == JobStatus.running
    assert rows[ids[2]].result is None


async def test_one_wake_up_per_transaction_however_many_jobs(state: AppState) -> None:
    woken = asyncio.Event()
    queue.register_local_wakeup(woken)
    try:
        async with state.db.session() as session:
            for _ in range(5):
                await queue.enqueue(session, "test.job")
            assert not woken.is_set()  # nothing before the commit
            assert len(session.info.get("cinesonic_after_commit", [])) == 1
        assert woken.is_set()
    finally:
        queue.unregister_local_wakeup(woken)
