"""`/apikeys` routes: create (secret once), list, read, revoke — and every refusal."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from cinesonic.apikey import service as apikey_service
from cinesonic.models.activity import Activity
from cinesonic.models.apikey import ApiKey
from cinesonic.state import AppState
from tests.fixtures.users import create_and_login, create_api_key

KEYS = "/api/v1/apikeys"


def _error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


# ---------------------------------------------------------------- create


async def test_create_returns_the_secret_once_with_location(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    response = await client.post(
        KEYS, json={"name": "  player  ", "scopes": ["music.stream"]}, headers=ada.headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{KEYS}/{body['id']}"
    assert body["name"] == "player"
    assert body["user_id"] == ada.user_id
    assert body["scopes"] == ["music.stream"]
    assert body["is_active"] is True
    assert body["expires_at"] is None
    assert body["key"].startswith(body["prefix"] + "_")
    assert body["prefix"].startswith("csk_") and len(body["prefix"]) == 12
    read = await client.get(response.headers["location"], headers=ada.headers)
    assert read.status_code == 200
    assert "key" not in read.json()


async def test_key_is_stored_only_as_its_sha256(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    async with state.db.session() as session:
        row = await session.get(ApiKey, uuid.UUID(created["id"]))
    assert row is not None
    assert row.key_hash == hashlib.sha256(created["key"].encode()).hexdigest()
    assert created["key"] not in (row.prefix, row.name, row.key_hash)


async def test_create_without_scopes_acts_with_owner_permissions(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    assert created["scopes"] is None


async def test_create_with_expires_in_days_sets_the_expiry(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada, expires_in_days=7)
    expires_at = datetime.fromisoformat(created["expires_at"])
    expected = datetime.now(UTC) + timedelta(days=7)
    assert abs((expires_at - expected).total_seconds()) < 60


async def test_create_with_expires_at_keeps_it(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    when = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    created = await create_api_key(client, ada, expires_at=when.isoformat())
    assert datetime.fromisoformat(created["expires_at"]) == when


async def test_create_records_activity_without_the_secret(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada, scopes=["music.read"])
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "apikey.create"))
    assert entry is not None
    assert entry.resource_type == "api_key"
    assert entry.resource_id == created["id"]
    assert str(entry.user_id) == ada.user_id
    assert entry.details["scopes"] == ["music.read"]
    assert created["key"] not in str(entry.details)


async def test_create_requires_authentication(client: httpx.AsyncClient) -> None:
    response = await client.post(KEYS, json={"name": "x"})
    assert response.status_code == 401
    assert _error_code(response) == "authentication_required"


async def test_create_with_unknown_permission_is_422(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    response = await client.post(
        KEYS, json={"name": "x", "scopes": ["music.read", "nope.never"]}, headers=ada.headers
    )
    assert response.status_code == 422
    assert _error_code(response) == "unknown_permission"
    assert response.json()["error"]["details"][0]["scopes"] == ["nope.never"]


async def test_create_with_scopes_the_owner_lacks_is_422_naming_them(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    response = await client.post(
        KEYS,
        json={"name": "x", "scopes": ["music.read", "users.manage", "activity.read"]},
        headers=ada.headers,
    )
    assert response.status_code == 422
    assert _error_code(response) == "scope_not_held"
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == "scopes"
    assert detail["scopes"] == ["activity.read", "users.manage"]


async def test_admin_may_scope_a_key_to_any_permission(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await create_and_login(state, client, "root", role="admin")
    created = await create_api_key(client, root, scopes=["users.manage", "activity.read"])
    assert created["scopes"] == ["activity.read", "users.manage"]


async def test_create_with_empty_scopes_is_422(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    response = await client.post(KEYS, json={"name": "x", "scopes": []}, headers=ada.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "scopes"


async def test_create_with_expiry_in_the_past_is_422(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = await client.post(KEYS, json={"name": "x", "expires_at": past}, headers=ada.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "expires_at"


async def test_create_with_both_expiry_fields_is_422(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = await client.post(
        KEYS,
        json={"name": "x", "expires_at": future, "expires_in_days": 3},
        headers=ada.headers,
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 129}, {"name": "x", "expires_in_days": 0}],
)
async def test_create_with_invalid_fields_is_422(
    client: httpx.AsyncClient, state: AppState, body: dict[str, object]
) -> None:
    ada = await create_and_login(state, client)
    response = await client.post(KEYS, json=body, headers=ada.headers)
    assert response.status_code == 422
    assert _error_code(response) == "validation_error"


async def test_create_beyond_the_active_key_cap_is_409(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    for n in range(apikey_service.MAX_ACTIVE_KEYS_PER_USER):
        await create_api_key(client, ada, f"key-{n}")
    response = await client.post(KEYS, json={"name": "one too many"}, headers=ada.headers)
    assert response.status_code == 409
    assert _error_code(response) == "too_many_api_keys"
    listed = await client.get(KEYS, params={"page_size": 1}, headers=ada.headers)
    assert listed.json()["pagination"]["total"] == apikey_service.MAX_ACTIVE_KEYS_PER_USER


async def test_revoked_keys_do_not_count_against_the_cap(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    first = await create_api_key(client, ada, "first")
    for n in range(apikey_service.MAX_ACTIVE_KEYS_PER_USER - 1):
        await create_api_key(client, ada, f"key-{n}")
    await client.delete(f"{KEYS}/{first['id']}", headers=ada.headers)
    response = await client.post(KEYS, json={"name": "replacement"}, headers=ada.headers)
    assert response.status_code == 201


async def test_key_made_with_a_scoped_key_cannot_exceed_it(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    scoped = await create_api_key(client, ada, scopes=["music.read"])
    via_key = {"X-API-Key": scoped["key"]}
    unscoped = await client.post(KEYS, json={"name": "child"}, headers=via_key)
    assert unscoped.status_code == 201
    assert unscoped.json()["scopes"] == ["music.read"]
    wider = await client.post(
        KEYS, json={"name": "wider", "scopes": ["music.stream"]}, headers=via_key
    )
    assert wider.status_code == 422
    assert _error_code(wider) == "scope_not_held"


# ---------------------------------------------------------------- list


async def test_list_shows_own_keys_newest_first_without_secrets(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    bob = await create_and_login(state, client, "bob")
    await create_api_key(client, ada, "older")
    await create_api_key(client, ada, "newer")
    await create_api_key(client, bob, "bobs")
    response = await client.get(KEYS, headers=ada.headers)
    assert response.status_code == 200
    body = response.json()
    assert [k["name"] for k in body["data"]] == ["newer", "older"]
    assert body["pagination"]["total"] == 2
    first = body["data"][0]
    assert "key" not in first and "key_hash" not in first
    for field in ("last_used_at", "last_used_ip", "expires_at", "revoked_at", "is_active"):
        assert field in first


async def test_list_sorts_by_name(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    for name in ("b", "c", "a"):
        await create_api_key(client, ada, name)
    response = await client.get(KEYS, params={"sort": "name"}, headers=ada.headers)
    assert [k["name"] for k in response.json()["data"]] == ["a", "b", "c"]


async def test_list_with_unknown_sort_is_422(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    response = await client.get(KEYS, params={"sort": "key_hash"}, headers=ada.headers)
    assert response.status_code == 422


async def test_list_filters_active_and_inactive_keys(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    kept = await create_api_key(client, ada, "kept")
    gone = await create_api_key(client, ada, "gone")
    await client.delete(f"{KEYS}/{gone['id']}", headers=ada.headers)
    active = await client.get(KEYS, params={"active": "true"}, headers=ada.headers)
    inactive = await client.get(KEYS, params={"active": "false"}, headers=ada.headers)
    assert [k["id"] for k in active.json()["data"]] == [kept["id"]]
    assert [k["id"] for k in inactive.json()["data"]] == [gone["id"]]
    assert inactive.json()["data"][0]["is_active"] is False


async def test_list_requires_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get(KEYS)
    assert response.status_code == 401


async def test_list_of_another_users_keys_without_manage_is_403(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    bob = await create_and_login(state, client, "bob")
    response = await client.get(KEYS, params={"user_id": bob.user_id}, headers=ada.headers)
    assert response.status_code == 403
    assert _error_code(response) == "forbidden"


async def test_list_of_all_keys_without_manage_is_403(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    response = await client.get(KEYS, params={"all": "true"}, headers=ada.headers)
    assert response.status_code == 403


async def test_list_of_own_keys_by_user_id_needs_no_manage(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    await create_api_key(client, ada)
    response = await client.get(KEYS, params={"user_id": ada.user_id}, headers=ada.headers)
    assert response.status_code == 200
    assert response.json()["pagination"]["total"] == 1


async def test_manager_lists_one_users_keys(client: httpx.AsyncClient, state: AppState) -> None:
    root = await create_and_login(state, client, "root", role="admin")
    ada = await create_and_login(state, client)
    await create_api_key(client, ada, "adas")
    await create_api_key(client, root, "roots")
    response = await client.get(KEYS, params={"user_id": ada.user_id}, headers=root.headers)
    assert response.status_code == 200
    assert [k["name"] for k in response.json()["data"]] == ["adas"]


async def test_manager_lists_every_key(client: httpx.AsyncClient, state: AppState) -> None:
    root = await create_and_login(state, client, "root", role="admin")
    ada = await create_and_login(state, client)
    await create_api_key(client, ada, "adas")
    await create_api_key(client, root, "roots")
    response = await client.get(KEYS, params={"all": "true"}, headers=root.headers)
    assert sorted(k["name"] for k in response.json()["data"]) == ["adas", "roots"]


async def test_manager_listing_all_with_user_id_gets_that_users_keys(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await create_and_login(state, client, "root", role="admin")
    ada = await create_and_login(state, client)
    await create_api_key(client, ada, "adas")
    await create_api_key(client, root, "roots")
    response = await client.get(
        KEYS, params={"all": "true", "user_id": ada.user_id}, headers=root.headers
    )
    assert [k["name"] for k in response.json()["data"]] == ["adas"]


async def test_list_with_malformed_user_id_is_422(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    response = await client.get(KEYS, params={"user_id": "not-a-uuid"}, headers=ada.headers)
    assert response.status_code == 422


# ---------------------------------------------------------------- read


async def test_read_own_key(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada, "mine")
    response = await client.get(f"{KEYS}/{created['id']}", headers=ada.headers)
    assert response.status_code == 200
    assert response.json()["name"] == "mine"


async def test_read_another_users_key_is_404(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    bob = await create_and_login(state, client, "bob")
    bobs = await create_api_key(client, bob)
    response = await client.get(f"{KEYS}/{bobs['id']}", headers=ada.headers)
    assert response.status_code == 404
    assert _error_code(response) == "not_found"


async def test_manager_reads_any_key(client: httpx.AsyncClient, state: AppState) -> None:
    root = await create_and_login(state, client, "root", role="admin")
    ada = await create_and_login(state, client)
    adas = await create_api_key(client, ada)
    response = await client.get(f"{KEYS}/{adas['id']}", headers=root.headers)
    assert response.status_code == 200
    assert response.json()["user_id"] == ada.user_id


async def test_read_unknown_key_is_404(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    response = await client.get(f"{KEYS}/{uuid.uuid4()}", headers=ada.headers)
    assert response.status_code == 404


async def test_read_with_malformed_id_is_422(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    response = await client.get(f"{KEYS}/nope", headers=ada.headers)
    assert response.status_code == 422


async def test_read_requires_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{KEYS}/{uuid.uuid4()}")
    assert response.status_code == 401


# ---------------------------------------------------------------- revoke


async def test_revoke_keeps_the_row_and_marks_it_revoked(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    response = await client.delete(f"{KEYS}/{created['id']}", headers=ada.headers)
    assert response.status_code == 200
    assert response.json() == {"status": "deleted"}
    read = (await client.get(f"{KEYS}/{created['id']}", headers=ada.headers)).json()
    assert read["revoked_at"] is not None
    assert read["is_active"] is False


async def test_revoke_records_activity(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    await client.delete(f"{KEYS}/{created['id']}", headers=ada.headers)
    async with state.db.session() as session:
        entries = (
            await session.scalars(select(Activity).where(Activity.action == "apikey.revoke"))
        ).all()
    assert [(e.resource_type, e.resource_id) for e in entries] == [("api_key", created["id"])]


async def test_revoking_twice_answers_deleted_and_records_once(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    created = await create_api_key(client, ada)
    first = await client.delete(f"{KEYS}/{created['id']}", headers=ada.headers)
    second = await client.delete(f"{KEYS}/{created['id']}", headers=ada.headers)
    assert (first.status_code, second.status_code) == (200, 200)
    async with state.db.session() as session:
        entries = (
            await session.scalars(select(Activity).where(Activity.action == "apikey.revoke"))
        ).all()
    assert len(entries) == 1


async def test_revoke_another_users_key_is_404_and_leaves_it_working(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client)
    bob = await create_and_login(state, client, "bob")
    bobs = await create_api_key(client, bob)
    response = await client.delete(f"{KEYS}/{bobs['id']}", headers=ada.headers)
    assert response.status_code == 404
    me = await client.get("/api/v1/auth/me", headers={"X-API-Key": bobs["key"]})
    assert me.status_code == 200


async def test_manager_revokes_any_key_and_the_entry_names_the_owner(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await create_and_login(state, client, "root", role="admin")
    ada = await create_and_login(state, client)
    adas = await create_api_key(client, ada)
    response = await client.delete(f"{KEYS}/{adas['id']}", headers=root.headers)
    assert response.status_code == 200
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "apikey.revoke"))
    assert entry is not None
    assert str(entry.user_id) == root.user_id
    assert entry.details["owner_id"] == ada.user_id


async def test_revoke_unknown_key_is_404(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    response = await client.delete(f"{KEYS}/{uuid.uuid4()}", headers=ada.headers)
    assert response.status_code == 404


async def test_revoke_with_malformed_id_is_422(client: httpx.AsyncClient, state: AppState) -> None:
    ada = await create_and_login(state, client)
    response = await client.delete(f"{KEYS}/123", headers=ada.headers)
    assert response.status_code == 422


async def test_revoke_requires_authentication(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{KEYS}/{uuid.uuid4()}")
    assert response.status_code == 401
