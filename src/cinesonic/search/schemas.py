"""Request and response models of search.

A hit is a short summary of the thing — what a result list draws — with `type`, `id`, `name`
(the artist's name, the album's or song's title) and `score` (higher is better; 3 for a name
equal to the query, 2 for a name starting with it, 1 for the other matches; comparable within
one answer only). The thing's own route (`/artists/{id}`, …) has the rest.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, computed_field

from cinesonic.kit.pagination import PaginationMeta
from cinesonic.kit.schemas import Schema
from cinesonic.models.job import JobStatus
from cinesonic.music.schemas import AlbumRef, ArtistRef, image_url
from cinesonic.video.schemas import MovieRead, TvShowRead


class SearchType(enum.StrEnum):
    """What a search may look for."""

    artist = "artist"
    album = "album"
    song = "song"
    movie = "movie"
    tvshow = "tvshow"
    episode = "episode"
    person = "person"


class ArtistHit(Schema):
    type: Literal["artist"] = "artist"
    id: uuid.UUID
    name: str
    score: float
    image_id: uuid.UUID | None = None
    album_count: int = Field(description="Albums in the libraries you may read.")
    song_count: int = Field(description="Songs in the libraries you may read.")

    @computed_field(description="Where the artist's image is served.")  # type: ignore[prop-decorator]
    @property
    def image_url(self) -> str | None:
        return image_url(self.image_id)


class AlbumHit(Schema):
    type: Literal["album"] = "album"
    id: uuid.UUID
    name: str = Field(description="The album's title.")
    title: str
    score: float
    artist: ArtistRef = Field(description="The album artist.")
    year: int | None = None
    cover_image_id: uuid.UUID | None = None
    song_count: int
    duration: float = Field(description="Seconds.")

    @computed_field(description="Where the cover is served; None without a cover.")  # type: ignore[prop-decorator]
    @property
    def cover_url(self) -> str | None:
        return image_url(self.cover_image_id)


class SongHit(Schema):
    type: Literal["song"] = "song"
    id: uuid.UUID
    name: str = Field(description="The song's title.")
    title: str
    score: float
    artist: ArtistRef | None = Field(None, description="The primary (first) artist.")
    artist_display: str = Field(description='The artists tag as written ("A feat. B").')
    album: AlbumRef | None = None
    track_number: int | None = None
    disc_number: int | None = None
    year: int | None = None
    duration: float = Field(description="Seconds.")
    format: str


class _PosterHit(Schema):
    id: uuid.UUID
    name: str = Field(description="The title.")
    title: str
    score: float
    library_id: uuid.UUID
    year: int | None = None
    rating: float | None = Field(None, description="The provider's vote average (0-10).")
    poster_image_id: uuid.UUID | None = None

    @computed_field(description="Where the poster is served; None without one.")  # type: ignore[prop-decorator]
    @property
    def poster_url(self) -> str | None:
        return image_url(self.poster_image_id)


class MovieHit(_PosterHit):
    type: Literal["movie"] = "movie"


class TvShowHit(_PosterHit):
    type: Literal["tvshow"] = "tvshow"


class ShowRef(Schema):
    id: uuid.UUID
    title: str


class EpisodeHit(Schema):
    type: Literal["episode"] = "episode"
    id: uuid.UUID
    name: str = Field(description="The episode's title.")
    title: str
    score: float
    show: ShowRef
    season_number: int
    episode_number: int | None = None
    air_date: date | None = None


class PersonHit(Schema):
    type: Literal["person"] = "person"
    id: uuid.UUID
    name: str
    score: float
    profile_image_id: uuid.UUID | None = None

    @computed_field(description="Where the person's photo is served; None without one.")  # type: ignore[prop-decorator]
    @property
    def profile_url(self) -> str | None:
        return image_url(self.profile_image_id)


SearchHit = Annotated[
    ArtistHit | AlbumHit | SongHit | MovieHit | TvShowHit | EpisodeHit | PersonHit,
    Field(discriminator="type"),
]


class SearchPage(Schema):
    data: list[SearchHit]
    pagination: PaginationMeta


class ReindexStarted(Schema):
    job_id: uuid.UUID
    status: JobStatus
    is_new: bool = Field(description="False when a rebuild was already queued or running.")


# ---------------------------------------------------------------- movies and TV shows


class Resolution(enum.StrEnum):
    """The best file's resolution class, from its height (or its width at 16:9, so a 1920×800
    scope film is 1080p): 2160p from 2000 lines, 1080p from 1000, 720p from 700, else sd."""

    sd = "sd"
    hd720 = "720p"
    hd1080 = "1080p"
    uhd2160 = "2160p"


class MovieResult(MovieRead):
    score: float | None = Field(
        None, description="Relevance when `q` is given (3 exact, 2 prefix, 1 other)."
    )
    resolution: Resolution | None = Field(None, description="The best present file's.")


class TvShowResult(TvShowRead):
    score: float | None = Field(
        None, description="Relevance when `q` is given (3 exact, 2 prefix, 1 other)."
    )
    resolution: Resolution | None = Field(None, description="The best present episode file's.")


class MovieResultPage(Schema):
    data: list[MovieResult]
    pagination: PaginationMeta


class TvShowResultPage(Schema):
    data: list[TvShowResult]
    pagination: PaginationMeta


class GenreFacet(Schema):
    id: uuid.UUID
    name: str
    count: int


class DecadeFacet(Schema):
    decade: int = Field(description="1990 for the 1990s.")
    count: int


class RatingFacet(Schema):
    bucket: str = Field(description='"0-2" … "8-10" (the upper bound belongs to the next one).')
    min: int
    max: int
    count: int


class ResolutionFacet(Schema):
    resolution: Resolution
    count: int


class Facets(Schema):
    total: int = Field(description="Titles matching every filter.")
    genres: list[GenreFacet]
    decades: list[DecadeFacet]
    ratings: list[RatingFacet]
    resolutions: list[ResolutionFacet]


class Suggestions(Schema):
    data: list[Annotated[MovieHit | TvShowHit, Field(discriminator="type")]]


class MultiGroup(Schema):
    data: list[SearchHit]
    total: int = Field(description="Matches of this type, up to 1,000.")


class MultiResults(Schema):
    movies: MultiGroup
    tvshows: MultiGroup
    episodes: MultiGroup
    people: MultiGroup
