"""Access tokens that must be refused (malformed, expired, tampered, `alg: none`, foreign key,
ended session, suspended user) and refresh-token rotation with reuse detection."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from sqlalchemy import select

from cinesonic.models.activity import Activity
from cinesonic.models.user import UserStatus
from cinesonic.state import AppState
from tests.auth.helpers import update_user
from tests.fixtures.users import SignedIn, create_and_login, login

ME = "/api/v1/auth/me"
REFRESH = "/api/v1/auth/refresh"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(signed: SignedIn) -> dict[str, object]:
    decoded: dict[str, object] = jwt.decode(
        signed.access_token, options={"verify_signature": False}
    )
    return decoded


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def assert_invalid_token(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(ME, headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "x" * 600])
async def test_malformed_token_is_invalid(client: httpx.AsyncClient, token: str) -> None:
    await assert_invalid_token(client, token)


async def test_other_authorization_schemes_are_invalid(client: httpx.AsyncClient) -> None:
    response = await client.get(ME, headers={"Authorization": "Basic YWRhOnNlY3JldA=="})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_missing_token_needs_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


async def test_expired_token_is_invalid(client: httpx.AsyncClient, state: AppState) -> None:
    signed = await create_and_login(state, client)
    now = int(time.time())
    expired = jwt.encode(
        {**claims_of(signed), "iat": now - 120, "exp": now - 60},
        state.settings.signing_key,
        algorithm="HS256",
    )
    await assert_invalid_token(client, expired)


async def test_tampered_signature_is_invalid(client: httpx.AsyncClient, state: AppState) -> None:
    signed = await create_and_login(state, client)
    header, payload, signature = signed.access_token.split(".")
    middle = len(signature) // 2
    flipped = (
        signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    )
    await assert_invalid_token(client, f"{header}.{payload}.{flipped}")


async def test_tampered_claims_are_invalid(client: httpx.AsyncClient, state: AppState) -> None:
    signed = await create_and_login(state, client)
    header, _, signature = signed.access_token.split(".")
    forged = b64({**claims_of(signed), "sub": str(uuid.uuid4())})
    await assert_invalid_token(client, f"{header}.{forged}.{signature}")


async def test_unsigned_alg_none_token_is_invalid(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client)
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims_of(signed))}."
    await assert_invalid_token(client, unsigned)


async def test_token_signed_with_another_key_is_invalid(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client)
    foreign = jwt.encode(claims_of(signed), "another-key-" + "z" * 40, algorithm="HS256")
    await assert_invalid_token(client, foreign)


async def test_token_of_another_algorithm_is_invalid(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client)
    other = jwt.encode(claims_of(signed), state.settings.signing_key, algorithm="HS384")
    await assert_invalid_token(client, other)


async def test_refresh_token_is_not_an_access_token(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client)
    await assert_invalid_token(client, signed.refresh_token)


async def test_token_of_a_session_signed_out_elsewhere_is_invalid(
    client: httpx.AsyncClient, state: AppState
) -> None:
    first = await create_and_login(state, client)
    second = await login(client, "ada")
    assert (await client.get(ME, headers=first.headers)).status_code == 200
    out = await client.post(
        "/api/v1/auth/logout", json={"all_devices": True}, headers=second.headers
    )
    assert out.json() == {"status": "ok", "tokens_revoked": 2}
    await assert_invalid_token(client, first.access_token)


async def test_live_token_of_a_suspended_user_is_refused_on_the_next_request(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client)
    assert (await client.get(ME, headers=signed.headers)).status_code == 200
    await update_user(state, signed.user_id, status=UserStatus.suspended)
    response = await client.get(ME, headers=signed.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_suspended"


async def test_live_token_of_a_deactivated_user_is_refused_on_the_next_request(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client)
    assert (await client.get(ME, headers=signed.headers)).status_code == 200
    await update_user(state, signed.user_id, status=UserStatus.inactive)
    response = await client.get(ME, headers=signed.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_inactive"


async def test_refresh_rotates_both_tokens(client: httpx.AsyncClient, state: AppState) -> None:
    signed = await create_and_login(state, client)
    response = await client.post(REFRESH, json={"refresh_token": signed.refresh_token})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == state.settings.access_token_ttl_seconds
    assert body["refresh_token"] != signed.refresh_token
    assert body["user"]["id"] == signed.user_id
    assert (await client.get(ME, headers=bearer(body["access_token"]))).status_code == 200
    again = await client.post(REFRESH, json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 200


async def test_refresh_token_may_come_in_a_header(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client)
    response = await client.post(REFRESH, headers={"X-Refresh-Token": signed.refresh_token})
    assert response.status_code == 200


async def test_reused_refresh_token_revokes_family(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client)
    rotated = (await client.post(REFRESH, json={"refresh_token": signed.refresh_token})).json()
    reuse = await client.post(REFRESH, json={"refresh_token": signed.refresh_token})
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "invalid_token"
    # The newest token of the family stops working too, and so do the access tokens.
    newest = await client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]})
    assert newest.status_code == 401
    await assert_invalid_token(client, rotated["access_token"])
    async with state.db.session() as session:
        recorded = await session.scalar(
            select(Activity).where(Activity.action == "auth.refresh_token_reuse")
        )
    assert recorded is not None
    assert recorded.success is False


async def test_unknown_refresh_token_is_invalid(client: httpx.AsyncClient) -> None:
    response = await client.post(REFRESH, json={"refresh_token": "csr_not-issued"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_refresh_without_a_token_is_invalid(client: httpx.AsyncClient) -> None:
    response = await client.post(REFRESH)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_refresh_of_a_suspended_user_is_refused(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signed = await create_and_login(state, client)
    await update_user(state, signed.user_id, status=UserStatus.suspended)
    response = await client.post(REFRESH, json={"refresh_token": signed.refresh_token})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_suspended"
