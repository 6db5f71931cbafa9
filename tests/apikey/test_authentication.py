"""Signing in with an API key: header and media query parameter, scopes, expiry, revocation
(also when the principal is cached), and the throttled record of use."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from cinesonic.apikey import service as apikey_service
from cinesonic.auth import service as auth_service
from cinesonic.kit.tokens import hash_token
from cinesonic.models.apikey import ApiKey
from cinesonic.models.user import User, UserStatus
from cinesonic.state import AppState
from tests.apikey import probe
from tests.fixtures.users import create_and_login, create_api_key

ME = "/api/v1/auth/me"
MEDIA = f"{probe.PREFIX}/media"
USERS_READ = f"{probe.PREFIX}/users-read"


def _key(created: dict[str, Any]) -> dict[str, str]:
    return {"X-API-Key": created["key"]}


async def _read_key(state: AppState, key_id: str) -> ApiKey:
    async with state.db.session() as session:
        row = await session.get(ApiKey, uuid.UUID(key_id))
    assert row is not None
    return row


# ---------------------------------------------------------------- presenting a key


async def test_key_in_header_signs_in_as_its_owner(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    response = await client.get(ME, headers=_key(created))
    assert response.status_code == 200
    assert response.json()["username"] == "ada"


async def test_session_of_a_key_has_no_sign_in_session(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    response = await client.get("/api/v1/auth/session", headers=_key(created))
    assert response.status_code == 200
    assert response.json()["session"] is None


async def test_unknown_key_is_invalid_token(client: httpx.AsyncClient) -> None:
    response = await client.get(ME, headers={"X-API-Key": "csk_abcdefgh_not-a-real-secret"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_key_without_the_csk_prefix_is_invalid_token(client: httpx.AsyncClient) -> None:
    response = await client.get(ME, headers={"X-API-Key": "something-else"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_key_of_a_suspended_owner_is_refused(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    async with state.db.session() as session:
        await session.execute(
            update(User)
            .where(User.id == uuid.UUID(ada.user_id))
            .values(status=UserStatus.suspended)
        )
    response = await client.get(ME, headers=_key(created))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_suspended"


# ---------------------------------------------------------------- scopes


async def test_scoped_key_without_the_permission_is_403(
    client: httpx.AsyncClient, state: AppState
) -> None:
    mod = await create_and_login(state, client, "mod", role="moderator")
    created = await create_api_key(client, mod, scopes=["music.read"])
    response = await client.get(USERS_READ, headers=_key(created))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_scoped_key_with_the_permission_passes(
    client: httpx.AsyncClient, state: AppState
) -> None:
    mod = await create_and_login(state, client, "mod", role="moderator")
    created = await create_api_key(client, mod, scopes=["users.read"])
    response = await client.get(USERS_READ, headers=_key(created))
    assert response.status_code == 200


async def test_unscoped_key_acts_with_all_owner_permissions(
    client: httpx.AsyncClient, state: AppState
) -> None:
    mod = await create_and_login(state, client, "mod", role="moderator")
    created = await create_api_key(client, mod)
    response = await client.get(USERS_READ, headers=_key(created))
    assert response.status_code == 200


async def test_admin_key_scoped_away_from_the_audit_log_is_403_there(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await create_and_login(state, client, "root", role="admin")
    created = await create_api_key(client, root, scopes=["music.read"])
    response = await client.get("/api/v1/admin/activity", headers=_key(created))
    assert response.status_code == 403


# ---------------------------------------------------------------- expiry and revocation


async def test_expired_key_is_invalid_token_even_when_cached(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    expires_at = datetime.now(UTC) + timedelta(seconds=2)
    created = await create_api_key(client, ada, expires_at=expires_at.isoformat())
    assert (await client.get(ME, headers=_key(created))).status_code == 200
    assert state.auth_cache.get(f"apikey:{hash_token(created['key'])}") is not None
    await asyncio.sleep((expires_at - datetime.now(UTC)).total_seconds() + 0.2)
    response = await client.get(ME, headers=_key(created))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_key_past_its_expiry_is_invalid_token(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada, expires_in_days=1)
    async with state.db.session() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == uuid.UUID(created["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    response = await client.get(ME, headers=_key(created))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The API key has expired."


async def test_revoked_key_is_refused_on_the_next_request(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    assert (await client.get(ME, headers=_key(created))).status_code == 200
    revoke = await client.delete(f"/api/v1/apikeys/{created['id']}", headers=ada.headers)
    assert revoke.status_code == 200
    response = await client.get(ME, headers=_key(created))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_key_may_revoke_itself_and_is_refused_next(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    revoke = await client.delete(f"/api/v1/apikeys/{created['id']}", headers=_key(created))
    assert revoke.status_code == 200
    assert (await client.get(ME, headers=_key(created))).status_code == 401


async def test_revocation_is_published_to_every_replica(
    client: httpx.AsyncClient, state: AppState
) -> None:
    received: list[Any] = []

    async def collect(data: Any) -> None:
        received.append(data)

    state.bus.subscribe(auth_service.INVALIDATION_CHANNEL, collect)
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    await client.delete(f"/api/v1/apikeys/{created['id']}", headers=ada.headers)
    expected = {"tag": f"apikey:{created['id']}"}
    for _ in range(100):  # the Redis bus delivers asynchronously
        if expected in received:
            break
        await asyncio.sleep(0.02)
    assert expected in received


# ---------------------------------------------------------------- the media query parameter


async def test_query_parameter_key_works_on_media_routes(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    response = await client.get(MEDIA, params={"api_key": created["key"]})
    assert response.status_code == 200
    assert response.json() == {"user_id": ada.user_id}


async def test_header_key_works_on_media_routes(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    response = await client.get(MEDIA, headers=_key(created))
    assert response.status_code == 200


async def test_query_parameter_key_is_refused_on_other_routes(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    response = await client.get(ME, params={"api_key": created["key"]})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


async def test_media_route_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(MEDIA)
    assert response.status_code == 401


async def test_revoked_key_in_query_parameter_is_refused(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    await client.delete(f"/api/v1/apikeys/{created['id']}", headers=ada.headers)
    response = await client.get(MEDIA, params={"api_key": created["key"]})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


# ---------------------------------------------------------------- record of use


async def test_use_records_when_and_from_where(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    before = datetime.now(UTC)
    await client.get(ME, headers=_key(created))
    read = (await client.get(f"/api/v1/apikeys/{created['id']}", headers=ada.headers)).json()
    assert datetime.fromisoformat(read["last_used_at"]) >= before - timedelta(seconds=1)
    assert read["last_used_ip"] == "127.0.0.1"


async def test_use_within_the_interval_is_not_written_again(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    await client.get(ME, headers=_key(created))
    first = (await _read_key(state, created["id"])).last_used_at
    await client.get(ME, headers=_key(created))
    assert (await _read_key(state, created["id"])).last_used_at == first


async def test_use_after_the_interval_is_written_again(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    await client.get(ME, headers=_key(created))
    first = (await _read_key(state, created["id"])).last_used_at
    key_id = uuid.UUID(created["id"])
    state.api_key_touched[key_id] = time.monotonic() - apikey_service.TOUCH_INTERVAL_SECONDS - 1
    await client.get(ME, headers=_key(created))
    later = (await _read_key(state, created["id"])).last_used_at
    assert first is not None and later is not None and later > first


async def test_refused_key_records_no_use(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada, scopes=["music.read"])
    await client.delete(f"/api/v1/apikeys/{created['id']}", headers=ada.headers)
    await client.get(ME, headers=_key(created))
    assert (await _read_key(state, created["id"])).last_used_at is None
