"""Request and response models of the streaming routes: stream options and plays."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from cinesonic.kit.schemas import Schema
from cinesonic.music.schemas import SongRead


class StreamFormat(enum.StrEnum):
    raw = "raw"
    mp3 = "mp3"
    opus = "opus"
    aac = "aac"


class PlaySource(enum.StrEnum):
    stream = "stream"  # the server saw a stream pass the play threshold
    client = "client"  # a client reported it (`POST /songs/{id}/plays`)
    share = "share"  # heard through a share link


class PlayCreate(Schema):
    played_at: AwareDatetime | None = Field(
        None,
        description="When the song was played (ISO 8601 with a time zone); default now. "
        "The same moment reported twice is one play.",
    )
    source: Literal["client"] = Field(
        "client", description="Who saw the play: a client reports `client`."
    )


class PlayRead(Schema):
    id: uuid.UUID
    song_id: uuid.UUID
    source: PlaySource
    played_at: datetime
    song: SongRead | None = Field(
        None, description="The song, with its artists and album (absent if no longer visible)."
    )
