"""The admin routes of accounts: 401 without a token, 403 without the permission they need."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login

Route = tuple[str, str, dict[str, Any] | None]
NEW_ACCOUNT = {"username": "carol", "email": "carol@example.com", "password": "Pass-word-1"}
# Each needs `users.manage`; moderators hold only `users.read`.
MANAGE_ROUTES: list[Route] = [
    ("POST", "/api/v1/users", NEW_ACCOUNT),
    ("PUT", "/api/v1/users/{id}", {"status": "suspended"}),
    ("DELETE", "/api/v1/users/{id}", None),
    ("PUT", "/api/v1/admin/users/{id}", {"status": "suspended"}),
    ("DELETE", "/api/v1/admin/users/{id}", None),
]
READ_ROUTES: list[Route] = [
    ("GET", "/api/v1/users", None),
    ("GET", "/api/v1/admin/users", None),
    ("GET", "/api/v1/users/{id}/full", None),
]


def route_ids(routes: list[Route]) -> list[str]:
    return [f"{method} {path}" for method, path, _ in routes]


async def call(
    client: httpx.AsyncClient, route: Route, target: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    method, path, body = route
    return await client.request(method, path.format(id=target), json=body, headers=headers)


@pytest.mark.parametrize(
    "route", MANAGE_ROUTES + READ_ROUTES, ids=route_ids(MANAGE_ROUTES + READ_ROUTES)
)
@pytest.mark.parametrize("role", ["user", "guest"])
async def test_admin_route_is_refused_to_ordinary_users(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn, route: Route, role: str
) -> None:
    caller = await create_and_login(state, client, "caller", role=role)
    response = await call(client, route, admin.user_id, caller.headers)
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("route", MANAGE_ROUTES, ids=route_ids(MANAGE_ROUTES))
async def test_manage_route_is_refused_to_moderators(
    client: httpx.AsyncClient, state: AppState, admin: SignedIn, route: Route
) -> None:
    moderator = await create_and_login(state, client, "mod", role="moderator")
    response = await call(client, route, admin.user_id, moderator.headers)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    "route", MANAGE_ROUTES + READ_ROUTES, ids=route_ids(MANAGE_ROUTES + READ_ROUTES)
)
async def test_admin_route_requires_sign_in(
    client: httpx.AsyncClient, admin: SignedIn, route: Route
) -> None:
    response = await call(client, route, admin.user_id)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"
