"""`/rbac/users/{id}/roles[/{role}]`: who holds which role; changes apply on the next request."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from cinesonic.models.activity import Activity
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, assign_role, create_role, create_user


def roles_of(user_id: str) -> str:
    return f"/api/v1/rbac/users/{user_id}/roles"


async def test_read_user_roles_with_effective_permissions(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await create_role(client, admin, "auditor", ["activity.read", "music.read"])
    await assign_role(client, admin, member.user_id, "auditor")
    response = await client.get(roles_of(member.user_id), headers=admin.headers)
    assert response.status_code == 200
    body = response.json()
    assert [role["name"] for role in body["roles"]] == ["auditor", "user"]
    assert body["grants_all"] is False
    assert "activity.read" in body["permissions"]
    assert body["permissions"] == sorted(set(body["permissions"]))


async def test_assigned_role_applies_on_next_request(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 403
    response = await client.post(
        roles_of(member.user_id), json={"role": "Moderator"}, headers=admin.headers
    )
    assert response.status_code == 201
    assert response.headers["location"] == roles_of(member.user_id)
    assert [role["name"] for role in response.json()["roles"]] == ["moderator", "user"]
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 200


async def test_assignment_records_audit_entry(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn, member: SignedIn
) -> None:
    await assign_role(client, admin, member.user_id, "moderator")
    async with state.db.session() as session:
        entry = await session.scalar(
            select(Activity).where(Activity.action == "rbac.user_role_assign")
        )
    assert entry is not None
    assert (entry.resource_id, entry.details["role"]) == (member.user_id, "moderator")


async def test_assigning_a_held_role_is_409(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await client.post(
        roles_of(member.user_id), json={"role": "user"}, headers=admin.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "role_already_assigned"


async def test_assigning_an_unknown_role_is_422(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await client.post(
        roles_of(member.user_id), json={"role": "wizard"}, headers=admin.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_role"


async def test_assigning_to_an_unknown_user_is_404(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.post(
        roles_of(str(uuid.uuid4())), json={"role": "user"}, headers=admin.headers
    )
    assert response.status_code == 404


async def test_removed_role_applies_on_next_request(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await assign_role(client, admin, member.user_id, "moderator")
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 200
    response = await client.delete(f"{roles_of(member.user_id)}/moderator", headers=admin.headers)
    assert response.json() == {"status": "deleted"}
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 403


async def test_a_user_keeps_at_least_one_role(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await client.delete(f"{roles_of(member.user_id)}/user", headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_role"


async def test_last_active_admin_keeps_the_admin_role(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    await assign_role(client, admin, admin.user_id, "user")
    response = await client.delete(f"{roles_of(admin.user_id)}/admin", headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_admin"


async def test_admin_role_may_go_while_another_admin_remains(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn
) -> None:
    other = await create_user(state, "other-admin", role="admin")
    await assign_role(client, admin, str(other.id), "user")
    response = await client.delete(f"{roles_of(str(other.id))}/admin", headers=admin.headers)
    assert response.status_code == 200


async def test_removing_a_role_not_held_is_404(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    response = await client.delete(f"{roles_of(member.user_id)}/moderator", headers=admin.headers)
    assert response.status_code == 404


async def test_role_manager_cannot_hand_out_the_admin_role(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn, member: SignedIn
) -> None:
    carol = await create_user(state, "carol")
    await create_role(client, admin, "role-admin", ["rbac.manage"])
    await assign_role(client, admin, member.user_id, "role-admin")
    response = await client.post(
        roles_of(str(carol.id)), json={"role": "admin"}, headers=member.headers
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "privilege_escalation"


async def test_role_manager_cannot_change_an_administrators_roles(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await create_role(client, admin, "role-admin", ["rbac.manage"])
    await assign_role(client, admin, member.user_id, "role-admin")
    response = await client.post(
        roles_of(admin.user_id), json={"role": "role-admin"}, headers=member.headers
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "administrator_protected"


async def test_reading_roles_of_unknown_user_is_404(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.get(roles_of(str(uuid.uuid4())), headers=admin.headers)
    assert response.status_code == 404
