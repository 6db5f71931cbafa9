"""Writing what the scanner read into the music tables, in batches.

One `Indexer` serves one scan of one library. It loads the artists, genres and the library's
albums into dictionaries once, then resolves every name against them in memory; only names it
has never seen cost a statement (one per batch). Songs, their artist and genre links and their
lyrics are written with executemany (Core/ORM bulk statements, no unit of work per row).

Matching rules: an artist or an album is found by its MusicBrainz id when the file has one,
else by its folded name (`cinesonic.kit.text.fold`); an artist known only by name adopts the
first MusicBrainz id seen for it. Albums belong to one library and are keyed by (album artist,
folded title), so "Various Artists" compilations are one album.

Album totals and `library_artist` counts are recomputed in SQL for the albums and artists a
batch touched, inside that batch's transaction, so a scan killed between batches leaves
consistent counts behind. Only the scanner calls this module; it never commits (the scanner's
unit of work per batch does) and never reads files.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, distinct, func, insert, literal, or_, select, union, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.db import lock_for_update
from cinesonic.kit.ids import uuid7
from cinesonic.kit.timeutil import utcnow
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
from cinesonic.music.tags import TrackInfo, fold, sort_key

VARIOUS_ARTISTS = "Various Artists"

# Advisory lock around creating artists, so two libraries scanning at once cannot both add
# the same new artist (artist names are not unique in the schema; MusicBrainz ids are).
ARTIST_LOCK = 0x6172746973
# Parameters per IN (...) list; well under SQLite's and asyncpg's limits.
CHUNK = 500


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(slots=True)
class ArtistName:
    name: str
    mbz_id: str | None = None
    sort_name: str | None = None

    @property
    def key(self) -> str:
        return fold(self.name)


@dataclass(slots=True)
class AlbumRef:
    id: uuid.UUID
    artist_id: uuid.UUID
    title_key: str
    mbz_album_id: str | None
    cover_image_id: uuid.UUID | None


@dataclass(slots=True)
class PlannedSong:
    """A file read and decided upon: which song row it becomes and on which album."""

    info: TrackInfo
    mtime_ns: int
    song_id: uuid.UUID
    is_new: bool  # insert a row (else update the row with this id)
    album_artist: ArtistName
    is_compilation: bool
    artists: list[ArtistName] = field(default_factory=list)


@dataclass(slots=True)
class Touched:
    """Albums and artists whose cached totals must be recomputed."""

    albums: set[uuid.UUID] = field(default_factory=set)
    artists: set[uuid.UUID] = field(default_factory=set)

    def clear(self) -> None:
        self.albums.clear()
        self.artists.clear()


def album_artist_of(artists: list[ArtistName], info: TrackInfo) -> ArtistName:
    """The album artist a track names itself (tag, compilation flag, else its first artist)."""
    if info.album_artist:
        return ArtistName(info.album_artist, info.mbz_album_artist_id, info.album_artist_sort)
    if info.is_compilation:
        return ArtistName(VARIOUS_ARTISTS)
    return artists[0]


def track_artists(info: TrackInfo) -> list[ArtistName]:
    """The song's artists, paired with their MusicBrainz ids when the counts line up."""
    ids = info.mbz_artist_ids if len(info.mbz_artist_ids) == len(info.artists) else []
    names = [
        ArtistName(name, ids[index] if ids else None, info.artist_sort if index == 0 else None)
        for index, name in enumerate(info.artists)
    ]
    return names or [ArtistName("Unknown Artist")]


class Indexer:
    def __init__(self, library_id: uuid.UUID) -> None:
        self.library_id = library_id
        self.artist_by_key: dict[str, uuid.UUID] = {}
        self.artist_by_mbz: dict[str, uuid.UUID] = {}
        self.artist_has_mbz: set[uuid.UUID] = set()
        self.genre_by_key: dict[str, uuid.UUID] = {}
        self.album_by_key: dict[tuple[uuid.UUID, str], AlbumRef] = {}
        self.album_by_mbz: dict[str, AlbumRef] = {}
        self.touched = Touched()
        # Albums whose cover this scan already settled (set, kept, or looked for in vain).
        self.covers_settled: set[uuid.UUID] = set()

    # ------------------------------------------------------------------ caches

    async def load(self, session: AsyncSession) -> None:
        rows = await session.execute(select(Artist.id, Artist.name_key, Artist.mbz_artist_id))
        for artist_id, name_key, mbz_id in rows:
            self._remember_artist(artist_id, name_key, mbz_id)
        for genre_id, name_key in await session.execute(select(Genre.id, Genre.name_key)):
            self.genre_by_key[name_key] = genre_id
        albums = await session.execute(
            select(
                Album.id, Album.artist_id, Album.title_key, Album.mbz_album_id, Album.cover_image_id
            ).where(Album.library_id == self.library_id)
        )
        for album_id, artist_id, title_key, mbz_id, cover_id in albums:
            self._remember_album(AlbumRef(album_id, artist_id, title_key, mbz_id, cover_id))

    def _remember_artist(self, artist_id: uuid.UUID, name_key: str, mbz_id: str | None) -> None:
        # A name maps to the artist without a MusicBrainz id when there is one: files that
        # carry no id join the plain-name artist, not some namesake identified elsewhere.
        known = self.artist_by_key.get(name_key)
        if known is None or (known in self.artist_has_mbz and mbz_id is None):
            self.artist_by_key[name_key] = artist_id
        if mbz_id is not None:
            self.artist_by_mbz[mbz_id] = artist_id
            self.artist_has_mbz.add(artist_id)

    def _remember_album(self, ref: AlbumRef) -> None:
        self.album_by_key.setdefault((ref.artist_id, ref.title_key), ref)
        if ref.mbz_album_id is not None:
            self.album_by_mbz.setdefault(ref.mbz_album_id, ref)

    def find_artist(self, artist: ArtistName) -> uuid.UUID | None:
        if artist.mbz_id is not None:
            found = self.artist_by_mbz.get(artist.mbz_id)
            if found is not None:
                return found
            # A plain-name artist adopts the id; an artist with another id is someone else.
            candidate = self.artist_by_key.get(artist.key)
            if candidate is not None and candidate not in self.artist_has_mbz:
                return candidate
            return None
        return self.artist_by_key.get(artist.key)

    def find_album(
        self, album_artist: ArtistName, title: str, mbz_album_id: str | None
    ) -> AlbumRef | None:
        """The album these tags name, from the caches only (no statement)."""
        if mbz_album_id is not None and mbz_album_id in self.album_by_mbz:
            return self.album_by_mbz[mbz_album_id]
        artist_id = self.find_artist(album_artist)
        if artist_id is None:
            return None
        ref = self.album_by_key.get((artist_id, fold(title)))
        if ref is not None and mbz_album_id and ref.mbz_album_id not in (None, mbz_album_id):
            return None  # another release of the same name
        return ref

    # ------------------------------------------------------------------ resolving names

    async def _ensure_artists(self, session: AsyncSession, names: Iterable[ArtistName]) -> None:
        missing: dict[tuple[str, str | None], ArtistName] = {}
        for artist in names:
            if self.find_artist(artist) is None:
                missing.setdefault((artist.key, artist.mbz_id), artist)
        if not missing:
            return
        await lock_for_update(session, ARTIST_LOCK)
        # Another library's scan may have added some since we loaded the cache.
        keys = sorted({key for key, _ in missing})
        ids = sorted({mbz for _, mbz in missing if mbz})
        for part in chunks(keys):
            condition = Artist.name_key.in_(part)
            rows = await session.execute(
                select(Artist.id, Artist.name_key, Artist.mbz_artist_id).where(condition)
            )
            for artist_id, name_key, mbz_id in rows:
                self._remember_artist(artist_id, name_key, mbz_id)
        for part in chunks(ids):
            rows = await session.execute(
                select(Artist.id, Artist.name_key, Artist.mbz_artist_id).where(
                    Artist.mbz_artist_id.in_(part)
                )
            )
            for artist_id, name_key, mbz_id in rows:
                self._remember_artist(artist_id, name_key, mbz_id)
        now = utcnow()
        new_rows: list[dict[str, Any]] = []
        adopted: list[dict[str, Any]] = []
        for artist in missing.values():
            found = self.find_artist(artist)
            if found is not None:
                if artist.mbz_id is not None and found not in self.artist_has_mbz:
                    adopted.append({"id": found, "mbz_artist_id": artist.mbz_id})
                    self._remember_artist(found, artist.key, artist.mbz_id)
                continue
            artist_id = uuid7()
            new_rows.append(
                {
                    "id": artist_id,
                    "name": artist.name,
                    "sort_name": sort_key(artist.sort_name or artist.name)[:500],
                    "name_key": artist.key[:500],
                    "mbz_artist_id": artist.mbz_id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            self._remember_artist(artist_id, artist.key, artist.mbz_id)
        if new_rows:
            await session.execute(insert(Artist), new_rows)
        if adopted:
            await session.execute(update(Artist), adopted)

    async def _ensure_genres(self, session: AsyncSession, names: Iterable[str]) -> None:
        missing = {fold(name): name for name in names if fold(name) not in self.genre_by_key}
        missing.pop("", None)
        if not missing:
            return
        rows = [{"id": uuid7(), "name": name, "name_key": key} for key, name in missing.items()]
        dialect = session.get_bind().dialect.name
        statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(Genre)
        await session.execute(
            statement.on_conflict_do_nothing(index_elements=["name_key"]),
            rows,
        )
        for part in chunks(sorted(missing)):
            found = await session.execute(
                select(Genre.id, Genre.name_key).where(Genre.name_key.in_(part))
            )
            for genre_id, name_key in found:
                self.genre_by_key[name_key] = genre_id

    async def _ensure_albums(
        self,
        session: AsyncSession,
        planned: Sequence[PlannedSong],
        covers: dict[tuple[str, str], uuid.UUID],
    ) -> list[AlbumRef]:
        """The album of each planned song, creating albums and applying found covers."""
        now = utcnow()
        refs: list[AlbumRef] = []
        new_rows: list[dict[str, Any]] = []
        changes: dict[uuid.UUID, dict[str, Any]] = {}
        for song in planned:
            info = song.info
            ref = self.find_album(song.album_artist, info.album, info.mbz_album_id)
            cover = covers.get(cover_key(song))
            if ref is None:
                artist_id = self.find_artist(song.album_artist)
                assert artist_id is not None  # _ensure_artists ran first
                ref = AlbumRef(uuid7(), artist_id, fold(info.album)[:500], info.mbz_album_id, cover)
                self._remember_album(ref)
                new_rows.append(
                    {
                        "id": ref.id,
                        "library_id": self.library_id,
                        "title": info.album,
                        "sort_title": sort_key(info.album)[:500],
                        "title_key": ref.title_key,
                        "artist_id": artist_id,
                        "is_compilation": song.is_compilation,
                        "year": info.year,
                        "date": info.date,
                        "mbz_album_id": info.mbz_album_id,
                        "cover_image_id": cover,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            else:
                change = changes.setdefault(ref.id, {})
                if info.mbz_album_id and ref.mbz_album_id is None:
                    ref.mbz_album_id = info.mbz_album_id
                    self.album_by_mbz.setdefault(info.mbz_album_id, ref)
                    change["mbz_album_id"] = info.mbz_album_id
                if cover is not None and cover != ref.cover_image_id:
                    ref.cover_image_id = cover
                    change["cover_image_id"] = cover
            refs.append(ref)
        if new_rows:
            await session.execute(insert(Album), new_rows)
        updates = [{"id": album_id, **values} for album_id, values in changes.items() if values]
        for values in updates:
            values["updated_at"] = now
            await session.execute(
                update(Album).where(Album.id == values.pop("id")).values(**values)
            )
        return refs

    # ------------------------------------------------------------------ writing songs

    async def write(
        self,
        session: AsyncSession,
        planned: Sequence[PlannedSong],
        covers: dict[tuple[str, str], uuid.UUID],
    ) -> None:
        """Insert or update these songs with their links; recompute what they touched."""
        if not planned:
            return
        await self._ensure_artists(
            session, [a for song in planned for a in (*song.artists, song.album_artist)]
        )
        await self._ensure_genres(session, [g for song in planned for g in song.info.genres])
        albums = await self._ensure_albums(session, planned, covers)
        existing_ids = [song.song_id for song in planned if not song.is_new]
        if existing_ids:
            await self._forget_links(session, existing_ids)
        now = utcnow()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        artist_links: list[dict[str, Any]] = []
        genre_links: list[dict[str, Any]] = []
        lyrics: list[dict[str, Any]] = []
        for song, album in zip(planned, albums, strict=True):
            values = self._song_values(song, album.id)
            values["updated_at"] = now
            if song.is_new:
                values.update(id=song.song_id, created_at=now, library_id=self.library_id)
                inserts.append(values)
            else:
                values["id"] = song.song_id
                updates.append(values)
            self.touched.albums.add(album.id)
            self.touched.artists.add(album.artist_id)
            seen: set[uuid.UUID] = set()
            for artist in song.artists:
                artist_id = self.find_artist(artist)
                if artist_id is None or artist_id in seen:
                    continue
                seen.add(artist_id)
                self.touched.artists.add(artist_id)
                artist_links.append(
                    {"song_id": song.song_id, "artist_id": artist_id, "position": len(seen) - 1}
                )
            genre_ids = {self.genre_by_key.get(fold(name)) for name in song.info.genres}
            genre_links.extend(
                {"song_id": song.song_id, "genre_id": genre_id}
                for genre_id in genre_ids
                if genre_id is not None
            )
            lyrics.extend(
                {
                    "id": uuid7(),
                    "song_id": song.song_id,
                    "source": found.source,
                    "language": found.language,
                    "is_synced": found.is_synced,
                    "text": found.text,
                    "lines": found.lines,
                }
                for found in song.info.lyrics
            )
        if inserts:
            await session.execute(insert(Song), inserts)
        if updates:
            await session.execute(update(Song), updates)
        if artist_links:
            await session.execute(insert(SongArtist), artist_links)
        if genre_links:
            await session.execute(insert(SongGenre), genre_links)
        if lyrics:
            await session.execute(insert(SongLyrics), lyrics)

    @staticmethod
    def _song_values(song: PlannedSong, album_id: uuid.UUID) -> dict[str, Any]:
        info = song.info
        return {
            "path": info.path,
            "size_bytes": info.size,
            "mtime_ns": song.mtime_ns,
            "fingerprint": info.fingerprint,
            "removed_at": None,
            "title": info.title,
            "sort_title": sort_key(info.title_sort or info.title)[:500],
            "album_id": album_id,
            "artist_display": info.artist_display,
            "track_number": info.track_number,
            "track_total": info.track_total,
            "disc_number": info.disc_number,
            "disc_total": info.disc_total,
            "year": info.year,
            "date": info.date,
            "is_compilation": song.is_compilation,
            "duration": info.duration,
            "bit_rate": info.bit_rate,
            "sample_rate": info.sample_rate,
            "bit_depth": info.bit_depth,
            "channels": info.channels,
            "format": info.format,
            "codec": info.codec,
            "content_type": info.content_type,
            "mbz_recording_id": info.mbz_recording_id,
            "mbz_track_id": info.mbz_track_id,
            "replaygain_track_gain": info.replaygain_track_gain,
            "replaygain_track_peak": info.replaygain_track_peak,
            "replaygain_album_gain": info.replaygain_album_gain,
            "replaygain_album_peak": info.replaygain_album_peak,
            "bpm": info.bpm,
            "has_lyrics": bool(info.lyrics),
        }

    async def _forget_links(self, session: AsyncSession, song_ids: Sequence[uuid.UUID]) -> None:
        """Drop the artist/genre/lyrics rows of songs about to be rewritten, remembering the
        albums and artists they leave (their totals change too)."""
        for part in chunks(song_ids):
            old_albums = await session.scalars(
                select(Song.album_id).distinct().where(Song.id.in_(part))
            )
            self.touched.albums.update(a for a in old_albums if a is not None)
            old_artists = await session.scalars(
                select(SongArtist.artist_id).distinct().where(SongArtist.song_id.in_(part))
            )
            self.touched.artists.update(old_artists)
            await session.execute(delete(SongArtist).where(SongArtist.song_id.in_(part)))
            await session.execute(delete(SongGenre).where(SongGenre.song_id.in_(part)))
            await session.execute(delete(SongLyrics).where(SongLyrics.song_id.in_(part)))

    async def mark_removed(
        self, session: AsyncSession, song_ids: Sequence[uuid.UUID], when: datetime
    ) -> None:
        """Hide songs whose files are gone (rows, playlists and plays stay)."""
        for part in chunks(song_ids):
            albums = await session.scalars(
                select(Song.album_id).distinct().where(Song.id.in_(part))
            )
            self.touched.albums.update(a for a in albums if a is not None)
            artists = await session.scalars(
                select(SongArtist.artist_id).distinct().where(SongArtist.song_id.in_(part))
            )
            self.touched.artists.update(artists)
            await session.execute(
                update(Song)
                .where(Song.id.in_(part))
                .values(removed_at=when, updated_at=when)
                .execution_options(synchronize_session=False)
            )

    # ------------------------------------------------------------------ cached totals

    async def refresh_touched(self, session: AsyncSession) -> None:
        """Recompute album totals, then `library_artist` counts, for what was touched."""
        albums = sorted(self.touched.albums)
        artists = set(self.touched.artists)
        for part in chunks(albums):
            artists.update(await session.scalars(select(Album.artist_id).where(Album.id.in_(part))))
            await refresh_album_totals(session, part)
        for part in chunks(sorted(artists)):
            await refresh_library_artists(session, self.library_id, part)
        self.touched.clear()


async def refresh_album_totals(session: AsyncSession, album_ids: Sequence[uuid.UUID]) -> None:
    live = Song.removed_at.is_(None)

    def of_album(expression: Any) -> Any:
        return select(expression).where(Song.album_id == Album.id, live).scalar_subquery()

    await session.execute(
        update(Album)
        .where(Album.id.in_(list(album_ids)))
        .values(
            song_count=of_album(func.count()),
            duration=of_album(func.coalesce(func.sum(Song.duration), 0.0)),
            size_bytes=of_album(func.coalesce(func.sum(Song.size_bytes), 0)),
            disc_count=of_album(func.coalesce(func.max(Song.disc_number), 1)),
            year=func.coalesce(of_album(func.min(Song.year)), Album.year),
            date=func.coalesce(of_album(func.min(Song.date)), Album.date),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


async def refresh_library_artists(
    session: AsyncSession, library_id: uuid.UUID, artist_ids: Sequence[uuid.UUID]
) -> None:
    """`library_artist` rows of these artists: live songs by them, and albums (with live songs)
    they are the album artist of or appear on; rows at zero are deleted."""
    ids = list(artist_ids)
    live = Song.removed_at.is_(None)
    song_counts: dict[uuid.UUID, int] = {
        artist_id: count
        for artist_id, count in await session.execute(
            select(SongArtist.artist_id, func.count())
            .join(Song, Song.id == SongArtist.song_id)
            .where(Song.library_id == library_id, live, SongArtist.artist_id.in_(ids))
            .group_by(SongArtist.artist_id)
        )
    }
    appearances = union(
        select(Album.artist_id.label("artist_id"), Album.id.label("album_id")).where(
            Album.library_id == library_id, Album.song_count > 0, Album.artist_id.in_(ids)
        ),
        select(SongArtist.artist_id, Song.album_id)
        .join(Song, Song.id == SongArtist.song_id)
        .where(
            Song.library_id == library_id,
            live,
            Song.album_id.is_not(None),
            SongArtist.artist_id.in_(ids),
        ),
    ).subquery()
    album_counts: dict[uuid.UUID, int] = {
        artist_id: count
        for artist_id, count in await session.execute(
            select(appearances.c.artist_id, func.count(distinct(appearances.c.album_id))).group_by(
                appearances.c.artist_id
            )
        )
    }
    await session.execute(
        delete(LibraryArtist).where(
            LibraryArtist.library_id == library_id, LibraryArtist.artist_id.in_(ids)
        )
    )
    rows = [
        {
            "library_id": library_id,
            "artist_id": artist_id,
            "song_count": song_counts.get(artist_id, 0),
            "album_count": album_counts.get(artist_id, 0),
        }
        for artist_id in ids
        if song_counts.get(artist_id) or album_counts.get(artist_id)
    ]
    if rows:
        await session.execute(insert(LibraryArtist), rows)


async def delete_orphans(
    session: AsyncSession, library_id: uuid.UUID | None, artist_ids: Sequence[uuid.UUID]
) -> None:
    """Albums of the library with no song rows at all, then the given artists when nothing
    refers to them any more (no song, album or library link)."""
    if library_id is not None:
        await session.execute(
            delete(Album)
            .where(
                Album.library_id == library_id,
                ~select(literal(1)).where(Song.album_id == Album.id).exists(),
            )
            .execution_options(synchronize_session=False)
        )
    for part in chunks(list(artist_ids)):
        await session.execute(
            delete(Artist)
            .where(
                Artist.id.in_(part),
                ~select(literal(1)).where(SongArtist.artist_id == Artist.id).exists(),
                ~select(literal(1)).where(Album.artist_id == Artist.id).exists(),
                ~select(literal(1)).where(LibraryArtist.artist_id == Artist.id).exists(),
            )
            .execution_options(synchronize_session=False)
        )


def cover_key(song: PlannedSong) -> tuple[str, str]:
    """How a batch names an album before it has an id: album artist and title, folded."""
    return (song.album_artist.key, fold(song.info.album))


__all__ = [
    "VARIOUS_ARTISTS",
    "AlbumRef",
    "ArtistName",
    "Indexer",
    "PlannedSong",
    "album_artist_of",
    "cover_key",
    "delete_orphans",
    "or_",
    "refresh_album_totals",
    "refresh_library_artists",
    "track_artists",
]
