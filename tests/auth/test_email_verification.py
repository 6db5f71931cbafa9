"""Email verification [001]: the mailed link, single use, expiry, resending (signed in or by
address, without revealing accounts), sign-in gated on verification, and the outbox mode."""

from __future__ import annotations

import email
import os
import stat
from datetime import timedelta
from email import policy
from email.message import EmailMessage

import httpx
import pytest
from sqlalchemy import select, update

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.activity import Activity
from cinesonic.models.auth import OneTimeToken
from cinesonic.state import AppState
from tests.auth.helpers import MailCatcher, link_token, received_mail, update_user
from tests.fixtures.users import PASSWORD, create_user, login

REGISTER = "/api/v1/auth/register"
VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/auth/resend-verification"
FORGOT = "/api/v1/auth/forgot-password"


async def register_bob(client: httpx.AsyncClient, state: AppState) -> str:
    """An admin exists; bob registers (and is mailed a link). Returns bob's id."""
    await create_user(state, "root", role="admin")
    response = await client.post(
        REGISTER, json={"username": "bob", "email": "bob@example.com", "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id


async def bob_token(client: httpx.AsyncClient, state: AppState, smtp: MailCatcher) -> str:
    await register_bob(client, state)
    [message] = await received_mail(state, smtp)
    return link_token(message, "verify-email")


async def test_mailed_link_verifies_the_address(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    token = await bob_token(client, state, smtp_server)
    response = await client.post(VERIFY, json={"token": token})
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}
    signed = await login(client, "bob")
    me = await client.get("/api/v1/auth/me", headers=signed.headers)
    assert me.json()["is_email_verified"] is True


async def test_verification_shows_on_the_next_request_of_a_signed_in_user(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    token = await bob_token(client, state, smtp_server)
    signed = await login(client, "bob")
    assert (await client.get("/api/v1/auth/me", headers=signed.headers)).json()[
        "is_email_verified"
    ] is False
    await client.post(VERIFY, json={"token": token})
    me = await client.get("/api/v1/auth/me", headers=signed.headers)
    assert me.json()["is_email_verified"] is True


async def test_verification_is_audited(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    token = await bob_token(client, state, smtp_server)
    await client.post(VERIFY, json={"token": token})
    async with state.db.session() as session:
        actions = set(await session.scalars(select(Activity.action)))
    assert {"auth.register", "auth.verification_mail_sent", "auth.email_verified"} <= actions


async def test_verification_link_works_once(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    token = await bob_token(client, state, smtp_server)
    assert (await client.post(VERIFY, json={"token": token})).status_code == 200
    again = await client.post(VERIFY, json={"token": token})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_token"


async def test_unknown_verification_token_is_invalid(client: httpx.AsyncClient) -> None:
    response = await client.post(VERIFY, json={"token": "no-such-token"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_token"


async def test_expired_verification_link_is_invalid(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    token = await bob_token(client, state, smtp_server)
    async with state.db.session() as session:
        await session.execute(
            update(OneTimeToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await client.post(VERIFY, json={"token": token})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_token"


async def test_link_mailed_to_a_former_address_is_invalid(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    token = await bob_token(client, state, smtp_server)
    async with state.db.session() as session:
        user_id = (await session.scalars(select(OneTimeToken.user_id))).one()
    await update_user(state, user_id, email="new@example.com", email_key="new@example.com")
    response = await client.post(VERIFY, json={"token": token})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_token"


async def test_reset_token_does_not_verify_email(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada")
    await client.post(FORGOT, json={"email": "ada@example.com"})
    [message] = await received_mail(state, smtp_server)
    response = await client.post(VERIFY, json={"token": link_token(message, "reset-password")})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_token"


async def test_verify_without_token_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(VERIFY, json={})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "token"


async def test_signed_in_user_can_resend_and_only_the_new_link_works(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    old_token = await bob_token(client, state, smtp_server)
    signed = await login(client, "bob")
    response = await client.post(RESEND, headers=signed.headers)
    assert response.status_code == 202
    assert response.json() == {"status": "accepted"}
    _first, second = await received_mail(state, smtp_server)
    new_token = link_token(second, "verify-email")
    assert new_token != old_token
    assert (await client.post(VERIFY, json={"token": old_token})).status_code == 400
    assert (await client.post(VERIFY, json={"token": new_token})).status_code == 200


async def test_verified_user_resend_is_a_conflict(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "ada", verified=True)
    signed = await login(client, "ada")
    response = await client.post(RESEND, headers=signed.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_already_verified"


async def test_public_resend_mails_an_unverified_account(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada", verified=False)
    response = await client.post(RESEND, json={"email": "ADA@example.com"})
    assert response.status_code == 202
    [message] = await received_mail(state, smtp_server)
    assert message["To"] == "ada@example.com"
    assert (
        await client.post(VERIFY, json={"token": link_token(message, "verify-email")})
    ).is_success


async def test_public_resend_answers_the_same_for_unknown_and_verified_addresses(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada", verified=True)
    unknown = await client.post(RESEND, json={"email": "nobody@example.com"})
    verified = await client.post(RESEND, json={"email": "ada@example.com"})
    assert (unknown.status_code, unknown.json()) == (verified.status_code, verified.json())
    assert unknown.status_code == 202
    assert await received_mail(state, smtp_server) == []


async def test_public_resend_without_email_is_a_validation_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(RESEND, json={})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "email"


@pytest.mark.settings(rate_limit_auth_sensitive="2/minute")
async def test_resend_is_rate_limited_per_address(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await client.post(RESEND, json={"email": "x@example.com"})).status_code == 202
    response = await client.post(RESEND, json={"email": "x@example.com"})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-limit"] == "2"


@pytest.mark.settings(rate_limit_auth_sensitive="2/minute")
async def test_mails_to_one_account_are_capped_across_addresses(
    app: object, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "ada", verified=False)
    for number in range(3):
        transport = httpx.ASGITransport(app=app, client=(f"10.1.0.{number}", 40000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.post(RESEND, json={"email": "ada@example.com"})
            assert response.status_code == 202
    assert len(await received_mail(state, smtp_server)) == 2


@pytest.mark.settings(require_email_verification=True)
async def test_required_verification_blocks_sign_in_until_verified(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    token = await bob_token(client, state, smtp_server)
    credentials = {"identifier": "bob", "password": PASSWORD}
    refused = await client.post("/api/v1/auth/login", json=credentials)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "email_not_verified"
    assert (await client.post(VERIFY, json={"token": token})).status_code == 200
    assert (await client.post("/api/v1/auth/login", json=credentials)).status_code == 200


@pytest.mark.settings(smtp_host=None)
async def test_without_smtp_mail_goes_to_the_outbox(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await register_bob(client, state)
    await state.mailer.drain()
    assert smtp_server.messages == []
    [path] = list(state.settings.outbox_dir.glob("*.eml"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == "bob@example.com"
    # Sent 7bit: the link reads whole in the raw file too.
    assert b"https://media.example.org/verify-email?token=" in path.read_bytes()
    response = await client.post(VERIFY, json={"token": link_token(message, "verify-email")})
    assert response.status_code == 200
