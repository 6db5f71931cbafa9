"""Plays: when a song counts as played, and what a play updates — the song's and its album's
play counts and last-played time, the user's own counts (`song_user_stat`) and their history
(`play` rows).

A play comes from a stream that passed the threshold (`play_threshold_percent` of the song or
`play_threshold_seconds` of it, whichever comes first — Last.fm's scrobbling rule), seen through
`stream_song`'s `on_sent`; or from a client's report. A report of the same moment twice is one
play (a unique index on user, song and moment), and a report that matches a play the server
already counted from the stream (same user and song, within one song length) is that play.

Stream plays are written in a unit of work of their own while the response goes out: a
stream never holds a database transaction (SQLite's write lock) for its length. Counters move
by `UPDATE … SET n = n + 1`, so concurrent plays all count.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Select, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.auth.principal import Principal
from cinesonic.config import Settings
from cinesonic.errors import NotFound, ValidationFailed
from cinesonic.kit.ids import uuid7
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.kit.timeutil import as_utc, utcnow
from cinesonic.library import service as library_service
from cinesonic.models.music import Album, Play, Song, SongUserStat
from cinesonic.music import service as music_service
from cinesonic.music.stream_schemas import PlayCreate, PlayRead, PlaySource
from cinesonic.music.streaming import OnSent
from cinesonic.state import AppState

log = structlog.get_logger("cinesonic.music.plays")

# A client's clock may run a little ahead of ours; further ahead is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)
# How far around a stream play a client's report of the same listening may fall.
REPORT_GRACE = timedelta(seconds=60)


class PlayNotFound(NotFound):
    message = "No such play in your history."


def play_threshold(settings: Settings, duration: float) -> float:
    """Seconds of a song a stream must send to count as a play; infinite when the song's
    length is unknown (only a client's report can count it then)."""
    if duration <= 0:
        return math.inf
    return min(duration * settings.play_threshold_percent / 100, settings.play_threshold_seconds)


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _later(column: Any, moment: datetime) -> Any:
    """The later of a nullable time column and `moment`, in SQL (both databases)."""
    return case((or_(column.is_(None), column < moment), moment), else_=column)


async def _count(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    song_id: uuid.UUID,
    album_id: uuid.UUID | None,
    played_at: datetime,
) -> None:
    await session.execute(
        update(Song)
        .where(Song.id == song_id)
        .values(
            play_count=Song.play_count + 1, last_played_at=_later(Song.last_played_at, played_at)
        )
        .execution_options(synchronize_session=False)
    )
    if album_id is not None:
        await session.execute(
            update(Album)
            .where(Album.id == album_id)
            .values(play_count=Album.play_count + 1)
            .execution_options(synchronize_session=False)
        )
    if user_id is not None:
        statement = _insert(session, SongUserStat).values(
            user_id=user_id, song_id=song_id, play_count=1, last_played_at=played_at
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[SongUserStat.user_id, SongUserStat.song_id],
                set_={
                    "play_count": SongUserStat.play_count + 1,
                    "last_played_at": _later(SongUserStat.last_played_at, played_at),
                },
            )
        )


async def record_play(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    song: Song,
    played_at: datetime,
    source: PlaySource,
) -> tuple[Play, bool]:
    """Record one play and count it; (the play, True) — or (the play already recorded for this
    user, song and moment, False), counting nothing."""
    played_at = as_utc(played_at)
    play_id = uuid7()
    inserted = await session.scalar(
        _insert(session, Play)
        .values(
            id=play_id,
            user_id=user_id,
            song_id=song.id,
            source=source.value,
            played_at=played_at,
        )
        .on_conflict_do_nothing(index_elements=[Play.user_id, Play.song_id, Play.played_at])
        .returning(Play.id)
    )
    if inserted is None:
        existing = await session.scalar(
            select(Play).where(
                Play.user_id == user_id, Play.song_id == song.id, Play.played_at == played_at
            )
        )
        assert existing is not None
        return existing, False
    await _count(
        session, user_id=user_id, song_id=song.id, album_id=song.album_id, played_at=played_at
    )
    play = await session.get_one(Play, play_id)
    return play, True


async def _recent_play(
    session: AsyncSession,
    user_id: uuid.UUID,
    song_id: uuid.UUID,
    since: datetime,
    until: datetime,
    source: PlaySource | None = None,
) -> Play | None:
    statement = select(Play).where(
        Play.user_id == user_id,
        Play.song_id == song_id,
        Play.played_at >= since,
        Play.played_at <= until,
    )
    if source is not None:
        statement = statement.where(Play.source == source.value)
    return await session.scalar(statement.order_by(Play.played_at.desc()).limit(1))


async def record_streamed_play(
    session: AsyncSession, *, user_id: uuid.UUID, song: Song, source: PlaySource
) -> Play | None:
    """Count a stream that passed the threshold, unless this user's play of this song was
    already counted within one song length (a player that re-requests the file as it seeks)."""
    now = utcnow()
    window = timedelta(seconds=max(song.duration, 1.0))
    if await _recent_play(session, user_id, song.id, now - window, now + FUTURE_TOLERANCE):
        return None
    play, _created = await record_play(
        session, user_id=user_id, song=song, played_at=now, source=source
    )
    return play


def stream_play_counter(
    state: AppState, user_id: uuid.UUID, song: Song, source: PlaySource = PlaySource.stream
) -> OnSent:
    """An `on_sent` for `stream_song` that records one play once the threshold is passed.

    A failure to record is logged, never raised: it must not cut the stream.
    """
    threshold = play_threshold(state.settings, song.duration)
    heard = 0.0
    recorded = False

    async def on_sent(seconds: float, _bytes: int) -> None:
        nonlocal heard, recorded
        heard += seconds
        if recorded or heard < threshold:
            return
        recorded = True
        try:
            async with state.db.session() as session:
                await record_streamed_play(session, user_id=user_id, song=song, source=source)
        except Exception as error:
            log.exception("play_not_recorded", song_id=str(song.id), error=repr(error))

    return on_sent


async def report_play(
    session: AsyncSession, principal: Principal, song: Song, body: PlayCreate
) -> tuple[Play, bool]:
    """A client's report of a play of a song it may see; (play, created)."""
    now = utcnow()
    played_at = as_utc(body.played_at) if body.played_at is not None else now
    if played_at > now + FUTURE_TOLERANCE:
        raise ValidationFailed(
            details=[
                {
                    "field": "played_at",
                    "location": "body",
                    "message": "is in the future",
                    "type": "value_error",
                }
            ]
        )
    # The stream of this very listening was counted already (at its threshold, before the
    # client's report at the end): the report is that play, not another.
    listening = timedelta(seconds=max(song.duration, 0.0)) + REPORT_GRACE
    counted = await _recent_play(
        session,
        principal.id,
        song.id,
        played_at - listening,
        played_at + REPORT_GRACE,
        PlaySource.stream,
    )
    if counted is not None:
        return counted, False
    return await record_play(
        session, user_id=principal.id, song=song, played_at=played_at, source=PlaySource.client
    )


def _visible_plays(principal: Principal, readable: list[uuid.UUID] | None) -> Select[Play]:
    statement = select(Play).where(Play.user_id == principal.id)
    if readable is not None:
        statement = statement.join(Song, Song.id == Play.song_id).where(
            Song.library_id.in_(readable)
        )
    return statement


async def list_plays(
    session: AsyncSession, principal: Principal, params: PageParams
) -> tuple[Sequence[Play], int]:
    """The principal's own plays, newest first, of songs in libraries they may read."""
    readable = await library_service.readable_library_ids(session, principal)
    statement = apply_sort(
        _visible_plays(principal, readable),
        params,
        {"played_at": Play.played_at},
        default=[Play.played_at.desc()],
        tiebreaker=Play.id.desc(),
    )
    return await paginate_rows(session, statement, params)


async def get_play(session: AsyncSession, principal: Principal, play_id: uuid.UUID) -> Play:
    readable = await library_service.readable_library_ids(session, principal)
    play = await session.scalar(_visible_plays(principal, readable).where(Play.id == play_id))
    if play is None:
        raise PlayNotFound()
    return play


async def read_plays(session: AsyncSession, rows: Sequence[Play]) -> list[PlayRead]:
    """Plays as the API answers them, each with its song's summary."""
    summaries = await music_service.song_summaries(session, list({row.song_id for row in rows}))
    return [
        PlayRead(
            id=row.id,
            song_id=row.song_id,
            source=PlaySource(row.source),
            played_at=row.played_at,
            song=summaries.get(row.song_id),
        )
        for row in rows
    ]
