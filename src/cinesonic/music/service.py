"""Music browsing: artists, albums, songs and genres as a user may see them.

Everything here is filtered by `library_service.readable_library_ids`: a thing in a library the
user may not read does not exist for them (404, never 403). Lists leave out songs whose files
were removed and albums left without songs; a removed song is still shown by id (with
`is_available` false), so playlists and history can draw it. Artists are shared by libraries:
one is visible when a readable library has songs or albums of theirs, with counts from the
readable libraries only (`library_artist`).

Also the front door other domains use: `get_visible_song` (streams) and `song_summaries`
(playlists, shares). This module never writes: the scanner owns music rows, and edits to
songs, artists and albums are moderated (a later issue).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from cinesonic.auth.principal import Principal
from cinesonic.db import Database
from cinesonic.errors import NotFound
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.kit.sql import likely
from cinesonic.kit.text import fold
from cinesonic.library import service as library_service
from cinesonic.models.library import Library, LibraryKind
from cinesonic.models.music import (
    Album,
    Artist,
    Genre,
    LibraryArtist,
    Song,
    SongArtist,
    SongGenre,
    SongLyrics,
)
from cinesonic.music.schemas import (
    AlbumDetail,
    AlbumPage,
    AlbumRead,
    AlbumRef,
    ArtistFull,
    ArtistRead,
    ArtistRef,
    ArtistSummary,
    GenreCount,
    GenreRead,
    GenreRef,
    LyricsRead,
    SongFull,
    SongRead,
)

# Ids per IN (...) list: well under SQLite's and asyncpg's bound-parameter limits.
CHUNK = 500
TOP_SONGS = 10


class ArtistNotFound(NotFound):
    message = "No such artist."


class AlbumNotFound(NotFound):
    message = "No such album."


class SongNotFound(NotFound):
    message = "No such song."


LibraryNotFound = library_service.LibraryNotFound

Sortable = Mapping[str, ColumnElement[Any] | QueryableAttribute[Any]]


@dataclass(frozen=True)
class Filters:
    """What a list may be narrowed to; every field is optional."""

    library_id: uuid.UUID | None = None
    artist_ids: tuple[uuid.UUID, ...] = ()
    album_id: uuid.UUID | None = None
    genre_id: uuid.UUID | None = None
    genre: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    formats: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scope:
    """The libraries whose music a request may see; None: every one (every music library is
    readable, so no filter is needed)."""

    libraries: list[uuid.UUID] | None = None

    def allows(self, library_id: uuid.UUID) -> bool:
        return self.libraries is None or library_id in self.libraries

    def where(self, column: QueryableAttribute[uuid.UUID]) -> list[ColumnElement[bool]]:
        """The condition on `column`, said to be true of most rows (`kit.sql.likely`): an
        artist's songs are found from the artist, not from every song of the library."""
        return [] if self.libraries is None else [likely(column.in_(self.libraries))]


# What browse pages, search answers and scopes read; a committed write to any of them (on any
# replica) retires the results computed before it (`Database.results`).
SCOPE_TABLES = ("library", "library_permission")
MUSIC_TABLES = (
    *SCOPE_TABLES,
    "artist",
    "library_artist",
    "album",
    "song",
    "song_artist",
    "genre",
    "song_genre",
    "search_document",
)


def _scope_key(principal: Principal, library_id: uuid.UUID | None) -> str:
    # The permissions are in the key: a principal whose roles change is a new principal.
    manage, read = principal.can("library.manage"), principal.can("library.read")
    return f"music.scope:{principal.id}:{manage:d}{read:d}:{library_id}"


def cached_scope(db: Database, principal: Principal, library_id: uuid.UUID | None) -> Scope | None:
    """The scope `scope_of` last computed for this principal, if nothing it read has changed."""
    scope = db.results.get(_scope_key(principal, library_id), db.table_versions(SCOPE_TABLES))
    return scope if isinstance(scope, Scope) else None


async def scope_of(
    session: AsyncSession, principal: Principal, library_id: uuid.UUID | None = None
) -> Scope:
    """The readable libraries, narrowed to `library_id` when given (404 when it is not one).

    Narrowed to music libraries too, and to "all" (None) when every music library is
    readable — the common case, where queries need no library condition: counting 100,000
    songs then reads a small covering index, and search filters nothing. Kept in
    `Database.results` while the libraries and their grants are unchanged."""
    db = Database.of(session)
    versions = db.table_versions(SCOPE_TABLES)
    key = _scope_key(principal, library_id)
    scope = db.results.get(key, versions)
    if isinstance(scope, Scope):
        return scope
    scope = await _read_scope(session, principal, library_id)
    db.results.set(key, versions, scope)
    return scope


async def _read_scope(
    session: AsyncSession, principal: Principal, library_id: uuid.UUID | None
) -> Scope:
    readable = await library_service.readable_library_ids(session, principal)
    if library_id is not None:
        if readable is None:
            await library_service.get_library(session, library_id)
        elif library_id not in readable:
            raise LibraryNotFound()
        return Scope([library_id])
    if not readable:
        return Scope(readable)
    music = set(await session.scalars(select(Library.id).where(Library.kind == LibraryKind.music)))
    if music <= set(readable):
        return Scope(None)
    return Scope([library for library in readable if library in music])


async def cached_page(
    db: Database,
    principal: Principal,
    library_id: uuid.UUID | None,
    what: str,
    build: Callable[[AsyncSession, Scope], Awaitable[bytes]],
) -> bytes:
    """A serialized page, reused while no table in MUSIC_TABLES has been written since it was
    built (and `result_cache_seconds` at most). `what` names the page within a scope: every
    parameter that shapes it. Pages are shared by readers of the same libraries, not per user.
    A hit opens no database session at all; concurrent misses of one page build it once."""
    versions = db.table_versions(MUSIC_TABLES)
    scope = cached_scope(db, principal, library_id)
    if scope is None:
        async with db.session() as session:
            scope = await scope_of(session, principal, library_id)
    known = scope

    async def build_page() -> bytes:
        async with db.session() as session:
            return await build(session, known)

    body = await db.results.get_or_build(_page_key(scope, what), versions, build_page)
    assert isinstance(body, bytes)
    return body


def _page_key(scope: Scope, what: str) -> str:
    libraries = "all" if scope.libraries is None else ",".join(sorted(map(str, scope.libraries)))
    return f"music.page:{libraries}:{what}"


def _chunks(ids: Sequence[uuid.UUID]) -> Iterable[Sequence[uuid.UUID]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _genre_ids(filters: Filters) -> Select[Any] | None:
    if filters.genre_id is not None:
        return select(Genre.id).where(Genre.id == filters.genre_id)
    if filters.genre is not None:
        return select(Genre.id).where(Genre.name_key == fold(filters.genre))
    return None


# ---------------------------------------------------------------- songs

# A song whose file is there: nearly all of them (see `cinesonic.kit.sql.likely`).
SONG_PRESENT = likely(Song.removed_at.is_(None))
SONG_SORTS: Sortable = {
    "title": Song.sort_title,
    "name": Song.sort_title,
    "artist": Song.artist_display,
    "year": Song.year,
    "added": Song.created_at,
    "created_at": Song.created_at,
    "play_count": Song.play_count,
    "last_played": Song.last_played_at,
    "duration": Song.duration,
    "track": func.coalesce(Song.disc_number, 1) * 100_000 + func.coalesce(Song.track_number, 0),
    "format": Song.format,
    "bit_rate": Song.bit_rate,
}
TRACK_ORDER: list[ColumnElement[Any]] = [
    func.coalesce(Song.disc_number, 1),
    func.coalesce(Song.track_number, 0),
    Song.sort_title.asc(),
]
LATEST_SORTS: Sortable = {"added": Song.created_at, "created_at": Song.created_at}

_SONG_COLUMNS: tuple[Any, ...] = (
    Song.id,
    Song.library_id,
    Song.title,
    Song.artist_display,
    Song.album_id,
    Song.track_number,
    Song.track_total,
    Song.disc_number,
    Song.disc_total,
    Song.year,
    Song.date,
    Song.is_compilation,
    Song.duration,
    Song.format,
    Song.codec,
    Song.content_type,
    Song.bit_rate,
    Song.sample_rate,
    Song.bit_depth,
    Song.channels,
    Song.size_bytes,
    Song.bpm,
    Song.replaygain_track_gain,
    Song.replaygain_track_peak,
    Song.replaygain_album_gain,
    Song.replaygain_album_peak,
    Song.mbz_recording_id,
    Song.has_lyrics,
    Song.play_count,
    Song.last_played_at,
    Song.removed_at,
    Song.created_at,
    Song.updated_at,
)


def _song_conditions(scope: Scope, filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        SONG_PRESENT,
        *scope.where(Song.library_id),
    ]
    if filters.artist_ids:
        conditions.append(
            Song.id.in_(
                select(SongArtist.song_id).where(SongArtist.artist_id.in_(filters.artist_ids))
            )
        )
    if filters.album_id is not None:
        conditions.append(Song.album_id == filters.album_id)
    genres = _genre_ids(filters)
    if genres is not None:
        conditions.append(
            Song.id.in_(select(SongGenre.song_id).where(SongGenre.genre_id.in_(genres)))
        )
    if filters.year_from is not None:
        conditions.append(Song.year >= filters.year_from)
    if filters.year_to is not None:
        conditions.append(Song.year <= filters.year_to)
    if filters.formats:
        conditions.append(Song.format.in_(filters.formats))
    return conditions


async def _album_refs(
    session: AsyncSession, album_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, AlbumRef]:
    wanted = list(dict.fromkeys(album_ids))
    refs: dict[uuid.UUID, AlbumRef] = {}
    for chunk in _chunks(wanted):
        rows = await session.execute(
            select(
                Album.id,
                Album.title,
                Album.year,
                Album.cover_image_id,
                Artist.id.label("artist_id"),
                Artist.name.label("artist_name"),
            )
            .join(Artist, Artist.id == Album.artist_id)
            .where(Album.id.in_(chunk))
        )
        for row in rows:
            refs[row.id] = AlbumRef(
                id=row.id,
                title=row.title,
                year=row.year,
                cover_image_id=row.cover_image_id,
                artist=ArtistRef(id=row.artist_id, name=row.artist_name),
            )
    return refs


async def _build_songs(session: AsyncSession, rows: Sequence[Any]) -> list[SongRead]:
    """SongRead for song rows (of `_SONG_COLUMNS`), in their order: three more statements for
    the artists, albums and genres of all of them."""
    song_ids = [row.id for row in rows]
    artists: dict[uuid.UUID, list[ArtistRef]] = {song_id: [] for song_id in song_ids}
    genres: dict[uuid.UUID, list[GenreRef]] = {song_id: [] for song_id in song_ids}
    for chunk in _chunks(song_ids):
        for link in await session.execute(
            select(SongArtist.song_id, Artist.id, Artist.name)
            .join(Artist, Artist.id == SongArtist.artist_id)
            .where(SongArtist.song_id.in_(chunk))
            .order_by(SongArtist.song_id, SongArtist.position, Artist.sort_name)
        ):
            artists[link.song_id].append(ArtistRef(id=link.id, name=link.name))
        for link in await session.execute(
            select(SongGenre.song_id, Genre.id, Genre.name)
            .join(Genre, Genre.id == SongGenre.genre_id)
            .where(SongGenre.song_id.in_(chunk))
            .order_by(SongGenre.song_id, Genre.name_key)
        ):
            genres[link.song_id].append(GenreRef(id=link.id, name=link.name))
    albums = await _album_refs(session, (row.album_id for row in rows if row.album_id))
    songs = []
    for row in rows:
        values = row._asdict()
        album = albums.get(row.album_id) if row.album_id else None
        song_artists = artists[row.id]
        values.update(
            artist=song_artists[0] if song_artists else None,
            artists=song_artists,
            album=album,
            albums=[album] if album else [],
            genres=genres[row.id],
            is_available=row.removed_at is None,
        )
        songs.append(SongRead.model_validate(values))
    return songs


async def list_songs(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    filters: Filters,
    *,
    sortable: Sortable = SONG_SORTS,
    default_order: Sequence[ColumnElement[Any]] = (Song.sort_title.asc(),),
    descending_tiebreaker: bool = False,
) -> tuple[list[SongRead], int]:
    scope = await scope_of(session, principal, filters.library_id)
    statement: Select[Any] = select(*_SONG_COLUMNS).where(*_song_conditions(scope, filters))
    tiebreaker = Song.id.desc() if descending_tiebreaker else Song.id.asc()
    statement = apply_sort(statement, params, sortable, default_order, tiebreaker)
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return await _build_songs(session, rows), total


async def latest_songs(
    session: AsyncSession, principal: Principal, params: PageParams, filters: Filters
) -> tuple[list[SongRead], int]:
    """The most recently added songs still on disk, newest first."""
    return await list_songs(
        session,
        principal,
        params,
        filters,
        sortable=LATEST_SORTS,
        default_order=(Song.created_at.desc(),),
        descending_tiebreaker=True,
    )


async def album_tracks(
    session: AsyncSession, principal: Principal, album_id: uuid.UUID, params: PageParams
) -> tuple[list[SongRead], int]:
    await _visible_album(session, principal, album_id)
    return await list_songs(
        session, principal, params, Filters(album_id=album_id), default_order=TRACK_ORDER
    )


async def song_summaries(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, SongRead]:
    """Songs by id with their artists, album and genres — removed ones included (with
    `is_available` false). No visibility check: the caller decides who may see which."""
    rows: list[Any] = []
    for chunk in _chunks(list(dict.fromkeys(ids))):
        rows.extend((await session.execute(select(*_SONG_COLUMNS).where(Song.id.in_(chunk)))).all())
    return {song.id: song for song in await _build_songs(session, rows)}


async def _song_row(session: AsyncSession, principal: Principal, song_id: uuid.UUID) -> Any:
    row = (await session.execute(select(*_SONG_COLUMNS).where(Song.id == song_id))).first()
    if row is None:
        raise SongNotFound()
    scope = await scope_of(session, principal)
    if not scope.allows(row.library_id):
        raise SongNotFound()
    return row


async def get_visible_song(session: AsyncSession, principal: Principal, song_id: uuid.UUID) -> Song:
    """The song, if its file is present and the principal may read its library (404 otherwise:
    streams and downloads come through here)."""
    song = await session.get(Song, song_id)
    if song is None or song.removed_at is not None:
        raise SongNotFound()
    if not (await scope_of(session, principal)).allows(song.library_id):
        raise SongNotFound()
    return song


async def read_song(session: AsyncSession, principal: Principal, song_id: uuid.UUID) -> SongRead:
    """A song of a readable library; a removed one too, marked unavailable."""
    row = await _song_row(session, principal, song_id)
    return (await _build_songs(session, [row]))[0]


async def read_song_full(
    session: AsyncSession, principal: Principal, song_id: uuid.UUID
) -> SongFull:
    row = await _song_row(session, principal, song_id)
    song = (await _build_songs(session, [row]))[0]
    album = None
    if row.album_id is not None:
        album_row = (
            await session.execute(_album_statement().where(Album.id == row.album_id))
        ).first()
        album = _album_read(album_row) if album_row is not None else None
    lyrics = await session.scalars(
        select(SongLyrics)
        .where(SongLyrics.song_id == song_id)
        .order_by(SongLyrics.is_synced.desc(), SongLyrics.source, SongLyrics.id)
    )
    return SongFull(
        **song.model_dump(exclude={"album", "albums"}),
        album=song.album,
        albums=song.albums,
        album_detail=album,
        lyrics=[LyricsRead.model_validate(entry) for entry in lyrics],
    )


# ---------------------------------------------------------------- albums

# Written out (not a bound 0) so the database may use the partial indexes on present albums.
ALBUM_PRESENT = Album.song_count > literal_column("0")
_ALBUM_ARTIST_NAME = select(Artist.name).where(Artist.id == Album.artist_id).scalar_subquery()
ALBUM_SORTS: Sortable = {
    "title": Album.sort_title,
    "name": Album.sort_title,
    "artist": select(Artist.sort_name).where(Artist.id == Album.artist_id).scalar_subquery(),
    "year": Album.year,
    "added": Album.created_at,
    "created_at": Album.created_at,
    "play_count": Album.play_count,
    "duration": Album.duration,
    "song_count": Album.song_count,
}
ARTIST_ALBUM_ORDER: list[ColumnElement[Any]] = [
    func.coalesce(Album.year, 0),
    Album.sort_title.asc(),
]


def _album_statement() -> Select[Any]:
    columns: tuple[Any, ...] = (
        Album.id,
        Album.library_id,
        Album.title,
        Album.is_compilation,
        Album.year,
        Album.date,
        Album.cover_image_id,
        Album.song_count,
        Album.disc_count,
        Album.duration,
        Album.size_bytes,
        Album.play_count,
        Album.mbz_album_id,
        Album.created_at,
        Album.updated_at,
        Album.artist_id,
        # A subquery, not a join: counting the page's statement then needs no artist.
        _ALBUM_ARTIST_NAME.label("artist_name"),
    )
    return select(*columns)


def _album_values(row: Any) -> dict[str, Any]:
    values: dict[str, Any] = row._asdict()
    values["artist"] = {"id": values.pop("artist_id"), "name": values.pop("artist_name")}
    return values


def _album_read(row: Any) -> AlbumRead:
    return AlbumRead.model_validate(_album_values(row))


def _albums_with_songs_of(artist_ids: Sequence[uuid.UUID]) -> Select[Any]:
    return (
        select(Song.album_id)
        .join(SongArtist, SongArtist.song_id == Song.id)
        .where(SongArtist.artist_id.in_(artist_ids), SONG_PRESENT)
    )


def _album_conditions(scope: Scope, filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        ALBUM_PRESENT,
        *scope.where(Album.library_id),
    ]
    if filters.artist_ids:
        # [002]: albums of the artist, or with the artist on some of their songs.
        conditions.append(
            or_(
                Album.artist_id.in_(filters.artist_ids),
                Album.id.in_(_albums_with_songs_of(filters.artist_ids)),
            )
        )
    genres = _genre_ids(filters)
    if genres is not None:
        conditions.append(
            Album.id.in_(
                select(Song.album_id)
                .join(SongGenre, SongGenre.song_id == Song.id)
                .where(SongGenre.genre_id.in_(genres), SONG_PRESENT)
            )
        )
    if filters.year_from is not None:
        conditions.append(Album.year >= filters.year_from)
    if filters.year_to is not None:
        conditions.append(Album.year <= filters.year_to)
    if filters.formats:
        conditions.append(
            Album.id.in_(
                select(Song.album_id).where(Song.format.in_(filters.formats), SONG_PRESENT)
            )
        )
    return conditions


async def album_page(
    db: Database, principal: Principal, params: PageParams, filters: Filters
) -> bytes:
    """`GET /albums` serialized, from `cached_page`."""

    async def build(session: AsyncSession, scope: Scope) -> bytes:
        items, total = await _albums_in(session, scope, params, filters)
        page = AlbumPage(data=items, pagination=params.meta(total))
        return page.__pydantic_serializer__.to_json(page)

    return await cached_page(db, principal, filters.library_id, f"albums:{params}:{filters}", build)


async def list_albums(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    filters: Filters,
    *,
    default_order: Sequence[ColumnElement[Any]] = (Album.sort_title.asc(),),
) -> tuple[list[AlbumRead], int]:
    scope = await scope_of(session, principal, filters.library_id)
    return await _albums_in(session, scope, params, filters, default_order=default_order)


async def _albums_in(
    session: AsyncSession,
    scope: Scope,
    params: PageParams,
    filters: Filters,
    *,
    default_order: Sequence[ColumnElement[Any]] = (Album.sort_title.asc(),),
) -> tuple[list[AlbumRead], int]:
    statement = _album_statement().where(*_album_conditions(scope, filters))
    statement = apply_sort(statement, params, ALBUM_SORTS, default_order, Album.id.asc())
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return [_album_read(row) for row in rows], total


async def album_summaries(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, AlbumRead]:
    """Albums by id with their artist and cover. No visibility check: the caller's."""
    albums: dict[uuid.UUID, AlbumRead] = {}
    for chunk in _chunks(list(dict.fromkeys(ids))):
        for row in await session.execute(_album_statement().where(Album.id.in_(chunk))):
            albums[row.id] = _album_read(row)
    return albums


async def _visible_album(session: AsyncSession, principal: Principal, album_id: uuid.UUID) -> Any:
    row = (await session.execute(_album_statement().where(Album.id == album_id))).first()
    if row is None or not (await scope_of(session, principal)).allows(row.library_id):
        raise AlbumNotFound()
    return row


async def read_album(
    session: AsyncSession, principal: Principal, album_id: uuid.UUID
) -> AlbumDetail:
    row = await _visible_album(session, principal, album_id)
    present = and_(Song.album_id == album_id, SONG_PRESENT)
    genres = await session.execute(
        select(Genre.id, Genre.name)
        .where(
            Genre.id.in_(
                select(SongGenre.genre_id).join(Song, Song.id == SongGenre.song_id).where(present)
            )
        )
        .order_by(Genre.name_key)
    )
    # Track artists in the order they first appear on the album.
    first_positions = (
        select(SongArtist.artist_id, func.min(SONG_SORTS["track"]).label("first"))
        .join(Song, Song.id == SongArtist.song_id)
        .where(present)
        .group_by(SongArtist.artist_id)
        .subquery()
    )
    track_artists = await session.execute(
        select(Artist.id, Artist.name)
        .join(first_positions, first_positions.c.artist_id == Artist.id)
        .order_by(first_positions.c.first, Artist.sort_name)
    )
    values = _album_values(row)
    artists = [ArtistRef.model_validate(values["artist"])]
    artists += [ArtistRef(id=a.id, name=a.name) for a in track_artists if a.id != artists[0].id]
    return AlbumDetail.model_validate(
        {
            **values,
            "genres": [GenreRef(id=g.id, name=g.name) for g in genres],
            "artists": artists,
        }
    )


# ---------------------------------------------------------------- artists


def _artist_counts(scope: Scope, artist_ids: Sequence[uuid.UUID] | None = None) -> Any:
    """Per artist (of `artist_ids`, or all): albums and songs in the scope's libraries; only
    artists with some."""
    album_count = func.sum(LibraryArtist.album_count)
    song_count = func.sum(LibraryArtist.song_count)
    only = [] if artist_ids is None else [LibraryArtist.artist_id.in_(artist_ids)]
    return (
        select(
            LibraryArtist.artist_id,
            album_count.label("album_count"),
            song_count.label("song_count"),
        )
        .where(*scope.where(LibraryArtist.library_id), *only)
        .group_by(LibraryArtist.artist_id)
        .having(or_(album_count > 0, song_count > 0))
        .subquery("counts")
    )


def _artist_statement(counts: Any) -> Select[Any]:
    return select(
        Artist.id,
        Artist.name,
        Artist.sort_name,
        Artist.image_id,
        Artist.mbz_artist_id,
        Artist.created_at,
        counts.c.album_count,
        counts.c.song_count,
    ).join(counts, counts.c.artist_id == Artist.id)


async def artist_summaries(
    session: AsyncSession, ids: Sequence[uuid.UUID], libraries: list[uuid.UUID] | None
) -> dict[uuid.UUID, ArtistSummary]:
    """Artists by id with their counts in `libraries` (None: all); artists without songs or
    albums there are left out."""
    artists: dict[uuid.UUID, ArtistSummary] = {}
    for chunk in _chunks(list(dict.fromkeys(ids))):
        counts = _artist_counts(Scope(libraries), chunk)
        for row in await session.execute(_artist_statement(counts)):
            artists[row.id] = ArtistSummary.model_validate(row._asdict())
    return artists


async def _artist_albums(
    session: AsyncSession, scope: Scope, artist_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[AlbumRef]]:
    """Per artist, the albums they are the album artist of or have songs on [002]."""
    owned: dict[uuid.UUID, set[uuid.UUID]] = {artist_id: set() for artist_id in artist_ids}
    for chunk in _chunks(list(artist_ids)):
        primary = await session.execute(
            select(Album.artist_id, Album.id).where(
                Album.artist_id.in_(chunk),
                ALBUM_PRESENT,
                *scope.where(Album.library_id),
            )
        )
        for owner_id, album_id in primary:
            owned[owner_id].add(album_id)
        featured = await session.execute(
            select(SongArtist.artist_id, Song.album_id)
            .distinct()
            .join(Song, Song.id == SongArtist.song_id)
            .where(
                SongArtist.artist_id.in_(chunk),
                SONG_PRESENT,
                Song.album_id.is_not(None),
                *scope.where(Song.library_id),
            )
        )
        for artist_id, featured_album_id in featured:
            if featured_album_id is not None:
                owned[artist_id].add(featured_album_id)
    refs = await _album_refs(session, (a for albums in owned.values() for a in albums))
    return {
        artist_id: sorted(
            (refs[album_id] for album_id in albums if album_id in refs),
            key=lambda ref: (ref.year or 0, fold(ref.title), ref.id),
        )
        for artist_id, albums in owned.items()
    }


def _artist_sorts(counts: Any) -> Sortable:
    return {
        "name": Artist.sort_name,
        "added": Artist.created_at,
        "created_at": Artist.created_at,
        "album_count": counts.c.album_count,
        "song_count": counts.c.song_count,
    }


async def list_artists(
    session: AsyncSession, principal: Principal, params: PageParams, filters: Filters
) -> tuple[list[ArtistRead], int]:
    scope = await scope_of(session, principal, filters.library_id)
    counts = _artist_counts(scope)
    statement = _artist_statement(counts)
    genres = _genre_ids(filters)
    if genres is not None:
        statement = statement.where(
            Artist.id.in_(
                select(SongArtist.artist_id)
                .join(Song, Song.id == SongArtist.song_id)
                .join(SongGenre, SongGenre.song_id == Song.id)
                .where(
                    SongGenre.genre_id.in_(genres),
                    SONG_PRESENT,
                    *scope.where(Song.library_id),
                )
            )
        )
    statement = apply_sort(
        statement, params, _artist_sorts(counts), [Artist.sort_name.asc()], Artist.id.asc()
    )
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    albums = await _artist_albums(session, scope, [row.id for row in rows])
    return [
        ArtistRead.model_validate({**row._asdict(), "albums": albums[row.id]}) for row in rows
    ], total


async def _visible_artist(
    session: AsyncSession, principal: Principal, artist_id: uuid.UUID
) -> tuple[Scope, Any]:
    """The artist with counts in the readable libraries; 404 unless one of them has them."""
    scope = await scope_of(session, principal)
    known = await session.scalar(
        select(LibraryArtist.artist_id)
        .where(LibraryArtist.artist_id == artist_id, *scope.where(LibraryArtist.library_id))
        .limit(1)
    )
    if known is None:
        raise ArtistNotFound()
    counts = (
        select(
            LibraryArtist.artist_id,
            func.sum(LibraryArtist.album_count).label("album_count"),
            func.sum(LibraryArtist.song_count).label("song_count"),
        )
        .where(LibraryArtist.artist_id == artist_id, *scope.where(LibraryArtist.library_id))
        .group_by(LibraryArtist.artist_id)
        .subquery("counts")
    )
    row = (await session.execute(_artist_statement(counts))).first()
    if row is None:
        raise ArtistNotFound()
    return scope, row


async def read_artist(
    session: AsyncSession, principal: Principal, artist_id: uuid.UUID
) -> ArtistRead:
    scope, row = await _visible_artist(session, principal, artist_id)
    albums = await _artist_albums(session, scope, [artist_id])
    return ArtistRead.model_validate({**row._asdict(), "albums": albums[artist_id]})


async def artist_albums(
    session: AsyncSession,
    principal: Principal,
    artist_id: uuid.UUID,
    params: PageParams,
    filters: Filters,
) -> tuple[list[AlbumRead], int]:
    """Albums of the artist or with their songs, oldest first unless sorted otherwise."""
    await _visible_artist(session, principal, artist_id)
    narrowed = dataclasses.replace(filters, artist_ids=(artist_id,))
    return await list_albums(session, principal, params, narrowed, default_order=ARTIST_ALBUM_ORDER)


async def read_artist_full(
    session: AsyncSession, principal: Principal, artist_id: uuid.UUID
) -> ArtistFull:
    scope, row = await _visible_artist(session, principal, artist_id)
    album_rows = await session.execute(
        _album_statement()
        .where(
            *_album_conditions(scope, Filters(artist_ids=(artist_id,))),
        )
        .order_by(*ARTIST_ALBUM_ORDER, Album.id)
    )
    albums = [_album_read(album) for album in album_rows]
    their_songs = and_(
        SongArtist.artist_id == artist_id,
        SONG_PRESENT,
        *scope.where(Song.library_id),
    )
    top = await session.execute(
        select(*_SONG_COLUMNS)
        .join(SongArtist, SongArtist.song_id == Song.id)
        .where(their_songs)
        .order_by(Song.play_count.desc(), Song.sort_title, Song.id)
        .limit(TOP_SONGS)
    )
    genre_rows = await session.execute(
        select(Genre.id, Genre.name, func.count().label("song_count"))
        .join(SongGenre, SongGenre.genre_id == Genre.id)
        .join(Song, Song.id == SongGenre.song_id)
        .join(SongArtist, SongArtist.song_id == Song.id)
        .where(their_songs)
        .group_by(Genre.id, Genre.name, Genre.name_key)
        .order_by(func.count().desc(), Genre.name_key)
    )
    duration = await session.scalar(
        select(func.coalesce(func.sum(Song.duration), 0.0))
        .join(SongArtist, SongArtist.song_id == Song.id)
        .where(their_songs)
    )
    return ArtistFull.model_validate(
        {
            **row._asdict(),
            "albums": [album for album in albums if album.artist.id == artist_id],
            "appears_on": [album for album in albums if album.artist.id != artist_id],
            "top_songs": await _build_songs(session, top.all()),
            "genres": [
                GenreCount(id=g.id, name=g.name, song_count=g.song_count) for g in genre_rows
            ],
            "duration": float(duration or 0.0),
        }
    )


# ---------------------------------------------------------------- genres


async def list_genres(
    session: AsyncSession, principal: Principal, params: PageParams, filters: Filters
) -> tuple[list[GenreRead], int]:
    """Genres with songs the user may see, with their song and album counts there."""
    scope = await scope_of(session, principal, filters.library_id)
    song_count = func.count(Song.id)
    album_count = func.count(Song.album_id.distinct())
    columns: tuple[Any, ...] = (
        Genre.id,
        Genre.name,
        song_count.label("song_count"),
        album_count.label("album_count"),
    )
    statement = (
        select(*columns)
        .join(SongGenre, SongGenre.genre_id == Genre.id)
        .join(Song, Song.id == SongGenre.song_id)
        .where(SONG_PRESENT, *scope.where(Song.library_id))
        .group_by(Genre.id, Genre.name, Genre.name_key)
    )
    sortable: Sortable = {
        "name": Genre.name_key,
        "song_count": song_count,
        "album_count": album_count,
    }
    statement = apply_sort(statement, params, sortable, [Genre.name_key.asc()], Genre.id.asc())
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return [GenreRead.model_validate(row._asdict()) for row in rows], total
