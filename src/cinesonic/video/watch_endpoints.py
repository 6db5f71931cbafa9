"""Video routes beyond browsing [001] [004]: each user's watch state (progress, watched,
continue-watching, history, next episode, per-show statistics), credits, genres, networks,
collections, people, similar movies, recently added, top rated, air dates and statistics.

Registered before `video.endpoints`' router, so literal paths (`/movies/recently-added`) win
over `/movies/{movie_id}`. Reading and writing one's own watch state need `video.read`; a
thing in a library the caller may not read is a 404. HTTP only: rules are `video.watch`,
`video.people` and `video.discover`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from cinesonic.deps import DbSession, State
from cinesonic.errors import ValidationFailed, error_responses
from cinesonic.kit.pagination import PaginationDep
from cinesonic.kit.timeutil import utcnow
from cinesonic.video import discover, people, watch
from cinesonic.video import service as video_service
from cinesonic.video.endpoints import (
    LIST_ERRORS,
    SIGNED_IN,
    SIGNED_IN_WRITE,
    LibraryQuery,
    VideoReader,
)
from cinesonic.video.schemas import (
    CastPage,
    CollectionRead,
    CrewPage,
    EpisodeInShowPage,
    EpisodeProgressPage,
    GenrePage,
    MoviePage,
    MovieProgressPage,
    MovieStats,
    NetworkPage,
    NextEpisodeRead,
    PersonDetail,
    ProgressUpdate,
    ShowStats,
    ShowWatchStats,
    TvShowPage,
    WatchStateRead,
)

router = APIRouter(tags=["video"])

MOVIE = (*SIGNED_IN, video_service.MovieNotFound, ValidationFailed)
SHOW = (*SIGNED_IN, video_service.ShowNotFound, ValidationFailed)
EPISODE_WRITE = (*SIGNED_IN_WRITE, video_service.EpisodeNotFound, ValidationFailed)
MOVIE_WRITE = (*SIGNED_IN_WRITE, video_service.MovieNotFound, ValidationFailed)
DaysQuery = Annotated[int, Query(ge=1, le=366, description="How many days to look.")]
PROGRESS_TEXT = (
    "Players call this every few seconds with `position_seconds` (and `duration_seconds` when "
    "they know it; otherwise the file's probed duration is used). At or past "
    "`watched_threshold_percent` (a setting, default 90) of the duration the item counts as "
    "watched: its `play_count` goes up once per crossing and `last_watched_at` is set. A "
    "negative position, or one past the duration, is a 422."
)


# ---------------------------------------------------------------- movies: literal paths


@router.get(
    "/movies/recently-added",
    response_model=MoviePage,
    summary="Recently added movies",
    description="Newest arrivals first. Filter: `library_id`.",
    responses=error_responses(*LIST_ERRORS),
)
async def list_recent_movies(
    principal: VideoReader,
    session: DbSession,
    params: PaginationDep,
    library_id: LibraryQuery = None,
) -> MoviePage:
    items, total = await discover.recent_movies(session, principal, params, library_id=library_id)
    return MoviePage(data=items, pagination=params.meta(total))


@router.get(
    "/movies/top-rated",
    response_model=MoviePage,
    summary="Top rated movies",
    description="By the provider's rating, best first; a rating needs "
    f"{discover.TOP_RATED_MIN_VOTES} votes when the provider counts them.",
    responses=error_responses(*LIST_ERRORS),
)
async def list_top_rated_movies(
    principal: VideoReader,
    session: DbSession,
    params: PaginationDep,
    library_id: LibraryQuery = None,
) -> MoviePage:
    items, total = await discover.top_rated_movies(
        session, principal, params, library_id=library_id
    )
    return MoviePage(data=items, pagination=params.meta(total))


@router.get(
    "/movies/continue-watching",
    response_model=MovieProgressPage,
    summary="Movies you started and did not finish",
    description="Your movies with a position and not watched, most recently played first. "
    "Sorts: `updated` (default, descending), `title`.",
    responses=error_responses(*SIGNED_IN, ValidationFailed),
)
async def list_movies_in_progress(
    principal: VideoReader, session: DbSession, params: PaginationDep
) -> MovieProgressPage:
    items, total = await watch.movies_in_progress(session, principal, params)
    return MovieProgressPage(data=items, pagination=params.meta(total))


@router.get(
    "/movies/watch-history",
    response_model=MovieProgressPage,
    summary="Movies you watched",
    description="Most recently watched first. Sorts: `last_watched`, `title`, `play_count`.",
    responses=error_responses(*SIGNED_IN, ValidationFailed),
)
async def list_movie_history(
    principal: VideoReader, session: DbSession, params: PaginationDep
) -> MovieProgressPage:
    items, total = await watch.movie_history(session, principal, params)
    return MovieProgressPage(data=items, pagination=params.meta(total))


@router.get(
    "/movies/stats",
    response_model=MovieStats,
    summary="Movie statistics",
    description="Counts, size and runtime, by genre and by decade, of the movies you may see "
    "(or of one library), and how many of them you watched.",
    responses=error_responses(*LIST_ERRORS),
)
async def read_movie_stats(
    principal: VideoReader, session: DbSession, library_id: LibraryQuery = None
) -> MovieStats:
    return await discover.movie_stats(session, principal, library_id=library_id)


# ---------------------------------------------------------------- one movie


@router.get(
    "/movies/{movie_id}/cast",
    response_model=CastPage,
    summary="A movie's cast",
    description="In billing order. Sorts: `order` (default), `name`.",
    responses=error_responses(*MOVIE),
)
async def list_movie_cast(
    movie_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> CastPage:
    items, total = await people.movie_cast(session, principal, movie_id, params)
    return CastPage(data=items, pagination=params.meta(total))


@router.get(
    "/movies/{movie_id}/crew",
    response_model=CrewPage,
    summary="A movie's crew",
    description="By department and job. Sorts: `name`, `job`, `department`.",
    responses=error_responses(*MOVIE),
)
async def list_movie_crew(
    movie_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> CrewPage:
    items, total = await people.movie_crew(session, principal, movie_id, params)
    return CrewPage(data=items, pagination=params.meta(total))


@router.get(
    "/movies/{movie_id}/genres",
    response_model=GenrePage,
    summary="A movie's genres",
    responses=error_responses(*MOVIE),
)
async def list_movie_genres(
    movie_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> GenrePage:
    items, total = await people.movie_genres(session, principal, movie_id, params)
    return GenrePage(data=items, pagination=params.meta(total))


@router.get(
    "/movies/{movie_id}/collection",
    response_model=CollectionRead,
    summary="The collection a movie belongs to",
    description="404 `no_collection` when it belongs to none.",
    responses=error_responses(*MOVIE, people.NoCollection),
)
async def read_movie_collection(
    movie_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> CollectionRead:
    return await people.movie_collection(session, principal, movie_id)


@router.get(
    "/movies/{movie_id}/similar",
    response_model=MoviePage,
    summary="Similar movies in your libraries",
    description="The provider's similar titles that are in your libraries, in its order; when "
    "none of them is, movies sharing the most genres (a movie of the same collection counts "
    "as two). Sorts: the movie sorts and `score`.",
    responses=error_responses(*MOVIE),
)
async def list_similar_movies(
    movie_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> MoviePage:
    items, total = await people.similar_movies(session, principal, movie_id, params)
    return MoviePage(data=items, pagination=params.meta(total))


@router.put(
    "/movies/{movie_id}/progress",
    response_model=WatchStateRead,
    summary="Report playback progress of a movie",
    description=PROGRESS_TEXT,
    responses=error_responses(*MOVIE_WRITE, watch.ProgressBeyondDuration),
)
async def put_movie_progress(
    movie_id: uuid.UUID,
    body: ProgressUpdate,
    principal: VideoReader,
    session: DbSession,
    state: State,
) -> WatchStateRead:
    return await watch.movie_progress(
        session, principal, movie_id, body, state.settings.watched_threshold_percent
    )


@router.post(
    "/movies/{movie_id}/watched",
    response_model=WatchStateRead,
    summary="Mark a movie watched",
    description="Counts a play, sets `last_watched_at` and resets the position.",
    responses=error_responses(*MOVIE_WRITE),
)
async def mark_movie_watched(
    movie_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> WatchStateRead:
    return await watch.set_movie_watched(session, principal, movie_id, watched=True)


@router.delete(
    "/movies/{movie_id}/watched",
    response_model=WatchStateRead,
    summary="Mark a movie unwatched",
    description="Clears the watched mark, the position, the play count and the history entry; "
    "answers the state as it now is.",
    responses=error_responses(*MOVIE_WRITE),
)
async def mark_movie_unwatched(
    movie_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> WatchStateRead:
    return await watch.set_movie_watched(session, principal, movie_id, watched=False)


# ---------------------------------------------------------------- collections and people


@router.get(
    "/collections/{collection_id}",
    response_model=CollectionRead,
    summary="One collection",
    description="Seen through its movies: without one you may see, a 404.",
    responses=error_responses(*SIGNED_IN, people.CollectionNotFound, ValidationFailed),
)
async def read_collection(
    collection_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> CollectionRead:
    return await people.get_collection(session, principal, collection_id)


@router.get(
    "/collections/{collection_id}/movies",
    response_model=MoviePage,
    summary="A collection's movies",
    description="In release order by default; the movie sorts apply.",
    responses=error_responses(*SIGNED_IN, people.CollectionNotFound, ValidationFailed),
)
async def list_collection_movies(
    collection_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> MoviePage:
    items, total = await people.collection_movies(session, principal, collection_id, params)
    return MoviePage(data=items, pagination=params.meta(total))


@router.get(
    "/people/{person_id}",
    response_model=PersonDetail,
    summary="One person, with their filmography in your libraries",
    description="Seen through their credits: without one on a title you may see, a 404.",
    responses=error_responses(*SIGNED_IN, people.PersonNotFound, ValidationFailed),
)
async def read_person(
    person_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> PersonDetail:
    return await people.get_person(session, principal, person_id)


# ---------------------------------------------------------------- TV: literal paths


@router.get(
    "/tvshows/recently-added",
    response_model=TvShowPage,
    summary="Recently added TV shows",
    description="By their newest episode's arrival: a new episode brings its show back up. "
    "Filter: `library_id`.",
    responses=error_responses(*LIST_ERRORS),
)
async def list_recent_shows(
    principal: VideoReader,
    session: DbSession,
    params: PaginationDep,
    library_id: LibraryQuery = None,
) -> TvShowPage:
    items, total = await discover.recent_shows(session, principal, params, library_id=library_id)
    return TvShowPage(data=items, pagination=params.meta(total))


@router.get(
    "/tvshows/continue-watching",
    response_model=EpisodeProgressPage,
    summary="Shows to continue",
    description="One entry per show you watch, at its next episode: the one in progress, or "
    "the next unwatched one after the last you watched (specials skipped). Most recent "
    "activity first (a fixed order).",
    responses=error_responses(*SIGNED_IN, ValidationFailed),
)
async def list_shows_in_progress(
    principal: VideoReader, session: DbSession, params: PaginationDep
) -> EpisodeProgressPage:
    items, total = await watch.shows_in_progress(session, principal, params)
    return EpisodeProgressPage(data=items, pagination=params.meta(total))


@router.get(
    "/tvshows/stats",
    response_model=ShowStats,
    summary="TV statistics",
    description="Counts, size and runtime, by genre, decade and network.",
    responses=error_responses(*LIST_ERRORS),
)
async def read_show_stats(
    principal: VideoReader, session: DbSession, library_id: LibraryQuery = None
) -> ShowStats:
    return await discover.show_stats(session, principal, library_id=library_id)


@router.get(
    "/tvshows/episodes/recent",
    response_model=EpisodeInShowPage,
    summary="Recently aired episodes",
    description="Aired in the last `days` days (default 7), newest first. Sorts: "
    "`air_date`, `title`.",
    responses=error_responses(*SIGNED_IN, ValidationFailed),
)
async def list_recent_episodes(
    principal: VideoReader, session: DbSession, params: PaginationDep, days: DaysQuery = 7
) -> EpisodeInShowPage:
    items, total = await discover.recent_episodes(
        session, principal, params, days=days, today=utcnow().date()
    )
    return EpisodeInShowPage(data=items, pagination=params.meta(total))


@router.get(
    "/tvshows/episodes/upcoming",
    response_model=EpisodeInShowPage,
    summary="Upcoming episodes",
    description="Airing from today through the next `days` days (default 30), soonest first.",
    responses=error_responses(*SIGNED_IN, ValidationFailed),
)
async def list_upcoming_episodes(
    principal: VideoReader, session: DbSession, params: PaginationDep, days: DaysQuery = 30
) -> EpisodeInShowPage:
    items, total = await discover.upcoming_episodes(
        session, principal, params, days=days, today=utcnow().date()
    )
    return EpisodeInShowPage(data=items, pagination=params.meta(total))


@router.put(
    "/tvshows/episodes/{episode_id}/progress",
    response_model=WatchStateRead,
    summary="Report playback progress of an episode",
    description=PROGRESS_TEXT,
    responses=error_responses(*EPISODE_WRITE, watch.ProgressBeyondDuration),
)
async def put_episode_progress(
    episode_id: uuid.UUID,
    body: ProgressUpdate,
    principal: VideoReader,
    session: DbSession,
    state: State,
) -> WatchStateRead:
    return await watch.episode_progress(
        session, principal, episode_id, body, state.settings.watched_threshold_percent
    )


@router.post(
    "/tvshows/episodes/{episode_id}/watched",
    response_model=WatchStateRead,
    summary="Mark an episode watched",
    responses=error_responses(*EPISODE_WRITE),
)
async def mark_episode_watched(
    episode_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> WatchStateRead:
    return await watch.set_episode_watched(session, principal, episode_id, watched=True)


@router.delete(
    "/tvshows/episodes/{episode_id}/watched",
    response_model=WatchStateRead,
    summary="Mark an episode unwatched",
    responses=error_responses(*EPISODE_WRITE),
)
async def mark_episode_unwatched(
    episode_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> WatchStateRead:
    return await watch.set_episode_watched(session, principal, episode_id, watched=False)


# ---------------------------------------------------------------- one show


@router.get(
    "/tvshows/{show_id}/cast",
    response_model=CastPage,
    summary="A show's cast",
    description="In billing order. Sorts: `order` (default), `name`.",
    responses=error_responses(*SHOW),
)
async def list_show_cast(
    show_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> CastPage:
    items, total = await people.show_cast(session, principal, show_id, params)
    return CastPage(data=items, pagination=params.meta(total))


@router.get(
    "/tvshows/{show_id}/crew",
    response_model=CrewPage,
    summary="A show's crew",
    description="By department and job. Sorts: `name`, `job`, `department`.",
    responses=error_responses(*SHOW),
)
async def list_show_crew(
    show_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> CrewPage:
    items, total = await people.show_crew(session, principal, show_id, params)
    return CrewPage(data=items, pagination=params.meta(total))


@router.get(
    "/tvshows/{show_id}/genres",
    response_model=GenrePage,
    summary="A show's genres",
    responses=error_responses(*SHOW),
)
async def list_show_genres(
    show_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> GenrePage:
    items, total = await people.show_genres(session, principal, show_id, params)
    return GenrePage(data=items, pagination=params.meta(total))


@router.get(
    "/tvshows/{show_id}/networks",
    response_model=NetworkPage,
    summary="A show's networks",
    responses=error_responses(*SHOW),
)
async def list_show_networks(
    show_id: uuid.UUID, principal: VideoReader, session: DbSession, params: PaginationDep
) -> NetworkPage:
    items, total = await people.show_networks(session, principal, show_id, params)
    return NetworkPage(data=items, pagination=params.meta(total))


@router.get(
    "/tvshows/{show_id}/watch-stats",
    response_model=ShowWatchStats,
    summary="Your progress through a show",
    description="Episodes watched and in progress, overall and per season, plays, watched "
    "runtime and when you last watched.",
    responses=error_responses(*SHOW),
)
async def read_show_watch_stats(
    show_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> ShowWatchStats:
    return await watch.show_watch_stats(session, principal, show_id)


@router.get(
    "/tvshows/{show_id}/next-episode",
    response_model=NextEpisodeRead,
    summary="The episode to watch next",
    description="The one in progress; else the next unwatched one after the last you watched; "
    "else, when you have not started, the first (specials skipped). `reason` says which; "
    "null `episode` when nothing is left.",
    responses=error_responses(*SHOW),
)
async def read_next_episode(
    show_id: uuid.UUID, principal: VideoReader, session: DbSession
) -> NextEpisodeRead:
    return await watch.next_episode(session, principal, show_id)
