"""Search routes [000]: `GET /search` over artists, albums and songs, and `POST /search/reindex`.

`type` names what to look for, comma-separated or repeated; an unknown type is a 422 naming
the types there are, so adding movies and TV later only adds values.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.deps import (
    ClientInfo,
    CurrentPrincipal,
    DbSession,
    State,
    get_principal,
    get_state,
    require,
)
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    ValidationFailed,
    error_responses,
)
from cinesonic.kit import fastquery
from cinesonic.kit.pagination import PAGE_QUERY, PageParams, PaginationDep, page_params_of
from cinesonic.search import service as search_service
from cinesonic.search.schemas import ReindexStarted, SearchPage, SearchType
from cinesonic.state import AppState

router = APIRouter(tags=["search"])

IndexManager = Annotated[Principal, Depends(require("library.manage"))]

SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
)
MAX_QUERY_LENGTH = 200


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        details=[{"field": field, "location": "query", "message": message, "type": "value_error"}]
    )


async def search_types(
    type: Annotated[
        list[str] | None,
        Query(
            description="What to look for: "
            + ", ".join(kind.value for kind in SearchType)
            + "; comma-separated or repeated. Default: everything you may read.",
        ),
    ] = None,
) -> list[SearchType]:
    names = [part.strip().lower() for value in type or () for part in value.split(",")]
    kinds: list[SearchType] = []
    for name in filter(None, names):
        try:
            kinds.append(SearchType(name))
        except ValueError:
            allowed = ", ".join(kind.value for kind in SearchType)
            raise _invalid("type", f"unknown type '{name[:32]}'; allowed: {allowed}") from None
    return kinds


@router.get(
    "/search",
    response_model=SearchPage,
    summary="Search artists, albums and songs",
    description="As you type: every word of `q` must match (for a song, in its title, "
    "artists or album) and the last may be the start of a word; case and accents do not matter "
    '("beyonce" finds "Beyoncé", "sigur ros" finds "Sigur Rós"). Ranked in tiers: '
    "names equal to the query (score 3), names starting with it (2), other matches (1); "
    "artists before albums before songs within a tier. Each hit is a short summary with "
    "`type`, `id`, `name` and `score`. Paging with `offset`/`limit` or `page`/`page_size`; "
    "`sort` is refused (results are ranked); `pagination.total` counts matches up to 1,000. "
    "Only what lies in libraries you may read, never removed songs. On PostgreSQL, a tier is "
    "ordered by relevance (a fraction added to the score), and with `pg_trgm` a one-word query "
    "without matches is answered with similar names (typos), scored below 1.",
    responses=error_responses(*SIGNED_IN, search_service.SearchForbidden, ValidationFailed),
)
async def search(
    principal: CurrentPrincipal,
    state: State,
    paging: PaginationDep,
    types: Annotated[list[SearchType], Depends(search_types)],
    q: Annotated[
        str,
        Query(min_length=1, max_length=MAX_QUERY_LENGTH, description="What to look for."),
    ],
) -> Response:
    return await _answer(state, principal, paging, types, q)


async def _answer(
    state: AppState, principal: Principal, paging: PageParams, types: list[SearchType], q: str
) -> Response:
    if not q.strip():
        raise _invalid("q", "must not be blank")
    if paging.sort:
        raise _invalid("sort", "search results are ranked; they cannot be sorted")
    body = await search_service.search_page(state.db, principal, q, types or None, paging)
    return Response(body, media_type="application/json")


# `GET /search` without FastAPI's parameter solving (see `cinesonic.kit.fastquery`).
SEARCH_QUERY: dict[str, fastquery.Param] = {
    **PAGE_QUERY,
    "q": fastquery.Param("q", fastquery.string(1, MAX_QUERY_LENGTH), required=True),
    "type": fastquery.Param("type", fastquery.string(), many=True),
}


async def _fast_search(request: Request, arguments: dict[str, Any]) -> Response:
    state = await get_state(request)
    principal = await get_principal(request, state)
    paging = await page_params_of(arguments)
    types = await search_types(arguments.get("type"))
    return await _answer(state, principal, paging, types, arguments["q"])


def fast_routes(prefix: str) -> list[fastquery.FastQueryRoute]:
    """Routes to place ahead of this router's (`app.py`)."""
    return [fastquery.FastQueryRoute(f"{prefix}/search", SEARCH_QUERY, _fast_search)]


@router.post(
    "/search/reindex",
    status_code=202,
    response_model=ReindexStarted,
    summary="Rebuild the search index",
    description="Queues a job that writes every document of the index again from the music "
    "tables, in one transaction (searches answer from the old index until it commits). The "
    "index is kept by database triggers, so this is for repairs: after a restore, or after a "
    "tool wrote around them. A rebuild already queued or running is answered (`is_new: "
    "false`) rather than queued twice. Needs `library.manage`.",
    responses=error_responses(*SIGNED_IN, auth_service.CsrfFailed, Forbidden),
)
async def reindex(
    actor: IndexManager, session: DbSession, origin: ClientInfo, response: Response
) -> ReindexStarted:
    started = await search_service.start_reindex(session, actor, origin)
    response.headers["Location"] = f"/api/v1/jobs/{started.job_id}"
    return started
