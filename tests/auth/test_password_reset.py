"""Forgot / reset password [000] [001]: always 202 without revealing accounts, the mailed
link, single use and expiry, the policy, and what a reset ends (sessions) and lifts (lock)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.activity import Activity
from cinesonic.models.auth import OneTimeToken
from cinesonic.models.user import User, UserStatus
from cinesonic.state import AppState
from tests.auth.helpers import MailCatcher, link_token, mail_text, received_mail, update_user
from tests.fixtures.users import PASSWORD, create_and_login, create_user, login

FORGOT = "/api/v1/auth/forgot-password"
RESET = "/api/v1/auth/reset-password"
NEW_PASSWORD = "Brand-New-Pass-7"


async def reset_token(client: httpx.AsyncClient, state: AppState, smtp: MailCatcher) -> str:
    response = await client.post(FORGOT, json={"email": "ada@example.com"})
    assert response.status_code == 202
    message = (await received_mail(state, smtp))[-1]
    return link_token(message, "reset-password")


async def sign_in(client: httpx.AsyncClient, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"identifier": "ada", "password": password})


async def test_forgot_password_mails_a_link_that_resets_the_password(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    token = await reset_token(client, state, smtp_server)
    [message] = smtp_server.messages
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Reset your password"
    assert "expires in 30 minutes" in mail_text(message)
    response = await client.post(RESET, json={"token": token, "password": NEW_PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}
    assert (await sign_in(client, NEW_PASSWORD)).status_code == 200
    assert (await sign_in(client, PASSWORD)).status_code == 401


async def test_forgot_password_answers_the_same_for_unknown_addresses(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    known = await client.post(FORGOT, json={"email": "ada@example.com"})
    unknown = await client.post(FORGOT, json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json() == {"status": "accepted"}
    assert known.headers["content-length"] == unknown.headers["content-length"]
    assert [m["To"] for m in await received_mail(state, smtp_server)] == ["ada@example.com"]


async def test_forgot_password_accepts_a_malformed_address_like_any_other(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    response = await client.post(FORGOT, json={"email": "not an address"})
    assert response.status_code == 202
    assert await received_mail(state, smtp_server) == []


async def test_forgot_password_matches_the_address_case_insensitively(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    await client.post(FORGOT, json={"email": "  ADA@Example.com "})
    assert len(await received_mail(state, smtp_server)) == 1


async def test_suspended_account_gets_no_reset_mail(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    user = await create_user(state, "ada")
    await update_user(state, user.id, status=UserStatus.suspended)
    assert (await client.post(FORGOT, json={"email": "ada@example.com"})).status_code == 202
    assert await received_mail(state, smtp_server) == []


async def test_forgot_password_without_email_is_a_validation_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(FORGOT, json={})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "email"


@pytest.mark.settings(rate_limit_auth_sensitive="2/minute")
async def test_forgot_password_is_rate_limited_per_address(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await client.post(FORGOT, json={"email": "a@example.com"})).status_code == 202
    response = await client.post(FORGOT, json={"email": "b@example.com"})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-limit"] == "2"
    assert response.headers["ratelimit-remaining"] == "0"


async def test_request_reset_path_of_the_music_api_is_an_alias(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    response = await client.post("/api/v1/auth/request-reset", json={"email": "ada@example.com"})
    assert response.status_code == 202
    assert response.json() == {"status": "accepted"}
    assert len(await received_mail(state, smtp_server)) == 1


async def test_reset_path_of_the_music_api_is_an_alias(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    token = await reset_token(client, state, smtp_server)
    response = await client.post(
        "/api/v1/auth/reset", json={"token": token, "password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_alias_paths_stay_out_of_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    assert "/api/v1/auth/forgot-password" in paths
    assert "/api/v1/auth/reset-password" in paths
    assert "/api/v1/auth/request-reset" not in paths
    assert "/api/v1/auth/reset" not in paths


async def test_reset_link_works_once(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    token = await reset_token(client, state, smtp_server)
    assert (await client.post(RESET, json={"token": token, "password": NEW_PASSWORD})).is_success
    again = await client.post(RESET, json={"token": token, "password": "Another-Pass-8"})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_token"


async def test_expired_reset_link_is_invalid(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    token = await reset_token(client, state, smtp_server)
    async with state.db.session() as session:
        await session.execute(
            update(OneTimeToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await client.post(RESET, json={"token": token, "password": NEW_PASSWORD})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_token"


async def test_unknown_reset_token_is_invalid(client: httpx.AsyncClient) -> None:
    response = await client.post(RESET, json={"token": "made-up", "password": NEW_PASSWORD})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_token"


async def test_newer_reset_link_replaces_the_older_one(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    first = await reset_token(client, state, smtp_server)
    second = await reset_token(client, state, smtp_server)
    assert (
        await client.post(RESET, json={"token": first, "password": NEW_PASSWORD})
    ).status_code == 400
    assert (await client.post(RESET, json={"token": second, "password": NEW_PASSWORD})).is_success


async def test_weak_password_is_refused_and_the_link_still_works(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    token = await reset_token(client, state, smtp_server)
    weak = await client.post(RESET, json={"token": token, "password": "weak"})
    assert weak.status_code == 422
    assert weak.json()["error"]["code"] == "password_policy"
    assert (await client.post(RESET, json={"token": token, "password": NEW_PASSWORD})).is_success


async def test_reset_accepts_new_password_aliases(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    token = await reset_token(client, state, smtp_server)
    response = await client.post(RESET, json={"token": token, "newPassword": NEW_PASSWORD})
    assert response.status_code == 200
    assert (await sign_in(client, NEW_PASSWORD)).status_code == 200


async def test_reset_without_fields_lists_them(client: httpx.AsyncClient) -> None:
    response = await client.post(RESET, json={})
    assert response.status_code == 422
    assert {d["field"] for d in response.json()["error"]["details"]} == {"token", "password"}


async def test_reset_signs_every_device_out_on_the_next_request(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    signed = await create_and_login(state, client, "ada")
    assert (await client.get("/api/v1/auth/me", headers=signed.headers)).status_code == 200
    token = await reset_token(client, state, smtp_server)
    await client.post(RESET, json={"token": token, "password": NEW_PASSWORD})
    me = await client.get("/api/v1/auth/me", headers=signed.headers)
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "invalid_token"
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": signed.refresh_token}
    )
    assert refreshed.status_code == 401


async def test_reset_lifts_the_account_lock(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    for _ in range(5):
        await sign_in(client, "Wrong-Pass-1")
    assert (await sign_in(client, PASSWORD)).json()["error"]["code"] == "account_locked"
    token = await reset_token(client, state, smtp_server)
    await client.post(RESET, json={"token": token, "password": NEW_PASSWORD})
    assert (await sign_in(client, NEW_PASSWORD)).status_code == 200
    async with state.db.session() as session:
        user = (await session.scalars(select(User))).one()
    assert (user.lockout_count, user.failed_login_count, user.locked_until) == (0, 0, None)


async def test_reset_marks_the_address_verified(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada", verified=False)
    token = await reset_token(client, state, smtp_server)
    await client.post(RESET, json={"token": token, "password": NEW_PASSWORD})
    signed = await login(client, "ada", NEW_PASSWORD)
    me = await client.get("/api/v1/auth/me", headers=signed.headers)
    assert me.json()["is_email_verified"] is True


async def test_reset_request_and_reset_are_audited(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    user = await create_user(state, "ada")
    token = await reset_token(client, state, smtp_server)
    await client.post(RESET, json={"token": token, "password": NEW_PASSWORD})
    async with state.db.session() as session:
        rows = (
            await session.execute(
                select(Activity.action, Activity.user_id, Activity.ip_address).where(
                    Activity.action.like("auth.password_reset%")
                )
            )
        ).all()
    assert sorted(rows) == [
        ("auth.password_reset", user.id, "127.0.0.1"),
        ("auth.password_reset_requested", user.id, "127.0.0.1"),
    ]


@pytest.mark.settings(smtp_port=9)  # nothing listens on the discard port
async def test_unreachable_mail_server_does_not_change_the_answer(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    response = await client.post(FORGOT, json={"email": "ada@example.com"})
    assert response.status_code == 202
    assert await received_mail(state, smtp_server) == []
    assert (await client.get("/api/v1/auth/me")).status_code == 401  # the app still serves
