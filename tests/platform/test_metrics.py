"""`/metrics`: request counts and latency by route template, jobs by status from the database,
job durations observed by a real worker, the pool, WebSockets, build and process metrics; the
optional token and the off switch."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from cinesonic import __version__
from cinesonic.app import start_worker
from cinesonic.metrics import HTTP_BUCKETS, UNMATCHED_ROUTE
from cinesonic.models.job import Job, JobStatus
from cinesonic.state import AppState
from cinesonic.worker import queue
from cinesonic.worker.registry import Registry
from cinesonic.worker.runner import JobContext, PermanentJobError, Worker
from tests.fixtures.live import serve
from tests.fixtures.users import create_and_login

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return parse(response.text)


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE cinesonic_http_requests_total counter" in response.text
    assert "# TYPE cinesonic_http_request_duration_seconds histogram" in response.text


async def test_openmetrics_is_served_when_asked_for(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


async def test_requests_are_counted_by_route_template_not_raw_path(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(2):
        assert (await client.get(f"/api/v1/users/{uuid.uuid4()}")).status_code == 401
    samples = await scrape(client)
    route = "/api/v1/users/{user_id}"
    assert (
        value(samples, "cinesonic_http_requests_total", method="GET", route=route, status="401")
        == 2
    )
    routes = {dict(labels).get("route") for _name, labels in samples}
    assert not any(r and r.startswith("/api/v1/users/0") for r in routes)


async def test_latency_histogram_has_every_bucket(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.get("/health")
    samples = await scrape(client)
    name = "cinesonic_http_request_duration_seconds"
    buckets = {
        dict(labels)["le"]: count
        for (sample, labels), count in samples.items()
        if sample == f"{name}_bucket" and dict(labels)["route"] == "/health"
    }
    assert set(buckets) == {str(b) for b in HTTP_BUCKETS} | {"+Inf"}
    assert buckets["+Inf"] == 3
    assert value(samples, f"{name}_count", method="GET", route="/health") == 3
    total = value(samples, f"{name}_sum", method="GET", route="/health")
    assert total is not None and total > 0


async def test_router_mounted_twice_keeps_both_templates(client: httpx.AsyncClient) -> None:
    # One route object serves both paths; each keeps its own label.
    await client.get("/healthz")
    await client.get("/api/v1/healthz")
    samples = await scrape(client)
    for route in ("/healthz", "/api/v1/healthz"):
        count = value(
            samples, "cinesonic_http_requests_total", method="GET", route=route, status="200"
        )
        assert count == 1, route


async def test_unmatched_paths_and_unknown_methods_share_one_label(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/api/v1/no-such-thing/1")
    await client.get("/api/v1/no-such-thing/2")
    await client.request("BREW", "/api/v1/auth/me")
    samples = await scrape(client)
    assert (
        value(
            samples,
            "cinesonic_http_requests_total",
            method="GET",
            route=UNMATCHED_ROUTE,
            status="404",
        )
        == 2
    )
    assert (
        value(
            samples,
            "cinesonic_http_requests_total",
            method="OTHER",
            route="/api/v1/auth/me",
            status="405",
        )
        == 1
    )


async def test_job_gauges_count_the_jobs_in_the_database(
    client: httpx.AsyncClient, state: AppState
) -> None:
    async with state.db.session() as session:
        await queue.enqueue(session, "test.noop")
        await queue.enqueue(session, "test.noop")
        doomed = await queue.enqueue(session, "test.scan", queue="scan")
    async with state.db.session() as session:
        await session.execute(update(Job).where(Job.id == doomed.id).values(status=JobStatus.dead))
    samples = await scrape(client)
    assert value(samples, "cinesonic_jobs", status="queued", queue="default") == 2
    assert value(samples, "cinesonic_jobs", status="dead", queue="scan") == 1
    assert value(samples, "cinesonic_jobs", status="queued", queue="scan") == 0
    assert value(samples, "cinesonic_jobs", status="running", queue="default") == 0


async def wait_for_status(state: AppState, job_id: uuid.UUID, status: JobStatus) -> None:
    for _ in range(500):
        async with state.db.sessionmaker() as session:
            job = await session.get(Job, job_id)
            if job is not None and job.status == status:
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} never became {status}")


@pytest.fixture
async def worker(state: AppState) -> AsyncIterator[Worker]:
    registry = Registry()

    @registry.job("test.add")
    async def add(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        return {"sum": payload["a"] + payload["b"]}

    @registry.job("test.refuse")
    async def refuse(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise PermanentJobError("not today")

    running = Worker(
        state.db,
        state.bus,
        registry,
        state.settings,
        poll_interval=0.05,
        lease_seconds=2.0,
        observer=state.metrics,
    )
    await running.start()
    yield running
    await running.stop(grace_seconds=1)


async def test_job_durations_are_observed_by_the_worker(
    client: httpx.AsyncClient, state: AppState, worker: Worker
) -> None:
    async with state.db.session() as session:
        added = await queue.enqueue(session, "test.add", {"a": 1, "b": 2})
        refused = await queue.enqueue(session, "test.refuse", queue="io")
    await wait_for_status(state, added.id, JobStatus.succeeded)
    await wait_for_status(state, refused.id, JobStatus.dead)
    samples = await scrape(client)
    name = "cinesonic_job_duration_seconds"
    succeeded = {"queue": "default", "type": "test.add", "outcome": "succeeded"}
    failed = {"queue": "io", "type": "test.refuse", "outcome": "failed"}
    assert value(samples, f"{name}_count", **succeeded) == 1
    assert value(samples, f"{name}_count", **failed) == 1
    assert value(samples, f"{name}_bucket", le="+Inf", **succeeded) == 1


async def test_the_app_worker_reports_to_the_app_metrics(state: AppState) -> None:
    assert start_worker(state).observer is state.metrics


async def test_pool_build_and_process_metrics_are_present(client: httpx.AsyncClient) -> None:
    samples = await scrape(client)
    names = {name for name, _labels in samples}
    assert value(samples, "cinesonic_build_info", version=__version__) == 1
    size = value(samples, "cinesonic_db_pool_size")
    assert size is not None and size >= 1
    for gauge in ("checked_out", "checked_in", "overflow"):
        assert f"cinesonic_db_pool_{gauge}" in names
    assert "process_cpu_seconds_total" in names
    assert "python_info" in names


async def test_open_websockets_are_counted(app: FastAPI, state: AppState) -> None:
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        user = await create_and_login(state, http, "watcher")
        socket_url = base_url.replace("http://", "ws://") + "/api/v1/ws"
        assert value(await scrape(http), "cinesonic_websocket_connections") == 0
        async with websockets.connect(f"{socket_url}?access_token={user.access_token}") as ws:
            await ws.send(json.dumps({"type": "subscribe", "topics": ["jobs"]}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "subscribed"
            assert value(await scrape(http), "cinesonic_websocket_connections") == 1


class TestWithAToken:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"metrics_token": "scrape-secret-123"}

    async def test_missing_token_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/metrics", headers={"X-Request-ID": "scrape-1"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "authentication_required"
        assert response.json()["request_id"] == "scrape-1"
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize(
        "authorization", ["Bearer wrong-token", "Basic c2NyYXBlLXNlY3JldC0xMjM=", "Bearer"]
    )
    async def test_wrong_token_is_refused(
        self, client: httpx.AsyncClient, authorization: str
    ) -> None:
        response = await client.get("/metrics", headers={"Authorization": authorization})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "authentication_required"

    async def test_right_token_is_served(self, client: httpx.AsyncClient) -> None:
        samples = await scrape(client, Authorization="Bearer scrape-secret-123")
        assert value(samples, "cinesonic_build_info", version=__version__) == 1


class TestDisabled:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"metrics_enabled": False}

    async def test_metrics_answer_not_found(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/metrics")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    async def test_requests_are_not_instrumented(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        assert (await client.get("/health")).status_code == 200
        samples = parse(generate_latest(state.metrics.registry).decode())
        assert not any(name == "cinesonic_http_requests_total" for name, _ in samples)


class TestUnderTheGlobalLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"rate_limit_global": "2/minute"}

    async def test_scrapes_are_not_rate_limited(self, client: httpx.AsyncClient) -> None:
        for _ in range(5):
            response = await client.get("/metrics")
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers


async def test_image_requests_are_labelled_by_their_template(client: httpx.AsyncClient) -> None:
    # Answered by the image fast route and, for an unlisted size, by the documented route.
    image = f"/api/v1/images/{uuid.uuid4()}"
    await client.get(image)
    await client.get(image, params={"size": "7"})
    samples = await scrape(client)
    template = "/api/v1/images/{image_id}"
    count = value(
        samples, "cinesonic_http_requests_total", method="GET", route=template, status="401"
    )
    assert count == 2
