"""`GET/PUT /admin/config` [003]: the grouped view of the server settings, changed all or
nothing."""

from __future__ import annotations

import httpx

from cinesonic.setting.registry import SERVER_SETTINGS, SettingGroup
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn
from tests.setting.conftest import ADMIN_CONFIG, SERVER


async def test_config_lists_every_setting_by_group(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.get(ADMIN_CONFIG, headers=admin.headers)
    assert response.status_code == 200
    config = response.json()
    assert set(config) == {group.value for group in SettingGroup}
    for key, definition in SERVER_SETTINGS.items():
        assert key in config[definition.group], key
    assert config["features"] == {
        "open_registration": True,
        "require_email_verification": False,
        "watched_threshold_percent": 90,
    }
    assert config["security"]["cookie_samesite"] == "lax"
    assert config["mail"]["smtp_password"] is None


async def test_grouped_update_answers_what_changed(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    response = await client.put(
        ADMIN_CONFIG,
        json={
            "features": {"open_registration": False, "require_email_verification": False},
            "security": {"login_lockout_threshold": 8},
            "jobs": {"worker_concurrency": 2},
        },
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["updated"] == ["open_registration", "login_lockout_threshold", "worker_concurrency"]
    assert body["unchanged"] == ["require_email_verification"]
    assert body["restart_required"] == ["worker_concurrency"]
    assert body["updated_by"] == admin.user_id
    assert (state.settings.open_registration, state.settings.login_lockout_threshold) == (False, 8)
    config = (await client.get(ADMIN_CONFIG, headers=admin.headers)).json()
    assert config["jobs"]["worker_concurrency"] == 2


async def test_flat_update_is_accepted_too(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    response = await client.put(
        ADMIN_CONFIG,
        json={"cookie_secure": True, "limits": {"rate_limit_login": "10/minute"}},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["updated"] == ["cookie_secure", "rate_limit_login"]
    assert state.settings.rate_limit_login == "10/minute"


async def test_one_bad_value_changes_nothing(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    response = await client.put(
        ADMIN_CONFIG,
        json={
            "features": {"open_registration": False},
            "security": {"login_lockout_threshold": 0, "cookie_secure": "yes"},
        },
        headers=admin.headers,
    )
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert [(d["field"], d["rule"]) for d in details] == [
        ("security.login_lockout_threshold", "an integer ≥ 1"),
        ("security.cookie_secure", "true or false"),
    ]
    assert state.settings.open_registration is True
    listed = (await client.get(SERVER, headers=admin.headers)).json()["data"]
    assert {entry["source"] for entry in listed} == {"default"}


async def test_unknown_keys_and_misplaced_keys_are_refused(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    response = await client.put(
        ADMIN_CONFIG,
        json={
            "open_registration": False,
            "features": {"youtube_downloads": True, "cookie_secure": True},
            "max_users": 20,
            "limits": 5,
        },
        headers=admin.headers,
    )
    assert response.status_code == 422
    messages = {d["field"]: d["message"] for d in response.json()["error"]["details"]}
    assert messages == {
        "features.youtube_downloads": "'youtube_downloads' is not a server setting",
        "features.cookie_secure": "'cookie_secure' belongs to the 'security' group",
        "max_users": "'max_users' is not a server setting",
        "limits": "a group must be an object of settings",
    }
    assert state.settings.open_registration is True


async def test_a_key_given_twice_is_refused(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.put(
        ADMIN_CONFIG,
        json={"open_registration": False, "features": {"open_registration": True}},
        headers=admin.headers,
    )
    assert response.status_code == 422
    assert "given twice" in response.json()["error"]["details"][0]["message"]


async def test_sending_back_what_was_read_changes_nothing(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    config = (await client.get(ADMIN_CONFIG, headers=admin.headers)).json()
    response = await client.put(ADMIN_CONFIG, json=config, headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["updated"] == []
    assert sorted(body["unchanged"]) == sorted(SERVER_SETTINGS)
    listed = (await client.get(SERVER, headers=admin.headers)).json()["data"]
    assert {entry["source"] for entry in listed} == {"default"}


async def test_each_change_is_audited(client: httpx.AsyncClient, admin: SignedIn) -> None:
    await client.put(
        ADMIN_CONFIG,
        json={"open_registration": False, "require_email_verification": False},
        headers=admin.headers,
    )
    response = await client.get(
        "/api/v1/admin/activity",
        params={"resource_type": "setting", "action": "setting.update"},
        headers=admin.headers,
    )
    entries = response.json()["data"]
    assert [(e["resource_id"], e["details"]) for e in entries] == [
        ("open_registration", {"value": False, "previous": True})
    ]
