"""Each user's watch state: progress reports, watched marks, continue-watching, the next
episode of a show, watch history and per-show statistics.

Players report progress every few seconds, so a report is one small UPSERT on (user, item):
never a read-modify-write across awaits, never an activity-log row. The watched rule (position
at or past `watched_threshold_percent` of the duration) is evaluated inside that statement, and
a play is counted once per crossing of the threshold. A user's watch state is theirs alone:
every query here is bound to the principal, and items in libraries they may not read are 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, case, func, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.auth.principal import Principal
from cinesonic.errors import ValidationFailed
from cinesonic.kit.ids import uuid7
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.video import Episode, MediaFile, Movie, TvShow, VideoFile, WatchState
from cinesonic.video import service as video_service
from cinesonic.video.schemas import (
    EpisodeProgressRead,
    MovieProgressRead,
    NextEpisodeRead,
    ProgressUpdate,
    SeasonWatchStats,
    ShowWatchStats,
    WatchStateRead,
)

# Players round: a position this close past the end is the end, not a mistake.
POSITION_SLACK_SECONDS = 1.0
_STATE = cast(Table, WatchState.__table__)
_C = _STATE.c

MOVIE_PROGRESS_SORTS: video_service.Sortable = {
    "updated": WatchState.updated_at,
    "title": Movie.sort_title,
}
MOVIE_HISTORY_SORTS: video_service.Sortable = {
    "last_watched": WatchState.last_watched_at,
    "title": Movie.sort_title,
    "play_count": WatchState.play_count,
}


class ProgressBeyondDuration(ValidationFailed):
    code = "progress_beyond_duration"
    message = "The position is past the end of the item."


@dataclass(frozen=True)
class _Item:
    """The movie or episode a watch state belongs to."""

    column: str  # "movie_id" or "episode_id"
    item_id: uuid.UUID

    @property
    def key(self) -> ColumnElement[bool]:
        return _C[self.column] == self.item_id

    @property
    def file_link(self) -> Any:
        return getattr(MediaFile, self.column)


def _state_read(row: Any) -> WatchStateRead:
    return WatchStateRead.model_validate(dict(row))


def _insert_for(session: AsyncSession) -> Any:
    bind = session.bind
    return (
        postgresql.insert
        if bind is not None and bind.dialect.name == "postgresql"
        else (sqlite.insert)
    )


async def _known_duration(session: AsyncSession, item: _Item) -> float | None:
    """The longest present file's probed duration (versions of a movie may differ slightly)."""
    found = await session.scalar(
        select(func.max(VideoFile.duration_seconds))
        .join(MediaFile, MediaFile.video_file_id == VideoFile.id)
        .where(item.file_link == item.item_id, VideoFile.removed_at.is_(None))
    )
    return None if found is None else float(found)


async def _upsert(
    session: AsyncSession,
    principal: Principal,
    item: _Item,
    insert_values: dict[str, Any],
    update_values: dict[str, Any],
) -> WatchStateRead:
    """One INSERT … ON CONFLICT DO UPDATE on (user, item), returning the row as it now is."""
    insert = _insert_for(session)
    statement = insert(_STATE).values(
        id=uuid7(), user_id=principal.id, **{item.column: item.item_id}, **insert_values
    )
    statement = statement.on_conflict_do_update(
        index_elements=[_C.user_id, _C[item.column]],
        index_where=_C[item.column].is_not(None),
        set_={
            key: value(statement.excluded) if callable(value) else value
            for key, value in update_values.items()
        },
    ).returning(*_C)
    row = (await session.execute(statement)).mappings().one()
    return _state_read(row)


async def _record_progress(
    session: AsyncSession,
    principal: Principal,
    item: _Item,
    body: ProgressUpdate,
    threshold_percent: int,
) -> WatchStateRead:
    duration = body.duration_seconds or await _known_duration(session, item)
    position = body.position_seconds
    if duration is not None:
        if position > duration + POSITION_SLACK_SECONDS:
            raise ProgressBeyondDuration(
                details=[
                    {
                        "field": "position_seconds",
                        "location": "body",
                        "message": f"must be at most the duration ({duration:g} s)",
                        "type": "value_error",
                    }
                ]
            )
        position = min(position, duration)
    ratio = threshold_percent / 100
    now = utcnow()
    reached_now = duration is not None and position >= duration * ratio

    def crossing(new: Any) -> ColumnElement[bool]:
        # Reached with this report, and not already reached by the stored one.
        length = func.coalesce(new.duration_seconds, _C.duration_seconds)
        was_reached = and_(
            _C.watched,
            _C.duration_seconds.is_not(None),
            _C.position_seconds >= _C.duration_seconds * ratio,
        )
        return and_(length.is_not(None), new.position_seconds >= length * ratio, not_(was_reached))

    return await _upsert(
        session,
        principal,
        item,
        {
            "position_seconds": position,
            "duration_seconds": duration,
            "watched": reached_now,
            "play_count": 1 if reached_now else 0,
            "last_watched_at": now if reached_now else None,
            "updated_at": now,
        },
        {
            "position_seconds": lambda new: new.position_seconds,
            "duration_seconds": lambda new: func.coalesce(
                new.duration_seconds, _C.duration_seconds
            ),
            "watched": lambda new: or_(_C.watched, crossing(new)),
            "play_count": lambda new: _C.play_count + case((crossing(new), 1), else_=0),
            "last_watched_at": lambda new: case((crossing(new), now), else_=_C.last_watched_at),
            "updated_at": now,
        },
    )


async def movie_progress(
    session: AsyncSession,
    principal: Principal,
    movie_id: uuid.UUID,
    body: ProgressUpdate,
    threshold_percent: int,
) -> WatchStateRead:
    movie = await video_service.visible_movie(session, principal, movie_id)
    return await _record_progress(
        session, principal, _Item("movie_id", movie.id), body, threshold_percent
    )


async def episode_progress(
    session: AsyncSession,
    principal: Principal,
    episode_id: uuid.UUID,
    body: ProgressUpdate,
    threshold_percent: int,
) -> WatchStateRead:
    episode = await video_service.visible_episode(session, principal, episode_id)
    return await _record_progress(
        session, principal, _Item("episode_id", episode.id), body, threshold_percent
    )


async def _mark_watched(session: AsyncSession, principal: Principal, item: _Item) -> WatchStateRead:
    now = utcnow()
    duration = await _known_duration(session, item)
    # Watched from here: the next time the threshold is crossed counts as another play.
    values = {"watched": True, "position_seconds": 0.0, "last_watched_at": now, "updated_at": now}
    return await _upsert(
        session,
        principal,
        item,
        {**values, "play_count": 1, "duration_seconds": duration},
        {
            **values,
            "play_count": _C.play_count + 1,
            "duration_seconds": func.coalesce(_C.duration_seconds, duration),
        },
    )


async def _mark_unwatched(
    session: AsyncSession, principal: Principal, item: _Item
) -> WatchStateRead:
    row = (
        (
            await session.execute(
                update(_STATE)
                .where(_C.user_id == principal.id, item.key)
                .values(
                    watched=False,
                    position_seconds=0.0,
                    play_count=0,
                    last_watched_at=None,
                    updated_at=utcnow(),
                )
                .returning(*_C)
            )
        )
        .mappings()
        .first()
    )
    if row is None:  # never started: already unwatched, nothing to write
        return WatchStateRead(**{item.column: item.item_id})
    return _state_read(row)


async def set_movie_watched(
    session: AsyncSession, principal: Principal, movie_id: uuid.UUID, *, watched: bool
) -> WatchStateRead:
    movie = await video_service.visible_movie(session, principal, movie_id)
    item = _Item("movie_id", movie.id)
    if watched:
        return await _mark_watched(session, principal, item)
    return await _mark_unwatched(session, principal, item)


async def set_episode_watched(
    session: AsyncSession, principal: Principal, episode_id: uuid.UUID, *, watched: bool
) -> WatchStateRead:
    episode = await video_service.visible_episode(session, principal, episode_id)
    item = _Item("episode_id", episode.id)
    if watched:
        return await _mark_watched(session, principal, item)
    return await _mark_unwatched(session, principal, item)


async def states_of(
    session: AsyncSession, principal: Principal, column: str, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, WatchStateRead]:
    """The principal's watch states of these movies or episodes (`column`), by item id."""
    if not ids:
        return {}
    rows = await session.execute(select(*_C).where(_C.user_id == principal.id, _C[column].in_(ids)))
    return {row[column]: _state_read(row) for row in rows.mappings()}


# ---------------------------------------------------------------- movies


async def _movie_progress_page(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    condition: ColumnElement[bool],
    sorts: video_service.Sortable,
    default: list[ColumnElement[Any]],
) -> tuple[list[MovieProgressRead], int]:
    readable = await video_service.readable(session, principal)
    statement = video_service.visible(
        cast(
            "Select[Any]",
            select(Movie, WatchState)
            .join(WatchState, WatchState.movie_id == Movie.id)
            .where(WatchState.user_id == principal.id, condition),
        ),
        Movie.library_id,
        readable,
    )
    statement = apply_sort(statement, params, sorts, default, WatchState.id.desc())
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    movies = await video_service.movie_reads(session, [row[0] for row in rows])
    return [
        MovieProgressRead(movie=movie, watch_state=WatchStateRead.model_validate(row[1]))
        for movie, row in zip(movies, rows, strict=True)
    ], total


async def movies_in_progress(
    session: AsyncSession, principal: Principal, params: PageParams
) -> tuple[list[MovieProgressRead], int]:
    return await _movie_progress_page(
        session,
        principal,
        params,
        and_(WatchState.position_seconds > 0, WatchState.watched.is_(False)),
        MOVIE_PROGRESS_SORTS,
        [WatchState.updated_at.desc()],
    )


async def movie_history(
    session: AsyncSession, principal: Principal, params: PageParams
) -> tuple[list[MovieProgressRead], int]:
    return await _movie_progress_page(
        session,
        principal,
        params,
        WatchState.watched.is_(True),
        MOVIE_HISTORY_SORTS,
        [WatchState.last_watched_at.desc()],
    )


# ---------------------------------------------------------------- TV


def _episode_order(episode: Episode) -> tuple[int, int, date, str]:
    return (
        episode.season_number,
        episode.episode_number or 0,
        episode.air_date or date.min,
        str(episode.id),
    )


@dataclass
class _ShowProgress:
    """What one user did in one show: episodes in order, their states, what comes next."""

    episodes: list[Episode]
    states: dict[uuid.UUID, WatchStateRead]

    def next_up(self) -> tuple[str | None, Episode | None, datetime | None]:
        """(reason, episode, time of the activity that makes it next)."""
        in_progress = [
            (state.updated_at, episode)
            for episode in self.episodes
            if (state := self.states.get(episode.id)) is not None
            and not state.watched
            and state.position_seconds > 0
            and state.updated_at is not None
        ]
        latest_progress = max(in_progress, key=lambda pair: pair[0], default=None)
        watched = [
            (state.last_watched_at, index)
            for index, episode in enumerate(self.episodes)
            if (state := self.states.get(episode.id)) is not None
            and state.watched
            and state.last_watched_at is not None
        ]
        last_watched = max(watched, default=None)
        if latest_progress is not None and (
            last_watched is None or latest_progress[0] >= last_watched[0]
        ):
            return "in_progress", latest_progress[1], latest_progress[0]
        if last_watched is not None:
            following = self.episodes[last_watched[1] + 1 :]
            for episode in following:
                state = self.states.get(episode.id)
                if episode.season_number > 0 and (state is None or not state.watched):
                    return "next", episode, last_watched[0]
            if latest_progress is not None:
                return "in_progress", latest_progress[1], latest_progress[0]
            return None, None, None
        if not self.states:
            first = next((e for e in self.episodes if e.season_number > 0), None)
            return ("start", first, None) if first is not None else (None, None, None)
        return None, None, None


async def _show_progress(
    session: AsyncSession, principal: Principal, show_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, _ShowProgress]:
    if not show_ids:
        return {}
    rows = await session.execute(
        select(Episode, WatchState)
        .outerjoin(
            WatchState,
            and_(WatchState.episode_id == Episode.id, WatchState.user_id == principal.id),
        )
        .where(Episode.show_id.in_(show_ids))
    )
    found = {show_id: _ShowProgress([], {}) for show_id in show_ids}
    for episode, state in rows:
        progress = found[episode.show_id]
        progress.episodes.append(episode)
        if state is not None:
            progress.states[episode.id] = WatchStateRead.model_validate(state)
    for progress in found.values():
        progress.episodes.sort(key=_episode_order)
    return found


def _fixed_order(params: PageParams) -> None:
    if params.sort:
        raise ValidationFailed(
            details=[
                {
                    "field": "sort",
                    "location": "query",
                    "message": "this list has a fixed order (most recent activity first)",
                    "type": "value_error",
                }
            ]
        )


async def shows_in_progress(
    session: AsyncSession, principal: Principal, params: PageParams
) -> tuple[list[EpisodeProgressRead], int]:
    """One entry per show the user watches, at its next episode, most recent activity first."""
    _fixed_order(params)
    readable = await video_service.readable(session, principal)
    show_ids = list(
        await session.scalars(
            video_service.visible(
                select(TvShow.id)
                .join(Episode, Episode.show_id == TvShow.id)
                .join(WatchState, WatchState.episode_id == Episode.id)
                .where(WatchState.user_id == principal.id)
                .distinct(),
                TvShow.library_id,
                readable,
            )
        )
    )
    progress = await _show_progress(session, principal, show_ids)
    entries: list[tuple[datetime, uuid.UUID, Episode]] = []
    for show_id, show_progress in progress.items():
        reason, episode, at = show_progress.next_up()
        if reason in ("in_progress", "next") and episode is not None and at is not None:
            entries.append((at, show_id, episode))
    entries.sort(key=lambda entry: (entry[0], str(entry[1])), reverse=True)
    page = entries[params.offset : params.offset + params.page_size]
    shows = {
        show.id: show
        for show in await video_service.show_reads(
            session,
            list(await session.scalars(select(TvShow).where(TvShow.id.in_([e[1] for e in page])))),
        )
    }
    episodes = await video_service.episode_reads(session, [entry[2] for entry in page])
    return [
        EpisodeProgressRead(
            show=shows[show_id],
            episode=read,
            watch_state=progress[show_id].states.get(episode.id),
        )
        for (_, show_id, episode), read in zip(page, episodes, strict=True)
    ], len(entries)


async def next_episode(
    session: AsyncSession, principal: Principal, show_id: uuid.UUID
) -> NextEpisodeRead:
    show = await video_service.visible_show(session, principal, show_id)
    progress = (await _show_progress(session, principal, [show.id]))[show.id]
    reason, episode, _ = progress.next_up()
    if episode is None:
        return NextEpisodeRead(reason=None, episode=None, watch_state=None)
    (read,) = await video_service.episode_reads(session, [episode])
    return NextEpisodeRead(reason=reason, episode=read, watch_state=progress.states.get(episode.id))


async def show_watch_stats(
    session: AsyncSession, principal: Principal, show_id: uuid.UUID
) -> ShowWatchStats:
    show = await video_service.visible_show(session, principal, show_id)
    progress = (await _show_progress(session, principal, [show.id]))[show.id]
    seasons: dict[int, SeasonWatchStats] = {}
    watched = in_progress = plays = 0
    seconds = 0.0
    last: datetime | None = None
    for episode in progress.episodes:
        season = seasons.setdefault(
            episode.season_number,
            SeasonWatchStats(season_number=episode.season_number, episode_count=0, watched_count=0),
        )
        season.episode_count += 1
        state = progress.states.get(episode.id)
        if state is None:
            continue
        plays += state.play_count
        if state.watched:
            watched += 1
            season.watched_count += 1
            seconds += (
                episode.runtime_minutes * 60
                if episode.runtime_minutes
                else (state.duration_seconds or 0.0)
            )
            if state.last_watched_at is not None and (last is None or state.last_watched_at > last):
                last = state.last_watched_at
        elif state.position_seconds > 0:
            in_progress += 1
    total = len(progress.episodes)
    return ShowWatchStats(
        show_id=show.id,
        episode_count=total,
        watched_count=watched,
        in_progress_count=in_progress,
        percent_watched=round(100 * watched / total, 2) if total else 0.0,
        play_count=plays,
        watched_runtime_minutes=round(seconds / 60),
        last_watched_at=last,
        seasons=[seasons[number] for number in sorted(seasons)],
    )
