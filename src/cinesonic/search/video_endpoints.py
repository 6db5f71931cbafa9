"""Movie and TV search routes [001]: filtered search, facets, autocomplete and `/search/multi`.
Everything needs `video.read` and shows only what lies in libraries the caller may read."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from cinesonic.auth.principal import Principal
from cinesonic.deps import (
    DbSession,
    State,
    get_principal,
    get_state,
    require,
    require_permission,
)
from cinesonic.errors import Forbidden, ValidationFailed, error_responses
from cinesonic.kit import fastquery
from cinesonic.kit.pagination import PaginationDep
from cinesonic.library import service as library_service
from cinesonic.search import catalog as catalog_service
from cinesonic.search import service as search_service
from cinesonic.search import suggest as suggest_service
from cinesonic.search.endpoints import MAX_QUERY_LENGTH, SIGNED_IN
from cinesonic.search.schemas import (
    Facets,
    MovieResultPage,
    MultiResults,
    Resolution,
    SearchType,
    Suggestions,
    TvShowResultPage,
)

router = APIRouter(tags=["search"])

VideoReader = Annotated[Principal, Depends(require("video.read"))]
REFUSALS = (*SIGNED_IN, Forbidden, ValidationFailed)


async def video_filters(
    q: Annotated[
        str | None,
        Query(max_length=MAX_QUERY_LENGTH, description="Words to match; none: browse."),
    ] = None,
    genre: Annotated[
        list[str] | None,
        Query(max_length=200, description="Genre name or id; repeat for any of several."),
    ] = None,
    year_from: Annotated[int | None, Query(ge=1800, le=2200)] = None,
    year_to: Annotated[int | None, Query(ge=1800, le=2200)] = None,
    min_rating: Annotated[float | None, Query(ge=0, le=10)] = None,
    resolution: Annotated[
        list[Resolution] | None,
        Query(description="The best file's resolution; repeat for any of several."),
    ] = None,
    library_id: Annotated[uuid.UUID | None, Query()] = None,
    watched: Annotated[
        bool | None, Query(description="Only titles you watched (true) or not (false).")
    ] = None,
) -> catalog_service.Filters:
    return catalog_service.Filters(
        q=q,
        genres=tuple(genre or ()),
        year_from=year_from,
        year_to=year_to,
        min_rating=min_rating,
        resolutions=tuple(resolution or ()),
        library_id=library_id,
        watched=watched,
    )


FiltersDep = Annotated[catalog_service.Filters, Depends(video_filters)]
SORTS = (
    "Sorts: `relevance` (default with `q`), `title` (default without), `year`, `rating`, `added`."
)
FILTERS = (
    "Filters combine with AND; repeated `genre` or `resolution` values with OR. `resolution` "
    "is the best present file's class (sd, 720p, 1080p, 2160p: from 2000, 1000 and 700 lines, "
    "or the width at 16:9). `watched` is yours (a show: every episode watched)."
)


async def _titles(
    session: DbSession,
    principal: Principal,
    kind: SearchType,
    filters: catalog_service.Filters,
    paging: PaginationDep,
) -> MovieResultPage | TvShowResultPage:
    scope = await search_service.search_scope(session, principal, filters.library_id)
    return await catalog_service.search_titles(
        session, scope, catalog_service.CATALOGS[kind], filters, paging, principal.id
    )


async def _facets(
    session: DbSession, principal: Principal, kind: SearchType, filters: catalog_service.Filters
) -> Facets:
    scope = await search_service.search_scope(session, principal, filters.library_id)
    return await catalog_service.facets(
        session, scope, catalog_service.CATALOGS[kind], filters, principal.id
    )


@router.get(
    "/search/movies",
    response_model=MovieResultPage,
    summary="Search and filter movies",
    description="Movies matching `q` (as `/search` matches: every word, the last a prefix) "
    "and the filters, paged. " + FILTERS + " " + SORTS,
    responses=error_responses(*REFUSALS, library_service.LibraryNotFound),
)
async def search_movies(
    principal: VideoReader, session: DbSession, filters: FiltersDep, paging: PaginationDep
) -> MovieResultPage | TvShowResultPage:
    return await _titles(session, principal, SearchType.movie, filters, paging)


@router.get(
    "/search/tvshows",
    response_model=TvShowResultPage,
    summary="Search and filter TV shows",
    description="TV shows matching `q` and the filters, paged. " + FILTERS + " " + SORTS,
    responses=error_responses(*REFUSALS, library_service.LibraryNotFound),
)
async def search_shows(
    principal: VideoReader, session: DbSession, filters: FiltersDep, paging: PaginationDep
) -> MovieResultPage | TvShowResultPage:
    return await _titles(session, principal, SearchType.tvshow, filters, paging)


FACETS = (
    "Counts of the titles matching the filters by genre, decade, rating bucket (0-2 … 8-10) "
    "and resolution. Each facet ignores its own filter (the decade facet ignores the year "
    "range), so the other choices stay visible; `total` applies every filter."
)


@router.get(
    "/search/movies/facets",
    response_model=Facets,
    summary="Facet counts of a movie search",
    description=FACETS,
    responses=error_responses(*REFUSALS, library_service.LibraryNotFound),
)
async def movie_facets(principal: VideoReader, session: DbSession, filters: FiltersDep) -> Facets:
    return await _facets(session, principal, SearchType.movie, filters)


@router.get(
    "/search/tvshows/facets",
    response_model=Facets,
    summary="Facet counts of a TV show search",
    description=FACETS,
    responses=error_responses(*REFUSALS, library_service.LibraryNotFound),
)
async def show_facets(principal: VideoReader, session: DbSession, filters: FiltersDep) -> Facets:
    return await _facets(session, principal, SearchType.tvshow, filters)


AUTOCOMPLETE = (
    "Up to `limit` (at most 10) titles for what was typed so far: names equal to it, then "
    "names starting with it, then other matches (the last word a prefix); when that is not "
    "enough, titles within one typo (one edit in a word of 4 letters or more) scored 0.5."
)
SuggestQuery = Annotated[str, Query(min_length=1, max_length=MAX_QUERY_LENGTH)]
SuggestLimit = Annotated[int, Query(ge=1, le=suggest_service.MAX_SUGGESTIONS)]


async def _suggest(
    state: State, principal: Principal, kind: SearchType, q: str, limit: int
) -> Response:
    if not q.strip():
        raise catalog_service.blank("q")
    body = await suggest_service.autocomplete(state.db, principal, kind, q, limit)
    return Response(body, media_type="application/json")


@router.get(
    "/search/movies/autocomplete",
    response_model=Suggestions,
    summary="Autocomplete movie titles",
    description=AUTOCOMPLETE,
    responses=error_responses(*REFUSALS),
)
async def movie_autocomplete(
    principal: VideoReader, state: State, q: SuggestQuery, limit: SuggestLimit = 10
) -> Response:
    return await _suggest(state, principal, SearchType.movie, q, limit)


@router.get(
    "/search/tvshows/autocomplete",
    response_model=Suggestions,
    summary="Autocomplete TV show titles",
    description=AUTOCOMPLETE,
    responses=error_responses(*REFUSALS),
)
async def show_autocomplete(
    principal: VideoReader, state: State, q: SuggestQuery, limit: SuggestLimit = 10
) -> Response:
    return await _suggest(state, principal, SearchType.tvshow, q, limit)


# The autocompletes without FastAPI's parameter solving (see `cinesonic.kit.fastquery`): typed
# as people type, they are the hottest of these routes.
SUGGEST_QUERY: dict[str, fastquery.Param] = {
    "q": fastquery.Param("q", fastquery.string(1, MAX_QUERY_LENGTH), required=True),
    "limit": fastquery.Param("limit", fastquery.integer(1, suggest_service.MAX_SUGGESTIONS)),
}


def _fast_suggest(kind: SearchType) -> fastquery.Endpoint:
    async def endpoint(request: Request, arguments: dict[str, Any]) -> Response:
        state = await get_state(request)
        principal = await require_permission(await get_principal(request, state), "video.read")
        return await _suggest(state, principal, kind, arguments["q"], arguments.get("limit", 10))

    return endpoint


def fast_routes(prefix: str) -> list[fastquery.FastQueryRoute]:
    """Routes to place ahead of this router's (`app.py`)."""
    return [
        fastquery.FastQueryRoute(
            f"{prefix}/search/movies/autocomplete", SUGGEST_QUERY, _fast_suggest(SearchType.movie)
        ),
        fastquery.FastQueryRoute(
            f"{prefix}/search/tvshows/autocomplete",
            SUGGEST_QUERY,
            _fast_suggest(SearchType.tvshow),
        ),
    ]


@router.get(
    "/search/multi",
    response_model=MultiResults,
    summary="Search movies, shows, episodes and people at once",
    description="The best few (`limit`, default 5, at most 20) of each type, grouped, ranked "
    "as `/search` ranks them, each group with its total (up to 1,000).",
    responses=error_responses(*REFUSALS),
)
async def search_multi(
    principal: VideoReader,
    state: State,
    q: SuggestQuery,
    limit: Annotated[int, Query(ge=1, le=suggest_service.MAX_MULTI)] = 5,
) -> Response:
    if not q.strip():
        raise catalog_service.blank("q")
    body = await suggest_service.multi(state.db, principal, q, limit)
    return Response(body, media_type="application/json")
