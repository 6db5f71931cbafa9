"""`GET/PUT /users/me/preferences`: validated, merged, strict about unknown keys."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.users import SignedIn

PREFERENCES = "/api/v1/users/me/preferences"
DEFAULTS = {
    "language": "en",
    "theme": "system",
    "time_zone": "UTC",
    "audio_quality": "original",
    "transcode_bitrate_kbps": 192,
    "subtitle_language": None,
    "autoplay_next": True,
    "items_per_page": 50,
}


async def test_preferences_start_at_their_defaults(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    response = await client.get(PREFERENCES, headers=member.headers)
    assert response.status_code == 200
    assert response.json() == DEFAULTS


async def test_update_merges_into_earlier_choices(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    await client.put(PREFERENCES, json={"theme": "dark"}, headers=member.headers)
    response = await client.put(
        PREFERENCES,
        json={"time_zone": "Europe/Paris", "subtitle_language": "pt-BR", "items_per_page": 100},
        headers=member.headers,
    )
    assert response.status_code == 200, response.text
    expected = {
        **DEFAULTS,
        "theme": "dark",
        "time_zone": "Europe/Paris",
        "subtitle_language": "pt-BR",
        "items_per_page": 100,
    }
    assert response.json() == expected
    assert (await client.get(PREFERENCES, headers=member.headers)).json() == expected


async def test_null_resets_a_preference_to_its_default(
    client: httpx.AsyncClient, member: SignedIn
) -> None:
    await client.put(
        PREFERENCES, json={"theme": "light", "autoplay_next": False}, headers=member.headers
    )
    response = await client.put(PREFERENCES, json={"theme": None}, headers=member.headers)
    assert response.json()["theme"] == "system"
    assert response.json()["autoplay_next"] is False


async def test_unknown_preference_is_refused(client: httpx.AsyncClient, member: SignedIn) -> None:
    response = await client.put(
        PREFERENCES, json={"theme": "dark", "timeZone": "UTC"}, headers=member.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "timeZone"
    assert (await client.get(PREFERENCES, headers=member.headers)).json()["theme"] == "system"


@pytest.mark.parametrize(
    "fields",
    [
        {"time_zone": "Mars/Olympus_Mons"},
        {"time_zone": "../../etc/passwd"},
        {"theme": "sepia"},
        {"language": "english please"},
        {"subtitle_language": "x"},
        {"items_per_page": 5},
        {"items_per_page": 201},
        {"transcode_bitrate_kbps": 1000},
        {"audio_quality": "best"},
        {"autoplay_next": "sometimes"},
    ],
)
async def test_invalid_preference_is_refused(
    client: httpx.AsyncClient, member: SignedIn, fields: dict[str, Any]
) -> None:
    response = await client.put(PREFERENCES, json=fields, headers=member.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == next(iter(fields))


async def test_preferences_require_sign_in(client: httpx.AsyncClient) -> None:
    assert (await client.get(PREFERENCES)).status_code == 401
    assert (await client.put(PREFERENCES, json={"theme": "dark"})).status_code == 401
