"""The pagination helper through the real app and database: a probe route pages the `role` table
(four built-in roles plus the ones each test adds)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from cinesonic.models.user import Role
from cinesonic.state import AppState
from tests.platform.probe import PREFIX

ROLES = f"{PREFIX}/roles"
BUILTIN = ["admin", "guest", "moderator", "user"]
SIZE_ALIASES = ["page_size", "pageSize", "per_page", "perPage", "limit"]


async def add_roles(state: AppState, names: Sequence[str], description: str = "extra") -> None:
    async with state.db.session() as session:
        session.add_all(
            Role(name=name, description=description, is_builtin=False, grants_all=False)
            for name in names
        )


async def with_21_extra_roles(state: AppState) -> list[str]:
    """25 roles in all; returns every name in name order."""
    await add_roles(state, [f"r{i:02d}" for i in range(21)])
    return sorted([*BUILTIN, *(f"r{i:02d}" for i in range(21))])


async def fetch(client: httpx.AsyncClient, **query: Any) -> dict[str, Any]:
    response = await client.get(ROLES, params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def names_of(body: dict[str, Any]) -> list[str]:
    return [item["name"] for item in body["data"]]


def assert_refused(response: httpx.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == "validation_error"
    assert body["request_id"] == response.headers["x-request-id"]
    assert [detail["field"] for detail in body["error"]["details"]] == [field]
    return body


async def test_default_page_holds_fifty_items(client: httpx.AsyncClient, state: AppState) -> None:
    await add_roles(state, [f"bulk{i:03d}" for i in range(56)])
    body = await fetch(client)
    assert len(body["data"]) == 50
    assert body["pagination"] == {
        "page": 1,
        "page_size": 50,
        "offset": 0,
        "total": 60,
        "total_pages": 2,
    }


async def test_page_and_page_size_select_one_window(
    client: httpx.AsyncClient, state: AppState
) -> None:
    names = await with_21_extra_roles(state)
    body = await fetch(client, page=2, page_size=10)
    assert names_of(body) == names[10:20]
    assert body["pagination"] == {
        "page": 2,
        "page_size": 10,
        "offset": 10,
        "total": 25,
        "total_pages": 3,
    }


@pytest.mark.parametrize("alias", SIZE_ALIASES)
async def test_every_page_size_alias_sets_the_page_size(
    client: httpx.AsyncClient, state: AppState, alias: str
) -> None:
    names = await with_21_extra_roles(state)
    body = await fetch(client, page=3, **{alias: 4})
    assert names_of(body) == names[8:12]
    assert body["pagination"]["page_size"] == 4
    assert body["pagination"]["offset"] == 8
    assert body["pagination"]["total_pages"] == 7


async def test_offset_with_limit_starts_mid_page(
    client: httpx.AsyncClient, state: AppState
) -> None:
    names = await with_21_extra_roles(state)
    body = await fetch(client, offset=7, limit=5)
    assert names_of(body) == names[7:12]
    assert body["pagination"] == {
        "page": 2,
        "page_size": 5,
        "offset": 7,
        "total": 25,
        "total_pages": 5,
    }


async def test_page_past_the_end_is_empty_with_true_totals(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await with_21_extra_roles(state)
    body = await fetch(client, page=9, page_size=10)
    assert body["data"] == []
    assert body["pagination"]["total"] == 25
    assert body["pagination"]["total_pages"] == 3


@pytest.mark.parametrize(
    ("page_size", "total_pages"), [(1, 25), (5, 5), (10, 3), (24, 2), (200, 1)]
)
async def test_total_pages_rounds_up(
    client: httpx.AsyncClient, state: AppState, page_size: int, total_pages: int
) -> None:
    await with_21_extra_roles(state)
    body = await fetch(client, page_size=page_size)
    assert body["pagination"]["total_pages"] == total_pages
    assert len(body["data"]) == min(page_size, 25)


async def test_page_size_of_two_hundred_is_accepted(client: httpx.AsyncClient) -> None:
    body = await fetch(client, page_size=200)
    assert body["pagination"]["page_size"] == 200


@pytest.mark.parametrize("alias", SIZE_ALIASES)
async def test_page_size_over_two_hundred_is_refused_naming_the_parameter(
    client: httpx.AsyncClient, alias: str
) -> None:
    response = await client.get(ROLES, params={alias: 201})
    body = assert_refused(response, alias)
    assert "200" in body["error"]["details"][0]["message"]


async def test_page_size_zero_is_refused(client: httpx.AsyncClient) -> None:
    assert_refused(await client.get(ROLES, params={"page_size": 0}), "page_size")


async def test_page_zero_is_refused(client: httpx.AsyncClient) -> None:
    assert_refused(await client.get(ROLES, params={"page": 0}), "page")


async def test_negative_page_is_refused(client: httpx.AsyncClient) -> None:
    assert_refused(await client.get(ROLES, params={"page": -3}), "page")


async def test_negative_offset_is_refused(client: httpx.AsyncClient) -> None:
    assert_refused(await client.get(ROLES, params={"offset": -1, "limit": 5}), "offset")


async def test_non_numeric_page_is_refused(client: httpx.AsyncClient) -> None:
    assert_refused(await client.get(ROLES, params={"page": "two"}), "page")


async def test_page_beyond_any_database_integer_is_refused_not_a_crash(
    client: httpx.AsyncClient,
) -> None:
    assert_refused(await client.get(ROLES, params={"page": 10**20}), "page")


async def test_offset_beyond_any_database_integer_is_refused_not_a_crash(
    client: httpx.AsyncClient,
) -> None:
    assert_refused(await client.get(ROLES, params={"offset": 2**63}), "offset")


async def test_unknown_order_direction_is_refused(client: httpx.AsyncClient) -> None:
    assert_refused(await client.get(ROLES, params={"sort": "name", "order": "up"}), "order")


async def test_comma_separated_sort_mixes_directions(
    client: httpx.AsyncClient, state: AppState
) -> None:
    # Digits sort before the built-in roles' descriptions under any collation.
    await add_roles(state, ["b1", "b2"], description="0b")
    await add_roles(state, ["a1", "a2"], description="0a")
    body = await fetch(client, sort="description,-name", page_size=4)
    assert names_of(body) == ["a2", "a1", "b2", "b1"]


async def test_sort_with_order_desc_reverses_the_field(
    client: httpx.AsyncClient, state: AppState
) -> None:
    names = await with_21_extra_roles(state)
    body = await fetch(client, sort="name", order="desc", page_size=5)
    assert names_of(body) == list(reversed(names))[:5]


async def test_minus_prefix_wins_over_order_asc(client: httpx.AsyncClient, state: AppState) -> None:
    names = await with_21_extra_roles(state)
    body = await fetch(client, sort="-name", order="asc", page_size=3)
    assert names_of(body) == list(reversed(names))[:3]


async def test_unknown_sort_field_is_refused_listing_the_allowed_fields(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(ROLES, params={"sort": "name,-password_hash"})
    body = assert_refused(response, "sort")
    message = body["error"]["details"][0]["message"]
    assert "password_hash" in message
    assert "created_at, description, name" in message


async def test_ties_are_broken_by_id_so_pages_neither_overlap_nor_skip(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await add_roles(state, [f"tie{i:02d}" for i in range(20)], description="same")
    seen: list[str] = []
    for page in range(1, 9):
        body = await fetch(client, sort="description", page=page, page_size=3)
        seen += [item["id"] for item in body["data"] if item["description"] == "same"]
    assert len(seen) == 20
    assert len(set(seen)) == 20
    assert seen == sorted(seen, key=uuid.UUID)


async def test_the_same_query_answers_the_same_order_every_time(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await add_roles(state, [f"tie{i:02d}" for i in range(12)], description="same")
    first = await fetch(client, sort="-description", page_size=200)
    for _ in range(3):
        again = await fetch(client, sort="-description", page_size=200)
        assert [item["id"] for item in again["data"]] == [item["id"] for item in first["data"]]
