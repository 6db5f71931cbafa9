"""Request and response models of shares: the owner's view and the public link's view.

The public models (`PublicShare`, `PublicTrack`) carry titles, artists, album and durations —
never file paths, library ids or the owner's account.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AliasChoices, Field, StringConstraints, model_validator

from cinesonic.kit.pagination import Page
from cinesonic.kit.schemas import Schema
from cinesonic.music.schemas import SongRead

MAX_SHARE_TRACKS = 1000
# A year of minutes: a budget larger than this is no budget.
MAX_STREAMING_MINUTES = 525_600

ShareName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShareDescription = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
StreamingMinutes = Annotated[int, Field(ge=1, le=MAX_STREAMING_MINUTES)]


class ShareSource(enum.StrEnum):
    songs = "songs"
    album = "album"
    playlist = "playlist"


class ShareAction(enum.StrEnum):
    view = "view"
    stream = "stream"
    download = "download"


class ShareCreate(Schema):
    """Exactly one of `track_ids`, `album_id`, `playlist_id`."""

    name: ShareName = Field(examples=["For Sam"])
    description: ShareDescription | None = None
    track_ids: list[uuid.UUID] | None = Field(
        None,
        min_length=1,
        max_length=MAX_SHARE_TRACKS,
        validation_alias=AliasChoices("track_ids", "trackIds", "song_ids", "songIds"),
        description="Songs, in order (repeats are dropped).",
    )
    album_id: uuid.UUID | None = Field(None, validation_alias=AliasChoices("album_id", "albumId"))
    playlist_id: uuid.UUID | None = Field(
        None,
        validation_alias=AliasChoices("playlist_id", "playlistId"),
        description="The playlist's songs as they are now: later edits do not change the share.",
    )
    expires_at: datetime | None = Field(
        None,
        validation_alias=AliasChoices("expires_at", "expiresAt"),
        description="When the link stops working (410 after); must be in the future. UTC when "
        "no offset is given. Omitted: never.",
    )
    max_streaming_minutes: StreamingMinutes | None = Field(
        None,
        validation_alias=AliasChoices("max_streaming_minutes", "maxStreamingMinutes"),
        description="Minutes of audio the link may stream and download in all (403 "
        "`share_exhausted` after). Omitted: no limit.",
    )
    allow_download: bool = Field(
        False, validation_alias=AliasChoices("allow_download", "allowDownload")
    )

    @model_validator(mode="after")
    def _one_source(self) -> ShareCreate:
        given = [
            name
            for name, value in (
                ("track_ids", self.track_ids),
                ("album_id", self.album_id),
                ("playlist_id", self.playlist_id),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of track_ids, album_id, playlist_id")
        return self


class ShareUpdate(Schema):
    """Fields left out stay; `null` clears `description`, `expires_at` (never expires) and
    `max_streaming_minutes` (no limit). The songs of a share never change."""

    name: ShareName | None = None
    description: ShareDescription | None = None
    expires_at: datetime | None = Field(
        None,
        validation_alias=AliasChoices("expires_at", "expiresAt"),
        description="A time in the past ends the link now (its record and log stay).",
    )
    max_streaming_minutes: StreamingMinutes | None = Field(
        None,
        validation_alias=AliasChoices("max_streaming_minutes", "maxStreamingMinutes"),
        description="A new budget; what was already streamed still counts.",
    )
    allow_download: bool | None = Field(
        None, validation_alias=AliasChoices("allow_download", "allowDownload")
    )


class ShareOwner(Schema):
    id: uuid.UUID
    username: str


class ShareRead(Schema):
    id: uuid.UUID
    name: str
    description: str | None = None
    owner: ShareOwner
    url: str | None = Field(
        description="The link to give out. None if it can no longer be shown (the server's "
        "secret key changed since it was made); the link itself then still works."
    )
    source_type: ShareSource
    source_id: uuid.UUID | None = Field(description="The album or playlist shared, if any.")
    song_count: int
    expires_at: datetime | None = None
    is_expired: bool
    max_streaming_minutes: int | None = None
    streamed_seconds: float = Field(description="Seconds of audio sent through the link so far.")
    remaining_seconds: float | None = Field(description="Left of the budget; None: no limit.")
    is_exhausted: bool
    allow_download: bool
    access_count: int
    last_accessed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class ShareDetail(ShareRead):
    songs: list[SongRead] = Field(
        description="The shared songs you may read, in order. `is_available` says whether the "
        "link serves the song: its file is present and the owner may still read it."
    )


class ShareAccessRead(Schema):
    id: uuid.UUID
    accessed_at: datetime
    action: ShareAction
    song_id: uuid.UUID | None = None
    ip: str | None = None
    user_agent: str | None = None
    seconds: float = Field(description="Seconds of audio sent (streams and downloads).")
    status_code: int = Field(description="What the link answered; refusals are logged too.")


class PublicTrack(Schema):
    id: uuid.UUID
    title: str
    artist: str
    album: str | None = None
    track_number: int | None = None
    disc_number: int | None = None
    year: int | None = None
    duration: float
    is_available: bool
    stream_url: str
    download_url: str | None = Field(description="Present when the link allows downloads.")


class PublicShare(Schema):
    name: str
    description: str | None = None
    expires_at: datetime | None = None
    allow_download: bool
    max_streaming_minutes: int | None = None
    remaining_seconds: float | None = Field(description="Left of the budget; None: no limit.")
    is_exhausted: bool
    duration: float = Field(description="Seconds, the available tracks together.")
    tracks: list[PublicTrack]


SharePage = Page[ShareRead]
ShareAccessPage = Page[ShareAccessRead]
