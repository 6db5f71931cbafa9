"""Video: physical files, movies, TV shows with their seasons and episodes, the associations
between files and what they hold, people and their credits, genres, collections, networks and
each user's watch state.

A `video_file` is a file on disk, found by the scanner; a `movie` or an `episode` is a thing a
user watches. `media_file` links the two ("FileMetadata" in [004]): a movie with a 1080p and a
2160p file has two associations, a two-episode file one per episode. A file that disappears
keeps its row with `removed_at` set, and a moved file keeps its id (the scanner matches it by
`fingerprint`), so its associations survive.

Tables are filled by the scanner (from file names) and by the metadata providers (TMDb); the
rows carry `library_id` (episodes and seasons through their show) so visibility is one
`library_id IN (...)` filter.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.base import Base, IdMixin, TimestampMixin


class VideoHdr(enum.StrEnum):
    none = "none"
    hdr10 = "hdr10"
    hlg = "hlg"
    dolby_vision = "dolby_vision"


class MediaFileSource(enum.StrEnum):
    scan = "scan"  # the scanner decided it from the file's name
    manual = "manual"  # a person linked it (the scanner leaves such files alone)


class CreditKind(enum.StrEnum):
    cast = "cast"
    crew = "crew"


def _image() -> Any:
    return ForeignKey("image.id", ondelete="SET NULL")


class VideoFile(IdMixin, TimestampMixin, Base):
    __tablename__ = "video_file"
    __table_args__ = (Index("ix_video_file_library_fingerprint", "library_id", "fingerprint"),)

    library_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("library.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(4096), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    # SHA-256 of the size and the first and last 64 KiB: the same content at a new path.
    fingerprint: Mapped[str] = mapped_column(String(64))
    container: Mapped[str | None] = mapped_column(String(32))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    bit_rate: Mapped[int | None] = mapped_column(BigInteger)
    video_codec: Mapped[str | None] = mapped_column(String(32))
    width: Mapped[int | None]
    height: Mapped[int | None]
    hdr: Mapped[VideoHdr] = mapped_column(
        Enum(VideoHdr, native_enum=False, length=16), default=VideoHdr.none
    )
    # [{index, codec, language, channels, title}], [{index, codec, language, title, forced}]
    audio_streams: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    subtitle_streams: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # [{path, language, format, forced}]: subtitle files beside the video
    sidecar_subtitles: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    parsed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # what the name says
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_reason: Mapped[str | None] = mapped_column(Text)
    removed_at: Mapped[datetime | None]


class Collection(IdMixin, TimestampMixin, Base):
    __tablename__ = "collection"

    name: Mapped[str] = mapped_column(String(500))
    overview: Mapped[str | None] = mapped_column(Text)
    tmdb_id: Mapped[int | None] = mapped_column(unique=True)
    poster_image_id: Mapped[uuid.UUID | None] = mapped_column(_image())
    backdrop_image_id: Mapped[uuid.UUID | None] = mapped_column(_image())


class Movie(IdMixin, TimestampMixin, Base):
    __tablename__ = "movie"
    __table_args__ = (
        UniqueConstraint("library_id", "tmdb_id"),
        Index("ix_movie_library_sort", "library_id", "sort_title"),
        Index("ix_movie_library_added", "library_id", "added_at"),
    )

    library_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("library.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    sort_title: Mapped[str] = mapped_column(String(500), index=True)
    original_title: Mapped[str | None] = mapped_column(String(500))
    year: Mapped[int | None] = mapped_column(index=True)
    overview: Mapped[str | None] = mapped_column(Text)
    tagline: Mapped[str | None] = mapped_column(Text)
    runtime_minutes: Mapped[int | None]
    rating: Mapped[float | None] = mapped_column(Float)  # the provider's vote average
    vote_count: Mapped[int | None]
    release_date: Mapped[date | None]
    tmdb_id: Mapped[int | None] = mapped_column(index=True)
    imdb_id: Mapped[str | None] = mapped_column(String(16), index=True)
    poster_image_id: Mapped[uuid.UUID | None] = mapped_column(_image())
    backdrop_image_id: Mapped[uuid.UUID | None] = mapped_column(_image())
    collection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("collection.id", ondelete="SET NULL"), index=True
    )
    match_confidence: Mapped[float | None] = mapped_column(Float)
    metadata_refreshed_at: Mapped[datetime | None]
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The provider's similar titles (TMDb ids); `/similar` shows those in the library.
    similar_tmdb_ids: Mapped[list[int] | None] = mapped_column(JSON)
    # The provider's image paths (`/images/{type}/{size}/{path}`), set by a metadata refresh.
    poster_path: Mapped[str | None] = mapped_column(String(200))
    backdrop_path: Mapped[str | None] = mapped_column(String(200))
    # No provider result matched confidently; the reason names the best candidate.
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_reason: Mapped[str | None] = mapped_column(Text)


class TvShow(IdMixin, TimestampMixin, Base):
    __tablename__ = "tv_show"
    __table_args__ = (
        UniqueConstraint("library_id", "tmdb_id"),
        Index("ix_tv_show_library_sort", "library_id", "sort_title"),
        Index("ix_tv_show_library_added", "library_id", "added_at"),
    )

    library_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("library.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    sort_title: Mapped[str] = mapped_column(String(500), index=True)
    original_title: Mapped[str | None] = mapped_column(String(500))
    year: Mapped[int | None] = mapped_column(index=True)
    first_air_date: Mapped[date | None]
    status: Mapped[str | None] = mapped_column(String(32))  # as the provider says it
    overview: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[float | None] = mapped_column(Float)
    vote_count: Mapped[int | None]
    tmdb_id: Mapped[int | None] = mapped_column(index=True)
    imdb_id: Mapped[str | None] = mapped_column(String(16), index=True)
    poster_image_id: Mapped[uuid.UUID | None] = mapped_column(_image())
    backdrop_image_id: Mapped[uuid.UUID | None] = mapped_column(_image())
    match_confidence: Mapped[float | None] = mapped_column(Float)
    metadata_refreshed_at: Mapped[datetime | None]
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The provider's similar titles (TMDb ids); `/similar` shows those in the library.
    similar_tmdb_ids: Mapped[list[int] | None] = mapped_column(JSON)
    # The provider's image paths (`/images/{type}/{size}/{path}`), set by a metadata refresh.
    poster_path: Mapped[str | None] = mapped_column(String(200))
    backdrop_path: Mapped[str | None] = mapped_column(String(200))
    # No provider result matched confidently; the reason names the best candidate.
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_reason: Mapped[str | None] = mapped_column(Text)


class Season(IdMixin, TimestampMixin, Base):
    __tablename__ = "season"
    __table_args__ = (UniqueConstraint("show_id", "number"),)

    show_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tv_show.id", ondelete="CASCADE"))
    number: Mapped[int]  # 0: specials
    title: Mapped[str | None] = mapped_column(String(500))
    overview: Mapped[str | None] = mapped_column(Text)
    air_date: Mapped[date | None]
    poster_image_id: Mapped[uuid.UUID | None] = mapped_column(_image())


class Episode(IdMixin, TimestampMixin, Base):
    """An episode; a date-based one (daily shows) has no `episode_number` but an `air_date`."""

    __tablename__ = "episode"
    __table_args__ = (
        Index("ix_episode_show_number", "show_id", "season_number", "episode_number"),
        Index("ix_episode_show_air_date", "show_id", "air_date"),
    )

    show_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tv_show.id", ondelete="CASCADE"))
    season_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("season.id", ondelete="CASCADE"), index=True
    )
    season_number: Mapped[int]
    episode_number: Mapped[int | None]
    title: Mapped[str | None] = mapped_column(String(500))
    overview: Mapped[str | None] = mapped_column(Text)
    air_date: Mapped[date | None]
    runtime_minutes: Mapped[int | None]
    rating: Mapped[float | None] = mapped_column(Float)
    tmdb_id: Mapped[int | None] = mapped_column(index=True)


class MediaFile(IdMixin, Base):
    """A file holds a movie or an episode (exactly one of the two)."""

    __tablename__ = "media_file"
    __table_args__ = (
        CheckConstraint("(movie_id IS NULL) <> (episode_id IS NULL)", name="one_item"),
        # NULLs are distinct in a unique constraint: one partial index per kind of item.
        Index(
            "uq_media_file_movie",
            "video_file_id",
            "movie_id",
            unique=True,
            sqlite_where=text("movie_id IS NOT NULL"),
            postgresql_where=text("movie_id IS NOT NULL"),
        ),
        Index(
            "uq_media_file_episode",
            "video_file_id",
            "episode_id",
            unique=True,
            sqlite_where=text("episode_id IS NOT NULL"),
            postgresql_where=text("episode_id IS NOT NULL"),
        ),
    )

    video_file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("video_file.id", ondelete="CASCADE"), index=True
    )
    movie_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("movie.id", ondelete="CASCADE"), index=True
    )
    episode_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("episode.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[MediaFileSource] = mapped_column(
        Enum(MediaFileSource, native_enum=False, length=16), default=MediaFileSource.scan
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Person(IdMixin, TimestampMixin, Base):
    __tablename__ = "person"

    name: Mapped[str] = mapped_column(String(500), index=True)
    tmdb_id: Mapped[int | None] = mapped_column(unique=True)
    imdb_id: Mapped[str | None] = mapped_column(String(16))
    biography: Mapped[str | None] = mapped_column(Text)
    birthday: Mapped[date | None]
    deathday: Mapped[date | None]
    place_of_birth: Mapped[str | None] = mapped_column(String(500))
    profile_image_id: Mapped[uuid.UUID | None] = mapped_column(_image())


class Credit(IdMixin, Base):
    __tablename__ = "credit"
    __table_args__ = (CheckConstraint("(movie_id IS NULL) <> (show_id IS NULL)", name="one_item"),)

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    movie_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("movie.id", ondelete="CASCADE"), index=True
    )
    show_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tv_show.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[CreditKind] = mapped_column(Enum(CreditKind, native_enum=False, length=16))
    character: Mapped[str | None] = mapped_column(String(500))
    job: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    order: Mapped[int | None]


class VideoGenre(IdMixin, Base):
    """Genres of movies and shows (`genre` is music's: the vocabularies differ)."""

    __tablename__ = "video_genre"

    name: Mapped[str] = mapped_column(String(200), unique=True)


class MovieGenre(Base):
    __tablename__ = "movie_genre"

    movie_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("movie.id", ondelete="CASCADE"), primary_key=True
    )
    genre_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("video_genre.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ShowGenre(Base):
    __tablename__ = "show_genre"

    show_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tv_show.id", ondelete="CASCADE"), primary_key=True
    )
    genre_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("video_genre.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Network(IdMixin, Base):
    __tablename__ = "network"

    name: Mapped[str] = mapped_column(String(200))
    tmdb_id: Mapped[int | None] = mapped_column(unique=True)


class ShowNetwork(Base):
    __tablename__ = "show_network"

    show_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tv_show.id", ondelete="CASCADE"), primary_key=True
    )
    network_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("network.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class WatchState(IdMixin, Base):
    """How far a user got in a movie or an episode (exactly one of the two)."""

    __tablename__ = "watch_state"
    __table_args__ = (
        CheckConstraint("(movie_id IS NULL) <> (episode_id IS NULL)", name="one_item"),
        Index(
            "uq_watch_state_user_movie",
            "user_id",
            "movie_id",
            unique=True,
            sqlite_where=text("movie_id IS NOT NULL"),
            postgresql_where=text("movie_id IS NOT NULL"),
        ),
        Index(
            "uq_watch_state_user_episode",
            "user_id",
            "episode_id",
            unique=True,
            sqlite_where=text("episode_id IS NOT NULL"),
            postgresql_where=text("episode_id IS NOT NULL"),
        ),
        Index("ix_watch_state_user_last", "user_id", "last_watched_at"),
        Index("ix_watch_state_user_updated", "user_id", "updated_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    movie_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("movie.id", ondelete="CASCADE"), index=True
    )
    episode_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("episode.id", ondelete="CASCADE"), index=True
    )
    position_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    watched: Mapped[bool] = mapped_column(default=False)
    play_count: Mapped[int] = mapped_column(default=0)
    last_watched_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
