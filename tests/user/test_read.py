"""`GET /users/{id}` (full or public) and `GET /users/{id}/full`."""

from __future__ import annotations

import uuid

import httpx

from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login, login

PUBLIC_FIELDS = {"id", "username", "display_name", "bio", "avatar_image_id", "created_at"}


async def test_owner_reads_their_whole_account(client: httpx.AsyncClient, member: SignedIn) -> None:
    response = await client.get(f"/api/v1/users/{member.user_id}", headers=member.headers)
    assert response.status_code == 200
    assert response.json()["email"] == "bob@example.com"


async def test_other_users_see_only_the_public_profile(
    client: httpx.AsyncClient, state: AppState, member: SignedIn
) -> None:
    carol = await create_and_login(state, client, "carol")
    response = await client.get(f"/api/v1/users/{member.user_id}", headers=carol.headers)
    assert response.status_code == 200
    assert set(response.json()) == PUBLIC_FIELDS


async def test_users_read_holders_see_the_whole_account(
    client: httpx.AsyncClient, state: AppState, member: SignedIn
) -> None:
    moderator = await create_and_login(state, client, "mod", role="moderator")
    response = await client.get(f"/api/v1/users/{member.user_id}", headers=moderator.headers)
    assert response.json()["roles"] == ["user"]


async def test_reading_unknown_account_is_404(client: httpx.AsyncClient, member: SignedIn) -> None:
    response = await client.get(f"/api/v1/users/{uuid.uuid4()}", headers=member.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_reading_malformed_id_is_422(client: httpx.AsyncClient, member: SignedIn) -> None:
    response = await client.get("/api/v1/users/not-a-uuid", headers=member.headers)
    assert response.status_code == 422


async def test_reading_an_account_requires_sign_in(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    response = await client.get(f"/api/v1/users/{member.user_id}")
    assert response.status_code == 401


async def test_full_account_adds_counts_sessions_and_recent_activity(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    second = await login(client, "bob")
    await client.post("/api/v1/auth/logout", headers=second.headers)
    response = await client.get(f"/api/v1/users/{member.user_id}/full", headers=admin.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["sessions"]["active"] == 1
    assert body["sessions"]["total"] == 2
    assert body["activities"]["sessions_active"] == 1
    assert [entry["action"] for entry in body["recent_activity"]] == [
        "auth.logout",
        "auth.login",
        "auth.login",
    ]


async def test_full_account_keeps_ten_latest_entries(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    for _ in range(11):
        await login(client, "bob")
    response = await client.get(f"/api/v1/users/{member.user_id}/full", headers=member.headers)
    assert len(response.json()["recent_activity"]) == 10
    assert response.json()["activities"]["activity_events"] == 12


async def test_full_account_refused_to_other_users(
    client: httpx.AsyncClient, state: AppState, member: SignedIn
) -> None:
    carol = await create_and_login(state, client, "carol")
    response = await client.get(f"/api/v1/users/{member.user_id}/full", headers=carol.headers)
    assert response.status_code == 403


async def test_full_account_of_unknown_user_is_404(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.get(f"/api/v1/users/{uuid.uuid4()}/full", headers=admin.headers)
    assert response.status_code == 404
