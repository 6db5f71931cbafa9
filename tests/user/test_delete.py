"""`DELETE /users/{id}`: the account goes with what belongs to it; its audit entries stay."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from cinesonic.models.activity import Activity
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login, create_api_key, login


async def test_delete_reports_what_was_removed(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await login(client, "bob")
    await client.post("/api/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    await create_api_key(client, member)
    response = await client.delete(f"/api/v1/users/{member.user_id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["id"]) == ("deleted", member.user_id)
    assert body["deleted_records"] == {
        "sessions": 2,
        "refresh_tokens": 3,
        "api_keys": 1,
        "one_time_tokens": 0,
    }
    assert body["deleted_at"]
    gone = await client.get(f"/api/v1/users/{member.user_id}", headers=admin.headers)
    assert gone.status_code == 404


async def test_deleted_users_token_is_refused_at_once(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    assert (await client.get("/api/v1/users/me", headers=member.headers)).status_code == 200
    await client.delete(f"/api/v1/users/{member.user_id}", headers=admin.headers)
    response = await client.get("/api/v1/users/me", headers=member.headers)
    assert response.status_code == 401


async def test_delete_keeps_the_users_audit_entries(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn, member: SignedIn
) -> None:
    await client.delete(f"/api/v1/users/{member.user_id}", headers=admin.headers)
    async with state.db.session() as session:
        kept = (await session.scalars(select(Activity).where(Activity.actor_name == "bob"))).all()
        deletion = await session.scalar(select(Activity).where(Activity.action == "user.delete"))
    assert [(entry.action, entry.user_id) for entry in kept] == [("auth.login", None)]
    assert deletion is not None
    assert (deletion.actor_name, deletion.resource_id) == ("root", member.user_id)


async def test_admin_cannot_delete_themselves(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.delete(f"/api/v1/users/{admin.user_id}", headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "self_lockout"


async def test_deleting_unknown_account_is_404(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.delete(f"/api/v1/users/{uuid.uuid4()}", headers=admin.headers)
    assert response.status_code == 404


async def test_delete_needs_users_manage(
    client: httpx.AsyncClient, state: AppState, member: SignedIn
) -> None:
    moderator = await create_and_login(state, client, "mod", role="moderator")
    response = await client.delete(f"/api/v1/users/{member.user_id}", headers=moderator.headers)
    assert response.status_code == 403


async def test_admin_users_path_is_a_hidden_alias_of_delete(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await client.delete(f"/api/v1/admin/users/{member.user_id}", headers=admin.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "deleted"
