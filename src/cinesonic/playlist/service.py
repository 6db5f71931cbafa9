"""Playlists: ordered songs owned by a user, private or public.

Who sees what: the owner and administrators see a playlist; everyone else sees it only when it
is public (a private playlist of someone else is a 404, never a 403). Only the owner (holding
`playlists.create`) or an administrator changes it. Items keep dense 0-based positions; the same
song may appear more than once; a song whose file vanished stays, marked unavailable. A song in
a library the viewer may not read stays in place as a placeholder without id or details, so
positions mean the same to every viewer and an owner who lost access can still remove it.

Every change locks the playlist first (`lock_for_update`), then reads positions: two edits at
once run one after the other and cannot leave two items on one position. The write also
refreshes the cached `song_count` and `duration`.

This module never serves files and never decides library visibility itself: that is
`library_service.readable_library_ids`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth.principal import Principal
from cinesonic.db import lock_for_update
from cinesonic.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cinesonic.kit.ids import uuid7
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.kit.timeutil import utcnow
from cinesonic.library import service as library_service
from cinesonic.models.music import Song
from cinesonic.models.playlist import Playlist, PlaylistItem
from cinesonic.models.user import User
from cinesonic.music import service as music_service
from cinesonic.playlist.schemas import (
    MAX_PLAYLIST_ITEMS,
    PlaylistCreate,
    PlaylistDetail,
    PlaylistItemRead,
    PlaylistItemsAdded,
    PlaylistOwner,
    PlaylistRead,
    PlaylistUpdate,
)

EDIT_PERMISSION = "playlists.create"
# Items a playlist's detail carries with their songs; the rest come from `/items` pages.
DETAIL_ITEMS = 500

SORTABLE: dict[str, ColumnElement[Any]] = {
    "name": func.lower(Playlist.name),
    "created_at": Playlist.created_at.expression,
    "updated_at": Playlist.updated_at.expression,
    "song_count": Playlist.song_count.expression,
    "duration": Playlist.duration.expression,
}


class PlaylistNotFound(NotFound):
    message = "No such playlist."


class PlaylistItemNotFound(NotFound):
    message = "No such item in this playlist."


class PlaylistEditForbidden(Forbidden):
    message = "Only the playlist's owner or an administrator may change it."


class PlaylistFull(Conflict):
    code = "playlist_full"
    message = f"A playlist holds at most {MAX_PLAYLIST_ITEMS} items."


class UnknownSongs(ValidationFailed):
    message = "Some songs do not exist or are not available to you."


class PositionOutOfRange(ValidationFailed):
    message = "The position lies past the end of the playlist."


# ---------------------------------------------------------------- rules


def may_read(principal: Principal, playlist: Playlist) -> bool:
    return playlist.is_public or playlist.owner_id == principal.id or principal.grants_all


def may_edit(principal: Principal, playlist: Playlist) -> bool:
    if principal.grants_all:
        return True
    return playlist.owner_id == principal.id and principal.can(EDIT_PERMISSION)


def _lock_key(playlist_id: uuid.UUID) -> int:
    """The playlist's advisory-lock key: 63 of its random bits (PostgreSQL keys are bigints)."""
    return int.from_bytes(playlist_id.bytes[8:], "big") & 0x7FFF_FFFF_FFFF_FFFF


async def _readable_libraries(
    session: AsyncSession, principal: Principal
) -> list[uuid.UUID] | None:
    if not principal.can("music.read"):
        return []
    return await library_service.readable_library_ids(session, principal)


def _visible(readable: list[uuid.UUID] | None, library_id: uuid.UUID) -> bool:
    return readable is None or library_id in readable


async def _load(session: AsyncSession, playlist_id: uuid.UUID) -> Playlist | None:
    return await session.scalar(
        select(Playlist).where(Playlist.id == playlist_id).execution_options(populate_existing=True)
    )


async def get_readable_playlist(
    session: AsyncSession, principal: Principal, playlist_id: uuid.UUID
) -> Playlist:
    """The playlist if the principal may see it; 404 otherwise."""
    playlist = await _load(session, playlist_id)
    if playlist is None or not may_read(principal, playlist):
        raise PlaylistNotFound()
    return playlist


async def _get_for_edit(
    session: AsyncSession, principal: Principal, playlist_id: uuid.UUID
) -> Playlist:
    """Lock the playlist for this transaction, then load it: 404 unseen, 403 not the editor."""
    await lock_for_update(session, _lock_key(playlist_id))
    playlist = await get_readable_playlist(session, principal, playlist_id)
    if not may_edit(principal, playlist):
        raise PlaylistEditForbidden()
    return playlist


async def checked_song_ids(
    session: AsyncSession, principal: Principal, song_ids: Sequence[uuid.UUID], field: str
) -> list[uuid.UUID]:
    """`song_ids` unchanged if every song exists, is on disk and is readable by the principal;
    otherwise 422 naming each offending index (the same answer whether a song is missing or
    hidden, so nobody learns what an unreadable library holds)."""
    if not song_ids:
        return []
    readable = await _readable_libraries(session, principal)
    statement = select(Song.id).where(Song.id.in_(set(song_ids)), Song.removed_at.is_(None))
    if readable is not None:
        statement = statement.where(Song.library_id.in_(readable))
    found = set(await session.scalars(statement))
    missing = [(index, song_id) for index, song_id in enumerate(song_ids) if song_id not in found]
    if missing:
        raise UnknownSongs(
            details=[
                {
                    "field": f"{field}.{index}",
                    "location": "body",
                    "message": "no such song",
                    "type": "song_not_found",
                    "song_id": str(song_id),
                }
                for index, song_id in missing
            ]
        )
    return list(song_ids)


# ---------------------------------------------------------------- positions and totals


async def _densify(session: AsyncSession, playlist_id: uuid.UUID) -> int:
    """Renumber the items 0..n-1 if they are not already (rows deleted by a cascade, say);
    return n. Runs under the playlist lock."""
    count, low, high = (
        await session.execute(
            select(
                func.count(PlaylistItem.id),
                func.min(PlaylistItem.position),
                func.max(PlaylistItem.position),
            ).where(PlaylistItem.playlist_id == playlist_id)
        )
    ).one()
    count = int(count)
    if count == 0 or (low == 0 and high == count - 1):
        return count
    ids = await session.scalars(
        select(PlaylistItem.id)
        .where(PlaylistItem.playlist_id == playlist_id)
        .order_by(PlaylistItem.position, PlaylistItem.id)
    )
    await session.execute(
        update(PlaylistItem),
        [{"id": item_id, "position": position} for position, item_id in enumerate(ids)],
    )
    return count


async def _shift(
    session: AsyncSession, playlist_id: uuid.UUID, start: int, end: int | None, by: int
) -> None:
    """Add `by` to the positions in [start, end) (to the end when `end` is None)."""
    statement = update(PlaylistItem).where(
        PlaylistItem.playlist_id == playlist_id, PlaylistItem.position >= start
    )
    if end is not None:
        statement = statement.where(PlaylistItem.position < end)
    await session.execute(
        statement.values(position=PlaylistItem.position + by).execution_options(
            synchronize_session=False
        )
    )


async def _insert(
    session: AsyncSession, playlist_id: uuid.UUID, song_ids: Sequence[uuid.UUID], start: int
) -> list[uuid.UUID]:
    """Insert items at positions start, start+1, …; return their ids. One executemany, not an
    ORM object per item: a playlist may get thousands at once."""
    if not song_ids:
        return []
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "id": uuid7(),
            "playlist_id": playlist_id,
            "song_id": song_id,
            "position": start + offset,
            "added_at": now,
        }
        for offset, song_id in enumerate(song_ids)
    ]
    await session.execute(insert(PlaylistItem), rows)
    return [row["id"] for row in rows]


async def _refresh_totals(session: AsyncSession, playlist: Playlist) -> None:
    count, duration = (
        await session.execute(
            select(func.count(PlaylistItem.id), func.coalesce(func.sum(Song.duration), 0.0))
            .select_from(PlaylistItem)
            .join(Song, Song.id == PlaylistItem.song_id)
            .where(PlaylistItem.playlist_id == playlist.id)
        )
    ).one()
    playlist.song_count = int(count)
    playlist.duration = float(duration)
    playlist.updated_at = utcnow()
    await session.flush()


# ---------------------------------------------------------------- read models


async def _owner(session: AsyncSession, owner_id: uuid.UUID) -> PlaylistOwner:
    row = (
        await session.execute(
            select(User.id, User.username, User.display_name).where(User.id == owner_id)
        )
    ).one()
    return PlaylistOwner(id=row.id, username=row.username, display_name=row.display_name)


def _read(playlist: Playlist, owner: PlaylistOwner) -> PlaylistRead:
    return PlaylistRead(
        id=playlist.id,
        name=playlist.name,
        description=playlist.description,
        is_public=playlist.is_public,
        owner=owner,
        song_count=playlist.song_count,
        duration=playlist.duration,
        created_at=playlist.created_at,
        updated_at=playlist.updated_at,
    )


def _items_statement(playlist_id: uuid.UUID) -> Select[*tuple[Any, ...]]:
    statement: Select[*tuple[Any, ...]] = (
        select(
            PlaylistItem.id,
            PlaylistItem.song_id,
            PlaylistItem.added_at,
            Song.library_id,
            Song.removed_at,
        )
        .join(Song, Song.id == PlaylistItem.song_id)
        .where(PlaylistItem.playlist_id == playlist_id)
    )
    return statement


async def _render_items(
    session: AsyncSession, principal: Principal, rows: Sequence[Any], first_position: int
) -> list[PlaylistItemRead]:
    """Items in order, positions counted from `first_position`; songs the principal may not
    read become placeholders."""
    readable = await _readable_libraries(session, principal)
    visible = [row.song_id for row in rows if _visible(readable, row.library_id)]
    summaries = await music_service.song_summaries(session, list(dict.fromkeys(visible)))
    items = []
    for offset, row in enumerate(rows):
        song = summaries.get(row.song_id) if _visible(readable, row.library_id) else None
        items.append(
            PlaylistItemRead(
                id=row.id,
                position=first_position + offset,
                added_at=row.added_at,
                song_id=None if song is None else song.id,
                is_available=song is not None and song.is_available,
                song=song,
            )
        )
    return items


async def _detail(
    session: AsyncSession, principal: Principal, playlist: Playlist
) -> PlaylistDetail:
    """The playlist with every readable song id and its first `DETAIL_ITEMS` items."""
    rows = (
        await session.execute(
            _items_statement(playlist.id).order_by(PlaylistItem.position, PlaylistItem.id)
        )
    ).all()
    readable = await _readable_libraries(session, principal)
    items = await _render_items(session, principal, rows[:DETAIL_ITEMS], 0)
    read = _read(playlist, await _owner(session, playlist.owner_id))
    return PlaylistDetail(
        **read.model_dump(),
        song_ids=[row.song_id for row in rows if _visible(readable, row.library_id)],
        items=items,
        has_more_items=len(rows) > DETAIL_ITEMS,
    )


# ---------------------------------------------------------------- reading


async def list_playlists(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    mine_only: bool,
    search: str | None,
) -> tuple[list[PlaylistRead], int]:
    """The principal's playlists and, unless `mine_only`, everyone's public ones."""
    statement: Select[*tuple[Any, ...]] = select(Playlist, User.username, User.display_name).join(
        User, User.id == Playlist.owner_id
    )
    if mine_only:
        statement = statement.where(Playlist.owner_id == principal.id)
    else:
        statement = statement.where(
            or_(Playlist.owner_id == principal.id, Playlist.is_public.is_(True))
        )
    if search:
        statement = statement.where(
            func.lower(Playlist.name).contains(search.strip().lower(), autoescape=True)
        )
    statement = apply_sort(
        statement, params, SORTABLE, [func.lower(Playlist.name)], Playlist.id.expression
    )
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return [
        _read(
            row.Playlist,
            PlaylistOwner(
                id=row.Playlist.owner_id, username=row.username, display_name=row.display_name
            ),
        )
        for row in rows
    ], total


async def read_playlist(
    session: AsyncSession, principal: Principal, playlist_id: uuid.UUID
) -> PlaylistDetail:
    playlist = await get_readable_playlist(session, principal, playlist_id)
    return await _detail(session, principal, playlist)


async def list_items(
    session: AsyncSession, principal: Principal, playlist_id: uuid.UUID, params: PageParams
) -> tuple[list[PlaylistItemRead], int]:
    """One page of the items, always in playlist order."""
    if any(name != "position" or descending for name, descending in params.sort):
        raise ValidationFailed(
            details=[
                {
                    "field": "sort",
                    "location": "query",
                    "message": "items come in playlist order; only 'position' is accepted",
                    "type": "value_error",
                }
            ]
        )
    await get_readable_playlist(session, principal, playlist_id)
    statement = _items_statement(playlist_id).order_by(PlaylistItem.position, PlaylistItem.id)
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return await _render_items(session, principal, rows, params.offset), total


async def shareable_song_ids(
    session: AsyncSession, principal: Principal, playlist_id: uuid.UUID
) -> list[uuid.UUID]:
    """The playlist's songs on disk, in order without repeats, for a share made by `principal`.
    404 when the playlist is unseen; 422 when some songs are in libraries the principal may not
    read (a share must not hand out what its maker cannot see)."""
    await get_readable_playlist(session, principal, playlist_id)
    rows = (
        await session.execute(
            _items_statement(playlist_id).order_by(PlaylistItem.position, PlaylistItem.id)
        )
    ).all()
    readable = await _readable_libraries(session, principal)
    hidden = sum(1 for row in rows if not _visible(readable, row.library_id))
    if hidden:
        raise UnknownSongs(
            f"{hidden} songs of this playlist are not available to you.",
            details=[
                {
                    "field": "playlist_id",
                    "location": "body",
                    "message": "holds songs you may not read",
                    "type": "songs_not_readable",
                }
            ],
        )
    return list(dict.fromkeys(row.song_id for row in rows if row.removed_at is None))


# ---------------------------------------------------------------- writing


async def _audit(
    session: AsyncSession,
    principal: Principal,
    origin: Origin,
    action: str,
    playlist: Playlist,
    **details: Any,
) -> None:
    if playlist.owner_id != principal.id:
        details["owner_id"] = str(playlist.owner_id)
    await activity_service.record_by(
        session,
        principal,
        action=action,
        resource_type="playlist",
        resource_id=playlist.id,
        origin=origin,
        details={"name": playlist.name, **details},
    )


async def create_playlist(
    session: AsyncSession, principal: Principal, origin: Origin, body: PlaylistCreate
) -> PlaylistDetail:
    song_ids = await checked_song_ids(session, principal, body.song_ids or [], "song_ids")
    playlist = Playlist(
        owner_id=principal.id,
        name=body.name,
        description=body.description or None,
        is_public=body.is_public,
    )
    session.add(playlist)
    await session.flush()
    await _insert(session, playlist.id, song_ids, 0)
    await _refresh_totals(session, playlist)
    await _audit(
        session,
        principal,
        origin,
        "playlist.create",
        playlist,
        is_public=playlist.is_public,
        songs=len(song_ids),
    )
    return await _detail(session, principal, playlist)


async def update_playlist(
    session: AsyncSession,
    principal: Principal,
    origin: Origin,
    playlist_id: uuid.UUID,
    body: PlaylistUpdate,
) -> PlaylistDetail:
    playlist = await _get_for_edit(session, principal, playlist_id)
    given = body.model_fields_set
    changed: dict[str, Any] = {}
    if "name" in given and body.name is not None and body.name != playlist.name:
        changed["name"] = playlist.name = body.name
    if "description" in given and (body.description or None) != playlist.description:
        changed["description"] = playlist.description = body.description or None
    if "is_public" in given and body.is_public is not None and body.is_public != playlist.is_public:
        changed["is_public"] = playlist.is_public = body.is_public
    if "song_ids" in given and body.song_ids is not None:
        song_ids = await checked_song_ids(session, principal, body.song_ids, "song_ids")
        await session.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id == playlist.id))
        await _insert(session, playlist.id, song_ids, 0)
        changed["songs"] = len(song_ids)
    if changed:
        await _refresh_totals(session, playlist)
        await _audit(session, principal, origin, "playlist.update", playlist, changed=changed)
    return await _detail(session, principal, playlist)


async def delete_playlist(
    session: AsyncSession, principal: Principal, origin: Origin, playlist_id: uuid.UUID
) -> None:
    playlist = await _get_for_edit(session, principal, playlist_id)
    await _audit(session, principal, origin, "playlist.delete", playlist, songs=playlist.song_count)
    await session.delete(playlist)
    await session.flush()


async def add_items(
    session: AsyncSession,
    principal: Principal,
    origin: Origin,
    playlist_id: uuid.UUID,
    song_ids: Sequence[uuid.UUID],
    position: int | None,
) -> PlaylistItemsAdded:
    playlist = await _get_for_edit(session, principal, playlist_id)
    checked = await checked_song_ids(session, principal, song_ids, "song_ids")
    count = await _densify(session, playlist.id)
    start = count if position is None else position
    if start > count:
        raise PositionOutOfRange(
            details=[
                {
                    "field": "position",
                    "location": "body",
                    "message": f"must be between 0 and {count}",
                    "type": "value_error",
                }
            ]
        )
    if count + len(checked) > MAX_PLAYLIST_ITEMS:
        raise PlaylistFull()
    await _shift(session, playlist.id, start, None, len(checked))
    new_ids = await _insert(session, playlist.id, checked, start)
    await _refresh_totals(session, playlist)
    await _audit(
        session,
        principal,
        origin,
        "playlist.items_add",
        playlist,
        songs=len(checked),
        position=start,
    )
    rows = (
        await session.execute(
            _items_statement(playlist.id)
            .where(PlaylistItem.position >= start, PlaylistItem.position < start + len(new_ids))
            .order_by(PlaylistItem.position)
        )
    ).all()
    return PlaylistItemsAdded(
        playlist=_read(playlist, await _owner(session, playlist.owner_id)),
        items=await _render_items(session, principal, rows, start),
    )


async def _get_item(
    session: AsyncSession, playlist_id: uuid.UUID, item_id: uuid.UUID
) -> PlaylistItem:
    item = await session.scalar(
        select(PlaylistItem)
        .where(PlaylistItem.id == item_id, PlaylistItem.playlist_id == playlist_id)
        .execution_options(populate_existing=True)
    )
    if item is None:
        raise PlaylistItemNotFound()
    return item


async def remove_item(
    session: AsyncSession,
    principal: Principal,
    origin: Origin,
    playlist_id: uuid.UUID,
    item_id: uuid.UUID,
) -> None:
    playlist = await _get_for_edit(session, principal, playlist_id)
    await _densify(session, playlist.id)
    item = await _get_item(session, playlist.id, item_id)
    position = item.position
    await session.delete(item)
    await session.flush()
    await _shift(session, playlist.id, position + 1, None, -1)
    await _refresh_totals(session, playlist)
    await _audit(
        session,
        principal,
        origin,
        "playlist.items_remove",
        playlist,
        item_id=str(item_id),
        position=position,
    )


async def move_item(
    session: AsyncSession,
    principal: Principal,
    origin: Origin,
    playlist_id: uuid.UUID,
    item_id: uuid.UUID,
    to_position: int,
) -> PlaylistItemRead:
    playlist = await _get_for_edit(session, principal, playlist_id)
    count = await _densify(session, playlist.id)
    item = await _get_item(session, playlist.id, item_id)
    if to_position >= count:
        raise PositionOutOfRange(
            details=[
                {
                    "field": "to_position",
                    "location": "body",
                    "message": f"must be between 0 and {count - 1}",
                    "type": "value_error",
                }
            ]
        )
    from_position = item.position
    if to_position > from_position:
        await _shift(session, playlist.id, from_position + 1, to_position + 1, -1)
    elif to_position < from_position:
        await _shift(session, playlist.id, to_position, from_position, 1)
    item.position = to_position
    await session.flush()
    await _refresh_totals(session, playlist)
    await _audit(
        session,
        principal,
        origin,
        "playlist.items_move",
        playlist,
        item_id=str(item_id),
        from_position=from_position,
        to_position=to_position,
    )
    rows = (
        await session.execute(_items_statement(playlist.id).where(PlaylistItem.id == item.id))
    ).all()
    [read] = await _render_items(session, principal, rows, to_position)
    return read
