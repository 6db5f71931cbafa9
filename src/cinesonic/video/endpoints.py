"""Video routes [001] [004]: file associations (`/media-files`), video streaming, and basic
browsing of movies and TV shows with their seasons and episodes.

Reading needs `video.read`, streaming `video.stream` (`?api_key=` accepted, for players),
changing associations and deleting movies and shows `library.manage`. Anything in a library
the caller may not read is a 404, as if it did not exist. Literal paths (`/tvshows/seasons/…`,
`/tvshows/episodes/…`) are declared before `/tvshows/{show_id}`. HTTP only: rules are
`video.service`, bytes `video.streaming`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.deps import ClientInfo, DbSession, MediaPrincipal, rate_limited, require
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    RateLimited,
    ValidationFailed,
    error_responses,
)
from cinesonic.kit.conditional import InvalidRange, RangeNotSatisfiable
from cinesonic.kit.pagination import PaginationDep
from cinesonic.kit.schemas import DeletedResponse
from cinesonic.video import people, streaming
from cinesonic.video import service as video_service
from cinesonic.video.schemas import (
    EpisodeDetail,
    EpisodePage,
    MediaFileCreate,
    MediaFilePage,
    MediaFileRead,
    MovieDetail,
    MoviePage,
    SeasonPage,
    SeasonRead,
    TvShowDetail,
    TvShowPage,
)

router = APIRouter(tags=["video"])

VideoReader = Annotated[Principal, Depends(require("video.read"))]
Manager = Annotated[Principal, Depends(require("library.manage"))]

SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
    Forbidden,
)
SIGNED_IN_WRITE = (*SIGNED_IN, auth_service.CsrfFailed)
LIST_ERRORS = (*SIGNED_IN, video_service.LibraryNotFound, ValidationFailed)

LibraryQuery = Annotated[
    uuid.UUID | None, Query(description="Only this library (404 if you may not read it).")
]
GenreQuery = Annotated[
    str | None, Query(min_length=1, max_length=200, description="Genre name, any case.")
]
YearQuery = Annotated[int | None, Query(ge=1800, le=3000, description="Release year.")]


async def _stream_principal(principal: MediaPrincipal) -> Principal:
    if not principal.can("video.stream"):
        raise Forbidden("This needs the 'video.stream' permission.")
    return principal


Streamer = Annotated[Principal, Depends(_stream_principal)]
STREAM_LIMIT = [Depends(rate_limited("stream", query_key=True))]
_VIDEO = {"schema": {"type": "string", "format": "binary"}}
_VIDEO_CONTENT = {
    content_type: _VIDEO
    for content_type in sorted({*streaming.CONTENT_TYPES.values(), "application/octet-stream"})
}
BYTES_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, with `ETag`, `Last-Modified` and `Accept-Ranges: bytes`.",
        "content": _VIDEO_CONTENT,
    },
    206: {"description": "The requested `Range` of the file.", "content": _VIDEO_CONTENT},
    304: {"description": "Not modified: the client's copy is current (no body)."},
}


# ---------------------------------------------------------------- file associations


@router.get(
    "/media-files",
    response_model=MediaFilePage,
    summary="File associations",
    description="Which file holds which movie or episode ([004] FileMetadata), each with its "
    "file's probe (container, codecs, streams, subtitles). Filters: `library_id`, `movie_id`, "
    "`episode_id`, `show_id`. Sorts: `path` (default), `created_at`.",
    responses=error_responses(*LIST_ERRORS),
)
async def list_media_files(
    principal: VideoReader,
    session: DbSession,
    params: PaginationDep,
    library_id: LibraryQuery = None,
    movie_id: Annotated[uuid.UUID | None, Query(description="Files of this movie.")] = None,
    episode_id: Annotated[uuid.UUID | None, Query(description="Files of this episode.")] = None,
    show_id: Annotated[uuid.UUID | None, Query(description="Files of this show.")] = None,
) -> MediaFilePage:
    items, total = await video_service.list_media_files(
        session,
        principal,
        params,
        library_id=library_id,
        movie_id=movie_id,
        episode_id=episode_id,
        show_id=show_id,
    )
    return MediaFilePage(data=items, pagination=params.meta(total))


@router.post(
    "/media-files",
    status_code=201,
    response_model=MediaFileRead,
    summary="Link a file to a movie or an episode",
    description="`video_file_id` with `movie_id`, `episode_id`, or `show_id` + "
    "`season_number` + `episode_number` (the episode is created when the show lacks it). The "
    "item must be of the file's library (422 `other_library`); the same link twice is a 409. "
    "A file linked by hand keeps its links through later scans.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        video_service.VideoFileNotFound,
        video_service.MovieNotFound,
        video_service.EpisodeNotFound,
        video_service.ShowNotFound,
        video_service.MediaFileExists,
        video_service.OtherLibrary,
        ValidationFailed,
    ),
)
async def create_media_file(
    body: MediaFileCreate,
    actor: Manager,
    session: DbSession,
    origin: ClientInfo,
    response: Response,
) -> MediaFileRead:
    link = await video_service.create_media_file(session, actor, origin, body)
    response.headers["Location"] = f"/api/v1/media-files/{link.id}"
    return link


@router.get(
    "/media-files/{media_file_id}",
    response_model=MediaFileRead,
    summary="One file association, with its file's probe",
    responses=error_responses(*SIGNED_IN, video_service.MediaFileNotFound, ValidationFailed),
)
async def read_media_file(
    media_file_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> MediaFileRead:
    return await video_service.get_media_file(session, principal, media_file_id)


@router.delete(
    "/media-files/{media_file_id}",
    response_model=DeletedResponse,
    summary="Unlink a file (the file and the item stay)",
    responses=error_responses(*SIGNED_IN_WRITE, video_service.MediaFileNotFound, ValidationFailed),
)
async def delete_media_file(
    media_file_id: uuid.UUID, actor: Manager, session: DbSession, origin: ClientInfo
) -> DeletedResponse:
    await video_service.delete_media_file(session, actor, origin, media_file_id)
    return DeletedResponse()


@router.get(
    "/media-files/{media_file_id}/stream",
    response_class=Response,
    response_model=None,
    summary="Stream a video file",
    description="The original file with `Range` (206; one range), `ETag` / `Last-Modified` and "
    "conditional requests (304); a malformed or past-the-end `Range` is a 416 "
    "(`Content-Range: bytes */size`). `?api_key=` is accepted. HEAD answers the same headers.",
    responses={
        **BYTES_RESPONSES,
        **error_responses(
            *SIGNED_IN,
            video_service.MediaFileNotFound,
            streaming.VideoFileMissing,
            RangeNotSatisfiable,
            InvalidRange,
            ValidationFailed,
            RateLimited,
        ),
    },
    dependencies=STREAM_LIMIT,
)
@router.head(
    "/media-files/{media_file_id}/stream",
    response_class=Response,
    include_in_schema=False,
    dependencies=STREAM_LIMIT,
)
async def stream_media_file(
    media_file_id: uuid.UUID, request: Request, principal: Streamer, session: DbSession
) -> Response:
    video = await video_service.get_streamable_file(session, principal, media_file_id)
    return await streaming.stream_video_file(request, video)


# ---------------------------------------------------------------- movies


@router.get(
    "/movies",
    response_model=MoviePage,
    summary="Movies",
    description="Movies of the libraries you may read, each with its genres and the number of "
    "its files present on disk. Filters: `library_id`, `genre`, `year`. Sorts: `title` "
    "(default), `year`, `added`, `rating`.",
    responses=error_responses(*LIST_ERRORS),
)
async def list_movies(
    principal: VideoReader,
    session: DbSession,
    params: PaginationDep,
    library_id: LibraryQuery = None,
    genre: GenreQuery = None,
    year: YearQuery = None,
) -> MoviePage:
    items, total = await video_service.list_movies(
        session, principal, params, library_id=library_id, genre=genre, year=year
    )
    return MoviePage(data=items, pagination=params.meta(total))


@router.get(
    "/movies/{movie_id}",
    response_model=MovieDetail,
    summary="One movie, with its files, cast, crew, collection and your watch state",
    responses=error_responses(*SIGNED_IN, video_service.MovieNotFound, ValidationFailed),
)
async def read_movie(
    movie_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> MovieDetail:
    return await people.movie_detail(session, principal, movie_id)


@router.delete(
    "/movies/{movie_id}",
    response_model=DeletedResponse,
    summary="Delete a movie (its files stay on disk)",
    description="Deletes the movie with its file associations, credits and everyone's watch "
    "state; the files stay on disk, unlinked. People no other title credits are removed by "
    "the background job `video.prune_people` this enqueues. Needs `library.manage`.",
    responses=error_responses(*SIGNED_IN_WRITE, video_service.MovieNotFound, ValidationFailed),
)
async def delete_movie(
    movie_id: uuid.UUID, actor: Manager, session: DbSession, origin: ClientInfo
) -> DeletedResponse:
    await video_service.delete_movie(session, actor, origin, movie_id)
    return DeletedResponse()


@router.get(
    "/movies/{movie_id}/files",
    response_model=MediaFilePage,
    summary="A movie's files",
    description="Every file of the movie (one per version: 1080p, 2160p…), with its probe.",
    responses=error_responses(*SIGNED_IN, video_service.MovieNotFound, ValidationFailed),
)
async def list_movie_files(
    movie_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> MediaFilePage:
    items, total = await video_service.movie_files(session, principal, movie_id, params)
    return MediaFilePage(data=items, pagination=params.meta(total))


# ---------------------------------------------------------------- TV: literal paths first


@router.get(
    "/tvshows/seasons/{season_id}",
    response_model=SeasonRead,
    summary="One season",
    responses=error_responses(*SIGNED_IN, video_service.SeasonNotFound, ValidationFailed),
)
async def read_season(
    season_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> SeasonRead:
    return await video_service.get_season(session, principal, season_id)


@router.get(
    "/tvshows/seasons/{season_id}/episodes",
    response_model=EpisodePage,
    summary="A season's episodes",
    description="In episode order (date-based episodes by air date). Sorts: `number`, "
    "`air_date`, `title`.",
    responses=error_responses(*SIGNED_IN, video_service.SeasonNotFound, ValidationFailed),
)
async def list_season_episodes(
    season_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> EpisodePage:
    items, total = await video_service.season_episodes(session, principal, season_id, params)
    return EpisodePage(data=items, pagination=params.meta(total))


@router.get(
    "/tvshows/episodes/{episode_id}",
    response_model=EpisodeDetail,
    summary="One episode, with its files",
    responses=error_responses(*SIGNED_IN, video_service.EpisodeNotFound, ValidationFailed),
)
async def read_episode(
    episode_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> EpisodeDetail:
    return await video_service.get_episode(session, principal, episode_id)


@router.get(
    "/tvshows/episodes/{episode_id}/files",
    response_model=MediaFilePage,
    summary="An episode's files",
    responses=error_responses(*SIGNED_IN, video_service.EpisodeNotFound, ValidationFailed),
)
async def list_episode_files(
    episode_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> MediaFilePage:
    items, total = await video_service.episode_files(session, principal, episode_id, params)
    return MediaFilePage(data=items, pagination=params.meta(total))


# ---------------------------------------------------------------- TV shows


@router.get(
    "/tvshows",
    response_model=TvShowPage,
    summary="TV shows",
    description="Shows of the libraries you may read, with their genres and season and "
    "episode counts. Filters: `library_id`, `genre`, `year`. Sorts: `title` (default), "
    "`year`, `added`, `rating`.",
    responses=error_responses(*LIST_ERRORS),
)
async def list_shows(
    principal: VideoReader,
    session: DbSession,
    params: PaginationDep,
    library_id: LibraryQuery = None,
    genre: GenreQuery = None,
    year: YearQuery = None,
) -> TvShowPage:
    items, total = await video_service.list_shows(
        session, principal, params, library_id=library_id, genre=genre, year=year
    )
    return TvShowPage(data=items, pagination=params.meta(total))


@router.get(
    "/tvshows/{show_id}",
    response_model=TvShowDetail,
    summary="One TV show, with its seasons, cast, crew and networks",
    responses=error_responses(*SIGNED_IN, video_service.ShowNotFound, ValidationFailed),
)
async def read_show(show_id: uuid.UUID, principal: VideoReader, session: DbSession) -> TvShowDetail:
    return await people.show_detail(session, principal, show_id)


@router.delete(
    "/tvshows/{show_id}",
    response_model=DeletedResponse,
    summary="Delete a TV show (its files stay on disk)",
    description="Deletes the show with its seasons, episodes, their file associations, "
    "credits and everyone's watch state; the files stay on disk, unlinked. People no other "
    "title credits are removed by the background job `video.prune_people` this enqueues. "
    "Needs `library.manage`.",
    responses=error_responses(*SIGNED_IN_WRITE, video_service.ShowNotFound, ValidationFailed),
)
async def delete_show(
    show_id: uuid.UUID, actor: Manager, session: DbSession, origin: ClientInfo
) -> DeletedResponse:
    await video_service.delete_show(session, actor, origin, show_id)
    return DeletedResponse()


@router.get(
    "/tvshows/{show_id}/seasons",
    response_model=SeasonPage,
    summary="A show's seasons",
    description="Season 0 holds the specials. Sort: `number` (default).",
    responses=error_responses(*SIGNED_IN, video_service.ShowNotFound, ValidationFailed),
)
async def list_show_seasons(
    show_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> SeasonPage:
    items, total = await video_service.show_seasons(session, principal, show_id, params)
    return SeasonPage(data=items, pagination=params.meta(total))


@router.get(
    "/tvshows/{show_id}/episodes",
    response_model=EpisodePage,
    summary="A show's episodes",
    description="Every episode in season and episode order, or one season's (`season`). "
    "Sorts: `number`, `air_date`, `title`.",
    responses=error_responses(*SIGNED_IN, video_service.ShowNotFound, ValidationFailed),
)
async def list_show_episodes(
    show_id: uuid.UUID,
    principal: VideoReader,
    session: DbSession,
    params: PaginationDep,
    season: Annotated[int | None, Query(ge=0, le=10_000, description="Season number.")] = None,
) -> EpisodePage:
    items, total = await video_service.show_episodes(
        session, principal, show_id, params, season=season
    )
    return EpisodePage(data=items, pagination=params.meta(total))
