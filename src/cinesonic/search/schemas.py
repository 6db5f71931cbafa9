"""Request and response models of search.

A hit is a short summary of the thing — what a result list draws — with `type`, `id`, `name`
(the artist's name, the album's or song's title) and `score` (higher is better; 3 for a name
equal to the query, 2 for a name starting with it, 1 for the other matches; comparable within
one answer only). The thing's own route (`/artists/{id}`, …) has the rest.
"""

from __future__ import annotations

import enum
import uuid
from typing import Annotated, Literal

from pydantic import Field, computed_field

from cinesonic.kit.pagination import PaginationMeta
from cinesonic.kit.schemas import Schema
from cinesonic.models.job import JobStatus
from cinesonic.music.schemas import AlbumRef, ArtistRef, image_url


class SearchType(enum.StrEnum):
    """What a search may look for. Movies, TV shows, episodes and people come later."""

    artist = "artist"
    album = "album"
    song = "song"


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


SearchHit = Annotated[ArtistHit | AlbumHit | SongHit, Field(discriminator="type")]


class SearchPage(Schema):
    data: list[SearchHit]
    pagination: PaginationMeta


class ReindexStarted(Schema):
    job_id: uuid.UUID
    status: JobStatus
    is_new: bool = Field(description="False when a rebuild was already queued or running.")
