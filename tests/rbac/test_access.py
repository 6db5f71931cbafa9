"""Every rbac route but the catalogue needs `rbac.manage`: 401 without a token, 403 without the
permission (moderators included)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login

ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/rbac/roles", None),
    ("POST", "/api/v1/rbac/roles", {"name": "sneaky", "permissions": []}),
    ("GET", "/api/v1/rbac/roles/user", None),
    ("PUT", "/api/v1/rbac/roles/user", {"description": "mine now"}),
    ("DELETE", "/api/v1/rbac/roles/user", None),
    ("GET", "/api/v1/rbac/roles/user/permissions", None),
    ("PUT", "/api/v1/rbac/roles/user/permissions", {"permissions": ["rbac.manage"]}),
    ("POST", "/api/v1/rbac/roles/user/permissions", {"permission": "rbac.manage"}),
    ("DELETE", "/api/v1/rbac/roles/user/permissions/music.read", None),
    ("GET", "/api/v1/rbac/users/{id}/roles", None),
    ("POST", "/api/v1/rbac/users/{id}/roles", {"role": "admin"}),
    ("DELETE", "/api/v1/rbac/users/{id}/roles/admin", None),
    ("GET", "/api/v1/rbac/policies", None),
]


async def call(
    client: httpx.AsyncClient,
    route: tuple[str, str, dict[str, Any] | None],
    target: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    method, path, body = route
    return await client.request(method, path.format(id=target), json=body, headers=headers)


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize("role", ["user", "moderator", "guest"])
async def test_rbac_route_is_refused_without_rbac_manage(
    client: httpx.AsyncClient,
    state: AppState,
    admin: SignedIn,
    route: tuple[str, str, dict[str, Any] | None],
    role: str,
) -> None:
    caller = await create_and_login(state, client, "caller", role=role)
    response = await call(client, route, admin.user_id, caller.headers)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_rbac_route_requires_sign_in(
    client: httpx.AsyncClient, admin: SignedIn, route: tuple[str, str, dict[str, Any] | None]
) -> None:
    response = await call(client, route, admin.user_id)
    assert response.status_code == 401
