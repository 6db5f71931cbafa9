"""Lists that help a user choose what to watch: recently added, top rated, recently aired and
upcoming episodes, and library statistics (counts, runtime, by genre, decade and network).

Everything is limited to the libraries the user may read, like the rest of `video`.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.auth.principal import Principal
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.models.video import (
    Episode,
    MediaFile,
    Movie,
    MovieGenre,
    Network,
    Season,
    ShowGenre,
    ShowNetwork,
    TvShow,
    VideoFile,
    VideoGenre,
    WatchState,
)
from cinesonic.video import service as video_service
from cinesonic.video.schemas import (
    DecadeCount,
    EpisodeInShowRead,
    GenreCount,
    MovieRead,
    MovieStats,
    ShowStats,
    TvShowRead,
)

# A rating from a handful of votes says little: top-rated needs this many (when counted).
TOP_RATED_MIN_VOTES = 10
EPISODE_AIR_SORTS: video_service.Sortable = {
    "air_date": Episode.air_date,
    "title": Episode.title,
}


async def recent_movies(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    library_id: uuid.UUID | None = None,
) -> tuple[list[MovieRead], int]:
    libraries = await video_service.narrow(
        session, await video_service.readable(session, principal), library_id
    )
    statement = apply_sort(
        video_service.visible(select(Movie), Movie.library_id, libraries),
        params,
        video_service.MOVIE_SORTS,
        [Movie.added_at.desc()],
        Movie.id.desc(),
    )
    rows, total = await paginate_rows(session, statement, params)
    return await video_service.movie_reads(session, list(rows)), total


async def top_rated_movies(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    library_id: uuid.UUID | None = None,
) -> tuple[list[MovieRead], int]:
    """Rated movies, best first; those with a vote count need `TOP_RATED_MIN_VOTES` votes."""
    libraries = await video_service.narrow(
        session, await video_service.readable(session, principal), library_id
    )
    statement = video_service.visible(
        select(Movie).where(
            Movie.rating.is_not(None),
            func.coalesce(Movie.vote_count, TOP_RATED_MIN_VOTES) >= TOP_RATED_MIN_VOTES,
        ),
        Movie.library_id,
        libraries,
    )
    statement = apply_sort(
        statement,
        params,
        video_service.MOVIE_SORTS,
        [Movie.rating.desc(), func.coalesce(Movie.vote_count, 0).desc(), Movie.sort_title.asc()],
        Movie.id.asc(),
    )
    rows, total = await paginate_rows(session, statement, params)
    return await video_service.movie_reads(session, list(rows)), total


async def recent_shows(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    library_id: uuid.UUID | None = None,
) -> tuple[list[TvShowRead], int]:
    """Shows by their newest episode's arrival (a new episode brings its show back up)."""
    libraries = await video_service.narrow(
        session, await video_service.readable(session, principal), library_id
    )
    newest = (
        select(Episode.show_id, func.max(Episode.created_at).label("at"))
        .group_by(Episode.show_id)
        .subquery()
    )
    arrived = func.coalesce(newest.c.at, TvShow.added_at)
    statement = video_service.visible(
        cast("Select[Any]", select(TvShow).outerjoin(newest, newest.c.show_id == TvShow.id)),
        TvShow.library_id,
        libraries,
    )
    statement = apply_sort(
        statement,
        params,
        {**video_service.SHOW_SORTS, "arrived": arrived},
        [arrived.desc()],
        TvShow.id.desc(),
    )
    rows, total = await paginate_rows(session, statement, params)
    return await video_service.show_reads(session, list(rows)), total


async def _episodes_in_shows(
    session: AsyncSession, statement: Select[Any], params: PageParams, default: list[Any]
) -> tuple[list[EpisodeInShowRead], int]:
    statement = apply_sort(statement, params, EPISODE_AIR_SORTS, default, Episode.id.asc())
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    reads = await video_service.episode_reads(session, [row[0] for row in rows])
    return [
        EpisodeInShowRead(**read.model_dump(), show_title=row[1])
        for read, row in zip(reads, rows, strict=True)
    ], total


def _aired(readable: list[uuid.UUID] | None, first: date, last: date) -> Select[Any]:
    return video_service.visible(
        cast(
            "Select[Any]",
            select(Episode, TvShow.title)
            .join(TvShow, TvShow.id == Episode.show_id)
            .where(Episode.air_date >= first, Episode.air_date <= last),
        ),
        TvShow.library_id,
        readable,
    )


async def recent_episodes(
    session: AsyncSession, principal: Principal, params: PageParams, *, days: int, today: date
) -> tuple[list[EpisodeInShowRead], int]:
    """Episodes that aired in the last `days` days (today included), newest first."""
    readable = await video_service.readable(session, principal)
    statement = _aired(readable, today - timedelta(days=days), today)
    return await _episodes_in_shows(
        session, statement, params, [Episode.air_date.desc(), TvShow.sort_title.asc()]
    )


async def upcoming_episodes(
    session: AsyncSession, principal: Principal, params: PageParams, *, days: int, today: date
) -> tuple[list[EpisodeInShowRead], int]:
    """Episodes airing from today through the next `days` days, soonest first."""
    readable = await video_service.readable(session, principal)
    statement = _aired(readable, today, today + timedelta(days=days))
    return await _episodes_in_shows(
        session,
        statement,
        params,
        [Episode.air_date.asc(), TvShow.sort_title.asc(), Episode.episode_number.asc()],
    )


# ---------------------------------------------------------------- statistics


async def _counted(session: AsyncSession, statement: Select[Any]) -> list[GenreCount]:
    rows = await session.execute(statement)
    found = [GenreCount(name=str(name), count=int(count)) for name, count in rows]
    return sorted(found, key=lambda entry: (-entry.count, entry.name))


async def _decades(session: AsyncSession, statement: Select[Any]) -> list[DecadeCount]:
    counts: dict[int, int] = {}
    for (year,) in await session.execute(statement):
        decade = int(year) // 10 * 10
        counts[decade] = counts.get(decade, 0) + 1
    return [DecadeCount(decade=decade, count=counts[decade]) for decade in sorted(counts)]


async def movie_stats(
    session: AsyncSession, principal: Principal, *, library_id: uuid.UUID | None = None
) -> MovieStats:
    libraries = await video_service.narrow(
        session, await video_service.readable(session, principal), library_id
    )

    def visible(statement: Select[Any]) -> Select[Any]:
        return video_service.visible(statement, Movie.library_id, libraries)

    movies, runtime = (
        await session.execute(
            visible(
                cast(
                    "Select[Any]",
                    select(func.count(), func.coalesce(func.sum(Movie.runtime_minutes), 0)),
                )
            )
        )
    ).one()
    files, size = (
        await session.execute(
            visible(
                cast(
                    "Select[Any]",
                    select(func.count(), func.coalesce(func.sum(VideoFile.size_bytes), 0))
                    .select_from(MediaFile)
                    .join(VideoFile, VideoFile.id == MediaFile.video_file_id)
                    .join(Movie, Movie.id == MediaFile.movie_id)
                    .where(VideoFile.removed_at.is_(None)),
                )
            )
        )
    ).one()
    watched = await session.scalar(
        visible(
            cast(
                "Select[Any]",
                select(func.count())
                .select_from(WatchState)
                .join(Movie, Movie.id == WatchState.movie_id)
                .where(WatchState.user_id == principal.id, WatchState.watched.is_(True)),
            )
        )
    )
    by_genre = await _counted(
        session,
        visible(
            cast(
                "Select[Any]",
                select(VideoGenre.name, func.count())
                .join(MovieGenre, MovieGenre.genre_id == VideoGenre.id)
                .join(Movie, Movie.id == MovieGenre.movie_id)
                .group_by(VideoGenre.name),
            )
        ),
    )
    by_decade = await _decades(session, visible(select(Movie.year).where(Movie.year.is_not(None))))
    return MovieStats(
        movie_count=int(movies),
        file_count=int(files),
        total_size_bytes=int(size),
        total_runtime_minutes=int(runtime),
        watched_count=int(watched or 0),
        by_genre=by_genre,
        by_decade=by_decade,
    )


async def show_stats(
    session: AsyncSession, principal: Principal, *, library_id: uuid.UUID | None = None
) -> ShowStats:
    libraries = await video_service.narrow(
        session, await video_service.readable(session, principal), library_id
    )

    def visible(statement: Select[Any]) -> Select[Any]:
        return video_service.visible(statement, TvShow.library_id, libraries)

    shows = await session.scalar(visible(select(func.count()).select_from(TvShow)))
    seasons = await session.scalar(
        visible(
            cast(
                "Select[Any]",
                select(func.count()).select_from(Season).join(TvShow, TvShow.id == Season.show_id),
            )
        )
    )
    episodes, runtime = (
        await session.execute(
            visible(
                cast(
                    "Select[Any]",
                    select(func.count(), func.coalesce(func.sum(Episode.runtime_minutes), 0))
                    .select_from(Episode)
                    .join(TvShow, TvShow.id == Episode.show_id),
                )
            )
        )
    ).one()
    files, size = (
        await session.execute(
            visible(
                cast(
                    "Select[Any]",
                    select(func.count(), func.coalesce(func.sum(VideoFile.size_bytes), 0))
                    .select_from(MediaFile)
                    .join(VideoFile, VideoFile.id == MediaFile.video_file_id)
                    .join(Episode, Episode.id == MediaFile.episode_id)
                    .join(TvShow, TvShow.id == Episode.show_id)
                    .where(VideoFile.removed_at.is_(None)),
                )
            )
        )
    ).one()
    by_genre = await _counted(
        session,
        visible(
            cast(
                "Select[Any]",
                select(VideoGenre.name, func.count())
                .join(ShowGenre, ShowGenre.genre_id == VideoGenre.id)
                .join(TvShow, TvShow.id == ShowGenre.show_id)
                .group_by(VideoGenre.name),
            )
        ),
    )
    by_network = await _counted(
        session,
        visible(
            cast(
                "Select[Any]",
                select(Network.name, func.count())
                .join(ShowNetwork, ShowNetwork.network_id == Network.id)
                .join(TvShow, TvShow.id == ShowNetwork.show_id)
                .group_by(Network.name),
            )
        ),
    )
    by_decade = await _decades(
        session, visible(select(TvShow.year).where(TvShow.year.is_not(None)))
    )
    return ShowStats(
        show_count=int(shows or 0),
        season_count=int(seasons or 0),
        episode_count=int(episodes),
        file_count=int(files),
        total_size_bytes=int(size),
        total_runtime_minutes=int(runtime),
        by_genre=by_genre,
        by_decade=by_decade,
        by_network=by_network,
    )
