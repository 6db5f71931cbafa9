"""`POST /users`: an admin creates an account."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cinesonic.models.activity import Activity
from cinesonic.state import AppState
from tests.fixtures.users import (
    PASSWORD,
    SignedIn,
    assign_role,
    create_and_login,
    create_role,
    login,
)

USERS = "/api/v1/users"


def account(username: str = "carol", **fields: Any) -> dict[str, Any]:
    return {
        "username": username,
        "email": f"{username}@example.com",
        "password": PASSWORD,
        **fields,
    }


async def test_admin_creates_account_that_can_sign_in(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.post(USERS, json=account(), headers=admin.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/users/{body['id']}"
    assert body["roles"] == ["user"]
    assert body["status"] == "active"
    assert (await login(client, "carol")).user_id == body["id"]


async def test_create_accepts_seed_spellings(client: httpx.AsyncClient, admin: SignedIn) -> None:
    fields = {"role": "MODERATOR", "displayName": "Carol C.", "requiresPasswordChange": True}
    response = await client.post(USERS, json=account(**fields), headers=admin.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["roles"], body["display_name"], body["requires_password_change"]) == (
        ["moderator"],
        "Carol C.",
        True,
    )


async def test_create_gives_several_roles(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.post(
        USERS, json=account(roles=["user", "moderator", "user"]), headers=admin.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["roles"] == ["moderator", "user"]


async def test_create_records_audit_entry(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn
) -> None:
    response = await client.post(USERS, json=account(), headers=admin.headers)
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "user.create"))
    assert entry is not None
    assert (str(entry.user_id), entry.resource_type, entry.resource_id) == (
        admin.user_id,
        "user",
        response.json()["id"],
    )
    assert entry.ip_address == "127.0.0.1"


@pytest.mark.parametrize("taken", ["BOB", "bob"])
async def test_create_refuses_taken_username_case_insensitively(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn, taken: str
) -> None:
    body = account(taken, email="other@example.com")
    response = await client.post(USERS, json=body, headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "username_taken"


async def test_create_refuses_taken_email_case_insensitively(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await client.post(
        USERS, json=account(email="BOB@Example.com"), headers=admin.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"


async def test_create_applies_password_policy(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.post(USERS, json=account(password="short"), headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "password_policy"


async def test_create_refuses_unknown_role(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.post(USERS, json=account(role="wizard"), headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_role"


@pytest.mark.parametrize(
    "fields",
    [
        {"username": "a b"},
        {"username": "x"},
        {"email": "not-an-address"},
        {"status": "banned"},
        {"role": "user", "roles": ["user"]},
        {"roles": []},
    ],
)
async def test_create_refuses_invalid_fields(
    client: httpx.AsyncClient, admin: SignedIn, fields: dict[str, Any]
) -> None:
    response = await client.post(USERS, json={**account(), **fields}, headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_create_needs_users_manage(client: httpx.AsyncClient, state: AppState) -> None:
    moderator = await create_and_login(state, client, "mod", role="moderator")
    response = await client.post(USERS, json=account(), headers=moderator.headers)
    assert response.status_code == 403


async def test_account_manager_cannot_create_administrators(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await create_role(client, admin, "support", ["users.manage", "users.read"])
    await assign_role(client, admin, member.user_id, "support")
    response = await client.post(USERS, json=account(role="admin"), headers=member.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "privilege_escalation"
