"""`/settings/server[/{key}]`: the typed registry, changes that apply on the next request,
rules stated on refusal, resets, the audit trail and who may do what."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from cinesonic.config import Settings
from cinesonic.setting.registry import SERVER_SETTINGS
from cinesonic.state import AppState
from tests.fixtures.users import PASSWORD, SignedIn, assign_role, create_role
from tests.setting.conftest import SERVER, another_app


async def put(
    client: httpx.AsyncClient, who: SignedIn, key: str, value: Any, path: str = SERVER
) -> httpx.Response:
    return await client.put(f"{path}/{key}", json={"value": value}, headers=who.headers)


async def test_list_holds_every_runtime_setting_with_type_rule_and_source(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.get(SERVER, headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pagination"]["total"] == len(SERVER_SETTINGS)
    assert [entry["key"] for entry in body["data"]] == list(SERVER_SETTINGS)
    threshold = next(e for e in body["data"] if e["key"] == "login_lockout_threshold")
    assert threshold == {
        "key": "login_lockout_threshold",
        "group": "security",
        "type": "integer",
        "description": "Failed logins in a row that lock an account.",
        "rule": "an integer ≥ 1",
        "value_schema": {"type": "integer", "minimum": 1},
        "value": 5,
        "is_set": True,
        "default": 5,
        "source": "default",
        "environment_variable": "CINESONIC_LOGIN_LOCKOUT_THRESHOLD",
        "is_secret": False,
        "restart_required": False,
        "pending_restart": False,
        "updated_at": None,
        "updated_by": None,
    }


async def test_deployment_settings_are_not_in_the_registry(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    for key in ("secret_key", "database_url", "data_dir", "redis_url"):
        response = await client.get(f"{SERVER}/{key}", headers=admin.headers)
        assert response.status_code == 404, key


async def test_list_filters_by_group(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.get(SERVER, params={"group": "mail"}, headers=admin.headers)
    assert response.status_code == 200
    keys = [entry["key"] for entry in response.json()["data"]]
    assert keys == [k for k, d in SERVER_SETTINGS.items() if d.group == "mail"]
    assert "smtp_password" in keys


async def test_list_sorts_by_key(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.get(SERVER, params={"sort": "-key"}, headers=admin.headers)
    keys = [entry["key"] for entry in response.json()["data"]]
    assert keys == sorted(SERVER_SETTINGS, reverse=True)


async def test_list_pages(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.get(SERVER, params={"page": 2, "page_size": 5}, headers=admin.headers)
    body = response.json()
    assert [entry["key"] for entry in body["data"]] == list(SERVER_SETTINGS)[5:10]
    assert body["pagination"]["total_pages"] == -(-len(SERVER_SETTINGS) // 5)


async def test_list_refuses_an_unknown_sort_or_group(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    by_value = await client.get(SERVER, params={"sort": "value"}, headers=admin.headers)
    assert by_value.status_code == 422
    assert by_value.json()["error"]["details"][0]["field"] == "sort"
    by_group = await client.get(SERVER, params={"group": "colours"}, headers=admin.headers)
    assert by_group.status_code == 422


async def test_closing_registration_refuses_the_next_registration(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await put(client, admin, "open_registration", False)
    assert response.status_code == 200, response.text
    registration = await client.post(
        "/api/v1/auth/register",
        json={"username": "eve", "email": "eve@example.com", "password": PASSWORD},
    )
    assert registration.status_code == 403
    assert registration.json()["error"]["code"] == "registration_closed"


async def test_a_change_reports_where_it_comes_from_and_who_made_it(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    response = await put(client, admin, "login_lockout_threshold", 9)
    body = response.json()
    assert (body["value"], body["default"], body["source"]) == (9, 5, "database")
    assert body["updated_by"] == admin.user_id
    assert body["updated_at"] is not None
    assert state.settings.login_lockout_threshold == 9
    read = await client.get(f"{SERVER}/login_lockout_threshold", headers=admin.headers)
    assert read.json() == body


async def test_wrong_type_is_refused_with_the_rule(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    response = await put(client, admin, "login_lockout_threshold", "9")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"] == [
        {
            "field": "value",
            "location": "body",
            "message": "Input should be a valid integer",
            "type": "int_type",
            "rule": "an integer ≥ 1",
        }
    ]
    assert state.settings.login_lockout_threshold == 5


async def test_value_breaking_a_constraint_is_refused_with_the_rule(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await put(client, admin, "login_lockout_threshold", 0)
    assert response.status_code == 422
    (detail,) = response.json()["error"]["details"]
    assert detail["type"] == "greater_than_equal"
    assert detail["rule"] == "an integer ≥ 1"
    assert "an integer ≥ 1" in response.json()["error"]["message"]


async def test_value_outside_a_choice_is_refused_with_the_choices(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await put(client, admin, "cookie_samesite", "sometimes")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["rule"] == 'one of "lax", "strict", "none"'


async def test_malformed_rate_limit_is_refused(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await put(client, admin, "rate_limit_login", "lots")
    assert response.status_code == 422
    assert "20/minute" in response.json()["error"]["details"][0]["rule"]


async def test_null_is_refused_where_a_setting_needs_a_value(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    assert (await put(client, admin, "open_registration", None)).status_code == 422
    assert (await put(client, admin, "smtp_host", None)).status_code == 200


async def test_a_body_without_value_is_refused(client: httpx.AsyncClient, admin: SignedIn) -> None:
    response = await client.put(
        f"{SERVER}/open_registration", json={"open_registration": False}, headers=admin.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "value"


async def test_unknown_key_is_not_found(client: httpx.AsyncClient, admin: SignedIn) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(
            method, f"{SERVER}/colour_scheme", json={"value": 1}, headers=admin.headers
        )
        assert response.status_code == 404, method
        assert response.json()["error"]["code"] == "not_found"


async def test_reset_puts_the_default_back(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    await put(client, admin, "password_reset_ttl_minutes", 10)
    response = await client.delete(f"{SERVER}/password_reset_ttl_minutes", headers=admin.headers)
    assert response.status_code == 200
    assert response.json() == {"status": "deleted"}
    read = (await client.get(f"{SERVER}/password_reset_ttl_minutes", headers=admin.headers)).json()
    assert (read["value"], read["source"], read["updated_at"]) == (30, "default", None)
    assert state.settings.password_reset_ttl_minutes == 30


async def test_reset_of_a_setting_never_changed_is_harmless(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.delete(f"{SERVER}/cookie_secure", headers=admin.headers)
    assert response.status_code == 200
    assert response.json() == {"status": "deleted"}


async def test_changes_and_resets_are_audited(client: httpx.AsyncClient, admin: SignedIn) -> None:
    await put(client, admin, "refresh_token_ttl_days", 7)
    await client.delete(f"{SERVER}/refresh_token_ttl_days", headers=admin.headers)
    response = await client.get(
        "/api/v1/admin/activity",
        params={"resource_type": "setting", "resource_id": "refresh_token_ttl_days"},
        headers=admin.headers,
    )
    entries = response.json()["data"]
    assert [(e["action"], e["details"]) for e in entries] == [
        ("setting.reset", {"previous": 7}),
        ("setting.update", {"value": 7, "previous": 30}),
    ]
    assert {e["actor_name"] for e in entries} == {"root"}


async def test_live_settings_reach_the_running_services(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    await put(client, admin, "rate_limit_enabled", False)
    assert state.limiter.enabled is False
    await put(client, admin, "max_json_body_bytes", 2048)
    response = await client.put(
        f"{SERVER}/mail_from", json={"value": "x" * 4096}, headers=admin.headers
    )
    assert response.status_code == 413


async def test_restart_required_setting_waits_for_a_restart(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState, configured: Settings
) -> None:
    response = await put(client, admin, "worker_concurrency", 8)
    body = response.json()
    assert (body["value"], body["restart_required"], body["pending_restart"]) == (8, True, True)
    assert state.settings.worker_concurrency == 4
    async with another_app(configured) as restarted:
        assert restarted.settings.worker_concurrency == 8


async def test_stored_values_survive_a_restart(
    client: httpx.AsyncClient, admin: SignedIn, configured: Settings
) -> None:
    await put(client, admin, "open_registration", False)
    await put(client, admin, "cookie_samesite", "strict")
    async with another_app(configured) as restarted:
        assert restarted.settings.open_registration is False
        assert restarted.settings.cookie_samesite == "strict"


async def test_hidden_aliases_of_the_music_library_api(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    listed = await client.get("/api/v1/settings", headers=admin.headers)
    assert listed.status_code == 200
    assert listed.json()["pagination"]["total"] == len(SERVER_SETTINGS)
    changed = await put(client, admin, "cookie_secure", True, path="/api/v1/settings")
    assert changed.status_code == 200
    assert changed.json()["value"] is True
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    assert "/api/v1/settings/server" in paths
    assert not {"/api/v1/settings", "/api/v1/settings/{key}"} & set(paths)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_an_overlong_key_is_refused(
    client: httpx.AsyncClient, admin: SignedIn, method: str
) -> None:
    response = await client.request(
        method, f"{SERVER}/{'k' * 65}", json={"value": 1}, headers=admin.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "key"


SERVER_ROUTES = [
    ("GET", SERVER, None),
    ("GET", "/api/v1/settings", None),
    ("GET", f"{SERVER}/open_registration", None),
    ("PUT", f"{SERVER}/open_registration", {"value": False}),
    ("PUT", "/api/v1/settings/open_registration", {"value": False}),
    ("DELETE", f"{SERVER}/open_registration", None),
    ("GET", "/api/v1/admin/config", None),
    ("PUT", "/api/v1/admin/config", {"open_registration": False}),
]


@pytest.mark.parametrize(("method", "path", "body"), SERVER_ROUTES)
async def test_server_settings_need_a_signed_in_user(
    client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


@pytest.mark.parametrize(("method", "path", "body"), SERVER_ROUTES)
async def test_server_settings_refuse_users_without_the_permission(
    client: httpx.AsyncClient, member: SignedIn, state: AppState, method: str, path: str, body: Any
) -> None:
    response = await client.request(method, path, json=body, headers=member.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert state.settings.open_registration is True


async def test_a_custom_role_with_the_permission_may_manage_settings(
    client: httpx.AsyncClient, admin: SignedIn, member: SignedIn
) -> None:
    await create_role(client, admin, "operator", ["settings.manage"])
    await assign_role(client, admin, member.user_id, "operator")
    response = await put(client, member, "cookie_secure", True)
    assert response.status_code == 200, response.text
    assert uuid.UUID(response.json()["updated_by"]) == uuid.UUID(member.user_id)
