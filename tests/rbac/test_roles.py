"""`/rbac/roles[/{name}]` and the permission catalogue."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cinesonic.models.activity import Activity
from cinesonic.rbac.permissions import CATALOGUE
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, assign_role, create_role

ROLES = "/api/v1/rbac/roles"


async def test_any_signed_in_user_reads_the_permission_catalogue(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    response = await client.get("/api/v1/rbac/permissions", headers=member.headers)
    assert response.status_code == 200
    assert {p["name"]: p["description"] for p in response.json()["data"]} == CATALOGUE


async def test_permission_catalogue_requires_sign_in(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/rbac/permissions")).status_code == 401


async def test_roles_list_with_permissions_and_user_counts(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await client.get(ROLES, headers=admin.headers)
    assert response.status_code == 200
    roles = {role["name"]: role for role in response.json()["data"]}
    assert list(roles) == ["admin", "guest", "moderator", "user"]
    assert roles["admin"]["grants_all"] is True
    assert roles["admin"]["permissions"] == sorted(CATALOGUE)
    assert "users.read" in roles["moderator"]["permissions"]
    assert "users.read" not in roles["user"]["permissions"]
    assert {name: role["user_count"] for name, role in roles.items()} == {
        "admin": 1,
        "guest": 0,
        "moderator": 0,
        "user": 1,
    }
    assert response.json()["pagination"]["total"] == 4


async def test_create_role(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.post(
        ROLES,
        json={
            "name": "Librarian",
            "description": "Looks after libraries.",
            "permissions": ["library.manage", "library.read", "library.read"],
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/rbac/roles/librarian"
    body = response.json()
    assert (body["name"], body["is_builtin"], body["grants_all"], body["user_count"]) == (
        "librarian",
        False,
        False,
        0,
    )
    assert body["permissions"] == ["library.manage", "library.read"]
    read = await client.get(response.headers["location"], headers=admin.headers)
    assert read.json()["description"] == "Looks after libraries."


async def test_create_role_records_audit_entry(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn
) -> None:
    await create_role(client, admin, "librarian", ["library.manage"])
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "rbac.role_create"))
    assert entry is not None
    assert entry.details == {"name": "librarian", "permissions": ["library.manage"]}


@pytest.mark.parametrize("name", ["librarian", "LIBRARIAN", "user"])
async def test_create_role_refuses_taken_name_case_insensitively(
    client: httpx.AsyncClient, admin: SignedIn, name: str
) -> None:
    await create_role(client, admin, "librarian", [])
    response = await client.post(ROLES, json={"name": name}, headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "role_name_taken"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "librarian", "permissions": ["library.fly"]},
        {"name": "x"},
        {"name": "has space"},
        {"name": "9lives"},
        {"permissions": []},
    ],
)
async def test_create_role_refuses_invalid_body(
    client: httpx.AsyncClient, admin: SignedIn, body: dict[str, Any]
) -> None:
    response = await client.post(ROLES, json=body, headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_role_manager_cannot_grant_permissions_they_lack(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await create_role(client, admin, "role-admin", ["rbac.manage"])
    await assign_role(client, admin, member.user_id, "role-admin")
    response = await client.post(
        ROLES, json={"name": "sneaky", "permissions": ["users.manage"]}, headers=member.headers
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "privilege_escalation"
    assert response.json()["error"]["details"] == {"missing_permissions": ["users.manage"]}


async def test_reading_unknown_role_is_404(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.get(f"{ROLES}/wizard", headers=admin.headers)
    assert response.status_code == 404


async def test_rename_custom_role(client: httpx.AsyncClient, admin: SignedIn) -> None:
    await create_role(client, admin, "librarian", ["library.manage"])
    response = await client.put(
        f"{ROLES}/librarian",
        json={"name": "curator", "description": "Curates."},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["permissions"]) == (
        "curator",
        ["library.manage"],
    )
    assert (await client.get(f"{ROLES}/librarian", headers=admin.headers)).status_code == 404


async def test_rename_refuses_taken_name(client: httpx.AsyncClient, admin: SignedIn) -> None:
    await create_role(client, admin, "librarian", [])
    response = await client.put(f"{ROLES}/librarian", json={"name": "Guest"}, headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "role_name_taken"


async def test_builtin_role_keeps_its_name(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.put(f"{ROLES}/guest", json={"name": "visitor"}, headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "builtin_role"


async def test_builtin_role_description_may_change(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.put(
        f"{ROLES}/guest", json={"description": "Visitors."}, headers=admin.headers
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["description"]) == ("guest", "Visitors.")


async def test_admin_role_permissions_cannot_be_edited(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.put(
        f"{ROLES}/admin", json={"permissions": ["users.read"]}, headers=admin.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "grants_all_role"


async def test_builtin_role_cannot_be_deleted(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.delete(f"{ROLES}/guest", headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "builtin_role"


async def test_delete_unused_custom_role(client: httpx.AsyncClient, admin: SignedIn) -> None:
    await create_role(client, admin, "librarian", ["library.manage"])
    response = await client.delete(f"{ROLES}/librarian", headers=admin.headers)
    assert response.status_code == 200
    assert response.json() == {"status": "deleted", "users_affected": 0}
    assert (await client.get(f"{ROLES}/librarian", headers=admin.headers)).status_code == 404


async def test_delete_refuses_role_in_use(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await create_role(client, admin, "librarian", ["library.manage"])
    await assign_role(client, admin, member.user_id, "librarian")
    response = await client.delete(f"{ROLES}/librarian", headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "role_in_use"
    assert response.json()["error"]["details"] == {"user_count": 1}


async def test_forced_delete_leaves_nobody_without_a_role(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await create_role(client, admin, "librarian", ["library.manage"])
    await assign_role(client, admin, member.user_id, "librarian")
    carol = await client.post(
        "/api/v1/users",
        json={
            "username": "carol",
            "email": "carol@example.com",
            "password": "Pass-word-1",
            "role": "librarian",
        },
        headers=admin.headers,
    )
    response = await client.delete(
        f"{ROLES}/librarian", params={"force": "true"}, headers=admin.headers
    )
    assert response.json() == {"status": "deleted", "users_affected": 2}
    users = await client.get("/api/v1/users", headers=admin.headers)
    roles = {item["username"]: item["roles"] for item in users.json()["data"]}
    assert roles == {"bob": ["user"], "carol": ["user"], "root": ["admin"]}
    assert carol.status_code == 201


async def test_deleting_unknown_role_is_404(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.delete(f"{ROLES}/wizard", headers=admin.headers)
    assert response.status_code == 404
