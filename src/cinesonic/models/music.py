"""Music: artists, albums, songs, genres, lyrics found in files, and plays.

Songs are files. A file that disappears keeps its row with `removed_at` set, so playlists, shares
and play history survive and show it as unavailable; browsing and search leave removed songs out.
A moved file keeps its id: the scanner matches it by `fingerprint` (content) before adding.

Artists are shared by every library; `library_artist` says which libraries an artist appears in
(and the counts there), so an artist list filters by readable libraries without touching songs.
Albums belong to one library and carry their totals (`song_count`, `duration`, `size_bytes`),
refreshed by the scanner, so album pages never aggregate songs.

`*_key` columns hold the matching form of a name (`cinesonic.kit.text.fold`: Unicode-normalized,
diacritics removed, case-folded, whitespace collapsed).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.base import Base, IdMixin, TimestampMixin


class Artist(IdMixin, TimestampMixin, Base):
    __tablename__ = "artist"

    name: Mapped[str] = mapped_column(String(500))
    sort_name: Mapped[str] = mapped_column(String(500))
    name_key: Mapped[str] = mapped_column(String(500), index=True)
    mbz_artist_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    image_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("image.id", ondelete="SET NULL"))


class LibraryArtist(Base):
    __tablename__ = "library_artist"

    library_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("library.id", ondelete="CASCADE"), primary_key=True
    )
    artist_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("artist.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    album_count: Mapped[int] = mapped_column(default=0)
    song_count: Mapped[int] = mapped_column(default=0)


class Album(IdMixin, TimestampMixin, Base):
    __tablename__ = "album"
    __table_args__ = (
        Index("ix_album_match", "library_id", "artist_id", "title_key"),
        Index("ix_album_library_sort", "library_id", "sort_title"),
        # Browsing pages through albums with songs in title order (migration 0008).
        Index(
            "ix_album_present_library_title",
            "library_id",
            "sort_title",
            "id",
            sqlite_where=text("song_count > 0"),
            postgresql_where=text("song_count > 0"),
        ),
        Index(
            "ix_album_present_title",
            "sort_title",
            "id",
            sqlite_where=text("song_count > 0"),
            postgresql_where=text("song_count > 0"),
        ),
        Index(
            "ix_album_present_created",
            "created_at",
            "id",
            sqlite_where=text("song_count > 0"),
            postgresql_where=text("song_count > 0"),
        ),
    )

    library_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("library.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    sort_title: Mapped[str] = mapped_column(String(500), index=True)
    title_key: Mapped[str] = mapped_column(String(500))
    # The album artist ("Various Artists" for compilations).
    artist_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("artist.id", ondelete="RESTRICT"), index=True
    )
    is_compilation: Mapped[bool] = mapped_column(default=False)
    year: Mapped[int | None] = mapped_column(index=True)
    date: Mapped[str | None] = mapped_column(String(10))  # YYYY, YYYY-MM or YYYY-MM-DD
    mbz_album_id: Mapped[str | None] = mapped_column(String(36), index=True)
    cover_image_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("image.id", ondelete="SET NULL")
    )
    song_count: Mapped[int] = mapped_column(default=0)
    disc_count: Mapped[int] = mapped_column(default=1)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    play_count: Mapped[int] = mapped_column(default=0)


class Song(IdMixin, TimestampMixin, Base):
    __tablename__ = "song"
    __table_args__ = (
        Index("uq_song_library_path", "library_id", "path", unique=True),
        Index("ix_song_album_order", "album_id", "disc_number", "track_number"),
        Index("ix_song_library_created", "library_id", "created_at"),
        # Browsing pages through present songs by title and by date added (migration 0008).
        *(
            Index(
                name,
                *columns,
                sqlite_where=text("removed_at IS NULL"),
                postgresql_where=text("removed_at IS NULL"),
            )
            for name, columns in (
                ("ix_song_present_library_title", ("library_id", "sort_title", "id")),
                ("ix_song_present_title", ("sort_title", "id")),
                ("ix_song_present_created", ("created_at", "id")),
            )
        ),
    )

    library_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("library.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(4096))  # absolute
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    removed_at: Mapped[datetime | None] = mapped_column(index=True)

    title: Mapped[str] = mapped_column(String(500))
    sort_title: Mapped[str] = mapped_column(String(500), index=True)
    album_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("album.id", ondelete="SET NULL"))
    # The artists tag as written ("A feat. B"); the artist rows are `song_artist`.
    artist_display: Mapped[str] = mapped_column(String(1000), default="")
    track_number: Mapped[int | None]
    track_total: Mapped[int | None]
    disc_number: Mapped[int | None]
    disc_total: Mapped[int | None]
    year: Mapped[int | None] = mapped_column(index=True)
    date: Mapped[str | None] = mapped_column(String(10))
    is_compilation: Mapped[bool] = mapped_column(default=False)

    duration: Mapped[float] = mapped_column(Float, default=0.0)  # seconds
    bit_rate: Mapped[int | None]  # bits per second
    sample_rate: Mapped[int | None]
    bit_depth: Mapped[int | None]
    channels: Mapped[int | None]
    format: Mapped[str] = mapped_column(String(16), index=True)  # mp3, flac, ogg, opus, m4a, ...
    codec: Mapped[str | None] = mapped_column(String(32))  # mp3, flac, vorbis, opus, aac, alac, ...
    content_type: Mapped[str] = mapped_column(String(64))

    mbz_recording_id: Mapped[str | None] = mapped_column(String(36))
    mbz_track_id: Mapped[str | None] = mapped_column(String(36))
    replaygain_track_gain: Mapped[float | None] = mapped_column(Float)
    replaygain_track_peak: Mapped[float | None] = mapped_column(Float)
    replaygain_album_gain: Mapped[float | None] = mapped_column(Float)
    replaygain_album_peak: Mapped[float | None] = mapped_column(Float)
    bpm: Mapped[float | None] = mapped_column(Float)
    has_lyrics: Mapped[bool] = mapped_column(default=False)

    play_count: Mapped[int] = mapped_column(default=0, index=True)
    last_played_at: Mapped[datetime | None]


class SongArtist(Base):
    __tablename__ = "song_artist"

    song_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("song.id", ondelete="CASCADE"), primary_key=True
    )
    artist_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("artist.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)


class Genre(IdMixin, Base):
    __tablename__ = "genre"

    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)


class SongGenre(Base):
    __tablename__ = "song_genre"

    song_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("song.id", ondelete="CASCADE"), primary_key=True
    )
    genre_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("genre.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SongLyrics(IdMixin, Base):
    """Lyrics found with the file: embedded (USLT/SYLT, LYRICS, ©lyr) or an `.lrc` sidecar."""

    __tablename__ = "song_lyrics"

    song_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("song.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))  # embedded | sidecar
    language: Mapped[str | None] = mapped_column(String(16))
    is_synced: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str] = mapped_column(Text)
    # Synchronized lines: [{"start_ms": int, "text": str}, ...]
    lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class Play(IdMixin, Base):
    """One play of a song by a user (history); the counters live on `song` and `song_user_stat`."""

    __tablename__ = "play"
    __table_args__ = (
        Index("ix_play_user_played", "user_id", "played_at"),
        # A client reporting the same play again is not a second play (migration 0009).
        Index("uq_play_user_song_played", "user_id", "song_id", "played_at", unique=True),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    song_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("song.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))  # stream | client | share
    played_at: Mapped[datetime] = mapped_column(default=utcnow)


class SongUserStat(Base):
    __tablename__ = "song_user_stat"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    song_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("song.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    play_count: Mapped[int] = mapped_column(default=0)
    last_played_at: Mapped[datetime | None]
