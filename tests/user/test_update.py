"""`PUT /users/{id}`: an admin changes an account [003]; what it changes about what the user may
do applies from their very next request."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cinesonic.models.activity import Activity
from cinesonic.state import AppState
from tests.fixtures.users import (
    SignedIn,
    assign_role,
    create_and_login,
    create_role,
    create_user,
)


async def update(
    client: httpx.AsyncClient, actor: SignedIn, user_id: str, **fields: Any
) -> httpx.Response:
    return await client.put(f"/api/v1/users/{user_id}", json=fields, headers=actor.headers)


async def test_admin_changes_profile_fields(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await update(
        client, admin, member.user_id, displayName="Bobby", bio="Plays bass.", username="Bobby"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["display_name"], body["bio"], body["username"]) == (
        "Bobby",
        "Plays bass.",
        "Bobby",
    )


async def test_fields_left_out_stay(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await update(client, admin, member.user_id, display_name="Bobby")
    response = await update(client, admin, member.user_id, requires_password_change=True)
    assert response.json()["display_name"] == "Bobby"
    assert response.json()["requires_password_change"] is True


async def test_new_email_set_by_admin_is_unverified(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await update(client, admin, member.user_id, email="bob@new.example")
    assert response.json()["email"] == "bob@new.example"
    assert response.json()["is_email_verified"] is False


async def test_granted_role_applies_on_next_request(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 403
    response = await update(client, admin, member.user_id, role="moderator")
    assert response.json()["roles"] == ["moderator"]
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 200


async def test_removed_role_applies_on_next_request(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn
) -> None:
    moderator = await create_and_login(state, client, "mod", role="moderator")
    assert (await client.get("/api/v1/users", headers=moderator.headers)).status_code == 200
    await update(client, admin, moderator.user_id, roles=["user"])
    assert (await client.get("/api/v1/users", headers=moderator.headers)).status_code == 403


async def test_suspended_user_live_token_is_refused_at_once(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    assert (await client.get("/api/v1/users/me", headers=member.headers)).status_code == 200
    response = await update(client, admin, member.user_id, status="suspended")
    assert response.json()["status"] == "suspended"
    refused = await client.get("/api/v1/users/me", headers=member.headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "account_suspended"


async def test_suspension_ends_the_users_sessions(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await update(client, admin, member.user_id, status="suspended")
    await update(client, admin, member.user_id, status="active")
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": member.refresh_token}
    )
    assert refresh.status_code == 401
    me = await client.get("/api/v1/users/me", headers=member.headers)
    assert me.status_code == 401


async def test_deactivated_user_is_refused_at_once(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await update(client, admin, member.user_id, status="inactive")
    refused = await client.get("/api/v1/users/me", headers=member.headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "account_inactive"


async def test_admin_cannot_suspend_themselves(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn
) -> None:
    await create_user(state, "other-admin", role="admin")
    response = await update(client, admin, admin.user_id, status="suspended")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "self_lockout"


async def test_last_active_admin_cannot_be_demoted(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await update(client, admin, admin.user_id, role="user")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_admin"
    me = await client.get("/api/v1/users/me", headers=admin.headers)
    assert me.json()["roles"] == ["admin"]


async def test_suspended_admins_do_not_count_as_remaining_administrators(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn
) -> None:
    other = await create_user(state, "other-admin", role="admin")
    await update(client, admin, str(other.id), status="suspended")
    response = await update(client, admin, admin.user_id, role="user")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_admin"


async def test_admin_may_step_down_while_another_remains(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn
) -> None:
    await create_user(state, "other-admin", role="admin")
    response = await update(client, admin, admin.user_id, role="user")
    assert response.status_code == 200
    assert (await client.get("/api/v1/users", headers=admin.headers)).status_code == 403


async def test_update_refuses_taken_username_case_insensitively(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await update(client, admin, member.user_id, username="ROOT")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "username_taken"


async def test_update_refuses_taken_email(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await update(client, admin, member.user_id, email="Root@Example.com")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"


@pytest.mark.parametrize(
    "fields",
    [{"status": None}, {"status": "banned"}, {"username": "no spaces"}, {"roles": []}],
)
async def test_update_refuses_invalid_fields(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn, fields: dict[str, Any]
) -> None:
    response = await update(client, admin, member.user_id, **fields)
    assert response.status_code == 422


async def test_update_refuses_unknown_role(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await update(client, admin, member.user_id, role="wizard")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_role"


async def test_updating_unknown_account_is_404(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await update(client, admin, str(uuid.uuid4()), status="active")
    assert response.status_code == 404


async def test_update_needs_users_manage(
    client: httpx.AsyncClient, state: AppState, member: SignedIn
) -> None:
    moderator = await create_and_login(state, client, "mod", role="moderator")
    response = await update(client, moderator, member.user_id, status="suspended")
    assert response.status_code == 403


async def test_account_manager_cannot_change_an_administrator(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await create_role(client, admin, "support", ["users.manage"])
    await assign_role(client, admin, member.user_id, "support")
    response = await update(client, member, admin.user_id, status="suspended")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "administrator_protected"


async def test_update_records_audit_entry(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn, member: SignedIn
) -> None:
    await update(client, admin, member.user_id, status="suspended", display_name="B")
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "user.update"))
    assert entry is not None
    assert entry.resource_id == member.user_id
    assert entry.actor_name == "root"
    assert entry.details == {"changed": ["display_name", "status"], "status": "suspended"}


async def test_admin_users_path_is_a_hidden_alias_of_update(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await client.put(
        f"/api/v1/admin/users/{member.user_id}",
        json={"role": "MODERATOR", "status": "active", "requiresPasswordChange": True},
        headers=admin.headers,
    )
    assert response.status_code == 200
    assert response.json()["roles"] == ["moderator"]
    assert response.json()["requires_password_change"] is True
