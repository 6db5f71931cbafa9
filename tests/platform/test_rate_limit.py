"""The global per-IP limit in front of the whole API (memory counters; Redis when the suite runs
with `CINESONIC_TEST_REDIS_URL`)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from cinesonic.config import Settings
from tests.conftest import REDIS_URL

API_ROUTE = "/api/v1/does-not-exist"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"rate_limit_global": "3/hour"}


def client_from(app: FastAPI, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_storage_follows_the_configuration(app: FastAPI, settings: Settings) -> None:
    storage = type(app.state.cinesonic.limiter.storage).__name__
    assert storage == ("RedisStorage" if REDIS_URL else "MemoryStorage")
    assert settings.redis_url == REDIS_URL


async def test_requests_within_the_limit_count_down_remaining(
    client: httpx.AsyncClient,
) -> None:
    remaining = []
    for _ in range(3):
        response = await client.get(API_ROUTE)
        assert response.status_code == 404
        assert response.headers["ratelimit-limit"] == "3"
        remaining.append(int(response.headers["ratelimit-remaining"]))
        assert 0 <= int(response.headers["ratelimit-reset"]) <= 3600
    assert remaining == [2, 1, 0]


async def test_request_over_the_limit_is_rate_limited(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.get(API_ROUTE)
    response = await client.get(API_ROUTE, headers={"X-Request-ID": "limited-1"})
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "code": "rate_limited",
            "message": "Too many requests; try again later.",
            "details": None,
        },
        "request_id": "limited-1",
    }
    assert response.headers["x-request-id"] == "limited-1"
    assert 1 <= int(response.headers["retry-after"]) <= 3600
    assert response.headers["ratelimit-limit"] == "3"
    assert response.headers["ratelimit-remaining"] == "0"
    assert 0 <= int(response.headers["ratelimit-reset"]) <= 3600


async def test_limit_applies_to_every_method_and_route(client: httpx.AsyncClient) -> None:
    await client.get(API_ROUTE)
    await client.post("/api/v1/auth/login", json={})
    await client.get("/api/v1/openapi.json")
    assert (await client.delete("/api/v1/anything")).status_code == 429


@pytest.mark.parametrize(
    "probe", ["/health", "/healthz", "/readyz", "/api/v1/health", "/api/v1/readyz"]
)
async def test_health_probes_are_exempt(client: httpx.AsyncClient, probe: str) -> None:
    for _ in range(10):
        response = await client.get(probe)
        assert response.status_code == 200, response.text
        assert "ratelimit-limit" not in response.headers
    assert (await client.get(API_ROUTE)).status_code == 404


async def test_each_address_has_its_own_budget(app: FastAPI) -> None:
    async with client_from(app, "10.0.0.1") as first, client_from(app, "10.0.0.2") as second:
        for _ in range(3):
            await first.get(API_ROUTE)
        assert (await first.get(API_ROUTE)).status_code == 429
        assert (await second.get(API_ROUTE)).status_code == 404


async def test_spoofed_forwarded_for_does_not_reset_the_budget(app: FastAPI) -> None:
    async with client_from(app, "10.0.0.3") as http:
        for number in range(3):
            await http.get(API_ROUTE, headers={"X-Forwarded-For": f"192.0.2.{number}"})
        response = await http.get(API_ROUTE, headers={"X-Forwarded-For": "192.0.2.99"})
        assert response.status_code == 429


class TestBehindTrustedProxy:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"rate_limit_global": "3/hour", "trusted_proxies": ["10.9.0.0/16"]}

    async def test_forwarded_client_addresses_are_limited_separately(self, app: FastAPI) -> None:
        async with client_from(app, "10.9.0.1") as proxy:
            for _ in range(3):
                await proxy.get(API_ROUTE, headers={"X-Forwarded-For": "203.0.113.7"})
            blocked = await proxy.get(API_ROUTE, headers={"X-Forwarded-For": "203.0.113.7"})
            other = await proxy.get(API_ROUTE, headers={"X-Forwarded-For": "203.0.113.8"})
        assert blocked.status_code == 429
        assert other.status_code == 404


class TestDisabled:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"rate_limit_global": "3/hour", "rate_limit_enabled": False}

    async def test_disabled_limits_never_refuse(self, client: httpx.AsyncClient) -> None:
        for _ in range(6):
            assert (await client.get(API_ROUTE)).status_code == 404


async def test_media_bytes_are_outside_the_global_budget(client: httpx.AsyncClient) -> None:
    # Covers and streams: one album page loads dozens of images; their routes limit themselves.
    for path in (
        "/api/v1/images/00000000-0000-0000-0000-000000000000",
        "/api/v1/songs/00000000-0000-0000-0000-000000000000/stream",
    ):
        for _ in range(5):
            response = await client.get(path)
            assert response.status_code != 429, path
    for _ in range(3):
        await client.get(API_ROUTE)
    assert (await client.get(API_ROUTE)).status_code == 429
