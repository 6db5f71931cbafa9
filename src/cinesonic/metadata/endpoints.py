"""Routes of metadata look-ups at TMDb [001] [004] and of provider artwork [001].

Look-ups need `metadata.read` (403 without it). They answer TMDb's data in our shapes, from
the `metadata_cache` table while fresh: 404 for an id TMDb does not know, 503
`provider_unavailable` without an API key or while TMDb is unreachable or failing (after
retries), 502 `provider_error` for an answer that cannot be read.

`POST /metadata/add-to-library` (`library.manage`) creates a movie or show in a library of its
kind from TMDb's details [004]; 409 when that TMDb id is already in the library.
`POST /movies/{id}/refresh`, `/tvshows/{id}/refresh` and `/libraries/{id}/refresh-metadata`
(`library.manage`) match scanned items to TMDb and fill them in (`metadata.refresh`).

`/images/{type}/{size}/{path}` serves TMDb artwork to any signed-in principal (`?api_key=`
accepted, as for every image), fetched once and then served from disk with `ETag` — also while
TMDb is unreachable. It cannot be taken for `/images/{image_id}`: its paths have three parts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from starlette.responses import FileResponse

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.deps import ClientInfo, DbSession, MediaPrincipal, State, require
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    ValidationFailed,
    error_responses,
)
from cinesonic.job.schemas import JobRead
from cinesonic.kit.conditional import Validators, file_etag, is_not_modified
from cinesonic.library import service as library_service
from cinesonic.metadata import refresh
from cinesonic.metadata import service as metadata_service
from cinesonic.metadata.artwork import SIZES, ArtworkType, check_request
from cinesonic.metadata.errors import (
    ArtworkNotFound,
    MetadataNotFound,
    ProviderError,
    ProviderUnavailable,
)
from cinesonic.metadata.schemas import (
    AddToLibrary,
    AddToLibraryKind,
    EpisodeDetails,
    LibraryItemAdded,
    MovieDetails,
    MovieSearchPage,
    RefreshRequest,
    SeasonDetails,
    TvDetails,
    TvSearchPage,
)
from cinesonic.metadata.tmdb import MAX_PAGE
from cinesonic.video import service as video_service
from cinesonic.video.schemas import MovieDetail, TvShowDetail

router = APIRouter(tags=["metadata"])
images_router = APIRouter(tags=["images"])

MetadataReader = Annotated[Principal, Depends(require("metadata.read"))]
LibraryManager = Annotated[Principal, Depends(require("library.manage"))]

SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
)
SIGNED_IN_WRITE = (*SIGNED_IN, auth_service.CsrfFailed)
PROVIDER_ERRORS = (ProviderUnavailable, ProviderError)
SEARCH_ERRORS = (*SIGNED_IN, Forbidden, ValidationFailed, *PROVIDER_ERRORS)
DETAIL_ERRORS = (*SEARCH_ERRORS, MetadataNotFound)

QueryText = Annotated[
    str, Query(min_length=1, max_length=200, description="What to look for in titles.")
]
YearQuery = Annotated[int | None, Query(ge=1870, le=2200, description="Release year.")]
PageQuery = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description="Page of 20 results (TMDb's page size).")
]
TmdbId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The title's TMDb id.")]
SeasonNumber = Annotated[int, Path(ge=0, le=10_000, description="Season number; 0: specials.")]
EpisodeNumber = Annotated[int, Path(ge=0, le=100_000, description="Episode number.")]


@router.get(
    "/metadata/search/movie",
    response_model=MovieSearchPage,
    summary="Search TMDb for movies",
    description="Matches of `q` (and `year`, the release year) at TMDb, most relevant first, "
    "20 a page (`page`, at most 500). Answers are cached for `metadata_search_cache_ttl_hours`.",
    responses=error_responses(*SEARCH_ERRORS),
)
async def search_movies(
    principal: MetadataReader,
    session: DbSession,
    state: State,
    q: QueryText,
    year: YearQuery = None,
    page: PageQuery = 1,
) -> MovieSearchPage:
    return await metadata_service.search_movies(session, state, q, year=year, page=page)


@router.get(
    "/metadata/search/tv",
    response_model=TvSearchPage,
    summary="Search TMDb for TV shows",
    description="Matches of `q` (and `year`, the year of the first air date) at TMDb, 20 a "
    "page (`page`, at most 500). Answers are cached for `metadata_search_cache_ttl_hours`.",
    responses=error_responses(*SEARCH_ERRORS),
)
async def search_tv(
    principal: MetadataReader,
    session: DbSession,
    state: State,
    q: QueryText,
    year: YearQuery = None,
    page: PageQuery = 1,
) -> TvSearchPage:
    return await metadata_service.search_tv(session, state, q, year=year, page=page)


@router.get(
    "/metadata/movie/{tmdb_id}",
    response_model=MovieDetails,
    summary="A movie at TMDb",
    description="Details with genres, collection, cast and crew, keywords, release dates and "
    "certifications per country, and similar movies. Cached for `metadata_cache_ttl_hours`.",
    responses=error_responses(*DETAIL_ERRORS),
)
async def read_movie(
    tmdb_id: TmdbId, principal: MetadataReader, session: DbSession, state: State
) -> MovieDetails:
    return await metadata_service.movie_details(session, state, tmdb_id)


@router.get(
    "/metadata/tv/{tmdb_id}",
    response_model=TvDetails,
    summary="A TV show at TMDb",
    description="Details with genres, networks, seasons, creators, cast and crew, keywords "
    "and similar shows. Cached for `metadata_cache_ttl_hours`.",
    responses=error_responses(*DETAIL_ERRORS),
)
async def read_tv_show(
    tmdb_id: TmdbId, principal: MetadataReader, session: DbSession, state: State
) -> TvDetails:
    return await metadata_service.tv_details(session, state, tmdb_id)


@router.get(
    "/metadata/tv/{tmdb_id}/season/{season_number}",
    response_model=SeasonDetails,
    summary="A season of a TV show at TMDb",
    description="The season with its episodes (their crew and guest stars).",
    responses=error_responses(*DETAIL_ERRORS),
)
async def read_season(
    tmdb_id: TmdbId,
    season_number: SeasonNumber,
    principal: MetadataReader,
    session: DbSession,
    state: State,
) -> SeasonDetails:
    return await metadata_service.season_details(session, state, tmdb_id, season_number)


@router.get(
    "/metadata/tv/{tmdb_id}/season/{season_number}/episode/{episode_number}",
    response_model=EpisodeDetails,
    summary="An episode of a TV show at TMDb",
    responses=error_responses(*DETAIL_ERRORS),
)
async def read_episode(
    tmdb_id: TmdbId,
    season_number: SeasonNumber,
    episode_number: EpisodeNumber,
    principal: MetadataReader,
    session: DbSession,
    state: State,
) -> EpisodeDetails:
    return await metadata_service.episode_details(
        session, state, tmdb_id, season_number, episode_number
    )


@router.post(
    "/metadata/add-to-library",
    status_code=201,
    response_model=LibraryItemAdded,
    summary="Add a TMDb title to a library",
    description="Creates the movie (`kind: movie`, in a `movies` library) or the TV show "
    "(`kind: tv`, in a `tvshows` library, with its seasons and episodes) from TMDb's details: "
    "genres, collection, networks, cast and crew (people are shared across titles by their "
    "TMDb id) [004]. Needs `library.manage`. 409 when the library already holds that TMDb "
    "id; 422 `library_kind_mismatch` for a library of the other kind. Answers a summary of "
    "what was created, with the title's URL in `Location`.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        Forbidden,
        ValidationFailed,
        metadata_service.LibraryKindMismatch,
        library_service.LibraryNotFound,
        MetadataNotFound,
        metadata_service.AlreadyInLibrary,
        *PROVIDER_ERRORS,
    ),
)
async def add_to_library(
    body: AddToLibrary,
    principal: LibraryManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    response: Response,
) -> LibraryItemAdded:
    added = await metadata_service.add_to_library(session, state, principal, origin, body)
    collection = "movies" if added.kind is AddToLibraryKind.movie else "tvshows"
    response.headers["Location"] = f"/api/v1/{collection}/{added.id}"
    return added


# ---------------------------------------------------------------- refreshing library items

REFRESH_ERRORS = (
    *SIGNED_IN_WRITE,
    Forbidden,
    ValidationFailed,
    refresh.NoConfidentMatch,
    MetadataNotFound,
    refresh.TmdbIdInUse,
    *PROVIDER_ERRORS,
)
_REFRESH_TEXT = (
    'Needs `library.manage`. Body (optional): `{"tmdb_id": n}` takes that TMDb title (404 '
    "when TMDb does not know it; confidence 1) — how a wrong match is fixed. Without it, an "
    "item already matched is fetched again by its TMDb id, and an unmatched one is searched "
    "by its title and year: the best result is taken when its confidence reaches "
    "`metadata_match_threshold`, else 422 `no_confident_match` with `details.candidates` "
    "(`tmdb_id`, `title`, `original_title`, `year`, `confidence`, best first, at most 5). "
    "409 `tmdb_id_in_use` when another item of the library has that TMDb id; 503 "
    "`provider_unavailable` without a TMDb key or while TMDb is unreachable. Fills in the "
    "fields, genres, credits, similar titles and the provider image paths (`poster_path`, "
    "`backdrop_path`: `/images/poster/{size}{poster_path}`), records `match_confidence` and "
    "`metadata_refreshed_at`, clears `needs_review`, and answers the refreshed item."
)


@router.post(
    "/movies/{movie_id}/refresh",
    response_model=MovieDetail,
    summary="Refresh a movie's metadata from TMDb",
    description=_REFRESH_TEXT,
    responses=error_responses(*REFRESH_ERRORS, video_service.MovieNotFound),
)
async def refresh_movie(
    movie_id: uuid.UUID,
    principal: LibraryManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    body: Annotated[RefreshRequest | None, Body()] = None,
) -> MovieDetail:
    wanted = body.tmdb_id if body is not None else None
    return await refresh.refresh_movie(session, state, principal, origin, movie_id, tmdb_id=wanted)


@router.post(
    "/tvshows/{show_id}/refresh",
    response_model=TvShowDetail,
    summary="Refresh a TV show's metadata from TMDb",
    description=_REFRESH_TEXT + " A show's seasons and episodes are matched by number and "
    "updated in place (their files stay linked); none is deleted.",
    responses=error_responses(*REFRESH_ERRORS, video_service.ShowNotFound),
)
async def refresh_show(
    show_id: uuid.UUID,
    principal: LibraryManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    body: Annotated[RefreshRequest | None, Body()] = None,
) -> TvShowDetail:
    wanted = body.tmdb_id if body is not None else None
    return await refresh.refresh_show(session, state, principal, origin, show_id, tmdb_id=wanted)


@router.post(
    "/libraries/{library_id}/refresh-metadata",
    status_code=202,
    response_model=JobRead,
    summary="Refresh a movie or TV library's metadata from TMDb",
    description="Enqueues the job `metadata.refresh`: every unmatched movie or show of the "
    "library is searched at TMDb and matched when the best result's confidence reaches "
    "`metadata_match_threshold`; the others stay unmatched and are flagged `needs_review` "
    "(the reason names the best candidate). With `force=true`, matched items whose metadata "
    "is older than `metadata_cache_ttl_hours` are fetched again too. A provider error counts "
    "against its item (`failed` in the result), never the job. Needs `library.manage`. 409 "
    "`refresh_in_progress` while one is queued or running for the library (its `job_id` in "
    "the details), 409 `refresh_not_supported` for a music library, 503 without a TMDb key. "
    "Follow the job at `/jobs/{id}`.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        Forbidden,
        ValidationFailed,
        library_service.LibraryNotFound,
        refresh.RefreshInProgress,
        refresh.RefreshNotSupported,
        ProviderUnavailable,
    ),
)
async def refresh_library_metadata(
    library_id: uuid.UUID,
    principal: LibraryManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    force: Annotated[
        bool, Query(description="Also fetch again matched items older than the cache TTL.")
    ] = False,
) -> JobRead:
    return await refresh.start_library_refresh(
        session, state, principal, origin, library_id, force=force
    )


# ---------------------------------------------------------------- provider artwork

# TMDb never changes the bytes behind an image path.
ARTWORK_CACHE_CONTROL = "private, max-age=31536000, immutable"
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_IMAGE_CONTENT = {"image/jpeg": _BINARY, "image/png": _BINARY}
_SIZES_TEXT = "; ".join(f"{kind.value}: {', '.join(sizes)}" for kind, sizes in SIZES.items())


@images_router.get(
    "/images/{image_type}/{size}/{path:path}",
    response_class=Response,
    response_model=None,
    summary="Provider artwork (TMDb), proxied and kept",
    description="A TMDb image by type, size and TMDb file path (`/images/poster/w500/"
    "abc.jpg`), fetched from TMDb's image server on first request and served from disk "
    "afterwards — also while TMDb is unreachable. `ETag` / `Last-Modified` with 304 on "
    "`If-None-Match` / `If-Modified-Since`; `Range` answers 206. Sizes per type: "
    f"{_SIZES_TEXT}. A size the type lacks, or a path that is not a TMDb file name (JPEG or "
    "PNG), is a 422.",
    responses={
        200: {"description": "The image.", "content": _IMAGE_CONTENT},
        206: {"description": "The requested `Range` of the image.", "content": _IMAGE_CONTENT},
        304: {"description": "Not modified: the client's copy is current (no body)."},
        **error_responses(*SIGNED_IN, ValidationFailed, ArtworkNotFound, *PROVIDER_ERRORS),
    },
)
async def read_provider_artwork(
    image_type: ArtworkType,
    size: str,
    path: str,
    request: Request,
    principal: MediaPrincipal,
    session: DbSession,
    state: State,
) -> Response:
    artwork = await metadata_service.open_artwork(
        session, state, check_request(image_type, size, path)
    )
    validators = Validators(
        etag=file_etag(artwork.path, artwork.stat.st_size, artwork.stat.st_mtime_ns),
        last_modified=_modified_at(artwork.stat.st_mtime),
    )
    headers = {**validators.headers(), "Cache-Control": ARTWORK_CACHE_CONTROL}
    if is_not_modified(request.headers, validators):
        return Response(status_code=304, headers=headers)
    return FileResponse(
        artwork.path, headers=headers, media_type=artwork.content_type, stat_result=artwork.stat
    )


def _modified_at(mtime: float) -> datetime:
    return datetime.fromtimestamp(int(mtime), tz=UTC)
