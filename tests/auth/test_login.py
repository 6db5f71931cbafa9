"""POST /auth/login: credentials, lockout with growing back-off, the per-address rate limit,
account status and verification gates; and the basics of register, me and logout."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.activity import Activity
from cinesonic.models.user import UserStatus
from cinesonic.state import AppState
from tests.auth.helpers import update_user
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


async def login_attempt(client: httpx.AsyncClient, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"identifier": "ada", "password": password})


async def test_unknown_account_answers_like_a_wrong_password(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"identifier": "nobody", "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_login_answers_tokens_and_the_user(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "ada")
    response = await login_attempt(client, PASSWORD)
    body = response.json()
    assert set(body) == {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "csrf_token",
        "user",
    }
    assert body["token_type"] == "bearer"
    assert body["user"]["username"] == "ada"
    assert body["user"]["last_login_at"] is not None


async def test_unknown_fields_are_ignored(client: httpx.AsyncClient, state: AppState) -> None:
    await create_user(state, "ada")
    response = await client.post(
        "/api/v1/auth/login",
        json={"username": "ada", "password": PASSWORD, "rememberMe": True, "extra": [1]},
    )
    assert response.status_code == 200


async def test_five_wrong_passwords_lock_the_account(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "ada")
    for _ in range(5):
        assert (await login_attempt(client, "Wrong-Pass-1")).status_code == 401
    response = await login_attempt(client, PASSWORD)  # even the right password
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "account_locked"
    assert error["details"]["locked_until"]
    assert 15 * 60 - 5 <= int(response.headers["retry-after"]) <= 15 * 60 + 1


async def test_next_lock_lasts_twice_as_long(client: httpx.AsyncClient, state: AppState) -> None:
    user = await create_user(state, "ada")
    for _ in range(5):
        await login_attempt(client, "Wrong-Pass-1")
    # The first lock runs out.
    await update_user(state, user.id, locked_until=utcnow() - timedelta(seconds=1))
    assert (await login_attempt(client, "Wrong-Pass-1")).status_code == 401
    for _ in range(4):
        await login_attempt(client, "Wrong-Pass-1")
    response = await login_attempt(client, PASSWORD)
    assert response.json()["error"]["code"] == "account_locked"
    assert 30 * 60 - 5 <= int(response.headers["retry-after"]) <= 30 * 60 + 1


async def test_successful_login_resets_the_failure_count(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "ada")
    for _ in range(4):
        await login_attempt(client, "Wrong-Pass-1")
    assert (await login_attempt(client, PASSWORD)).status_code == 200
    for _ in range(4):
        await login_attempt(client, "Wrong-Pass-1")
    assert (await login_attempt(client, PASSWORD)).status_code == 200


async def test_failed_logins_are_audited(client: httpx.AsyncClient, state: AppState) -> None:
    await create_user(state, "ada")
    await login_attempt(client, "Wrong-Pass-1")
    await client.post("/api/v1/auth/login", json={"identifier": "ghost", "password": PASSWORD})
    async with state.db.session() as session:
        entries = list(
            await session.scalars(
                select(Activity)
                .where(Activity.action == "auth.login_failed")
                .order_by(Activity.created_at)
            )
        )
    assert [(e.success, e.details["reason"]) for e in entries] == [
        (False, "bad_password"),
        (False, "unknown_identifier"),
    ]
    assert entries[1].details["identifier"] == "ghost"


@pytest.mark.settings(rate_limit_login="3/minute")
async def test_login_attempts_are_rate_limited_per_address(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "ada")
    for _ in range(3):
        await login_attempt(client, "Wrong-Pass-1")
    response = await login_attempt(client, PASSWORD)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["ratelimit-limit"] == "3"
    assert response.headers["ratelimit-remaining"] == "0"
    assert 0 <= int(response.headers["ratelimit-reset"]) <= 60


@pytest.mark.settings(rate_limit_login="3/minute")
async def test_login_rate_limit_is_per_address(app: FastAPI, state: AppState) -> None:
    await create_user(state, "ada")
    statuses = []
    for address in ("10.2.0.1",) * 4 + ("10.2.0.2",):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            statuses.append((await login_attempt(http, PASSWORD)).status_code)
    assert statuses == [200, 200, 200, 429, 200]


@pytest.mark.parametrize(
    ("status", "code"),
    [(UserStatus.suspended, "account_suspended"), (UserStatus.inactive, "account_inactive")],
)
async def test_accounts_not_active_cannot_sign_in(
    client: httpx.AsyncClient, state: AppState, status: UserStatus, code: str
) -> None:
    user = await create_user(state, "ada")
    await update_user(state, user.id, status=status)
    response = await login_attempt(client, PASSWORD)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == code


async def test_suspended_account_with_a_wrong_password_reveals_nothing(
    client: httpx.AsyncClient, state: AppState
) -> None:
    user = await create_user(state, "ada")
    await update_user(state, user.id, status=UserStatus.suspended)
    response = await login_attempt(client, "Wrong-Pass-1")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


@pytest.mark.settings(require_email_verification=True)
async def test_unverified_account_cannot_sign_in_when_verification_is_required(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "ada", verified=False)
    response = await login_attempt(client, PASSWORD)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "email_not_verified"


async def test_unverified_account_signs_in_when_verification_is_optional(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "ada", verified=False)
    assert (await login_attempt(client, PASSWORD)).status_code == 200


async def test_login_without_fields_lists_them(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/login", json={})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert {d["field"] for d in error["details"]} == {"identifier", "password"}


async def test_logout_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/logout")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"
