from __future__ import annotations

import httpx

from cinesonic.state import AppState
from tests.fixtures.users import PASSWORD, create_and_login, create_user, login


async def test_first_registration_becomes_admin(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"username": "root", "email": "root@example.com", "password": PASSWORD},
    )
    assert response.status_code == 201, response.text
    assert response.json()["roles"] == ["admin"]
    assert response.headers["location"].endswith(response.json()["id"])
    second = await client.post(
        "/api/v1/auth/register",
        json={"username": "bob", "email": "bob@example.com", "password": PASSWORD},
    )
    assert second.json()["roles"] == ["user"]


async def test_login_by_email_then_me(client: httpx.AsyncClient, state: AppState) -> None:
    await create_user(state, "ada")
    signed = await login(client, "ADA@example.com")
    me = await client.get("/api/v1/auth/me", headers=signed.headers)
    assert me.status_code == 200
    assert me.json()["username"] == "ada"
    assert me.headers["x-request-id"]


async def test_wrong_password_is_invalid_credentials(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "ada")
    response = await client.post(
        "/api/v1/auth/login", json={"identifier": "ada", "password": "Wrong-pass-1"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_logout_revokes_token_on_next_request(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client)
    assert (await client.get("/api/v1/auth/me", headers=signed.headers)).status_code == 200
    out = await client.post("/api/v1/auth/logout", headers=signed.headers)
    assert out.json() == {"status": "ok", "tokens_revoked": 1}
    again = await client.get("/api/v1/auth/me", headers=signed.headers)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_token"
