"""POST /auth/change-password [001] [002]: the current password is checked (and counts toward
the lock), the new one meets the policy and differs, other devices are signed out."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from cinesonic.models.activity import Activity
from cinesonic.models.user import User
from cinesonic.state import AppState
from tests.auth.helpers import update_user
from tests.fixtures.users import PASSWORD, create_and_login, create_user, login

CHANGE = "/api/v1/auth/change-password"
NEW_PASSWORD = "Brand-New-Pass-7"


def change(current: str = PASSWORD, new: str = NEW_PASSWORD) -> dict[str, str]:
    return {"current_password": current, "new_password": new}


async def test_change_keeps_this_session_and_signs_other_devices_out(
    client: httpx.AsyncClient, state: AppState
) -> None:
    here = await create_and_login(state, client, "ada")
    elsewhere = await login(client, "ada")
    response = await client.post(CHANGE, json=change(), headers=here.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "sessions_revoked": 1}
    assert (await client.get("/api/v1/auth/me", headers=here.headers)).status_code == 200
    other = await client.get("/api/v1/auth/me", headers=elsewhere.headers)
    assert other.status_code == 401
    assert other.json()["error"]["code"] == "invalid_token"


async def test_new_password_signs_in_and_the_old_one_no_longer_does(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client, "ada")
    await client.post(CHANGE, json=change(), headers=signed.headers)
    await login(client, "ada", NEW_PASSWORD)
    old = await client.post("/api/v1/auth/login", json={"identifier": "ada", "password": PASSWORD})
    assert old.status_code == 401


async def test_camel_case_fields_are_accepted(client: httpx.AsyncClient, state: AppState) -> None:
    signed = await create_and_login(state, client, "ada")
    response = await client.post(
        CHANGE,
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=signed.headers,
    )
    assert response.status_code == 200


async def test_wrong_current_password_is_forbidden(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client, "ada")
    response = await client.post(
        CHANGE, json=change(current="Wrong-Pass-1"), headers=signed.headers
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_password"
    # Still signed in: a wrong password is not a lost session.
    assert (await client.get("/api/v1/auth/me", headers=signed.headers)).status_code == 200


async def test_wrong_current_passwords_lock_the_account(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client, "ada")
    for _ in range(5):
        await client.post(CHANGE, json=change(current="Wrong-Pass-1"), headers=signed.headers)
    response = await client.post(CHANGE, json=change(), headers=signed.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_locked"
    assert int(response.headers["retry-after"]) > 0
    refused = await client.post(
        "/api/v1/auth/login", json={"identifier": "ada", "password": PASSWORD}
    )
    assert refused.json()["error"]["code"] == "account_locked"


async def test_new_password_must_meet_the_policy(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client, "ada")
    response = await client.post(CHANGE, json=change(new="weakpass"), headers=signed.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "password_policy"
    assert error["details"][0]["field"] == "new_password"


async def test_new_password_must_differ_from_the_current_one(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client, "ada")
    response = await client.post(CHANGE, json=change(new=PASSWORD), headers=signed.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "password_policy"
    assert error["details"] == [
        {"field": "new_password", "problems": ["must differ from the current password"]}
    ]


async def test_change_clears_the_forced_change_flag_on_the_next_request(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client, "ada")
    await update_user(state, signed.user_id, requires_password_change=True)
    me = await client.get("/api/v1/auth/me", headers=signed.headers)
    assert me.json()["requires_password_change"] is True
    await client.post(CHANGE, json=change(), headers=signed.headers)
    me = await client.get("/api/v1/auth/me", headers=signed.headers)
    assert me.json()["requires_password_change"] is False


async def test_change_records_when_and_is_audited(
    client: httpx.AsyncClient, state: AppState
) -> None:
    user = await create_user(state, "ada")
    signed = await login(client, "ada")
    await client.post(CHANGE, json=change(), headers=signed.headers)
    async with state.db.session() as session:
        changed_at = await session.scalar(select(User.password_changed_at))
        entry = await session.scalar(
            select(Activity).where(Activity.action == "auth.password_changed")
        )
    assert changed_at is not None
    assert entry is not None
    assert entry.user_id == user.id
    assert entry.details == {"sessions_revoked": 0}


async def test_change_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.post(CHANGE, json=change())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


async def test_change_without_fields_lists_them(client: httpx.AsyncClient, state: AppState) -> None:
    signed = await create_and_login(state, client, "ada")
    response = await client.post(CHANGE, json={}, headers=signed.headers)
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert fields == {"current_password", "new_password"}
