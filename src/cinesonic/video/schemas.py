"""Request and response models of the video routes: file associations (`/media-files`),
movies and TV shows with their seasons and episodes, people, credits, collections, networks,
statistics and each user's watch state.

Images are referenced by id and by the URL that serves them (`/api/v1/images/{id}`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import Field, computed_field, model_validator

from cinesonic.kit.pagination import Page
from cinesonic.kit.schemas import Schema
from cinesonic.models.video import CreditKind, MediaFileSource, VideoHdr

IMAGE_URL = "/api/v1/images/{id}"


def image_url(image_id: uuid.UUID | None) -> str | None:
    return None if image_id is None else IMAGE_URL.format(id=image_id)


class _WithArt(Schema):
    poster_image_id: uuid.UUID | None = None
    backdrop_image_id: uuid.UUID | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def poster_url(self) -> str | None:
        return image_url(self.poster_image_id)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def backdrop_url(self) -> str | None:
        return image_url(self.backdrop_image_id)


class _Matched(_WithArt):
    """A movie's or show's match at the metadata provider (set by a metadata refresh)."""

    poster_path: str | None = Field(
        None,
        description="TMDb's poster path, served at `/api/v1/images/poster/{size}{poster_path}` "
        "(set by a metadata refresh).",
    )
    backdrop_path: str | None = Field(
        None, description="TMDb's backdrop path (`/api/v1/images/backdrop/{size}{backdrop_path}`)."
    )
    match_confidence: float | None = Field(
        None, description="How surely the provider match is this title (0–1; 1: chosen by id)."
    )
    metadata_refreshed_at: datetime | None = None
    needs_review: bool = Field(False, description="No provider result matched confidently.")
    review_reason: str | None = None


# ---------------------------------------------------------------- files


class AudioStreamRead(Schema):
    index: int
    codec: str | None = None
    language: str | None = None
    channels: int | None = None
    title: str | None = None


class SubtitleStreamRead(Schema):
    index: int
    codec: str | None = None
    language: str | None = None
    title: str | None = None
    forced: bool = False


class SidecarSubtitleRead(Schema):
    path: str
    language: str | None = None
    format: str
    forced: bool = False


class VideoFileRead(Schema):
    """A file on disk as the scanner probed it."""

    id: uuid.UUID
    library_id: uuid.UUID
    path: str
    size_bytes: int
    container: str | None
    duration_seconds: float | None
    bit_rate: int | None
    video_codec: str | None
    width: int | None
    height: int | None
    hdr: VideoHdr
    audio_streams: list[AudioStreamRead]
    subtitle_streams: list[SubtitleStreamRead]
    sidecar_subtitles: list[SidecarSubtitleRead]
    parsed: dict[str, Any] = Field(description="What the file's name says (guessit).")
    needs_review: bool
    review_reason: str | None
    is_available: bool = Field(description="False once the file is gone from disk.")
    created_at: datetime
    updated_at: datetime


class MediaFileRead(Schema):
    """A file ↔ movie or episode association ("FileMetadata" in [004])."""

    id: uuid.UUID
    video_file_id: uuid.UUID
    movie_id: uuid.UUID | None
    episode_id: uuid.UUID | None
    show_id: uuid.UUID | None = Field(None, description="The episode's show.")
    season_number: int | None = None
    episode_number: int | None = None
    library_id: uuid.UUID
    source: MediaFileSource
    created_at: datetime
    file: VideoFileRead

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stream_url(self) -> str:
        return f"/api/v1/media-files/{self.id}/stream"


class MediaFileCreate(Schema):
    """Link a file to a movie (`movie_id`), or to an episode: `episode_id`, or `show_id` with
    `season_number` and `episode_number` (the episode is created when the show lacks it)."""

    video_file_id: uuid.UUID
    movie_id: uuid.UUID | None = None
    episode_id: uuid.UUID | None = None
    show_id: uuid.UUID | None = None
    season_number: int | None = Field(None, ge=0, le=10_000)
    episode_number: int | None = Field(None, ge=0, le=100_000)

    @model_validator(mode="after")
    def _one_item(self) -> MediaFileCreate:
        by_numbers = self.show_id is not None
        given = [self.movie_id is not None, self.episode_id is not None, by_numbers]
        if sum(given) != 1:
            raise ValueError("give exactly one of movie_id, episode_id, or show_id")
        if by_numbers and (self.season_number is None or self.episode_number is None):
            raise ValueError("show_id needs season_number and episode_number")
        if not by_numbers and (self.season_number is not None or self.episode_number is not None):
            raise ValueError("season_number and episode_number go with show_id")
        return self


MediaFilePage = Page[MediaFileRead]


# ---------------------------------------------------------------- people, genres, watch state


class CastRead(Schema):
    person_id: uuid.UUID
    name: str
    character: str | None
    order: int | None
    profile_image_id: uuid.UUID | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def profile_url(self) -> str | None:
        return image_url(self.profile_image_id)


class CrewRead(Schema):
    person_id: uuid.UUID
    name: str
    job: str | None
    department: str | None
    profile_image_id: uuid.UUID | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def profile_url(self) -> str | None:
        return image_url(self.profile_image_id)


class GenreRead(Schema):
    id: uuid.UUID
    name: str


class NetworkRead(Schema):
    id: uuid.UUID
    name: str
    tmdb_id: int | None


class CollectionRead(_WithArt):
    id: uuid.UUID
    name: str
    overview: str | None
    tmdb_id: int | None
    movie_count: int = Field(0, description="Movies of the collection you may see.")


class WatchStateRead(Schema):
    """Your progress in one movie or episode (nobody else's is ever shown)."""

    movie_id: uuid.UUID | None = None
    episode_id: uuid.UUID | None = None
    position_seconds: float = 0.0
    duration_seconds: float | None = None
    watched: bool = False
    play_count: int = 0
    last_watched_at: datetime | None = Field(None, description="When it last counted as watched.")
    updated_at: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def percent(self) -> float | None:
        if not self.duration_seconds:
            return None
        return round(min(100.0, 100 * self.position_seconds / self.duration_seconds), 2)


class ProgressUpdate(Schema):
    """Where playback is; a position at or past `watched_threshold_percent` of the duration
    marks the item watched."""

    position_seconds: float = Field(ge=0, le=1_000_000, description="Seconds from the start.")
    duration_seconds: float | None = Field(
        None,
        gt=0,
        le=1_000_000,
        description="The item's length as the player knows it; default: its file's probe.",
    )


# ---------------------------------------------------------------- movies


class MovieRead(_Matched):
    id: uuid.UUID
    library_id: uuid.UUID
    title: str
    sort_title: str
    original_title: str | None
    year: int | None
    overview: str | None
    tagline: str | None
    runtime_minutes: int | None
    rating: float | None
    vote_count: int | None
    release_date: date | None
    tmdb_id: int | None
    imdb_id: str | None
    collection_id: uuid.UUID | None
    genres: list[str] = Field(default_factory=list)
    file_count: int = Field(0, description="Files of the movie present on disk.")
    added_at: datetime
    updated_at: datetime


class MovieDetail(MovieRead):
    files: list[MediaFileRead] = Field(default_factory=list)
    cast: list[CastRead] = Field(default_factory=list, description="Billing order.")
    crew: list[CrewRead] = Field(default_factory=list)
    collection: CollectionRead | None = None
    watch_state: WatchStateRead | None = Field(None, description="Yours, when you started it.")


class MovieProgressRead(Schema):
    movie: MovieRead
    watch_state: WatchStateRead


class DecadeCount(Schema):
    decade: int = Field(description="1990 for the 1990s.")
    count: int


class GenreCount(Schema):
    name: str
    count: int


class MovieStats(Schema):
    movie_count: int
    file_count: int = Field(description="Files present on disk.")
    total_size_bytes: int
    total_runtime_minutes: int
    watched_count: int = Field(description="Movies you watched.")
    by_genre: list[GenreCount]
    by_decade: list[DecadeCount]


MoviePage = Page[MovieRead]


# ---------------------------------------------------------------- TV


class TvShowRead(_Matched):
    id: uuid.UUID
    library_id: uuid.UUID
    title: str
    sort_title: str
    original_title: str | None
    year: int | None
    first_air_date: date | None
    status: str | None
    overview: str | None
    rating: float | None
    vote_count: int | None
    tmdb_id: int | None
    imdb_id: str | None
    genres: list[str] = Field(default_factory=list)
    season_count: int = 0
    episode_count: int = 0
    added_at: datetime
    updated_at: datetime


class SeasonRead(Schema):
    id: uuid.UUID
    show_id: uuid.UUID
    number: int
    title: str | None
    overview: str | None
    air_date: date | None
    poster_image_id: uuid.UUID | None
    episode_count: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def poster_url(self) -> str | None:
        return image_url(self.poster_image_id)


class TvShowDetail(TvShowRead):
    seasons: list[SeasonRead] = Field(default_factory=list)
    cast: list[CastRead] = Field(default_factory=list, description="Billing order.")
    crew: list[CrewRead] = Field(default_factory=list)
    networks: list[NetworkRead] = Field(default_factory=list)


class EpisodeRead(Schema):
    id: uuid.UUID
    show_id: uuid.UUID
    season_id: uuid.UUID
    season_number: int
    episode_number: int | None = Field(description="None for a date-based episode.")
    title: str | None
    overview: str | None
    air_date: date | None
    runtime_minutes: int | None
    rating: float | None
    tmdb_id: int | None
    file_count: int = Field(0, description="Files of the episode present on disk.")


class EpisodeDetail(EpisodeRead):
    files: list[MediaFileRead] = Field(default_factory=list)


class EpisodeInShowRead(EpisodeRead):
    show_title: str


class EpisodeProgressRead(Schema):
    """A show at the episode to watch next, with your progress in it (none: not started)."""

    show: TvShowRead
    episode: EpisodeRead
    watch_state: WatchStateRead | None


class NextEpisodeRead(Schema):
    reason: str | None = Field(
        description="`in_progress` (resume it), `next` (after the last one you watched), "
        "`start` (nothing watched yet), or null: nothing left to watch."
    )
    episode: EpisodeRead | None
    watch_state: WatchStateRead | None


class SeasonWatchStats(Schema):
    season_number: int
    episode_count: int
    watched_count: int


class ShowWatchStats(Schema):
    show_id: uuid.UUID
    episode_count: int
    watched_count: int
    in_progress_count: int
    percent_watched: float
    play_count: int
    watched_runtime_minutes: int
    last_watched_at: datetime | None
    seasons: list[SeasonWatchStats]


class ShowStats(Schema):
    show_count: int
    season_count: int
    episode_count: int
    file_count: int = Field(description="Episode files present on disk.")
    total_size_bytes: int
    total_runtime_minutes: int
    by_genre: list[GenreCount]
    by_decade: list[DecadeCount]
    by_network: list[GenreCount]


TvShowPage = Page[TvShowRead]
SeasonPage = Page[SeasonRead]
EpisodePage = Page[EpisodeRead]
EpisodeInShowPage = Page[EpisodeInShowRead]
MovieProgressPage = Page[MovieProgressRead]
EpisodeProgressPage = Page[EpisodeProgressRead]
CastPage = Page[CastRead]
CrewPage = Page[CrewRead]
GenrePage = Page[GenreRead]
NetworkPage = Page[NetworkRead]


# ---------------------------------------------------------------- people


class FilmographyEntry(Schema):
    """One credit of a person, on a movie or a show you may see."""

    kind: CreditKind
    character: str | None
    job: str | None
    department: str | None
    movie: MovieRead | None = None
    show: TvShowRead | None = None


class PersonDetail(Schema):
    id: uuid.UUID
    name: str
    tmdb_id: int | None
    imdb_id: str | None
    biography: str | None
    birthday: date | None
    deathday: date | None
    place_of_birth: str | None
    profile_image_id: uuid.UUID | None
    filmography: list[FilmographyEntry] = Field(
        default_factory=list, description="Newest first; only titles in libraries you may read."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def profile_url(self) -> str | None:
        return image_url(self.profile_image_id)
