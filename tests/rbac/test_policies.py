"""`GET /rbac/policies`: the effective (role, permission) table [001]."""

from __future__ import annotations

import httpx

from tests.fixtures.users import SignedIn, create_role

POLICIES = "/api/v1/rbac/policies"


async def test_policy_table_lists_every_grant_and_the_grants_all_roles(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.get(POLICIES, params={"page_size": 200}, headers=admin.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["grants_all_roles"] == ["admin"]
    rows = [(row["role"], row["permission"]) for row in body["data"]]
    assert rows == sorted(rows)
    assert ("guest", "music.stream") in rows
    assert ("moderator", "moderation.review") in rows
    assert not any(role == "admin" for role, _ in rows)
    assert body["pagination"]["total"] == len(rows)


async def test_policy_table_filters_by_role(client: httpx.AsyncClient, admin: SignedIn) -> None:
    await create_role(client, admin, "auditor", ["users.read", "activity.read"])
    response = await client.get(POLICIES, params={"role": "Auditor"}, headers=admin.headers)
    assert response.json()["data"] == [
        {"role": "auditor", "permission": "activity.read"},
        {"role": "auditor", "permission": "users.read"},
    ]
    assert response.json()["grants_all_roles"] == []


async def test_policy_table_sorts_by_permission(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.get(
        POLICIES, params={"sort": "permission", "page_size": 3}, headers=admin.headers
    )
    assert response.json()["data"] == [
        {"role": "moderator", "permission": "downloads.create"},
        {"role": "user", "permission": "downloads.create"},
        {"role": "guest", "permission": "library.read"},
    ]


async def test_policy_table_refuses_unknown_sort(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.get(POLICIES, params={"sort": "role_id"}, headers=admin.headers)
    assert response.status_code == 422
