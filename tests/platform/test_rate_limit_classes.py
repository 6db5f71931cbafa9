"""Per-route rate-limit classes (`deps.rate_limited`): per-address and per-user budgets, the
429 envelope with `Retry-After` and `RateLimit-*` headers (the route's own winning over the
global ones), settings as the source of every rule, and counters shared through Redis.

The routes below exist only here, mounted under `/api/v1/_limits` in this module's app."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, FastAPI

from cinesonic.app import create_app
from cinesonic.config import RATE_LIMIT_PATTERN, Settings
from cinesonic.deps import CurrentPrincipal, MediaPrincipal, OptionalPrincipal, rate_limited
from cinesonic.kit.schemas import StatusResponse
from cinesonic.ratelimits import RATE_LIMIT_CLASSES, LimitScope, limit_class
from cinesonic.state import AppState
from tests.conftest import REDIS_URL
from tests.fixtures.users import create_and_login, create_api_key

PREFIX = "/api/v1/_limits"
README = Path(__file__).resolve().parents[2] / "README.md"

router = APIRouter()


@router.post(
    "/pin",
    response_model=StatusResponse,
    summary="An address-scoped route",
    dependencies=[Depends(rate_limited("plex_pin"))],
)
async def per_address() -> StatusResponse:
    return StatusResponse(status="ok")


@router.get(
    "/search",
    response_model=StatusResponse,
    summary="A user-scoped route for signed-in callers",
    dependencies=[Depends(rate_limited("media_search"))],
)
async def per_user(principal: CurrentPrincipal) -> StatusResponse:
    return StatusResponse(status="ok")


@router.get(
    "/open",
    response_model=StatusResponse,
    summary="A user-scoped route anyone may call",
    dependencies=[Depends(rate_limited("search"))],
)
async def per_user_or_address(principal: OptionalPrincipal) -> StatusResponse:
    return StatusResponse(status="ok")


@router.get(
    "/stream",
    response_model=StatusResponse,
    summary="A user-scoped media route that takes ?api_key=",
    dependencies=[Depends(rate_limited("stream", query_key=True))],
)
async def per_media_user(principal: MediaPrincipal) -> StatusResponse:
    return StatusResponse(status="ok")


# Hourly windows: the sliding-window counter weighs the previous window, so a test that ran
# across a window's end would see budgets come back; an hour's end is rarely crossed.
LIMITED = {
    "rate_limit_global": "50/hour",
    "rate_limit_plex_pin": "2/hour",
    "rate_limit_media_search": "2/hour",
    "rate_limit_search": "2/hour",
    "rate_limit_stream": "2/hour",
}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(LIMITED)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    application.include_router(router, prefix=PREFIX)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running(settings) as application:
        yield application


def client_from(app: FastAPI, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_counted_hits_send_the_routes_own_headers(client: httpx.AsyncClient) -> None:
    remaining = []
    for _ in range(2):
        response = await client.post(f"{PREFIX}/pin")
        assert response.status_code == 200
        # The route's 2/hour, not the global 50/hour.
        assert response.headers["ratelimit-limit"] == "2"
        assert 0 <= int(response.headers["ratelimit-reset"]) <= 3600
        remaining.append(response.headers["ratelimit-remaining"])
    assert remaining == ["1", "0"]


async def test_spent_budget_answers_429_envelope_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(2):
        await client.post(f"{PREFIX}/pin")
    response = await client.post(f"{PREFIX}/pin", headers={"X-Request-ID": "limited-7"})
    assert response.status_code == 429
    body = response.json()
    assert body["request_id"] == "limited-7"
    assert body["error"]["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 3600
    assert body["error"]["details"] == {
        "limit_class": "plex_pin",
        "limit": 2,
        "window_seconds": 3600,
        "retry_after": retry_after,
    }
    assert response.headers["ratelimit-limit"] == "2"
    assert response.headers["ratelimit-remaining"] == "0"
    assert response.headers.get_list("ratelimit-limit") == ["2"]
    assert response.headers["x-request-id"] == "limited-7"


async def test_address_scope_counts_each_address(app: FastAPI) -> None:
    async with client_from(app, "10.1.0.1") as first, client_from(app, "10.1.0.2") as second:
        for _ in range(2):
            await first.post(f"{PREFIX}/pin")
        assert (await first.post(f"{PREFIX}/pin")).status_code == 429
        assert (await second.post(f"{PREFIX}/pin")).status_code == 200


async def test_user_scope_gives_each_user_a_budget(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    bob = await create_and_login(state, client, "bob")
    for _ in range(2):
        assert (await client.get(f"{PREFIX}/search", headers=ada.headers)).status_code == 200
    refused = await client.get(f"{PREFIX}/search", headers=ada.headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["limit_class"] == "media_search"
    assert (await client.get(f"{PREFIX}/search", headers=bob.headers)).status_code == 200


async def test_user_scope_follows_the_user_across_addresses(
    app: FastAPI, client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    async with client_from(app, "10.2.0.1") as home, client_from(app, "10.2.0.2") as work:
        assert (await home.get(f"{PREFIX}/search", headers=ada.headers)).status_code == 200
        assert (await work.get(f"{PREFIX}/search", headers=ada.headers)).status_code == 200
        assert (await work.get(f"{PREFIX}/search", headers=ada.headers)).status_code == 429


async def test_anonymous_callers_of_a_user_scope_count_per_address(
    app: FastAPI, client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    async with client_from(app, "10.3.0.1") as first, client_from(app, "10.3.0.2") as second:
        for _ in range(2):
            assert (await first.get(f"{PREFIX}/open")).status_code == 200
        assert (await first.get(f"{PREFIX}/open")).status_code == 429
        assert (await second.get(f"{PREFIX}/open")).status_code == 200
        # A signed-in caller from the spent address has a budget of their own.
        assert (await first.get(f"{PREFIX}/open", headers=ada.headers)).status_code == 200


async def test_anonymous_refusal_of_a_signed_in_route_still_spends(
    client: httpx.AsyncClient,
) -> None:
    # The budget is spent before authentication answers: guessing costs like calling.
    for _ in range(2):
        assert (await client.get(f"{PREFIX}/search")).status_code == 401
    assert (await client.get(f"{PREFIX}/search")).status_code == 429


async def test_query_key_routes_count_the_keys_owner(
    app: FastAPI, client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    key = (await create_api_key(client, ada))["key"]
    async with client_from(app, "10.4.0.1") as player, client_from(app, "10.4.0.2") as other:
        assert (await player.get(f"{PREFIX}/stream", params={"api_key": key})).status_code == 200
        assert (await other.get(f"{PREFIX}/stream", params={"api_key": key})).status_code == 200
        assert (await other.get(f"{PREFIX}/stream", params={"api_key": key})).status_code == 429


async def test_changed_setting_applies_at_the_next_request(
    client: httpx.AsyncClient, state: AppState
) -> None:
    assert (await client.post(f"{PREFIX}/pin")).headers["ratelimit-limit"] == "2"
    state.settings.rate_limit_plex_pin = "5/hour"
    response = await client.post(f"{PREFIX}/pin")
    assert response.status_code == 200
    assert response.headers["ratelimit-limit"] == "5"


async def test_routes_without_a_class_send_the_global_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.headers["ratelimit-limit"] == "50"


async def test_admin_routes_send_the_admin_budget(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    response = await client.get("/api/v1/admin/jobs", headers=admin.headers)
    assert response.status_code == 200
    assert response.headers["ratelimit-limit"] == "200"
    assert response.headers["ratelimit-remaining"] == "199"


async def test_openapi_names_the_class_of_a_limited_route(client: httpx.AsyncClient) -> None:
    app_paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    too_many = app_paths[f"{PREFIX}/search"]["get"]["responses"]["429"]
    assert "`media_search`" in too_many["description"]
    assert set(too_many["headers"]) == {
        "Retry-After",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
    }
    admin = app_paths["/api/v1/admin/jobs"]["get"]["responses"]["429"]
    assert "`admin`" in admin["description"]
    plain = app_paths["/api/v1/auth/me"]["get"]["responses"]["429"]
    assert "Retry-After" in plain["headers"]


class TestDefaults:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {}

    async def test_defaults_follow_the_portal_table(self, client: httpx.AsyncClient) -> None:
        response = await client.post(f"{PREFIX}/pin")
        assert response.headers["ratelimit-limit"] == "10"  # [003]: 10 per 5 minutes per IP
        assert int(response.headers["ratelimit-reset"]) <= 300


class TestDisabled:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {**LIMITED, "rate_limit_enabled": False}

    async def test_disabled_limits_neither_refuse_nor_count(
        self, client: httpx.AsyncClient
    ) -> None:
        for _ in range(4):
            response = await client.post(f"{PREFIX}/pin")
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers


@pytest.mark.skipif(REDIS_URL is None, reason="CINESONIC_TEST_REDIS_URL is unset")
async def test_replicas_share_counters_through_redis(settings: Settings) -> None:
    # Two apps on one database and one Redis, as two replicas behind a load balancer.
    async with (
        running(settings) as first,
        running(settings) as second,
        client_from(first, "10.5.0.1") as a,
        client_from(second, "10.5.0.1") as b,
    ):
        assert (await a.post(f"{PREFIX}/pin")).status_code == 200
        assert (await b.post(f"{PREFIX}/pin")).status_code == 200
        assert (await a.post(f"{PREFIX}/pin")).status_code == 429
        assert (await b.post(f"{PREFIX}/pin")).status_code == 429


def test_every_class_is_a_valid_setting() -> None:
    settings_fields = Settings.model_fields
    for limit in RATE_LIMIT_CLASSES.values():
        default = settings_fields[limit.setting].default
        assert re.match(RATE_LIMIT_PATTERN, default), (limit.name, default)


def test_every_class_is_documented_with_its_default() -> None:
    text = README.read_text()
    section = text[text.index("## Rate limits") :]
    for limit in RATE_LIMIT_CLASSES.values():
        default = Settings.model_fields[limit.setting].default
        row = f"| `{limit.name}` | `{default}` | {limit.scope.value} |"
        assert row in section, row


def test_portal_classes_keep_their_scopes() -> None:
    scopes = {name: limit.scope for name, limit in RATE_LIMIT_CLASSES.items()}
    for name in ("plex_pin", "plex_status", "csrf", "global"):
        assert scopes[name] is LimitScope.ip
    for name in ("media_search", "media_request", "youtube_download", "plex_collections", "admin"):
        assert scopes[name] is LimitScope.user


def test_unknown_class_is_refused_when_the_route_is_declared() -> None:
    with pytest.raises(ValueError, match="no rate-limit class 'nope'"):
        rate_limited("nope")
    with pytest.raises(ValueError):
        limit_class("nope")
