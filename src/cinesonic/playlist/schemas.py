"""Request and response models of playlists and their items."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AliasChoices, Field, StringConstraints

from cinesonic.kit.pagination import Page
from cinesonic.kit.schemas import Schema
from cinesonic.music.schemas import SongRead

# The most items one playlist may hold (and so the longest `song_ids` a playlist is given).
MAX_PLAYLIST_ITEMS = 10_000
MAX_ITEMS_PER_ADD = 1000

PlaylistName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
PlaylistDescription = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
SongIds = Annotated[list[uuid.UUID], Field(max_length=MAX_PLAYLIST_ITEMS)]


class PlaylistCreate(Schema):
    name: PlaylistName = Field(examples=["Road trip"])
    description: PlaylistDescription | None = None
    is_public: bool = Field(
        False,
        validation_alias=AliasChoices("is_public", "isPublic", "public"),
        description="Public playlists are listed for, and readable by, every signed-in user.",
    )
    song_ids: SongIds | None = Field(
        None,
        validation_alias=AliasChoices("song_ids", "songIds"),
        description="The songs, in order; the same song may appear more than once.",
    )


class PlaylistUpdate(Schema):
    """Fields left out stay as they are; `song_ids` replaces every item."""

    name: PlaylistName | None = None
    description: PlaylistDescription | None = None
    is_public: bool | None = Field(
        None, validation_alias=AliasChoices("is_public", "isPublic", "public")
    )
    song_ids: SongIds | None = Field(
        None,
        validation_alias=AliasChoices("song_ids", "songIds"),
        description="When given, the playlist's new items in order (an empty list empties it).",
    )


class PlaylistItemsAdd(Schema):
    song_ids: list[uuid.UUID] = Field(
        min_length=1,
        max_length=MAX_ITEMS_PER_ADD,
        validation_alias=AliasChoices("song_ids", "songIds"),
        description=f"At most {MAX_ITEMS_PER_ADD} songs per request.",
    )
    position: int | None = Field(
        None,
        ge=0,
        description="Where the first new item goes (0-based); later items move down. "
        "Omitted: at the end.",
    )


class PlaylistItemMove(Schema):
    item_id: uuid.UUID = Field(validation_alias=AliasChoices("item_id", "itemId"))
    to_position: int = Field(
        ge=0,
        validation_alias=AliasChoices("to_position", "toPosition"),
        description="The item's new 0-based position; the items between shift by one.",
    )


class PlaylistOwner(Schema):
    id: uuid.UUID
    username: str
    display_name: str | None = None


class PlaylistRead(Schema):
    id: uuid.UUID
    name: str
    description: str | None = None
    is_public: bool
    owner: PlaylistOwner
    song_count: int = Field(description="Items, unavailable ones included.")
    duration: float = Field(description="Seconds, all items included.")
    created_at: datetime
    updated_at: datetime


class PlaylistItemRead(Schema):
    id: uuid.UUID = Field(description="The item's id: stable across moves; remove and move by it.")
    position: int = Field(description="0-based; dense (0, 1, 2, …) after every change.")
    added_at: datetime
    song_id: uuid.UUID | None = Field(
        description="None when the song lies in a library you may not read."
    )
    is_available: bool = Field(
        description="False when the song's file was removed, or when you may not read it."
    )
    song: SongRead | None = Field(
        description="The song, with its artists and album; None when you may not read it."
    )


class PlaylistDetail(PlaylistRead):
    song_ids: list[uuid.UUID] = Field(
        description="The ids of all the songs you may read, in playlist order (duplicates kept)."
    )
    items: list[PlaylistItemRead] = Field(
        description="The first items (up to 500) with their songs; page through "
        "`/playlists/{id}/items` for the rest."
    )
    has_more_items: bool = Field(description="Whether items follow past those given here.")


class PlaylistItemsAdded(Schema):
    playlist: PlaylistRead
    items: list[PlaylistItemRead] = Field(description="The new items, in order.")


PlaylistPage = Page[PlaylistRead]
PlaylistItemPage = Page[PlaylistItemRead]
