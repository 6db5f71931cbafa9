"""POST /auth/register: the first account is admin; later ones are mailed a verification link;
names and addresses are unique case-insensitively; the password policy; closed registration."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from cinesonic.state import AppState
from tests.auth.helpers import MailCatcher, link_token, mail_text, received_mail
from tests.fixtures.users import PASSWORD, create_user

REGISTER = "/api/v1/auth/register"


def account(username: str = "bob", **fields: object) -> dict[str, object]:
    return {
        "username": username,
        "email": f"{username}@example.com",
        "password": PASSWORD,
        **fields,
    }


async def test_later_registration_gets_the_user_role(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "root", role="admin")
    response = await client.post(REGISTER, json=account("bob"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["roles"] == ["user"]
    assert body["is_email_verified"] is False
    assert response.headers["location"] == f"/api/v1/users/{body['id']}"


async def test_display_name_accepts_the_camel_case_alias(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "root", role="admin")
    response = await client.post(REGISTER, json=account("bob", displayName="Bob B."))
    assert response.status_code == 201, response.text
    assert response.json()["display_name"] == "Bob B."


async def test_registration_mails_a_verification_link(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    await create_user(state, "root", role="admin")
    response = await client.post(REGISTER, json=account("bob"))
    assert response.status_code == 201
    [message] = await received_mail(state, smtp_server)
    assert message["To"] == "bob@example.com"
    assert message["Subject"] == "Confirm your email address"
    assert message["From"] == state.settings.mail_from
    assert message["Date"] and message["Message-ID"]
    assert "Hello bob," in mail_text(message)
    assert link_token(message, "verify-email")


async def test_first_account_is_verified_and_gets_no_mail(
    client: httpx.AsyncClient, state: AppState, smtp_server: MailCatcher
) -> None:
    response = await client.post(REGISTER, json=account("root"))
    assert response.status_code == 201
    assert response.json()["roles"] == ["admin"]
    assert response.json()["is_email_verified"] is True
    assert await received_mail(state, smtp_server) == []


async def test_username_taken_in_another_case_is_a_conflict(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "ada")
    response = await client.post(REGISTER, json={**account("ADA"), "email": "other@example.com"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "username_taken"


async def test_email_taken_in_another_case_is_a_conflict(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "ada")
    response = await client.post(REGISTER, json={**account("bob"), "email": "ADA@Example.COM"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Sh0rt-x", "must be 8 to 128 characters long"),
        ("Aa1-" + "a" * 125, "must be 8 to 128 characters long"),
        ("lower-case-only-1", "needs an upper-case letter"),
        ("UPPER-CASE-ONLY-1", "needs a lower-case letter"),
        ("No-Digits-Here", "needs a digit"),
        ("NoSpecial1234", "needs a special character"),
    ],
)
async def test_password_policy_refuses_each_rule(
    client: httpx.AsyncClient, password: str, problem: str
) -> None:
    response = await client.post(REGISTER, json=account("bob", password=password))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "password_policy"
    assert error["details"] == [{"field": "password", "problems": [problem]}]


async def test_password_policy_lists_every_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(REGISTER, json=account("bob", password="abc"))
    assert response.status_code == 422
    problems = response.json()["error"]["details"][0]["problems"]
    assert len(problems) == 4


@pytest.mark.settings(open_registration=False)
async def test_closed_registration_refuses_new_accounts(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "root", role="admin")
    response = await client.post(REGISTER, json=account("bob"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "registration_closed"


@pytest.mark.settings(open_registration=False)
async def test_closed_registration_still_admits_the_first_admin(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(REGISTER, json=account("root"))
    assert response.status_code == 201
    assert response.json()["roles"] == ["admin"]


@pytest.mark.parametrize("username", ["ab", "has space", "x" * 33, "semi;colon"])
async def test_invalid_username_is_refused(client: httpx.AsyncClient, username: str) -> None:
    response = await client.post(REGISTER, json={**account("bob"), "username": username})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "username"


async def test_invalid_email_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(REGISTER, json={**account("bob"), "email": "not-an-address"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "email"


async def test_missing_fields_are_each_listed(client: httpx.AsyncClient) -> None:
    response = await client.post(REGISTER, json={})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert {d["field"] for d in error["details"]} == {"username", "email", "password"}
    assert all(d["type"] == "missing" for d in error["details"])


# An hour, not a minute: the sliding-window counter of `limits` rounds the previous window's
# weighted count down, so a third request just after a window boundary may pass.
@pytest.mark.settings(rate_limit_auth_sensitive="2/hour")
async def test_registration_is_rate_limited_per_address(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "root", role="admin")
    assert (await client.post(REGISTER, json=account("bob"))).status_code == 201
    assert (await client.post(REGISTER, json=account("carol"))).status_code == 201
    response = await client.post(REGISTER, json=account("dave"))
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1


@pytest.mark.settings(rate_limit_auth_sensitive="100/minute")
async def test_simultaneous_first_registrations_make_one_admin(client: httpx.AsyncClient) -> None:
    async def register(n: int) -> httpx.Response:
        return await client.post(
            "/api/v1/auth/register",
            json={"username": f"first{n}", "email": f"first{n}@example.com", "password": PASSWORD},
        )

    responses = await asyncio.gather(*(register(n) for n in range(8)))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    roles = [r.json()["roles"] for r in responses]
    assert roles.count(["admin"]) == 1
    assert roles.count(["user"]) == 7
