"""`GET /users`: filters, search, sorts, paging, activity counts and the summary."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cinesonic.models.activity import Activity
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login, create_api_key, create_user, login

USERS = "/api/v1/users"


async def add_user(
    client: httpx.AsyncClient, admin: SignedIn, username: str, **fields: Any
) -> dict[str, Any]:
    body = {"username": username, "email": f"{username}@example.com", "password": "Pass-word-1"}
    response = await client.post(USERS, json={**body, **fields}, headers=admin.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def usernames(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["username"] for item in response.json()["data"]]


async def test_list_answers_page_of_accounts_sorted_by_username(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await client.get(USERS, headers=admin.headers)
    assert usernames(response) == ["bob", "root"]
    assert response.json()["pagination"] == {
        "page": 1,
        "page_size": 50,
        "offset": 0,
        "total": 2,
        "total_pages": 1,
    }


async def test_list_items_carry_activity_counts(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn
) -> None:
    await create_user(state, "bob")
    bob = await login(client, "bob")
    await login(client, "bob")
    ended = await login(client, "bob")
    await client.post("/api/v1/auth/logout", headers=ended.headers)
    await create_api_key(client, bob)
    async with state.db.session() as session:
        events = await session.scalar(
            select(func.count())
            .select_from(Activity)
            .where(Activity.user_id == uuid.UUID(bob.user_id))
        )
    response = await client.get(USERS, params={"q": "bob"}, headers=admin.headers)
    [item] = response.json()["data"]
    assert item["activities"] == {"sessions_active": 2, "api_keys": 1, "activity_events": events}


async def test_list_summary_counts_every_account_whatever_the_filters(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    await add_user(client, admin, "bob", status="suspended")
    await add_user(client, admin, "carol", status="inactive")
    await add_user(client, admin, "dave", role="moderator")
    response = await client.get(USERS, params={"status": "suspended"}, headers=admin.headers)
    assert usernames(response) == ["bob"]
    assert response.json()["summary"] == {
        "total_users": 4,
        "active_users": 2,
        "suspended_users": 1,
        "inactive_users": 1,
        "by_role": {"admin": 1, "guest": 0, "moderator": 1, "user": 2},
    }


async def test_list_summary_follows_account_changes_at_once(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    bob = await add_user(client, admin, "bob")
    before = await client.get(USERS, headers=admin.headers)
    assert before.json()["summary"]["suspended_users"] == 0
    await client.put(f"{USERS}/{bob['id']}", json={"status": "suspended"}, headers=admin.headers)
    after = await client.get(USERS, headers=admin.headers)
    assert after.json()["summary"]["suspended_users"] == 1
    assert after.json()["summary"]["active_users"] == 1


async def test_list_filters_by_role_case_insensitively(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    await add_user(client, admin, "bob")
    await add_user(client, admin, "carol", roles=["moderator", "user"])
    response = await client.get(USERS, params={"role": "MODERATOR"}, headers=admin.headers)
    assert usernames(response) == ["carol"]
    assert response.json()["pagination"]["total"] == 1


async def test_list_filter_by_unknown_role_is_empty(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.get(USERS, params={"role": "nobody"}, headers=admin.headers)
    assert usernames(response) == []


async def test_list_searches_username_email_and_display_name_case_insensitively(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    await add_user(client, admin, "alice")
    await add_user(client, admin, "bob", display_name="Robert Paulson")
    await add_user(client, admin, "carol", email="carol@rob.example")
    await add_user(client, admin, "Robin")
    response = await client.get(USERS, params={"q": "ROB"}, headers=admin.headers)
    assert usernames(response) == ["bob", "carol", "Robin"]


async def test_list_search_takes_wildcards_literally(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    await add_user(client, admin, "under_score")
    await add_user(client, admin, "plain")
    assert usernames(await client.get(USERS, params={"q": "_"}, headers=admin.headers)) == [
        "under_score"
    ]
    assert usernames(await client.get(USERS, params={"q": "%"}, headers=admin.headers)) == []


async def test_list_sorts_by_latest_sign_in_first(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn
) -> None:
    await create_and_login(state, client, "bob")
    await create_and_login(state, client, "carol")
    response = await client.get(USERS, params={"sort": "-last_login_at"}, headers=admin.headers)
    assert usernames(response) == ["carol", "bob", "root"]


async def test_list_sorts_by_email_with_order_parameter(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    await add_user(client, admin, "amy", email="zz@example.com")
    await add_user(client, admin, "zed", email="aa@example.com")
    response = await client.get(
        USERS, params={"sort": "email", "order": "desc"}, headers=admin.headers
    )
    assert usernames(response) == ["amy", "root", "zed"]


async def test_list_sorts_by_creation(client: httpx.AsyncClient, admin: SignedIn) -> None:
    await add_user(client, admin, "zed")
    await add_user(client, admin, "amy")
    response = await client.get(USERS, params={"sort": "-created_at"}, headers=admin.headers)
    assert usernames(response) == ["amy", "zed", "root"]


async def test_list_pages_through_accounts(client: httpx.AsyncClient, admin: SignedIn) -> None:
    for name in ("amy", "bea", "cid", "dan"):
        await add_user(client, admin, name)
    response = await client.get(USERS, params={"page": 2, "pageSize": 2}, headers=admin.headers)
    assert usernames(response) == ["cid", "dan"]
    assert response.json()["pagination"]["total_pages"] == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "password_hash"}, "sort"),
        ({"status": "banned"}, "status"),
        ({"page_size": 201}, "page_size"),
        ({"q": "x" * 129}, "q"),
    ],
)
async def test_list_refuses_invalid_query(
    client: httpx.AsyncClient, admin: SignedIn, params: dict[str, Any], field: str
) -> None:
    response = await client.get(USERS, params=params, headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


async def test_moderator_may_list_accounts(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn
) -> None:
    moderator = await create_and_login(state, client, "mod", role="moderator")
    assert (await client.get(USERS, headers=moderator.headers)).status_code == 200


async def test_list_refused_without_users_read(client: httpx.AsyncClient, member: SignedIn) -> None:
    response = await client.get(USERS, headers=member.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_list_requires_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get(USERS)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


async def test_admin_users_path_is_a_hidden_alias_of_the_list(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.get("/api/v1/admin/users", headers=admin.headers)
    assert usernames(response) == ["root"]
    assert "summary" in response.json()
    spec = (await client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/admin/users" not in spec["paths"]


async def test_list_reflects_a_new_session_at_once(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn
) -> None:
    await create_user(state, "bob")
    first = await client.get(USERS, params={"q": "bob"}, headers=admin.headers)
    assert first.json()["data"][0]["activities"]["sessions_active"] == 0
    await login(client, "bob")
    again = await client.get(USERS, params={"q": "bob"}, headers=admin.headers)
    assert again.json()["data"][0]["activities"]["sessions_active"] == 1


async def test_committed_writes_move_the_table_versions_and_rollbacks_do_not(
    state: AppState,
) -> None:
    tables = ("user", "user_role", "role", "activity")
    before = state.db.table_versions(tables)
    await create_user(state, "bob")
    after = state.db.table_versions(tables)
    assert after[0] > before[0] and after[1] > before[1] and after[2] == before[2]
    with pytest.raises(RuntimeError):
        async with state.db.session() as session:
            session.add(Activity(action="abandoned"))
            await session.flush()
            raise RuntimeError("abandon")
    assert state.db.table_versions(tables) == after
