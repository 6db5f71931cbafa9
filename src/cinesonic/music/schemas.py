"""Response models of music browsing: artists, albums, songs, genres and lyrics.

Every object carries the related objects a client needs to draw it, so one call is enough: an
album its artist and cover, a song its artists, album (with that album's artist and cover) and
genres. Images are referenced by id and by the URL that serves them (`/api/v1/images/{id}`,
which also takes `?api_key=` for players).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, computed_field

from cinesonic.kit.pagination import Page
from cinesonic.kit.schemas import Schema

IMAGE_URL = "/api/v1/images/{id}"


def image_url(image_id: uuid.UUID | None) -> str | None:
    return None if image_id is None else IMAGE_URL.format(id=image_id)


# ---------------------------------------------------------------- references


class ArtistRef(Schema):
    id: uuid.UUID
    name: str


class GenreRef(Schema):
    id: uuid.UUID
    name: str


class AlbumRef(Schema):
    """An album as other objects mention it."""

    id: uuid.UUID
    title: str
    year: int | None = None
    artist: ArtistRef | None = Field(None, description="The album artist.")
    cover_image_id: uuid.UUID | None = None

    @computed_field(description="Where the cover is served; None without a cover.")  # type: ignore[prop-decorator]
    @property
    def cover_url(self) -> str | None:
        return image_url(self.cover_image_id)


# ---------------------------------------------------------------- albums


class AlbumRead(Schema):
    id: uuid.UUID
    library_id: uuid.UUID
    title: str
    artist: ArtistRef = Field(description='The album artist ("Various Artists" for compilations).')
    is_compilation: bool
    year: int | None = None
    date: str | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD, as tagged.")
    cover_image_id: uuid.UUID | None = None
    song_count: int = Field(description="Songs whose files are present.")
    disc_count: int
    duration: float = Field(description="Seconds.")
    play_count: int
    mbz_album_id: str | None = None
    created_at: datetime = Field(description="When the album was added to the library.")
    updated_at: datetime

    @computed_field(description="Where the cover is served; None without a cover.")  # type: ignore[prop-decorator]
    @property
    def cover_url(self) -> str | None:
        return image_url(self.cover_image_id)


class AlbumDetail(AlbumRead):
    size_bytes: int
    genres: list[GenreRef] = Field(description="Genres of the album's songs.")
    artists: list[ArtistRef] = Field(
        description="Every artist of the album's songs, album artist first."
    )


class AlbumPage(Page[AlbumRead]):
    pass


# ---------------------------------------------------------------- songs


class SongRead(Schema):
    id: uuid.UUID
    library_id: uuid.UUID
    title: str
    artist: ArtistRef | None = Field(None, description="The primary (first) artist [002].")
    artists: list[ArtistRef] = Field(description="Every artist of the song, in tag order.")
    artist_display: str = Field(description='The artists tag as written ("A feat. B").')
    album: AlbumRef | None = None
    albums: list[AlbumRef] = Field(
        description="Albums the song appears on [002] (a file belongs to one album)."
    )
    genres: list[GenreRef]
    track_number: int | None = None
    track_total: int | None = None
    disc_number: int | None = None
    disc_total: int | None = None
    year: int | None = None
    date: str | None = None
    is_compilation: bool
    duration: float = Field(description="Seconds.")
    format: str = Field(description="Container: mp3, flac, ogg, opus, m4a, wav, aiff, wma, …")
    codec: str | None = None
    content_type: str
    bit_rate: int | None = Field(None, description="Bits per second.")
    sample_rate: int | None = None
    bit_depth: int | None = None
    channels: int | None = None
    size_bytes: int
    bpm: float | None = None
    replaygain_track_gain: float | None = None
    replaygain_track_peak: float | None = None
    replaygain_album_gain: float | None = None
    replaygain_album_peak: float | None = None
    mbz_recording_id: str | None = None
    has_lyrics: bool
    play_count: int
    last_played_at: datetime | None = None
    is_available: bool = Field(
        description="False when the file was removed from disk: the song stays (playlists, "
        "history) but cannot be streamed, and lists and search leave it out."
    )
    created_at: datetime = Field(description="When the song was added to the library.")
    updated_at: datetime


class SongPage(Page[SongRead]):
    pass


class LyricsLine(Schema):
    start_ms: int
    text: str


class LyricsRead(Schema):
    """Lyrics found with the file: embedded in its tags, or an `.lrc` file beside it."""

    id: uuid.UUID
    source: str = Field(description="embedded | sidecar")
    language: str | None = None
    is_synced: bool
    text: str
    lines: list[LyricsLine] | None = Field(None, description="Timed lines of synced lyrics.")


class SongFull(SongRead):
    """A song with its lyrics. Community lyrics (sections, translations) join it later."""

    album_detail: AlbumRead | None = Field(None, description="The song's album, whole.")
    lyrics: list[LyricsRead]


# ---------------------------------------------------------------- artists


class ArtistSummary(Schema):
    """An artist with their counts in the libraries you may read."""

    id: uuid.UUID
    name: str
    sort_name: str
    image_id: uuid.UUID | None = None
    mbz_artist_id: str | None = None
    album_count: int = Field(description="Albums in the libraries you may read.")
    song_count: int = Field(description="Songs in the libraries you may read.")
    created_at: datetime

    @computed_field(description="Where the artist's image is served.")  # type: ignore[prop-decorator]
    @property
    def image_url(self) -> str | None:
        return image_url(self.image_id)


class ArtistRead(ArtistSummary):
    albums: list[AlbumRef] = Field(
        description="Albums by the artist or with their songs [002], oldest first."
    )


class GenreCount(Schema):
    id: uuid.UUID
    name: str
    song_count: int


class ArtistFull(ArtistSummary):
    albums: list[AlbumRead] = Field(description="Albums the artist is the album artist of.")
    appears_on: list[AlbumRead] = Field(
        description="Other albums with songs of the artist (compilations, features)."
    )
    top_songs: list[SongRead] = Field(description="The most played songs (at most 10).")
    genres: list[GenreCount] = Field(description="Genres of the artist's songs, most used first.")
    duration: float = Field(description="Seconds of the artist's songs.")


class ArtistPage(Page[ArtistRead]):
    pass


# ---------------------------------------------------------------- genres


class GenreRead(Schema):
    id: uuid.UUID
    name: str
    song_count: int = Field(description="Songs in the libraries you may read.")
    album_count: int = Field(description="Albums with songs of the genre you may read.")


class GenrePage(Page[GenreRead]):
    pass
