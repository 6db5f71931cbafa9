"""The caller's sessions [001]: list (newest first, current flagged, ended ones on request),
the current one, refresh under /sessions, and signing one device out."""

from __future__ import annotations

import uuid

import httpx
import pytest

from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login, create_api_key, create_user, login

SESSIONS = "/api/v1/sessions"


async def three_devices(client: httpx.AsyncClient, state: AppState) -> list[SignedIn]:
    await create_user(state, "ada")
    return [await login(client, "ada") for _ in range(3)]


async def session_id(client: httpx.AsyncClient, signed: SignedIn) -> str:
    response = await client.get(f"{SESSIONS}/current", headers=signed.headers)
    assert response.status_code == 200, response.text
    value: str = response.json()["id"]
    return value


async def test_sessions_are_listed_newest_first_with_the_current_one_flagged(
    client: httpx.AsyncClient, state: AppState
) -> None:
    first, second, third = await three_devices(client, state)
    ids = [await session_id(client, signed) for signed in (first, second, third)]
    response = await client.get(SESSIONS, headers=second.headers)
    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["data"]] == ids[::-1]
    assert [row["is_current"] for row in body["data"]] == [False, True, False]
    assert body["pagination"] == {
        "page": 1,
        "page_size": 50,
        "offset": 0,
        "total": 3,
        "total_pages": 1,
    }
    assert body["data"][0]["ip_address"] == "127.0.0.1"
    assert body["data"][0]["revoked_at"] is None


async def test_sessions_list_pages(client: httpx.AsyncClient, state: AppState) -> None:
    first, _, _ = await three_devices(client, state)
    response = await client.get(SESSIONS, params={"page": 2, "page_size": 2}, headers=first.headers)
    body = response.json()
    assert len(body["data"]) == 1
    assert body["pagination"]["total_pages"] == 2
    assert body["data"][0]["is_current"] is True  # the oldest session is the last


async def test_sessions_list_sorts_by_a_named_field(
    client: httpx.AsyncClient, state: AppState
) -> None:
    first, second, third = await three_devices(client, state)
    ids = [await session_id(client, signed) for signed in (first, second, third)]
    response = await client.get(SESSIONS, params={"sort": "created_at"}, headers=first.headers)
    assert [row["id"] for row in response.json()["data"]] == ids


async def test_sessions_list_refuses_an_unknown_sort_field(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client, "ada")
    response = await client.get(SESSIONS, params={"sort": "user_id"}, headers=signed.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "sort"


async def test_revoked_sessions_are_listed_only_on_request(
    client: httpx.AsyncClient, state: AppState
) -> None:
    first, second, _ = await three_devices(client, state)
    ended = await session_id(client, second)
    await client.post("/api/v1/auth/logout", headers=second.headers)
    listed = await client.get(SESSIONS, headers=first.headers)
    assert ended not in [row["id"] for row in listed.json()["data"]]
    assert listed.json()["pagination"]["total"] == 2
    everything = await client.get(
        SESSIONS, params={"include_revoked": "true"}, headers=first.headers
    )
    [row] = [row for row in everything.json()["data"] if row["id"] == ended]
    assert row["revoked_at"] is not None
    assert row["revoked_reason"] == "logout"


async def test_other_users_sessions_are_not_listed(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    await create_and_login(state, client, "bob")
    response = await client.get(SESSIONS, headers=ada.headers)
    assert response.json()["pagination"]["total"] == 1


async def test_current_session_matches_the_auth_session(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client, "ada")
    current = await client.get(f"{SESSIONS}/current", headers=signed.headers)
    described = await client.get("/api/v1/auth/session", headers=signed.headers)
    assert current.json()["is_current"] is True
    assert current.json() == described.json()["session"]
    assert described.json()["user"]["username"] == "ada"


async def test_sessions_refresh_rotates_like_auth_refresh(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client, "ada")
    response = await client.post(
        f"{SESSIONS}/refresh", json={"refresh_token": signed.refresh_token}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["refresh_token"] != signed.refresh_token
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    reused = await client.post(f"{SESSIONS}/refresh", json={"refreshToken": signed.refresh_token})
    assert reused.status_code == 401


async def test_revoking_a_device_ends_it_on_its_next_request(
    client: httpx.AsyncClient, state: AppState
) -> None:
    here, there, _ = await three_devices(client, state)
    assert (await client.get("/api/v1/auth/me", headers=there.headers)).status_code == 200
    target = await session_id(client, there)
    response = await client.delete(f"{SESSIONS}/{target}", headers=here.headers)
    assert response.status_code == 200
    assert response.json() == {"status": "deleted"}
    me = await client.get("/api/v1/auth/me", headers=there.headers)
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "invalid_token"
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": there.refresh_token}
    )
    assert refreshed.status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=here.headers)).status_code == 200


async def test_revoking_an_already_revoked_session_answers_the_same(
    client: httpx.AsyncClient, state: AppState
) -> None:
    here, there, _ = await three_devices(client, state)
    target = await session_id(client, there)
    await client.delete(f"{SESSIONS}/{target}", headers=here.headers)
    again = await client.delete(f"{SESSIONS}/{target}", headers=here.headers)
    assert again.status_code == 200
    assert again.json() == {"status": "deleted"}


async def test_revoking_the_current_session_signs_this_device_out(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client, "ada")
    current = await session_id(client, signed)
    response = await client.delete(f"{SESSIONS}/{current}", headers=signed.headers)
    assert response.status_code == 200
    cleared = {c.split("=", 1)[0] for c in response.headers.get_list("set-cookie")}
    assert cleared == {"refresh_token", "access_token", "csrf_token"}
    assert (await client.get("/api/v1/auth/me", headers=signed.headers)).status_code == 401


async def test_another_users_session_is_not_found(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    bob = await create_and_login(state, client, "bob")
    target = await session_id(client, bob)
    response = await client.delete(f"{SESSIONS}/{target}", headers=ada.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert (await client.get("/api/v1/auth/me", headers=bob.headers)).status_code == 200


async def test_unknown_session_is_not_found(client: httpx.AsyncClient, state: AppState) -> None:
    signed = await create_and_login(state, client, "ada")
    response = await client.delete(f"{SESSIONS}/{uuid.uuid4()}", headers=signed.headers)
    assert response.status_code == 404


async def test_malformed_session_id_is_a_validation_error(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client, "ada")
    response = await client.delete(f"{SESSIONS}/not-a-uuid", headers=signed.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "session_id"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", SESSIONS),
        ("GET", f"{SESSIONS}/current"),
        ("DELETE", f"{SESSIONS}/{uuid.UUID(int=1)}"),
    ],
)
async def test_sessions_need_a_signed_in_user(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


async def test_api_key_has_no_current_session(client: httpx.AsyncClient, state: AppState) -> None:
    signed = await create_and_login(state, client, "ada")
    key = await create_api_key(client, signed)
    response = await client.get(f"{SESSIONS}/current", headers={"X-API-Key": key["key"]})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
