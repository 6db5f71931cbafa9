"""`/rbac/roles/{name}/permissions`: changes reach every holder on their very next request."""

from __future__ import annotations

import httpx

from tests.fixtures.users import SignedIn, assign_role, create_role

ROLES = "/api/v1/rbac/roles"


async def test_read_role_permissions(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.get(f"{ROLES}/guest/permissions", headers=admin.headers)
    assert response.status_code == 200
    assert response.json() == {
        "role": "guest",
        "grants_all": False,
        "permissions": ["library.read", "music.read", "music.stream", "video.read", "video.stream"],
    }


async def test_replace_role_permissions(client: httpx.AsyncClient, admin: SignedIn) -> None:
    await create_role(client, admin, "librarian", ["library.manage", "library.read"])
    response = await client.put(
        f"{ROLES}/librarian/permissions",
        json={"permissions": ["library.read", "music.read"]},
        headers=admin.headers,
    )
    assert response.status_code == 200
    assert response.json()["permissions"] == ["library.read", "music.read"]


async def test_add_one_permission(client: httpx.AsyncClient, admin: SignedIn) -> None:
    await create_role(client, admin, "librarian", ["library.read"])
    response = await client.post(
        f"{ROLES}/librarian/permissions",
        json={"permission": "library.manage"},
        headers=admin.headers,
    )
    assert response.status_code == 200
    assert response.json()["permissions"] == ["library.manage", "library.read"]


async def test_adding_a_held_permission_changes_nothing(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    await create_role(client, admin, "librarian", ["library.read"])
    response = await client.post(
        f"{ROLES}/librarian/permissions",
        json={"permissions": ["library.read"]},
        headers=admin.headers,
    )
    assert response.json()["permissions"] == ["library.read"]


async def test_permission_added_to_held_role_applies_on_next_request(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await create_role(client, admin, "auditor", [])
    await assign_role(client, admin, member.user_id, "auditor")
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 403
    await client.post(
        f"{ROLES}/auditor/permissions", json={"permission": "users.read"}, headers=admin.headers
    )
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 200


async def test_permission_removed_from_held_role_locks_out_at_once(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await create_role(client, admin, "auditor", ["users.read"])
    await assign_role(client, admin, member.user_id, "auditor")
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 200
    response = await client.delete(f"{ROLES}/auditor/permissions/users.read", headers=admin.headers)
    assert response.json() == {"status": "deleted"}
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 403


async def test_removing_a_permission_the_role_lacks_is_404(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.delete(f"{ROLES}/guest/permissions/users.read", headers=admin.headers)
    assert response.status_code == 404


async def test_admin_role_permissions_cannot_be_removed(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.delete(f"{ROLES}/admin/permissions/users.read", headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "grants_all_role"


async def test_admin_role_permissions_cannot_be_added_to(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.post(
        f"{ROLES}/admin/permissions", json={"permission": "users.read"}, headers=admin.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "grants_all_role"


async def test_unknown_permission_is_refused(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.put(
        f"{ROLES}/guest/permissions", json={"permissions": ["music.fly"]}, headers=admin.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "permissions.0"


async def test_adding_nothing_is_refused(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.post(
        f"{ROLES}/guest/permissions", json={"permissions": []}, headers=admin.headers
    )
    assert response.status_code == 422


async def test_permissions_of_unknown_role_are_404(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.get(f"{ROLES}/wizard/permissions", headers=admin.headers)
    assert response.status_code == 404
