"""The capacity routes (`/admin/capacity…`) with every refusal (401, 403, 404, 422), the audit
of `probe-now`, the Prometheus gauges in `/metrics`, and `capacity.probe` declared every
minute and run by a real worker."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from cinesonic.importer import capacity
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.activity import Activity
from cinesonic.models.capacity import LibraryRootCapacity
from cinesonic.models.job import Job, JobStatus
from cinesonic.state import AppState
from cinesonic.worker import queue
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import Worker
from tests.fixtures.music import create_library
from tests.fixtures.users import SignedIn, create_and_login

API = "/api/v1"
PROBE_NOW = f"{API}/admin/capacity/probe-now"


@pytest.fixture
async def admin(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "boss", role="admin")


@pytest.fixture
async def user(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "listener")


async def library(state: AppState, tmp_path: Path, name: str) -> tuple[str, Path]:
    root = tmp_path / "media" / name
    created = await create_library(state, name, root=root)
    return str(created.id), root.resolve()


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def probe_now(
    client: httpx.AsyncClient, who: SignedIn, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post(PROBE_NOW, json=body, headers=who.headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# ---------------------------------------------------------------- reading


async def test_the_report_lists_every_library_and_roots_never_probed_are_unknown(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, tmp_path: Path
) -> None:
    music_id, music_root = await library(state, tmp_path, "Music")

    response = await client.get(f"{API}/admin/capacity", headers=admin.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "unknown"
    assert (body["warning_percent"], body["alert_percent"]) == (80, 90)
    assert body["probe_interval_minutes"] == 10
    [entry] = body["data"]
    assert (entry["library_id"], entry["name"], entry["status"]) == (music_id, "Music", "unknown")
    [root] = entry["roots"]
    assert root["path"] == str(music_root)
    assert (root["library_id"], root["library_name"]) == (music_id, "Music")
    assert root["status"] == "unknown"
    assert root["checked_at"] is None and root["used_percent"] is None
    assert root["next_check_at"] is not None
    assert (root["error_count"], root["consecutive_errors"]) == (0, 0)


async def test_probe_now_answers_fresh_readings_of_every_library(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, tmp_path: Path
) -> None:
    await library(state, tmp_path, "Music")
    await library(state, tmp_path, "Archive")
    state.settings.capacity_warning_percent, state.settings.capacity_alert_percent = 99, 100

    body = await probe_now(client, admin)

    assert [entry["name"] for entry in body["data"]] == ["Archive", "Music"]
    assert body["status"] == "ok"
    for entry in body["data"]:
        [root] = entry["roots"]
        usage = shutil.disk_usage(root["path"])
        assert root["status"] == "ok"
        assert root["total_bytes"] == usage.total
        assert 0 < root["used_percent"] < 99
        assert root["checked_at"] == root["last_success_at"]
        assert root["error_count"] == 0 and root["last_error"] is None
    # What was probed is what the report reads afterwards.
    again = await client.get(f"{API}/admin/capacity", headers=admin.headers)
    assert again.json()["data"] == body["data"]


async def test_one_library_reads_with_its_worst_root(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, tmp_path: Path
) -> None:
    music_id, music_root = await library(state, tmp_path, "Music")
    await probe_now(client, admin)
    shutil.rmtree(music_root)
    await probe_now(client, admin, {"library_ids": [music_id]})

    response = await client.get(f"{API}/admin/capacity/{music_id}", headers=admin.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["library_id"], body["status"]) == (music_id, "unknown")
    [root] = body["roots"]
    assert root["last_error"] == f"{music_root} does not exist"
    assert (root["error_count"], root["consecutive_errors"]) == (1, 1)
    assert root["used_percent"] is not None  # the last good reading stays
    assert root["checked_at"] > root["last_success_at"]


async def test_probe_now_of_some_libraries_probes_only_theirs(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, tmp_path: Path
) -> None:
    music_id, _ = await library(state, tmp_path, "Music")
    await library(state, tmp_path, "Archive")

    body = await probe_now(client, admin, {"library_ids": [music_id, music_id]})

    assert [entry["library_id"] for entry in body["data"]] == [music_id]
    async with state.db.sessionmaker() as session:
        assert len(list(await session.scalars(select(LibraryRootCapacity)))) == 1


async def test_probe_now_is_audited(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, tmp_path: Path
) -> None:
    music_id, _ = await library(state, tmp_path, "Music")

    body = await probe_now(client, admin, {"library_ids": [music_id]})

    async with state.db.sessionmaker() as session:
        [entry] = list(
            await session.scalars(select(Activity).where(Activity.action == "capacity.probe"))
        )
    assert str(entry.user_id) == admin.user_id
    assert entry.details == {
        "library_ids": [music_id],
        "roots": 1,
        "status": body["status"],
        "failed": 0,
    }


async def test_failures_in_quick_succession_stop_promotion_only_after_two_intervals(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, tmp_path: Path
) -> None:
    music_id, music_root = await library(state, tmp_path, "Music")
    await probe_now(client, admin)
    shutil.rmtree(music_root)
    for _ in range(3):
        await probe_now(client, admin)

    async with state.db.sessionmaker() as session:
        now = utcnow()
        target = uuid.UUID(music_id)
        assert await capacity.promotion_refusal(session, target, now=now) is None
        later = now + timedelta(minutes=20)
        assert await capacity.promotion_refusal(session, target, now=later) == (
            "capacity_probe_failed"
        )


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/capacity"),
        ("GET", f"/admin/capacity/{uuid.UUID(int=1)}"),
        ("POST", "/admin/capacity/probe-now"),
    ],
)
async def test_the_routes_need_an_administrator(
    client: httpx.AsyncClient, user: SignedIn, method: str, path: str
) -> None:
    anonymous = await client.request(method, f"{API}{path}")
    assert anonymous.status_code == 401
    assert error_code(anonymous) == "authentication_required"

    refused = await client.request(method, f"{API}{path}", headers=user.headers)
    assert refused.status_code == 403
    assert error_code(refused) == "forbidden"


async def test_an_unknown_library_is_a_404_and_nothing_is_probed(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, tmp_path: Path
) -> None:
    music_id, _ = await library(state, tmp_path, "Music")
    unknown = str(uuid.uuid4())

    read = await client.get(f"{API}/admin/capacity/{unknown}", headers=admin.headers)
    assert read.status_code == 404 and error_code(read) == "not_found"

    probe = await client.post(
        PROBE_NOW, json={"library_ids": [music_id, unknown]}, headers=admin.headers
    )
    assert probe.status_code == 404 and error_code(probe) == "not_found"
    assert probe.json()["error"]["details"] == {"library_ids": [unknown]}
    async with state.db.sessionmaker() as session:
        assert list(await session.scalars(select(LibraryRootCapacity))) == []


@pytest.mark.parametrize(
    "body",
    [
        {"library_ids": "all"},
        {"library_ids": ["not-a-uuid"]},
        {"library_ids": []},
        {"library_ids": [str(uuid.UUID(int=n)) for n in range(101)]},
        ["not", "an", "object"],
    ],
)
async def test_probe_now_refuses_a_bad_body(
    client: httpx.AsyncClient, admin: SignedIn, body: Any
) -> None:
    response = await client.post(PROBE_NOW, json=body, headers=admin.headers)
    assert response.status_code == 422, response.text
    assert error_code(response) == "validation_error"


async def test_a_malformed_library_id_is_a_422(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.get(f"{API}/admin/capacity/not-a-uuid", headers=admin.headers)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


# ---------------------------------------------------------------- metrics


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_carry_each_roots_used_ratio_and_status(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, tmp_path: Path
) -> None:
    _, music_root = await library(state, tmp_path, "Music")
    _, broken_root = await library(state, tmp_path, "Broken")
    shutil.rmtree(broken_root)
    state.settings.capacity_warning_percent, state.settings.capacity_alert_percent = 99, 100
    await probe_now(client, admin)

    response = await client.get("/metrics")

    assert response.status_code == 200
    found = samples(response.text)
    music = {"library": "Music", "path": str(music_root)}
    broken = {"library": "Broken", "path": str(broken_root)}
    ratio = found[("cinesonic_library_root_used_ratio", frozenset(music.items()))]
    usage = shutil.disk_usage(music_root)
    assert ratio == pytest.approx(usage.used / (usage.used + usage.free), abs=0.01)
    assert ("cinesonic_library_root_used_ratio", frozenset(broken.items())) not in found

    def status(labels: dict[str, str], value: str) -> float:
        return found[
            ("cinesonic_library_root_status", frozenset({**labels, "status": value}.items()))
        ]

    assert status(music, "ok") == 1 and status(music, "unknown") == 0
    assert status(broken, "unknown") == 1 and status(broken, "ok") == 0


# ---------------------------------------------------------------- the scheduled probe


def test_the_probe_job_is_declared_to_run_every_minute(state: AppState) -> None:
    definition = registry.get(capacity.PROBE_JOB)
    assert definition is not None and definition.queue == "maintenance"
    [periodic] = [entry for entry in registry.periodic if entry.job_type == capacity.PROBE_JOB]
    assert periodic.cron.expression == "* * * * *"


@pytest.fixture
async def worker(state: AppState) -> AsyncIterator[Worker]:
    running = Worker(
        state.db,
        state.bus,
        registry,
        state.settings,
        queues=[capacity.PROBE_QUEUE],
        poll_interval=0.05,
        lease_seconds=5,
        run_periodic=False,
    )
    await running.start()
    yield running
    await running.stop(grace_seconds=2)


async def test_a_worker_runs_the_probe_job_over_the_due_roots(
    state: AppState, tmp_path: Path, worker: Worker
) -> None:
    await library(state, tmp_path, "Music")
    async with state.db.session() as session:
        job = await queue.enqueue(session, capacity.PROBE_JOB, {}, queue=capacity.PROBE_QUEUE)

    for _ in range(400):
        async with state.db.sessionmaker() as session:
            done = await session.get(Job, job.id, populate_existing=True)
        assert done is not None
        if done.status not in (JobStatus.queued, JobStatus.running):
            break
        await asyncio.sleep(0.05)

    assert done.status == JobStatus.succeeded, done.last_error
    assert done.result == {"probed": 1, "failed": 0}
