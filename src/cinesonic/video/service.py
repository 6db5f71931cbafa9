"""Video rules: file associations (`/media-files`), movies, TV shows, seasons and episodes as a
user may see them.

Everything is filtered by `library_service.readable_library_ids`: a thing in a library the user
may not read does not exist for them (404, never 403). Movies and shows carry `library_id`;
seasons and episodes are seen through their show, associations through their file.

Associations made by hand (`source: manual`) link a file to a movie of its library, or to an
episode of a show of its library (created from the numbers when the show lacks it); the same
link twice is a 409. Deleting an association never touches the file. The scanner owns the rest
of these rows; this module never reads media files.

Deleting a movie or a show deletes its rows (the database cascades: seasons, episodes, file
associations, credits, watch state) and never a file: its files stay, unlinked, until a person
links them again (an unchanged file is not re-read by an incremental scan; a full scan makes
the item again from the file name). People left without a credit go in the background job
`video.prune_people` the delete enqueues [004].
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth.principal import Principal
from cinesonic.errors import Conflict, NotFound, ValidationFailed
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.library import service as library_service
from cinesonic.models.job import Job, JobStatus
from cinesonic.models.video import (
    Credit,
    Episode,
    MediaFile,
    MediaFileSource,
    Movie,
    MovieGenre,
    Person,
    Season,
    ShowGenre,
    TvShow,
    VideoFile,
    VideoGenre,
)
from cinesonic.video.schemas import (
    EpisodeDetail,
    EpisodeRead,
    MediaFileCreate,
    MediaFileRead,
    MovieDetail,
    MovieRead,
    SeasonRead,
    TvShowDetail,
    TvShowRead,
    VideoFileRead,
)
from cinesonic.worker import queue as job_queue

Sortable = dict[str, ColumnElement[Any] | QueryableAttribute[Any]]
MOVIE_SORTS: Sortable = {
    "title": Movie.sort_title,
    # Unknown years and ratings sort as the lowest, on SQLite and PostgreSQL alike.
    "year": func.coalesce(Movie.year, 0),
    "added": Movie.added_at,
    "rating": func.coalesce(Movie.rating, -1.0),
}
SHOW_SORTS: Sortable = {
    "title": TvShow.sort_title,
    "year": func.coalesce(TvShow.year, 0),
    "added": TvShow.added_at,
    "rating": func.coalesce(TvShow.rating, -1.0),
}
SEASON_SORTS: Sortable = {"number": Season.number}
EPISODE_SORTS: Sortable = {
    "number": Episode.episode_number,
    "air_date": Episode.air_date,
    "title": Episode.title,
}
EPISODE_ORDER: list[ColumnElement[Any]] = [
    Episode.season_number.asc(),
    func.coalesce(Episode.episode_number, 0).asc(),
    Episode.air_date.asc(),
]
MEDIA_FILE_SORTS: Sortable = {"created_at": MediaFile.created_at, "path": VideoFile.path}


class VideoFileNotFound(NotFound):
    message = "No such video file."


class MediaFileNotFound(NotFound):
    message = "No such file association."


class MovieNotFound(NotFound):
    message = "No such movie."


class ShowNotFound(NotFound):
    message = "No such TV show."


class SeasonNotFound(NotFound):
    message = "No such season."


class EpisodeNotFound(NotFound):
    message = "No such episode."


class MediaFileExists(Conflict):
    code, message = "media_file_exists", "This file is already linked to this item."


class OtherLibrary(ValidationFailed):
    code = "other_library"
    message = "The file and the item belong to different libraries; link items of its library."


LibraryNotFound = library_service.LibraryNotFound
PRUNE_PEOPLE_JOB = "video.prune_people"


# ---------------------------------------------------------------- visibility


async def readable(session: AsyncSession, principal: Principal) -> list[uuid.UUID] | None:
    return await library_service.readable_library_ids(session, principal)


def visible(
    statement: Select[Any], column: QueryableAttribute[uuid.UUID], readable: list[uuid.UUID] | None
) -> Select[Any]:
    return statement if readable is None else statement.where(column.in_(readable))


async def narrow(
    session: AsyncSession, readable: list[uuid.UUID] | None, library_id: uuid.UUID | None
) -> list[uuid.UUID] | None:
    """The readable libraries, narrowed to `library_id` when given (404 when not readable)."""
    if library_id is None:
        return readable
    if readable is not None and library_id not in readable:
        raise LibraryNotFound()
    if readable is None:
        await library_service.get_library(session, library_id)
    return [library_id]


def allows(readable: list[uuid.UUID] | None, library_id: uuid.UUID) -> bool:
    return readable is None or library_id in readable


# ---------------------------------------------------------------- file associations


def _media_file_statement() -> Select[Any]:
    return cast(
        "Select[Any]",
        select(MediaFile, VideoFile, Episode.show_id, Episode.season_number, Episode.episode_number)
        .join(VideoFile, VideoFile.id == MediaFile.video_file_id)
        .outerjoin(Episode, Episode.id == MediaFile.episode_id),
    )


def _file_read(file: VideoFile) -> VideoFileRead:
    return VideoFileRead.model_validate(
        {
            **{
                name: getattr(file, name)
                for name in VideoFileRead.model_fields
                if name != "is_available"
            },
            "is_available": file.removed_at is None,
        }
    )


def _media_file_read(row: Any) -> MediaFileRead:
    link, file, show_id, season_number, episode_number = row
    return MediaFileRead(
        id=link.id,
        video_file_id=link.video_file_id,
        movie_id=link.movie_id,
        episode_id=link.episode_id,
        show_id=show_id,
        season_number=season_number,
        episode_number=episode_number,
        library_id=file.library_id,
        source=link.source,
        created_at=link.created_at,
        file=_file_read(file),
    )


async def list_media_files(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    library_id: uuid.UUID | None = None,
    movie_id: uuid.UUID | None = None,
    episode_id: uuid.UUID | None = None,
    show_id: uuid.UUID | None = None,
) -> tuple[list[MediaFileRead], int]:
    libraries = await narrow(session, await readable(session, principal), library_id)
    statement = visible(_media_file_statement(), VideoFile.library_id, libraries)
    if movie_id is not None:
        statement = statement.where(MediaFile.movie_id == movie_id)
    if episode_id is not None:
        statement = statement.where(MediaFile.episode_id == episode_id)
    if show_id is not None:
        statement = statement.where(Episode.show_id == show_id)
    statement = apply_sort(
        statement, params, MEDIA_FILE_SORTS, [VideoFile.path.asc()], MediaFile.id.asc()
    )
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return [_media_file_read(row) for row in rows], total


async def _media_file_row(
    session: AsyncSession, principal: Principal, media_file_id: uuid.UUID
) -> Any:
    row = (
        await session.execute(_media_file_statement().where(MediaFile.id == media_file_id))
    ).first()
    if row is None or not allows(await readable(session, principal), row[1].library_id):
        raise MediaFileNotFound()
    return row


async def get_media_file(
    session: AsyncSession, principal: Principal, media_file_id: uuid.UUID
) -> MediaFileRead:
    return _media_file_read(await _media_file_row(session, principal, media_file_id))


async def get_streamable_file(
    session: AsyncSession, principal: Principal, media_file_id: uuid.UUID
) -> VideoFile:
    """The file behind an association the principal may see (the stream's front door)."""
    row = await _media_file_row(session, principal, media_file_id)
    file: VideoFile = row[1]
    return file


async def _episode_by_numbers(
    session: AsyncSession, show: TvShow, season_number: int, episode_number: int
) -> Episode:
    episode = await session.scalar(
        select(Episode).where(
            Episode.show_id == show.id,
            Episode.season_number == season_number,
            Episode.episode_number == episode_number,
        )
    )
    if episode is not None:
        return episode
    season = await session.scalar(
        select(Season).where(Season.show_id == show.id, Season.number == season_number)
    )
    if season is None:
        title = "Specials" if season_number == 0 else f"Season {season_number}"
        season = Season(show_id=show.id, number=season_number, title=title)
        session.add(season)
        await session.flush()
    episode = Episode(
        show_id=show.id,
        season_id=season.id,
        season_number=season_number,
        episode_number=episode_number,
    )
    session.add(episode)
    await session.flush()
    return episode


async def create_media_file(
    session: AsyncSession, actor: Principal, origin: Origin, body: MediaFileCreate
) -> MediaFileRead:
    file = await session.get(VideoFile, body.video_file_id)
    if file is None:
        raise VideoFileNotFound()
    link = MediaFile(video_file_id=file.id, source=MediaFileSource.manual)
    if body.movie_id is not None:
        movie = await session.get(Movie, body.movie_id)
        if movie is None:
            raise MovieNotFound()
        if movie.library_id != file.library_id:
            raise OtherLibrary()
        link.movie_id = movie.id
    else:
        episode: Episode | None = None
        if body.episode_id is not None:
            episode = await session.get(Episode, body.episode_id)
            if episode is None:
                raise EpisodeNotFound()
            show = await session.get(TvShow, episode.show_id)
            assert show is not None
        else:
            assert body.show_id is not None
            found = await session.get(TvShow, body.show_id)
            if found is None:
                raise ShowNotFound()
            show = found
        if show.library_id != file.library_id:
            raise OtherLibrary()
        if episode is None:
            assert body.season_number is not None and body.episode_number is not None
            episode = await _episode_by_numbers(
                session, show, body.season_number, body.episode_number
            )
        link.episode_id = episode.id
    duplicate = await session.scalar(
        select(MediaFile.id).where(
            MediaFile.video_file_id == file.id,
            MediaFile.movie_id.is_(None)
            if link.movie_id is None
            else MediaFile.movie_id == link.movie_id,
            MediaFile.episode_id.is_(None)
            if link.episode_id is None
            else MediaFile.episode_id == link.episode_id,
        )
    )
    if duplicate is not None:
        raise MediaFileExists(details={"media_file_id": str(duplicate)})
    try:
        async with session.begin_nested():
            session.add(link)
            await session.flush()
    except IntegrityError:
        raise MediaFileExists() from None  # linked by a concurrent request meanwhile
    await activity_service.record_by(
        session,
        actor,
        action="media_file.create",
        resource_type="media_file",
        resource_id=link.id,
        origin=origin,
        details={
            "video_file_id": str(file.id),
            "movie_id": str(link.movie_id) if link.movie_id else None,
            "episode_id": str(link.episode_id) if link.episode_id else None,
        },
    )
    return await get_media_file(session, actor, link.id)


async def delete_media_file(
    session: AsyncSession, actor: Principal, origin: Origin, media_file_id: uuid.UUID
) -> None:
    link = await session.get(MediaFile, media_file_id)
    if link is None:
        raise MediaFileNotFound()
    await session.delete(link)
    await session.flush()
    await activity_service.record_by(
        session,
        actor,
        action="media_file.delete",
        resource_type="media_file",
        resource_id=media_file_id,
        origin=origin,
        details={"video_file_id": str(link.video_file_id)},
    )


# ---------------------------------------------------------------- movies


def _present_files(item: QueryableAttribute[uuid.UUID | None]) -> Select[Any]:
    return cast(
        "Select[Any]",
        select(item, func.count())
        .select_from(MediaFile)
        .join(VideoFile, VideoFile.id == MediaFile.video_file_id)
        .where(VideoFile.removed_at.is_(None))
        .group_by(item),
    )


async def _counts(
    session: AsyncSession, statement: Any, column: Any, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not ids:
        return {}
    rows = await session.execute(statement.where(column.in_(ids)))
    return {item_id: int(count) for item_id, count in rows}


async def _genres(
    session: AsyncSession,
    owner: QueryableAttribute[uuid.UUID],
    genre: QueryableAttribute[uuid.UUID],
    ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, list[str]]:
    """Genre names by movie or show (`owner`: MovieGenre.movie_id or ShowGenre.show_id)."""
    found: dict[uuid.UUID, list[str]] = {}
    if not ids:
        return found
    rows = await session.execute(
        select(owner, VideoGenre.name)
        .join(VideoGenre, VideoGenre.id == genre)
        .where(owner.in_(ids))
        .order_by(VideoGenre.name)
    )
    for item_id, name in rows:
        found.setdefault(item_id, []).append(name)
    return found


async def movie_reads(session: AsyncSession, movies: Sequence[Movie]) -> list[MovieRead]:
    ids = [movie.id for movie in movies]
    counts = await _counts(session, _present_files(MediaFile.movie_id), MediaFile.movie_id, ids)
    genres = await _genres(session, MovieGenre.movie_id, MovieGenre.genre_id, ids)
    return [
        MovieRead.model_validate(movie).model_copy(
            update={"genres": genres.get(movie.id, []), "file_count": counts.get(movie.id, 0)}
        )
        for movie in movies
    ]


def _genre_filter(
    statement: Select[Any], link: Any, owner: Any, item_id: Any, genre: str | None
) -> Select[Any]:
    if genre is None:
        return statement
    tagged = (
        select(owner)
        .join(VideoGenre, VideoGenre.id == link.genre_id)
        .where(func.lower(VideoGenre.name) == genre.lower())
    )
    return statement.where(item_id.in_(tagged))


async def list_movies(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    library_id: uuid.UUID | None = None,
    genre: str | None = None,
    year: int | None = None,
) -> tuple[list[MovieRead], int]:
    libraries = await narrow(session, await readable(session, principal), library_id)
    statement = visible(select(Movie), Movie.library_id, libraries)
    statement = _genre_filter(statement, MovieGenre, MovieGenre.movie_id, Movie.id, genre)
    if year is not None:
        statement = statement.where(Movie.year == year)
    statement = apply_sort(statement, params, MOVIE_SORTS, [Movie.sort_title.asc()], Movie.id.asc())
    rows, total = await paginate_rows(session, statement, params)
    return await movie_reads(session, list(rows)), total


async def visible_movie(session: AsyncSession, principal: Principal, movie_id: uuid.UUID) -> Movie:
    movie = await session.get(Movie, movie_id)
    if movie is None or not allows(await readable(session, principal), movie.library_id):
        raise MovieNotFound()
    return movie


async def _files_of(session: AsyncSession, condition: ColumnElement[bool]) -> list[MediaFileRead]:
    rows = await session.execute(
        _media_file_statement().where(condition).order_by(VideoFile.path, MediaFile.id)
    )
    return [_media_file_read(row) for row in rows]


async def get_movie(
    session: AsyncSession, principal: Principal, movie_id: uuid.UUID
) -> MovieDetail:
    movie = await visible_movie(session, principal, movie_id)
    (read,) = await movie_reads(session, [movie])
    files = await _files_of(session, MediaFile.movie_id == movie.id)
    return MovieDetail(**read.model_dump(exclude={"poster_url", "backdrop_url"}), files=files)


async def movie_files(
    session: AsyncSession, principal: Principal, movie_id: uuid.UUID, params: PageParams
) -> tuple[list[MediaFileRead], int]:
    movie = await visible_movie(session, principal, movie_id)
    return await list_media_files(session, principal, params, movie_id=movie.id)


# ---------------------------------------------------------------- TV shows


async def show_reads(session: AsyncSession, shows: Sequence[TvShow]) -> list[TvShowRead]:
    ids = [show.id for show in shows]
    seasons = await _counts(
        session,
        select(Season.show_id, func.count()).group_by(Season.show_id),
        Season.show_id,
        ids,
    )
    episodes = await _counts(
        session,
        select(Episode.show_id, func.count()).group_by(Episode.show_id),
        Episode.show_id,
        ids,
    )
    genres = await _genres(session, ShowGenre.show_id, ShowGenre.genre_id, ids)
    return [
        TvShowRead.model_validate(show).model_copy(
            update={
                "genres": genres.get(show.id, []),
                "season_count": seasons.get(show.id, 0),
                "episode_count": episodes.get(show.id, 0),
            }
        )
        for show in shows
    ]


async def list_shows(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    library_id: uuid.UUID | None = None,
    genre: str | None = None,
    year: int | None = None,
) -> tuple[list[TvShowRead], int]:
    libraries = await narrow(session, await readable(session, principal), library_id)
    statement = visible(select(TvShow), TvShow.library_id, libraries)
    statement = _genre_filter(statement, ShowGenre, ShowGenre.show_id, TvShow.id, genre)
    if year is not None:
        statement = statement.where(TvShow.year == year)
    statement = apply_sort(
        statement, params, SHOW_SORTS, [TvShow.sort_title.asc()], TvShow.id.asc()
    )
    rows, total = await paginate_rows(session, statement, params)
    return await show_reads(session, list(rows)), total


async def visible_show(session: AsyncSession, principal: Principal, show_id: uuid.UUID) -> TvShow:
    show = await session.get(TvShow, show_id)
    if show is None or not allows(await readable(session, principal), show.library_id):
        raise ShowNotFound()
    return show


async def _season_reads(session: AsyncSession, seasons: Sequence[Season]) -> list[SeasonRead]:
    ids = [season.id for season in seasons]
    counts = await _counts(
        session,
        select(Episode.season_id, func.count()).group_by(Episode.season_id),
        Episode.season_id,
        ids,
    )
    return [
        SeasonRead.model_validate(season).model_copy(
            update={"episode_count": counts.get(season.id, 0)}
        )
        for season in seasons
    ]


async def get_show(session: AsyncSession, principal: Principal, show_id: uuid.UUID) -> TvShowDetail:
    show = await visible_show(session, principal, show_id)
    (read,) = await show_reads(session, [show])
    seasons = list(
        await session.scalars(
            select(Season).where(Season.show_id == show.id).order_by(Season.number)
        )
    )
    return TvShowDetail(
        **read.model_dump(exclude={"poster_url", "backdrop_url"}),
        seasons=await _season_reads(session, seasons),
    )


async def show_seasons(
    session: AsyncSession, principal: Principal, show_id: uuid.UUID, params: PageParams
) -> tuple[list[SeasonRead], int]:
    show = await visible_show(session, principal, show_id)
    statement = apply_sort(
        select(Season).where(Season.show_id == show.id),
        params,
        SEASON_SORTS,
        [Season.number.asc()],
        Season.id.asc(),
    )
    rows, total = await paginate_rows(session, statement, params)
    return await _season_reads(session, list(rows)), total


async def episode_reads(session: AsyncSession, episodes: Sequence[Episode]) -> list[EpisodeRead]:
    ids = [episode.id for episode in episodes]
    counts = await _counts(session, _present_files(MediaFile.episode_id), MediaFile.episode_id, ids)
    return [
        EpisodeRead.model_validate(episode).model_copy(
            update={"file_count": counts.get(episode.id, 0)}
        )
        for episode in episodes
    ]


async def _episode_page(
    session: AsyncSession, statement: Select[Any], params: PageParams
) -> tuple[list[EpisodeRead], int]:
    statement = apply_sort(statement, params, EPISODE_SORTS, EPISODE_ORDER, Episode.id.asc())
    rows, total = await paginate_rows(session, statement, params)
    return await episode_reads(session, list(rows)), total


async def show_episodes(
    session: AsyncSession,
    principal: Principal,
    show_id: uuid.UUID,
    params: PageParams,
    *,
    season: int | None = None,
) -> tuple[list[EpisodeRead], int]:
    show = await visible_show(session, principal, show_id)
    statement = select(Episode).where(Episode.show_id == show.id)
    if season is not None:
        statement = statement.where(Episode.season_number == season)
    return await _episode_page(session, statement, params)


async def _visible_season(
    session: AsyncSession, principal: Principal, season_id: uuid.UUID
) -> Season:
    row = (
        await session.execute(
            select(Season, TvShow.library_id)
            .join(TvShow, TvShow.id == Season.show_id)
            .where(Season.id == season_id)
        )
    ).first()
    if row is None or not allows(await readable(session, principal), row[1]):
        raise SeasonNotFound()
    season: Season = row[0]
    return season


async def get_season(
    session: AsyncSession, principal: Principal, season_id: uuid.UUID
) -> SeasonRead:
    season = await _visible_season(session, principal, season_id)
    (read,) = await _season_reads(session, [season])
    return read


async def season_episodes(
    session: AsyncSession, principal: Principal, season_id: uuid.UUID, params: PageParams
) -> tuple[list[EpisodeRead], int]:
    season = await _visible_season(session, principal, season_id)
    return await _episode_page(
        session, select(Episode).where(Episode.season_id == season.id), params
    )


async def visible_episode(
    session: AsyncSession, principal: Principal, episode_id: uuid.UUID
) -> Episode:
    row = (
        await session.execute(
            select(Episode, TvShow.library_id)
            .join(TvShow, TvShow.id == Episode.show_id)
            .where(Episode.id == episode_id)
        )
    ).first()
    if row is None or not allows(await readable(session, principal), row[1]):
        raise EpisodeNotFound()
    episode: Episode = row[0]
    return episode


async def get_episode(
    session: AsyncSession, principal: Principal, episode_id: uuid.UUID
) -> EpisodeDetail:
    episode = await visible_episode(session, principal, episode_id)
    (read,) = await episode_reads(session, [episode])
    files = await _files_of(session, MediaFile.episode_id == episode.id)
    return EpisodeDetail(**read.model_dump(), files=files)


async def episode_files(
    session: AsyncSession, principal: Principal, episode_id: uuid.UUID, params: PageParams
) -> tuple[list[MediaFileRead], int]:
    episode = await visible_episode(session, principal, episode_id)
    return await list_media_files(session, principal, params, episode_id=episode.id)


# ---------------------------------------------------------------- deleting movies and shows


async def _linked_file_count(session: AsyncSession, condition: ColumnElement[bool]) -> int:
    count = await session.scalar(select(func.count()).select_from(MediaFile).where(condition))
    return int(count or 0)


async def delete_movie(
    session: AsyncSession, actor: Principal, origin: Origin, movie_id: uuid.UUID
) -> None:
    movie = await visible_movie(session, actor, movie_id)
    files = await _linked_file_count(session, MediaFile.movie_id == movie.id)
    await activity_service.record_by(
        session,
        actor,
        action="movie.delete",
        resource_type="movie",
        resource_id=movie.id,
        origin=origin,
        details={"title": movie.title, "tmdb_id": movie.tmdb_id, "files_unlinked": files},
    )
    await session.execute(delete(Movie).where(Movie.id == movie.id))
    session.expunge(movie)
    await enqueue_people_prune(session)


async def delete_show(
    session: AsyncSession, actor: Principal, origin: Origin, show_id: uuid.UUID
) -> None:
    show = await visible_show(session, actor, show_id)
    episodes = select(Episode.id).where(Episode.show_id == show.id)
    files = await _linked_file_count(session, MediaFile.episode_id.in_(episodes))
    await activity_service.record_by(
        session,
        actor,
        action="tvshow.delete",
        resource_type="tv_show",
        resource_id=show.id,
        origin=origin,
        details={"title": show.title, "tmdb_id": show.tmdb_id, "files_unlinked": files},
    )
    await session.execute(delete(TvShow).where(TvShow.id == show.id))
    session.expunge(show)
    await enqueue_people_prune(session)


async def enqueue_people_prune(session: AsyncSession) -> None:
    """One queued prune serves every delete before it runs; a running one may have looked
    already, so a delete then queues the next."""
    queued = await session.scalar(
        select(Job.id).where(Job.type == PRUNE_PEOPLE_JOB, Job.status == JobStatus.queued).limit(1)
    )
    if queued is None:
        await job_queue.enqueue(session, PRUNE_PEOPLE_JOB, {}, max_attempts=3)


async def prune_people(session: AsyncSession) -> int:
    """Delete the people no credit names any more; answers how many went."""
    result = await session.execute(
        delete(Person)
        .where(~exists().where(Credit.person_id == Person.id))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
