"""Playlist routes [000]: anyone who may browse music reads their own playlists and everyone's
public ones; holders of `playlists.create` make and change their own; administrators change
any. Items are removed and moved by their id, which stays the same while positions shift.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.deps import ClientInfo, DbSession, require
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    ValidationFailed,
    error_responses,
)
from cinesonic.kit.pagination import PaginationDep
from cinesonic.kit.schemas import DeletedResponse
from cinesonic.playlist import service as playlist_service
from cinesonic.playlist.schemas import (
    MAX_PLAYLIST_ITEMS,
    PlaylistCreate,
    PlaylistDetail,
    PlaylistItemMove,
    PlaylistItemPage,
    PlaylistItemRead,
    PlaylistItemsAdd,
    PlaylistItemsAdded,
    PlaylistPage,
    PlaylistUpdate,
)

router = APIRouter(tags=["playlists"])

Reader = Annotated[Principal, Depends(require("music.read"))]
Editor = Annotated[Principal, Depends(require(playlist_service.EDIT_PERMISSION))]

SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
    Forbidden,
)
SIGNED_IN_WRITE = (*SIGNED_IN, auth_service.CsrfFailed)
EDIT_REFUSALS = (
    *SIGNED_IN_WRITE,
    playlist_service.PlaylistEditForbidden,
    playlist_service.PlaylistNotFound,
    ValidationFailed,
)


def _location(playlist_id: uuid.UUID) -> str:
    return f"/api/v1/playlists/{playlist_id}"


@router.get(
    "/playlists",
    response_model=PlaylistPage,
    summary="List my playlists and everyone's public ones",
    description="`owner=me` keeps your own only. `q` matches names case-insensitively. Sorts: "
    "`name` (default), `created_at`, `updated_at`, `song_count`, `duration`.",
    responses=error_responses(*SIGNED_IN, ValidationFailed),
)
async def list_playlists(
    principal: Reader,
    session: DbSession,
    params: PaginationDep,
    owner: Annotated[
        Literal["me", "all"], Query(description="`me`: yours only; `all`: yours and public.")
    ] = "all",
    q: Annotated[str | None, Query(max_length=200, description="Text in the name.")] = None,
) -> PlaylistPage:
    items, total = await playlist_service.list_playlists(
        session, principal, params, mine_only=owner == "me", search=q
    )
    return PlaylistPage(data=items, pagination=params.meta(total))


@router.post(
    "/playlists",
    status_code=status.HTTP_201_CREATED,
    response_model=PlaylistDetail,
    summary="Create a playlist",
    description="Every song in `song_ids` must exist, be on disk and be in a library you may "
    f"read (422 names each one that is not). At most {MAX_PLAYLIST_ITEMS} items.",
    responses=error_responses(*SIGNED_IN_WRITE, playlist_service.UnknownSongs, ValidationFailed),
)
async def create_playlist(
    body: PlaylistCreate,
    principal: Editor,
    session: DbSession,
    origin: ClientInfo,
    response: Response,
) -> PlaylistDetail:
    playlist = await playlist_service.create_playlist(session, principal, origin, body)
    response.headers["Location"] = _location(playlist.id)
    return playlist


@router.get(
    "/playlists/{playlist_id}",
    response_model=PlaylistDetail,
    summary="A playlist with its songs in order",
    description="Items carry their song with artists and album; a song whose file was removed "
    "is `is_available: false`; a song in a library you may not read is a placeholder "
    "(`song: null`). `song_ids` lists the songs you may read, in order. A private playlist of "
    "someone else is a 404.",
    responses=error_responses(*SIGNED_IN, playlist_service.PlaylistNotFound, ValidationFailed),
)
async def read_playlist(
    playlist_id: uuid.UUID, principal: Reader, session: DbSession
) -> PlaylistDetail:
    return await playlist_service.read_playlist(session, principal, playlist_id)


@router.put(
    "/playlists/{playlist_id}",
    response_model=PlaylistDetail,
    summary="Change a playlist (name, description, visibility, all its songs)",
    description="Fields left out stay. `song_ids` replaces every item. Only the owner or an "
    "administrator (403 for others on a public playlist).",
    responses=error_responses(*EDIT_REFUSALS, playlist_service.UnknownSongs),
)
async def update_playlist(
    playlist_id: uuid.UUID,
    body: PlaylistUpdate,
    principal: Editor,
    session: DbSession,
    origin: ClientInfo,
) -> PlaylistDetail:
    return await playlist_service.update_playlist(session, principal, origin, playlist_id, body)


@router.delete(
    "/playlists/{playlist_id}",
    response_model=DeletedResponse,
    summary="Delete a playlist",
    responses=error_responses(*EDIT_REFUSALS),
)
async def delete_playlist(
    playlist_id: uuid.UUID, principal: Editor, session: DbSession, origin: ClientInfo
) -> DeletedResponse:
    await playlist_service.delete_playlist(session, principal, origin, playlist_id)
    return DeletedResponse()


@router.get(
    "/playlists/{playlist_id}/items",
    response_model=PlaylistItemPage,
    summary="A page of a playlist's items, in order",
    responses=error_responses(*SIGNED_IN, playlist_service.PlaylistNotFound, ValidationFailed),
)
async def list_playlist_items(
    playlist_id: uuid.UUID, principal: Reader, session: DbSession, params: PaginationDep
) -> PlaylistItemPage:
    items, total = await playlist_service.list_items(session, principal, playlist_id, params)
    return PlaylistItemPage(data=items, pagination=params.meta(total))


@router.post(
    "/playlists/{playlist_id}/items",
    status_code=status.HTTP_201_CREATED,
    response_model=PlaylistItemsAdded,
    summary="Add songs to a playlist",
    description="At `position` (0-based; the end when left out); duplicates are allowed. The "
    "answer holds the new items and the playlist's new totals.",
    responses=error_responses(
        *EDIT_REFUSALS,
        playlist_service.UnknownSongs,
        playlist_service.PositionOutOfRange,
        playlist_service.PlaylistFull,
    ),
)
async def add_playlist_items(
    playlist_id: uuid.UUID,
    body: PlaylistItemsAdd,
    principal: Editor,
    session: DbSession,
    origin: ClientInfo,
    response: Response,
) -> PlaylistItemsAdded:
    added = await playlist_service.add_items(
        session, principal, origin, playlist_id, body.song_ids, body.position
    )
    response.headers["Location"] = f"{_location(playlist_id)}/items"
    return added


@router.post(
    "/playlists/{playlist_id}/items/move",
    response_model=PlaylistItemRead,
    summary="Move an item to another position",
    description="The items between its old and new place shift by one; positions stay dense.",
    responses=error_responses(
        *EDIT_REFUSALS,
        playlist_service.PlaylistItemNotFound,
        playlist_service.PositionOutOfRange,
    ),
)
async def move_playlist_item(
    playlist_id: uuid.UUID,
    body: PlaylistItemMove,
    principal: Editor,
    session: DbSession,
    origin: ClientInfo,
) -> PlaylistItemRead:
    return await playlist_service.move_item(
        session, principal, origin, playlist_id, body.item_id, body.to_position
    )


@router.delete(
    "/playlists/{playlist_id}/items/{item_id}",
    response_model=DeletedResponse,
    summary="Remove an item (by its id)",
    description="The items after it move up by one.",
    responses=error_responses(*EDIT_REFUSALS, playlist_service.PlaylistItemNotFound),
)
async def remove_playlist_item(
    playlist_id: uuid.UUID,
    item_id: uuid.UUID,
    principal: Editor,
    session: DbSession,
    origin: ClientInfo,
) -> DeletedResponse:
    await playlist_service.remove_item(session, principal, origin, playlist_id, item_id)
    return DeletedResponse()
