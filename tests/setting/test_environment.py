"""Environment variables pin settings: they win over stored values, say so, and refuse changes
that could never apply. The variables are set before each test's app is built."""

from __future__ import annotations

import httpx
import pytest

from cinesonic.config import Settings
from cinesonic.models.setting import ServerSetting
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn
from tests.setting.conftest import ADMIN_CONFIG, SERVER, another_app


@pytest.fixture
def settings_overrides(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.setenv("CINESONIC_OPEN_REGISTRATION", "false")
    monkeypatch.setenv("cinesonic_cookie_samesite", "strict")  # names are case-insensitive
    return {}


async def test_a_pinned_setting_says_it_comes_from_the_environment(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    response = await client.get(f"{SERVER}/open_registration", headers=admin.headers)
    body = response.json()
    assert (body["value"], body["source"]) == (False, "environment")
    assert body["environment_variable"] == "CINESONIC_OPEN_REGISTRATION"
    samesite = (await client.get(f"{SERVER}/cookie_samesite", headers=admin.headers)).json()
    assert (samesite["value"], samesite["source"]) == ("strict", "environment")
    assert state.settings.open_registration is False


async def test_changing_a_pinned_setting_is_a_conflict(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    response = await client.put(
        f"{SERVER}/open_registration", json={"value": True}, headers=admin.headers
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "overridden_by_environment"
    assert error["details"] == [
        {"key": "open_registration", "environment_variable": "CINESONIC_OPEN_REGISTRATION"}
    ]
    assert state.settings.open_registration is False


async def test_admin_config_refuses_changing_a_pinned_setting(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    response = await client.put(
        ADMIN_CONFIG,
        json={"open_registration": True, "login_lockout_threshold": 3},
        headers=admin.headers,
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "overridden_by_environment"
    assert state.settings.login_lockout_threshold == 5


async def test_admin_config_accepts_a_pinned_setting_sent_back_unchanged(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    config = (await client.get(ADMIN_CONFIG, headers=admin.headers)).json()
    assert config["features"]["open_registration"] is False
    config["security"]["login_lockout_threshold"] = 3
    response = await client.put(ADMIN_CONFIG, json=config, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["updated"] == ["login_lockout_threshold"]


async def test_the_environment_wins_over_a_stored_value(
    state: AppState, configured: Settings
) -> None:
    # Stored before the variable was set: it stays stored, but never applies.
    async with state.db.session() as session:
        session.add(ServerSetting(key="open_registration", value=True))
    async with another_app(configured) as restarted:
        assert restarted.settings.open_registration is False
