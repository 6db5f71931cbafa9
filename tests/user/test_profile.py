"""`GET/PUT /users/me`: the owner's own profile."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_user

ME = "/api/v1/users/me"


async def test_me_answers_my_account(client: httpx.AsyncClient, member: SignedIn) -> None:
    response = await client.get(ME, headers=member.headers)
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["email"]) == (member.user_id, "bob@example.com")


async def test_me_requires_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get(ME)
    assert response.status_code == 401


async def test_profile_change_shows_on_the_next_request(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    response = await client.put(
        ME,
        json={"displayName": "Bobby", "bio": "Bass.", "username": "bobby"},
        headers=member.headers,
    )
    assert response.status_code == 200, response.text
    me = (await client.get("/api/v1/auth/me", headers=member.headers)).json()
    assert (me["display_name"], me["bio"], me["username"]) == ("Bobby", "Bass.", "bobby")


async def test_blank_display_name_clears_it(client: httpx.AsyncClient, member: SignedIn) -> None:
    await client.put(ME, json={"display_name": "Bobby"}, headers=member.headers)
    response = await client.put(ME, json={"display_name": "  "}, headers=member.headers)
    assert response.json()["display_name"] is None


async def test_new_email_is_unverified(client: httpx.AsyncClient, member: SignedIn) -> None:
    response = await client.put(ME, json={"email": "bob@new.example"}, headers=member.headers)
    assert response.json()["email"] == "bob@new.example"
    assert response.json()["is_email_verified"] is False


async def test_recapitalised_email_stays_verified(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    response = await client.put(ME, json={"email": "Bob@example.com"}, headers=member.headers)
    assert response.json()["email"] == "Bob@example.com"
    assert response.json()["is_email_verified"] is True


async def test_profile_change_refuses_taken_username_case_insensitively(
    client: httpx.AsyncClient, state: AppState, member: SignedIn
) -> None:
    await create_user(state, "carol")
    response = await client.put(ME, json={"username": "CAROL"}, headers=member.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "username_taken"


async def test_profile_change_refuses_taken_email(
    client: httpx.AsyncClient, state: AppState, member: SignedIn
) -> None:
    await create_user(state, "carol")
    response = await client.put(ME, json={"email": "CAROL@example.com"}, headers=member.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"


async def test_profile_change_cannot_touch_roles_or_status(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    response = await client.put(
        ME, json={"roles": ["admin"], "status": "inactive", "bio": "hi"}, headers=member.headers
    )
    assert response.status_code == 200
    assert (response.json()["roles"], response.json()["status"]) == (["user"], "active")


@pytest.mark.parametrize(
    "fields",
    [{"username": "x"}, {"username": None}, {"email": "nope"}, {"bio": "b" * 2001}],
)
async def test_profile_change_refuses_invalid_fields(
    client: httpx.AsyncClient, member: SignedIn, fields: dict[str, Any]
) -> None:
    response = await client.put(ME, json=fields, headers=member.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_profile_change_requires_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.put(ME, json={"bio": "hi"})
    assert response.status_code == 401
