"""Cookie mode for browsers [002]: httpOnly refresh and access cookies, a readable CSRF cookie
that unsafe cookie-authenticated requests must echo in `X-CSRF-Token`."""

from __future__ import annotations

import httpx
import pytest

from cinesonic.auth.security import issue_csrf_token
from cinesonic.state import AppState
from tests.fixtures.users import PASSWORD, create_user

LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/auth/me"


def set_cookies(response: httpx.Response) -> dict[str, tuple[str, set[str]]]:
    """name → (value, lower-cased attributes) of every Set-Cookie header."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        found[name] = (value, {a.lower() for a in attributes})
    return found


async def cookie_login(client: httpx.AsyncClient, state: AppState) -> httpx.Response:
    await create_user(state, "ada")
    response = await client.post(LOGIN, json={"identifier": "ada", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response


def csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies["csrf_token"]}


def replace_csrf_cookie(client: httpx.AsyncClient, value: str) -> None:
    # httpx files cookies of the host "test" under "test.local"; overwrite that very cookie.
    client.cookies.set("csrf_token", value, domain="test.local", path="/")
    assert client.cookies["csrf_token"] == value


async def test_login_sets_the_cookie_mode_cookies(
    client: httpx.AsyncClient, state: AppState
) -> None:
    response = await cookie_login(client, state)
    body = response.json()
    cookies = set_cookies(response)
    refresh_value, refresh_attributes = cookies["refresh_token"]
    assert refresh_value == body["refresh_token"]
    assert {"httponly", "samesite=lax", "path=/api/v1"} <= refresh_attributes
    assert f"max-age={30 * 86400}" in refresh_attributes
    access_value, access_attributes = cookies["access_token"]
    assert access_value == body["access_token"]
    assert {"httponly", "samesite=lax", "path=/", "max-age=900"} <= access_attributes
    csrf_value, csrf_attributes = cookies["csrf_token"]
    assert csrf_value == body["csrf_token"]
    assert "httponly" not in csrf_attributes  # the page's script must read it
    assert "secure" not in refresh_attributes


@pytest.mark.settings(cookie_secure=True, cookie_samesite="strict")
async def test_cookie_attributes_follow_the_settings(
    client: httpx.AsyncClient, state: AppState
) -> None:
    response = await cookie_login(client, state)
    for _value, attributes in set_cookies(response).values():
        assert {"secure", "samesite=strict"} <= attributes


async def test_cookie_reads_need_no_csrf_header(client: httpx.AsyncClient, state: AppState) -> None:
    await cookie_login(client, state)
    response = await client.get(ME)
    assert response.status_code == 200
    assert response.json()["username"] == "ada"


async def test_cookie_write_without_csrf_header_is_refused(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await cookie_login(client, state)
    response = await client.post(LOGOUT)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert (await client.get(ME)).status_code == 200  # nothing happened


async def test_cookie_write_with_a_wrong_csrf_header_is_refused(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await cookie_login(client, state)
    response = await client.post(LOGOUT, headers={"X-CSRF-Token": "not-the-token"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


async def test_forged_matching_csrf_pair_is_refused(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await cookie_login(client, state)
    replace_csrf_cookie(client, "forged.9999999999.deadbeef")
    response = await client.post(LOGOUT, headers={"X-CSRF-Token": "forged.9999999999.deadbeef"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


async def test_expired_csrf_token_is_refused(client: httpx.AsyncClient, state: AppState) -> None:
    await cookie_login(client, state)
    expired, _ = issue_csrf_token(state.settings.signing_key, -10)
    replace_csrf_cookie(client, expired)
    response = await client.post(LOGOUT, headers={"X-CSRF-Token": expired})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


async def test_cookie_write_with_the_csrf_header_works(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await cookie_login(client, state)
    response = await client.post(LOGOUT, headers=csrf(client))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "tokens_revoked": 1}
    cleared = set_cookies(response)
    assert set(cleared) == {"refresh_token", "access_token", "csrf_token"}
    assert all("max-age=0" in attributes for _value, attributes in cleared.values())
    assert (await client.get(ME)).status_code == 401


async def test_bearer_writes_need_no_csrf_header_even_with_cookies(
    client: httpx.AsyncClient, state: AppState
) -> None:
    response = await cookie_login(client, state)
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert (await client.post(LOGOUT, headers=headers)).status_code == 200


async def test_cookie_refresh_needs_the_csrf_header(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await cookie_login(client, state)
    response = await client.post(REFRESH)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


async def test_cookie_refresh_with_the_csrf_header_rotates_the_cookies(
    client: httpx.AsyncClient, state: AppState
) -> None:
    first = await cookie_login(client, state)
    response = await client.post(REFRESH, headers=csrf(client))
    assert response.status_code == 200, response.text
    cookies = set_cookies(response)
    assert cookies["refresh_token"][0] != first.json()["refresh_token"]
    assert cookies["csrf_token"][0] == response.json()["csrf_token"]
    assert (await client.post(LOGOUT, headers=csrf(client))).status_code == 200


async def test_cookie_refresh_works_under_the_sessions_path(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await cookie_login(client, state)
    response = await client.post("/api/v1/sessions/refresh", headers=csrf(client))
    assert response.status_code == 200, response.text


async def test_issued_csrf_token_is_usable(client: httpx.AsyncClient, state: AppState) -> None:
    await cookie_login(client, state)
    issued = await client.post("/api/v1/csrf/token", json={"intent": "form_submission"})
    assert issued.status_code == 200
    token = issued.json()["token"]
    assert set_cookies(issued)["csrf_token"][0] == token
    assert issued.json()["expires_at"]
    response = await client.post(LOGOUT, headers={"X-CSRF-Token": token})
    assert response.status_code == 200


@pytest.mark.settings(rate_limit_csrf="2/minute")
async def test_csrf_token_endpoint_is_rate_limited(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await client.post("/api/v1/csrf/token")).status_code == 200
    response = await client.post("/api/v1/csrf/token")
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
