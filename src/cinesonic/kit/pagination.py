"""The one pagination and sorting helper every list endpoint answers through.

Query: `page` (1-based) with `page_size` — or its aliases `pageSize`, `per_page`, `perPage`,
`limit` — or `offset` with `limit`. Default 50, maximum 200 (more is a 422, not a silent clamp).
`sort=name,-created_at` (a leading `-` is descending) or `sort=name&order=desc`.
Answer: `{"data": [...], "pagination": {page, page_size, offset, total, total_pages}}`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, Session

from cinesonic.errors import ValidationFailed
from cinesonic.kit import fastquery

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_OFFSET = 2**31 - 1


class PaginationMeta(BaseModel):
    page: int
    page_size: int
    offset: int
    total: int
    total_pages: int


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    pagination: PaginationMeta


@dataclass(frozen=True)
class PageParams:
    offset: int
    page_size: int
    sort: tuple[tuple[str, bool], ...]  # (field, descending)

    @property
    def page(self) -> int:
        return self.offset // self.page_size + 1

    def meta(self, total: int) -> PaginationMeta:
        return PaginationMeta(
            page=self.page,
            page_size=self.page_size,
            offset=self.offset,
            total=total,
            total_pages=math.ceil(total / self.page_size) if total else 0,
        )


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        details=[{"field": field, "location": "query", "message": message, "type": "value_error"}]
    )


async def page_params(
    page: Annotated[int | None, Query(description="1-based page number.")] = None,
    page_size: Annotated[
        int | None,
        Query(description=f"Items per page (default {DEFAULT_PAGE_SIZE}, max {MAX_PAGE_SIZE})."),
    ] = None,
    page_size_camel: Annotated[int | None, Query(alias="pageSize", include_in_schema=False)] = None,
    per_page: Annotated[int | None, Query(include_in_schema=False)] = None,
    per_page_camel: Annotated[int | None, Query(alias="perPage", include_in_schema=False)] = None,
    limit: Annotated[int | None, Query(description="Alias of page_size; with offset.")] = None,
    offset: Annotated[int | None, Query(description="Items to skip (instead of page).")] = None,
    sort: Annotated[
        str | None, Query(description="Comma-separated fields; `-field` sorts descending.")
    ] = None,
    order: Annotated[
        Literal["asc", "desc"] | None, Query(description="Direction for `sort`.")
    ] = None,
) -> PageParams:
    given = (
        ("page_size", page_size),
        ("pageSize", page_size_camel),
        ("per_page", per_page),
        ("perPage", per_page_camel),
        ("limit", limit),
    )
    # The first alias present wins; errors name the parameter the client actually sent.
    size_field, size = next(
        ((name, value) for name, value in given if value is not None),
        ("page_size", DEFAULT_PAGE_SIZE),
    )
    if size < 1 or size > MAX_PAGE_SIZE:
        raise _invalid(size_field, f"must be between 1 and {MAX_PAGE_SIZE}")
    if page is not None and page < 1:
        raise _invalid("page", "must be 1 or more")
    if offset is not None and offset < 0:
        raise _invalid("offset", "must be 0 or more")
    start = offset if offset is not None else ((page or 1) - 1) * size
    if start > MAX_OFFSET:
        # Past this the database refuses the OFFSET (a 500); no list is that long anyway.
        raise _invalid("offset" if offset is not None else "page", "is too large")
    fields: list[tuple[str, bool]] = []
    for raw in (sort or "").split(","):
        name = raw.strip()
        if not name:
            continue
        descending = name.startswith("-")
        if descending or name.startswith("+"):
            name = name[1:]
        fields.append((name, descending or (order == "desc")))
    return PageParams(offset=start, page_size=size, sort=tuple(fields))


PaginationDep = Annotated[PageParams, Depends(page_params)]

# `page_params`' query parameters for a `kit.fastquery` route: name → keyword, conversion.
PAGE_QUERY: dict[str, fastquery.Param] = {
    "page": fastquery.Param("page", fastquery.integer()),
    "page_size": fastquery.Param("page_size", fastquery.integer()),
    "pageSize": fastquery.Param("page_size_camel", fastquery.integer()),
    "per_page": fastquery.Param("per_page", fastquery.integer()),
    "perPage": fastquery.Param("per_page_camel", fastquery.integer()),
    "limit": fastquery.Param("limit", fastquery.integer()),
    "offset": fastquery.Param("offset", fastquery.integer()),
    "sort": fastquery.Param("sort", fastquery.string()),
    "order": fastquery.Param("order", fastquery.choice("asc", "desc")),
}
PAGE_ARGUMENTS = frozenset(param.argument for param in PAGE_QUERY.values())


async def page_params_of(arguments: Mapping[str, Any]) -> PageParams:
    """`page_params` over a fast route's parsed arguments (its own keywords only)."""
    return await page_params(**{k: v for k, v in arguments.items() if k in PAGE_ARGUMENTS})


def apply_sort(
    statement: Select[Any],
    params: PageParams,
    sortable: Mapping[str, ColumnElement[Any] | QueryableAttribute[Any]],
    default: Sequence[ColumnElement[Any]],
    tiebreaker: ColumnElement[Any],
) -> Select[Any]:
    """Order by the requested fields (refusing unknown ones), then a unique tie-breaker."""
    clauses: list[ColumnElement[Any]] = []
    for name, descending in params.sort:
        column = sortable.get(name)
        if column is None:
            allowed = ", ".join(sorted(sortable))
            raise _invalid("sort", f"cannot sort by '{name}'; allowed: {allowed}")
        clauses.append(column.desc() if descending else column.asc())
    return statement.order_by(*(clauses or default), tiebreaker)


def count_statement(statement: Select[Any]) -> Select[Any]:
    """`count(*)` of what `statement` would return. A plain select is counted over its own FROM
    and WHERE, without its columns: wrapping it in a subquery would make SQLite evaluate every
    correlated column (activity counts, aggregates) for every row just to count them."""
    if statement._group_by_clauses or statement._distinct or statement._having_criteria:
        return select(func.count()).select_from(statement.order_by(None).subquery())
    return statement.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)


async def paginate_rows(
    session: AsyncSession, statement: Select[Any], params: PageParams, *, scalars: bool = True
) -> tuple[Sequence[Any], int]:
    """Run a sorted statement for one page; return (rows, total). Rows are the first column's
    values, or whole result rows with `scalars=False` (joins, aggregates)."""
    total = int((await session.execute(count_statement(statement))).scalar_one())
    result = await session.execute(statement.offset(params.offset).limit(params.page_size))
    return (result.scalars().all() if scalars else result.all()), total


def paginate_rows_sync(
    session: Session,
    statement: Select[Any],
    params: PageParams,
    *,
    values: Mapping[str, Any] | None = None,
    scalars: bool = False,
) -> tuple[Sequence[Any], int]:
    """`paginate_rows` for a synchronous session (`Database.read`: hot read-only lists).
    Pass a statement built once (bound parameters in `values`): its count and page forms are
    derived once too, so repeated pages skip SQLAlchemy's statement walk."""
    counting, paging = _page_statements(statement)
    total = int(session.execute(counting, dict(values or {})).scalar_one())
    bound = {**(values or {}), "_page_offset": params.offset, "_page_limit": params.page_size}
    result = session.execute(paging, bound)
    return (result.scalars().all() if scalars else result.all()), total


@lru_cache(maxsize=512)
def _page_statements(statement: Select[Any]) -> tuple[Select[Any], Select[Any]]:
    paging = statement.offset(bindparam("_page_offset")).limit(bindparam("_page_limit"))
    return count_statement(statement), paging
