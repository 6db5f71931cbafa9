from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.job import Job, JobStatus
from cinesonic.state import AppState
from cinesonic.worker import queue
from cinesonic.worker.registry import Registry
from cinesonic.worker.runner import JobContext, Worker
from tests.fixtures.users import SignedIn, create_and_login


async def add_job(
    state: AppState, owner: SignedIn | None, status: JobStatus = JobStatus.queued, **kwargs: Any
) -> uuid.UUID:
    async with state.db.session() as session:
        job = await queue.enqueue(
            session,
            kwargs.pop("job_type", "test.job"),
            owner_id=uuid.UUID(owner.user_id) if owner else None,
            **kwargs,
        )
        if status != JobStatus.queued:
            job.status = status
            job.last_error = "it broke" if status == JobStatus.dead else None
            job.finished_at = utcnow()
    return job.id


async def test_users_see_only_their_own_jobs(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client, "ada")
    bob = await create_and_login(state, client, "bob")
    mine = await add_job(state, ada)
    await add_job(state, bob)
    response = await client.get("/api/v1/jobs", headers=ada.headers)
    assert response.status_code == 200
    assert [j["id"] for j in response.json()["data"]] == [str(mine)]
    assert response.json()["pagination"]["total"] == 1


async def test_someone_elses_job_is_not_found(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client, "ada")
    bob = await create_and_login(state, client, "bob")
    job_id = await add_job(state, bob)
    assert (await client.get(f"/api/v1/jobs/{job_id}", headers=ada.headers)).status_code == 404
    assert (await client.delete(f"/api/v1/jobs/{job_id}", headers=ada.headers)).status_code == 404
    own = await client.get(f"/api/v1/jobs/{job_id}", headers=bob.headers)
    assert own.json()["status"] == "queued"


async def test_admin_reads_any_job(client: httpx.AsyncClient, state: AppState) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    bob = await create_and_login(state, client, "bob")
    job_id = await add_job(state, bob)
    assert (await client.get(f"/api/v1/jobs/{job_id}", headers=admin.headers)).status_code == 200


async def test_jobs_need_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/jobs")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


async def test_cancelling_a_queued_job(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client, "ada")
    job_id = await add_job(state, ada)
    response = await client.delete(f"/api/v1/jobs/{job_id}", headers=ada.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


async def test_cancelling_a_finished_job_is_a_conflict(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    job_id = await add_job(state, ada, JobStatus.succeeded)
    response = await client.delete(f"/api/v1/jobs/{job_id}", headers=ada.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_finished"


async def test_cancelling_a_running_job_stops_its_worker(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    registry = Registry()
    started = asyncio.Event()

    @registry.job("test.job")
    async def long_job(ctx: JobContext, payload: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(3600)

    worker = Worker(state.db, state.bus, registry, state.settings, poll_interval=0.05)
    await worker.start()
    try:
        job_id = await add_job(state, ada)
        await asyncio.wait_for(started.wait(), 5)
        response = await client.delete(f"/api/v1/jobs/{job_id}", headers=ada.headers)
        assert response.json()["cancel_requested"] is True
        for _ in range(100):
            job = (await client.get(f"/api/v1/jobs/{job_id}", headers=ada.headers)).json()
            if job["status"] == "cancelled":
                break
            await asyncio.sleep(0.02)
        assert job["status"] == "cancelled"
    finally:
        await worker.stop(grace_seconds=0.1)


async def test_admin_list_filters_by_status_queue_and_type(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    await add_job(state, None, job_type="scan.library", queue="scan")
    dead = await add_job(state, None, JobStatus.dead, job_type="encode.video", queue="encode")
    response = await client.get(
        "/api/v1/admin/jobs", params={"status": "dead", "queue": "encode"}, headers=admin.headers
    )
    assert [j["id"] for j in response.json()["data"]] == [str(dead)]
    by_type = await client.get(
        "/api/v1/admin/jobs", params={"type": "scan.library"}, headers=admin.headers
    )
    assert by_type.json()["pagination"]["total"] == 1


async def test_admin_routes_refuse_other_users(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client, "ada")
    for method, path, body in [
        ("GET", "/api/v1/admin/jobs", None),
        ("GET", "/api/v1/admin/jobs/dlq", None),
        ("GET", "/api/v1/admin/jobs/schedules", None),
        ("POST", "/api/v1/admin/jobs/requeue", {"ids": [str(uuid.uuid4())]}),
        ("POST", "/api/v1/admin/jobs/purge", {}),
    ]:
        response = await client.request(method, path, json=body, headers=ada.headers)
        assert response.status_code == 403, path


async def test_dead_letter_queue_lists_reason_and_payload(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    dead = await add_job(state, None, JobStatus.dead, payload={"library_id": "x"})
    await add_job(state, None)
    response = await client.get("/api/v1/admin/jobs/dlq", headers=admin.headers)
    (item,) = response.json()["data"]
    assert item["id"] == str(dead)
    assert item["reason"] == "it broke"
    assert item["payload"] == {"library_id": "x"}
    assert {"queue", "type"} <= item.keys()


async def test_requeue_reports_a_result_per_id(client: httpx.AsyncClient, state: AppState) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    dead = await add_job(state, None, JobStatus.dead)
    queued = await add_job(state, None)
    done = await add_job(state, None, JobStatus.succeeded)
    unknown = uuid.uuid4()
    response = await client.post(
        "/api/v1/admin/jobs/requeue",
        json={"ids": [str(dead), str(queued), str(done), str(unknown)]},
        headers=admin.headers,
    )
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert {r["id"]: r["result"] for r in response.json()["results"]} == {
        str(dead): "requeued",
        str(queued): "active",
        str(done): "not_dead",
        str(unknown): "not_found",
    }
    job = (await client.get(f"/api/v1/jobs/{dead}", headers=admin.headers)).json()
    assert job["status"] == "queued" and job["attempts"] == 0


async def test_requeue_needs_ids(client: httpx.AsyncClient, state: AppState) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    response = await client.post(
        "/api/v1/admin/jobs/requeue", json={"ids": []}, headers=admin.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_purge_by_ids_never_touches_active_jobs(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    dead = await add_job(state, None, JobStatus.dead)
    queued = await add_job(state, None)
    response = await client.post(
        "/api/v1/admin/jobs/purge",
        json={"ids": [str(dead), str(queued), str(uuid.uuid4())]},
        headers=admin.headers,
    )
    assert response.json()["count"] == 1
    results = [r["result"] for r in response.json()["results"]]
    assert results == ["purged", "active", "not_found"]
    assert (await client.get(f"/api/v1/jobs/{dead}", headers=admin.headers)).status_code == 404


async def test_purge_by_filter_defaults_to_dead_jobs(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    await add_job(state, None, JobStatus.dead)
    await add_job(state, None, JobStatus.dead, queue="encode")
    kept = await add_job(state, None, JobStatus.succeeded)
    response = await client.post("/api/v1/admin/jobs/purge", json={}, headers=admin.headers)
    assert response.json() == {"count": 2, "results": []}
    assert (await client.get(f"/api/v1/jobs/{kept}", headers=admin.headers)).status_code == 200


async def test_schedules_list_declared_periodic_jobs(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    response = await client.get("/api/v1/admin/jobs/schedules", headers=admin.headers)
    prune = next(s for s in response.json() if s["job_type"] == "jobs.prune")
    assert prune["cron"] == "17 3 * * *"
    assert prune["queue"] == "maintenance"


async def test_prune_job_removes_old_finished_jobs_only(state: AppState) -> None:
    from cinesonic.job import service as job_service

    old_done = await add_job(state, None, JobStatus.succeeded)
    old_dead = await add_job(state, None, JobStatus.dead)
    async with state.db.session() as session:
        await session.execute(
            update(Job).values(updated_at=utcnow().replace(year=utcnow().year - 1))
        )
    async with state.db.session() as session:
        removed = await job_service.prune_finished(session, retention_days=30)
        assert removed == 1
        assert await session.get(Job, old_done) is None
        assert await session.get(Job, old_dead) is not None


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_admin": "2/minute"}])
async def test_admin_routes_are_rate_limited_per_user(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    for _ in range(2):
        assert (await client.get("/api/v1/admin/jobs", headers=admin.headers)).status_code == 200
    limited = await client.get("/api/v1/admin/jobs", headers=admin.headers)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["ratelimit-limit"] == "2"
    # Other routes of the same user are not counted against the admin budget.
    assert (await client.get("/api/v1/jobs", headers=admin.headers)).status_code == 200


async def test_prune_job_also_drops_the_rows_of_long_dead_workers(state: AppState) -> None:
    from cinesonic.job.tasks import PRUNE
    from cinesonic.models.worker import WorkerProcess
    from cinesonic.worker.registry import registry

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
            update(WorkerProcess).values(last_heartbeat_at=utcnow().replace(year=2020))
        )
    job_id = await add_job(state, None, job_type=PRUNE, queue="maintenance")
    worker = Worker(
        state.db,
        state.bus,
        registry,
        state.settings,
        queues=["maintenance"],
        poll_interval=0.05,
        run_periodic=False,
    )
    await worker.start()
    try:
        for _ in range(200):
            async with state.db.sessionmaker() as session:
                job = await session.get(Job, job_id)
                assert job is not None
                if job.status == JobStatus.succeeded:
                    break
            await asyncio.sleep(0.02)
        assert job.result == {"removed": 0}
        async with state.db.sessionmaker() as session:
            assert await session.get(WorkerProcess, "gone:1:abcdef") is None
            assert await session.get(WorkerProcess, worker.worker_id) is not None
    finally:
        await worker.stop(grace_seconds=0.1)
