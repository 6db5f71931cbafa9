"""`page_params`, `PageParams` and `apply_sort` on their own: arithmetic, aliases and ORDER BY."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from cinesonic.errors import ValidationFailed
from cinesonic.kit.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    PageParams,
    apply_sort,
    page_params,
)
from cinesonic.models.user import Role

sizes = st.integers(min_value=1, max_value=MAX_PAGE_SIZE)
SORTABLE = {"name": Role.name, "description": Role.description}


def order_by_sql(params: PageParams) -> str:
    statement = apply_sort(select(Role.id), params, SORTABLE, [Role.name], Role.id)
    compiled = str(statement.compile(dialect=sqlite.dialect()))
    return compiled.split("ORDER BY ", 1)[1]


def refused_field(error: pytest.ExceptionInfo[ValidationFailed]) -> str:
    field: str = error.value.details[0]["field"]
    return field


async def test_no_parameters_give_the_first_page_of_fifty() -> None:
    params = await page_params()
    assert (params.offset, params.page_size, params.page, params.sort) == (0, 50, 1, ())
    assert DEFAULT_PAGE_SIZE == 50


@given(page=st.integers(min_value=1, max_value=10**6), size=sizes)
async def test_page_maps_to_offset_and_back(page: int, size: int) -> None:
    params = await page_params(page=page, page_size=size)
    assert params.offset == (page - 1) * size
    assert params.page == page


@given(offset=st.integers(min_value=0, max_value=10**9), size=sizes)
async def test_offset_maps_to_the_page_that_holds_it(offset: int, size: int) -> None:
    params = await page_params(offset=offset, limit=size)
    assert params.offset == offset
    assert (params.page - 1) * size <= offset < params.page * size


@given(total=st.integers(min_value=0, max_value=10**9), size=sizes)
async def test_total_pages_is_the_fewest_pages_that_hold_every_item(total: int, size: int) -> None:
    meta = (await page_params(page_size=size)).meta(total)
    assert meta.total_pages == math.ceil(total / size)
    assert meta.total_pages * size >= total
    assert total == 0 or (meta.total_pages - 1) * size < total


@given(size=sizes)
async def test_every_alias_means_page_size(size: int) -> None:
    by_alias = [
        await page_params(page_size=size),
        await page_params(page_size_camel=size),
        await page_params(per_page=size),
        await page_params(per_page_camel=size),
        await page_params(limit=size),
    ]
    assert {params.page_size for params in by_alias} == {size}


async def test_offset_wins_over_page_when_both_are_given() -> None:
    assert (await page_params(page=4, offset=3, limit=10)).offset == 3


@given(size=st.integers().filter(lambda n: not 1 <= n <= MAX_PAGE_SIZE))
async def test_page_size_outside_one_to_two_hundred_is_refused(size: int) -> None:
    with pytest.raises(ValidationFailed) as error:
        await page_params(per_page=size)
    assert refused_field(error) == "per_page"


@given(page=st.integers(max_value=0))
async def test_page_below_one_is_refused(page: int) -> None:
    with pytest.raises(ValidationFailed) as error:
        await page_params(page=page)
    assert refused_field(error) == "page"


@given(offset=st.integers(max_value=-1))
async def test_negative_offset_is_refused(offset: int) -> None:
    with pytest.raises(ValidationFailed) as error:
        await page_params(offset=offset)
    assert refused_field(error) == "offset"


async def test_largest_offset_is_accepted() -> None:
    assert (await page_params(offset=MAX_OFFSET, limit=1)).offset == MAX_OFFSET


async def test_offset_past_the_largest_is_refused() -> None:
    with pytest.raises(ValidationFailed) as error:
        await page_params(offset=MAX_OFFSET + 1, limit=1)
    assert refused_field(error) == "offset"


async def test_page_whose_offset_is_past_the_largest_is_refused() -> None:
    with pytest.raises(ValidationFailed) as error:
        await page_params(page=MAX_OFFSET // 10 + 2, page_size=10)
    assert refused_field(error) == "page"


async def test_sort_parses_directions_and_skips_blanks() -> None:
    params = await page_params(sort=" name , -description,, +created_at ")
    assert params.sort == (("name", False), ("description", True), ("created_at", False))


async def test_order_desc_applies_to_fields_without_a_sign() -> None:
    params = await page_params(sort="name,-description", order="desc")
    assert params.sort == (("name", True), ("description", True))


async def test_sorted_query_ends_with_the_tie_breaker() -> None:
    params = await page_params(sort="description,-name")
    assert order_by_sql(params) == "role.description ASC, role.name DESC, role.id"


async def test_unsorted_query_uses_the_default_order_then_the_tie_breaker() -> None:
    assert order_by_sql(await page_params()) == "role.name, role.id"


async def test_unknown_sort_field_is_refused_with_the_allowed_list() -> None:
    with pytest.raises(ValidationFailed) as error:
        order_by_sql(await page_params(sort="secret"))
    assert refused_field(error) == "sort"
    assert (
        error.value.details[0]["message"] == "cannot sort by 'secret'; allowed: description, name"
    )
