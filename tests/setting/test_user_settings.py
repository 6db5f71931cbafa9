"""`/settings/user[/{key}]`: each signed-in user's own settings — their preferences, typed and
validated, one key at a time."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cinesonic.setting.registry import USER_SETTINGS
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login
from tests.setting.conftest import USER


async def put(client: httpx.AsyncClient, who: SignedIn, key: str, value: Any) -> httpx.Response:
    return await client.put(f"{USER}/{key}", json={"value": value}, headers=who.headers)


async def test_my_settings_start_at_their_defaults(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    response = await client.get(USER, headers=member.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"]["total"] == len(USER_SETTINGS)
    assert {e["key"]: (e["value"], e["source"]) for e in body["data"]} == {
        key: (definition.default, "default") for key, definition in USER_SETTINGS.items()
    }
    items = next(e for e in body["data"] if e["key"] == "items_per_page")
    assert (items["type"], items["rule"]) == ("integer", "an integer ≥ 10 and ≤ 200")


async def test_a_change_is_mine_and_shared_with_my_preferences(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    response = await put(client, member, "theme", "dark")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["value"], body["default"], body["source"]) == ("dark", "system", "user")
    preferences = await client.get("/api/v1/users/me/preferences", headers=member.headers)
    assert preferences.json()["theme"] == "dark"
    read = await client.get(f"{USER}/theme", headers=member.headers)
    assert read.json() == body


async def test_preferences_set_elsewhere_show_as_mine(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    await client.put(
        "/api/v1/users/me/preferences", json={"time_zone": "Asia/Tokyo"}, headers=member.headers
    )
    body = (await client.get(f"{USER}/time_zone", headers=member.headers)).json()
    assert (body["value"], body["source"]) == ("Asia/Tokyo", "user")


async def test_users_only_see_their_own_settings(
    client: httpx.AsyncClient, member: SignedIn, state: AppState
) -> None:
    other = await create_and_login(state, client, "carol")
    await put(client, member, "items_per_page", 100)
    theirs = await client.get(f"{USER}/items_per_page", headers=other.headers)
    assert (theirs.json()["value"], theirs.json()["source"]) == (50, "default")


async def test_value_breaking_the_rule_is_refused_with_the_rule(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    response = await put(client, member, "items_per_page", 5)
    assert response.status_code == 422
    (detail,) = response.json()["error"]["details"]
    assert (detail["field"], detail["type"]) == ("value", "greater_than_equal")
    assert detail["rule"] == "an integer ≥ 10 and ≤ 200"


async def test_unknown_time_zone_is_refused_with_the_reason(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    response = await put(client, member, "time_zone", "Mars/Olympus_Mons")
    assert response.status_code == 422
    (detail,) = response.json()["error"]["details"]
    assert "is not an IANA time zone" in detail["message"]
    assert detail["rule"] == "an IANA time zone such as 'Europe/Paris'"


async def test_wrong_type_is_refused(client: httpx.AsyncClient, member: SignedIn) -> None:
    response = await put(client, member, "autoplay_next", "yes")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["rule"] == "true or false"
    read = await client.get(f"{USER}/autoplay_next", headers=member.headers)
    assert read.json()["value"] is True


async def test_null_is_refused_where_a_setting_needs_a_value(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    response = await put(client, member, "theme", None)
    assert response.status_code == 422


async def test_a_nullable_setting_takes_null(client: httpx.AsyncClient, member: SignedIn) -> None:
    await put(client, member, "subtitle_language", "pt-BR")
    response = await put(client, member, "subtitle_language", None)
    assert response.status_code == 200, response.text
    assert (response.json()["value"], response.json()["source"]) == (None, "default")


async def test_reset_puts_the_default_back(client: httpx.AsyncClient, member: SignedIn) -> None:
    await put(client, member, "audio_quality", "low")
    response = await client.delete(f"{USER}/audio_quality", headers=member.headers)
    assert response.status_code == 200
    assert response.json() == {"status": "deleted"}
    read = (await client.get(f"{USER}/audio_quality", headers=member.headers)).json()
    assert (read["value"], read["source"]) == ("original", "default")


async def test_unknown_key_is_not_found(client: httpx.AsyncClient, member: SignedIn) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(
            method, f"{USER}/font_size", json={"value": 12}, headers=member.headers
        )
        assert response.status_code == 404, method
        assert response.json()["error"]["code"] == "not_found"


async def test_my_settings_sort_by_key_only(client: httpx.AsyncClient, member: SignedIn) -> None:
    by_key = await client.get(USER, params={"sort": "-key"}, headers=member.headers)
    assert [e["key"] for e in by_key.json()["data"]] == sorted(USER_SETTINGS, reverse=True)
    by_value = await client.get(USER, params={"sort": "value"}, headers=member.headers)
    assert by_value.status_code == 422


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_an_overlong_key_is_refused(
    client: httpx.AsyncClient, member: SignedIn, method: str
) -> None:
    response = await client.request(
        method, f"{USER}/{'k' * 65}", json={"value": 1}, headers=member.headers
    )
    assert response.status_code == 422


async def test_a_server_setting_is_not_a_user_setting(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    response = await put(client, member, "open_registration", False)
    assert response.status_code == 404


async def test_guests_may_change_their_own_settings(
    client: httpx.AsyncClient, state: AppState
) -> None:
    guest = await create_and_login(state, client, "gus", role="guest")
    response = await put(client, guest, "language", "fr")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", USER, None),
        ("GET", f"{USER}/theme", None),
        ("PUT", f"{USER}/theme", {"value": "dark"}),
        ("DELETE", f"{USER}/theme", None),
    ],
)
async def test_user_settings_need_a_signed_in_user(
    client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"
