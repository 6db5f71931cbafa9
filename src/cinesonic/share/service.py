"""Shares: public links to a fixed set of songs, with an expiry, a streaming budget, a download
flag and an access log.

The link token is 32 random bytes (URL-safe base64). The database keeps its SHA-256 for look-up
and the token sealed with the server key (`kit.secretbox`, purpose "share-token") so the owner
can see the link again; a stolen database row does not open the link. The songs are copied into
`share_item` when the share is made, and a link still only serves what its owner may read now:
a song whose library the owner lost access to, or whose file vanished, is no longer served, and
a suspended owner's links answer 404.

The owner's routes (list, read, change, delete, access log) are for the owner and for holders
of `shares.manage`; another user's share is a 404. The public routes log every access they
could attribute to a share — refusals included, each in a unit of work of its own since the
request that carries it is rolled back.

This module never reads or sends a file: `share.streaming` hands songs to
`music.streaming.stream_song` and meters what it sends.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.errors import AppError, Forbidden, Gone, NotFound, ValidationFailed
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.kit.secretbox import SecretBox, SecretUnreadable
from cinesonic.kit.timeutil import as_utc, utcnow
from cinesonic.kit.tokens import hash_token, new_token
from cinesonic.library import service as library_service
from cinesonic.models.music import Album, Song
from cinesonic.models.share import Share, ShareAccess, ShareItem
from cinesonic.models.user import User, UserStatus
from cinesonic.music import service as music_service
from cinesonic.playlist import service as playlist_service
from cinesonic.share.schemas import (
    PublicShare,
    PublicTrack,
    ShareAccessRead,
    ShareAction,
    ShareCreate,
    ShareDetail,
    ShareOwner,
    ShareRead,
    ShareSource,
    ShareUpdate,
)
from cinesonic.state import AppState
from cinesonic.user import service as user_service

CREATE_PERMISSION = "shares.create"
MANAGE_PERMISSION = "shares.manage"
TOKEN_PURPOSE = "share-token"
TOKEN_BYTES = 32
PUBLIC_PATH = "/s"
PUBLIC_API_PATH = "/api/v1/s"

SORTABLE: dict[str, ColumnElement[Any]] = {
    "name": func.lower(Share.name),
    "created_at": Share.created_at.expression,
    "expires_at": Share.expires_at.expression,
    "last_accessed_at": Share.last_accessed_at.expression,
    "access_count": Share.access_count.expression,
}
ACCESS_SORTABLE: dict[str, ColumnElement[Any]] = {
    "accessed_at": ShareAccess.accessed_at.expression,
    "seconds": ShareAccess.seconds.expression,
}


class ShareNotFound(NotFound):
    message = "No such share."


class ShareEditForbidden(Forbidden):
    message = "Changing a share needs the 'shares.create' permission (or 'shares.manage')."


class ShareLinkNotFound(NotFound):
    message = "This link does not exist."


class ShareExpired(Gone):
    code, message = "share_expired", "This link has expired."


class ShareExhausted(Forbidden):
    code, message = "share_exhausted", "This link's streaming time is used up."


class ShareDownloadForbidden(Forbidden):
    code, message = "share_download_forbidden", "This link does not allow downloads."


class ShareSongNotFound(NotFound):
    message = "This song is not part of the share."


class NothingToShare(ValidationFailed):
    message = "There is no song on disk to share."


class UnknownShareSource(ValidationFailed):
    message = "The album or playlist does not exist or is not available to you."


# ---------------------------------------------------------------- helpers


def _box(state: AppState) -> SecretBox:
    return SecretBox(state.settings.signing_key, TOKEN_PURPOSE)


def link_url(state: AppState, token: str) -> str:
    return f"{state.settings.public_url.rstrip('/')}{PUBLIC_PATH}/{token}"


def _budget_seconds(share: Share) -> float | None:
    minutes = share.max_streaming_minutes
    return None if minutes is None else minutes * 60.0


def remaining_seconds(share: Share) -> float | None:
    budget = _budget_seconds(share)
    return None if budget is None else max(0.0, budget - share.streamed_seconds)


def is_expired(share: Share, now: datetime | None = None) -> bool:
    return share.expires_at is not None and share.expires_at <= (now or utcnow())


def is_exhausted(share: Share) -> bool:
    remaining = remaining_seconds(share)
    return remaining is not None and remaining <= 0


def _field_error(error: type[ValidationFailed], field: str, message: str, kind: str) -> AppError:
    return error(details=[{"field": field, "location": "body", "message": message, "type": kind}])


async def _readable_libraries(
    session: AsyncSession, principal: Principal
) -> list[uuid.UUID] | None:
    if not principal.can("music.read"):
        return []
    return await library_service.readable_library_ids(session, principal)


def _readable(libraries: list[uuid.UUID] | None, library_id: uuid.UUID) -> bool:
    return libraries is None or library_id in libraries


async def _owner_of(session: AsyncSession, share: Share) -> tuple[User, list[uuid.UUID] | None]:
    """The share's owner and the libraries they may read now (none unless the account is
    active): a link never serves more than its owner could stream."""
    owner = await user_service.get_user(session, share.owner_id)
    if owner.status != UserStatus.active:
        return owner, []
    return owner, await _readable_libraries(session, auth_service.principal_for(owner))


# ---------------------------------------------------------------- read models


def _read(state: AppState, share: Share, owner: ShareOwner, song_count: int) -> ShareRead:
    try:
        url: str | None = link_url(state, _box(state).open(share.token_sealed))
    except SecretUnreadable:
        url = None
    return ShareRead(
        id=share.id,
        name=share.name,
        description=share.description,
        owner=owner,
        url=url,
        source_type=ShareSource(share.source_type),
        source_id=share.source_id,
        song_count=song_count,
        expires_at=share.expires_at,
        is_expired=is_expired(share),
        max_streaming_minutes=share.max_streaming_minutes,
        streamed_seconds=share.streamed_seconds,
        remaining_seconds=remaining_seconds(share),
        is_exhausted=is_exhausted(share),
        allow_download=share.allow_download,
        access_count=share.access_count,
        last_accessed_at=share.last_accessed_at,
        created_at=share.created_at,
        updated_at=share.updated_at,
    )


_SONG_COUNT = (
    select(func.count())
    .where(ShareItem.share_id == Share.id)
    .correlate(Share)
    .scalar_subquery()
    .label("song_count")
)


async def _share_songs(session: AsyncSession, share_id: uuid.UUID) -> Sequence[Any]:
    return (
        await session.execute(
            select(Song.id, Song.library_id, Song.removed_at)
            .join(ShareItem, ShareItem.song_id == Song.id)
            .where(ShareItem.share_id == share_id)
            .order_by(ShareItem.position)
        )
    ).all()


async def _detail(
    session: AsyncSession, state: AppState, viewer: Principal, share: Share
) -> ShareDetail:
    owner, owner_libraries = await _owner_of(session, share)
    rows = await _share_songs(session, share.id)
    # The viewer is the owner or a share manager; either way, only songs they may read show.
    viewer_libraries = await _readable_libraries(session, viewer)
    shown = [row for row in rows if _readable(viewer_libraries, row.library_id)]
    summaries = await music_service.song_summaries(session, [row.id for row in shown])
    songs = [
        summaries[row.id].model_copy(
            update={
                "is_available": row.removed_at is None
                and _readable(owner_libraries, row.library_id)
            }
        )
        for row in shown
        if row.id in summaries
    ]
    read = _read(state, share, ShareOwner(id=owner.id, username=owner.username), len(rows))
    return ShareDetail(**read.model_dump(), songs=songs)


# ---------------------------------------------------------------- the owner's routes


async def _get_managed(session: AsyncSession, principal: Principal, share_id: uuid.UUID) -> Share:
    share = await session.get(Share, share_id, populate_existing=True)
    if share is None or (share.owner_id != principal.id and not principal.can(MANAGE_PERMISSION)):
        raise ShareNotFound()
    return share


async def _source_songs(
    session: AsyncSession, principal: Principal, body: ShareCreate
) -> tuple[ShareSource, uuid.UUID | None, list[uuid.UUID]]:
    if body.track_ids is not None:
        checked = await playlist_service.checked_song_ids(
            session, principal, body.track_ids, "track_ids"
        )
        return ShareSource.songs, None, list(dict.fromkeys(checked))
    if body.album_id is not None:
        libraries = await _readable_libraries(session, principal)
        album = await session.get(Album, body.album_id)
        if album is None or not _readable(libraries, album.library_id):
            raise _field_error(UnknownShareSource, "album_id", "no such album", "album_not_found")
        album_songs = await session.scalars(
            select(Song.id)
            .where(Song.album_id == album.id, Song.removed_at.is_(None))
            .order_by(
                func.coalesce(Song.disc_number, 0),
                func.coalesce(Song.track_number, 0),
                Song.sort_title,
                Song.id,
            )
        )
        return ShareSource.album, album.id, list(album_songs)
    assert body.playlist_id is not None  # the schema wants exactly one source
    try:
        song_ids = await playlist_service.shareable_song_ids(session, principal, body.playlist_id)
    except playlist_service.PlaylistNotFound:
        raise _field_error(
            UnknownShareSource, "playlist_id", "no such playlist", "playlist_not_found"
        ) from None
    return ShareSource.playlist, body.playlist_id, song_ids


async def _audit(
    session: AsyncSession,
    principal: Principal,
    origin: Origin,
    action: str,
    share: Share,
    **details: Any,
) -> None:
    if share.owner_id != principal.id:
        details["owner_id"] = str(share.owner_id)
    await activity_service.record_by(
        session,
        principal,
        action=action,
        resource_type="share",
        resource_id=share.id,
        origin=origin,
        details={"name": share.name, **details},
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def create_share(
    session: AsyncSession, state: AppState, principal: Principal, origin: Origin, body: ShareCreate
) -> ShareDetail:
    expires_at = as_utc(body.expires_at) if body.expires_at else None
    if expires_at is not None and expires_at <= utcnow():
        raise _field_error(ValidationFailed, "expires_at", "must be in the future", "value_error")
    source, source_id, song_ids = await _source_songs(session, principal, body)
    if not song_ids:
        raise NothingToShare(
            details=[
                {
                    "field": source.value if source is ShareSource.songs else f"{source}_id",
                    "location": "body",
                    "message": "holds no song on disk",
                    "type": "nothing_to_share",
                }
            ]
        )
    token = new_token(nbytes=TOKEN_BYTES)
    share = Share(
        owner_id=principal.id,
        token_hash=hash_token(token),
        token_sealed=_box(state).seal(token),
        name=body.name,
        description=body.description or None,
        source_type=source.value,
        source_id=source_id,
        expires_at=expires_at,
        max_streaming_minutes=body.max_streaming_minutes,
        allow_download=body.allow_download,
    )
    session.add(share)
    await session.flush()
    session.add_all(
        ShareItem(share_id=share.id, song_id=song_id, position=position)
        for position, song_id in enumerate(song_ids)
    )
    await session.flush()
    await _audit(
        session,
        principal,
        origin,
        "share.create",
        share,
        source_type=source.value,
        source_id=str(source_id) if source_id else None,
        songs=len(song_ids),
        expires_at=_iso(expires_at),
        max_streaming_minutes=share.max_streaming_minutes,
        allow_download=share.allow_download,
    )
    return await _detail(session, state, principal, share)


async def list_shares(
    session: AsyncSession,
    state: AppState,
    principal: Principal,
    params: PageParams,
    *,
    mine_only: bool,
    search: str | None,
) -> tuple[list[ShareRead], int]:
    """The principal's shares; everyone's for holders of `shares.manage` unless `mine_only`."""
    statement: Select[*tuple[Any, ...]] = select(Share, User.username, _SONG_COUNT).join(
        User, User.id == Share.owner_id
    )
    if mine_only or not principal.can(MANAGE_PERMISSION):
        statement = statement.where(Share.owner_id == principal.id)
    if search:
        statement = statement.where(
            func.lower(Share.name).contains(search.strip().lower(), autoescape=True)
        )
    statement = apply_sort(
        statement, params, SORTABLE, [Share.created_at.desc()], Share.id.expression
    )
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return [
        _read(
            state,
            row.Share,
            ShareOwner(id=row.Share.owner_id, username=row.username),
            row.song_count,
        )
        for row in rows
    ], total


async def read_share(
    session: AsyncSession, state: AppState, principal: Principal, share_id: uuid.UUID
) -> ShareDetail:
    share = await _get_managed(session, principal, share_id)
    return await _detail(session, state, principal, share)


async def update_share(
    session: AsyncSession,
    state: AppState,
    principal: Principal,
    origin: Origin,
    share_id: uuid.UUID,
    body: ShareUpdate,
) -> ShareDetail:
    share = await _get_managed(session, principal, share_id)
    if not (principal.can(MANAGE_PERMISSION) or principal.can(CREATE_PERMISSION)):
        raise ShareEditForbidden()
    given = body.model_fields_set
    changed: dict[str, Any] = {}
    if "name" in given and body.name is not None and body.name != share.name:
        changed["name"] = share.name = body.name
    if "description" in given and (body.description or None) != share.description:
        changed["description"] = share.description = body.description or None
    if "expires_at" in given:
        expires_at = as_utc(body.expires_at) if body.expires_at else None
        if expires_at != share.expires_at:
            share.expires_at = expires_at
            changed["expires_at"] = _iso(expires_at)
    if (
        "max_streaming_minutes" in given
        and body.max_streaming_minutes != share.max_streaming_minutes
    ):
        changed["max_streaming_minutes"] = share.max_streaming_minutes = body.max_streaming_minutes
    if (
        "allow_download" in given
        and body.allow_download is not None
        and body.allow_download != share.allow_download
    ):
        changed["allow_download"] = share.allow_download = body.allow_download
    if changed:
        share.updated_at = utcnow()
        await session.flush()
        await _audit(session, principal, origin, "share.update", share, changed=changed)
    return await _detail(session, state, principal, share)


async def delete_share(
    session: AsyncSession, principal: Principal, origin: Origin, share_id: uuid.UUID
) -> None:
    share = await _get_managed(session, principal, share_id)
    await _audit(session, principal, origin, "share.delete", share, accesses=share.access_count)
    await session.delete(share)
    await session.flush()


async def list_accesses(
    session: AsyncSession, principal: Principal, share_id: uuid.UUID, params: PageParams
) -> tuple[list[ShareAccessRead], int]:
    await _get_managed(session, principal, share_id)
    statement = apply_sort(
        select(ShareAccess).where(ShareAccess.share_id == share_id),
        params,
        ACCESS_SORTABLE,
        [ShareAccess.accessed_at.desc()],
        ShareAccess.id.desc(),
    )
    rows, total = await paginate_rows(session, statement, params)
    return [ShareAccessRead.model_validate(row) for row in rows], total


# ---------------------------------------------------------------- the public link


@dataclass(frozen=True)
class OpenedShare:
    share: Share
    owner_libraries: list[uuid.UUID] | None


@dataclass(frozen=True)
class ShareAccessEntry:
    """One access to log: what was asked of which share, by whom."""

    share_id: uuid.UUID
    action: ShareAction
    song_id: uuid.UUID | None
    origin: Origin


async def log_refusal(state: AppState, entry: ShareAccessEntry, status_code: int) -> None:
    """Log a refused access in a unit of work of its own (the request's is rolled back)."""
    async with state.db.session() as session:
        session.add(_access_row(entry, status_code))


def _access_row(
    entry: ShareAccessEntry, status_code: int, access_id: uuid.UUID | None = None
) -> ShareAccess:
    row = ShareAccess(
        share_id=entry.share_id,
        song_id=entry.song_id,
        action=entry.action.value,
        ip=entry.origin.ip[:64],
        user_agent=entry.origin.user_agent,
        seconds=0.0,
        status_code=status_code,
        accessed_at=utcnow(),
    )
    if access_id is not None:
        row.id = access_id
    return row


async def record_access(
    session: AsyncSession,
    entry: ShareAccessEntry,
    status_code: int,
    access_id: uuid.UUID | None = None,
) -> None:
    """Log a served access in the request's transaction and count it on the share."""
    session.add(_access_row(entry, status_code, access_id))
    await session.execute(
        update(Share)
        .where(Share.id == entry.share_id)
        .values(access_count=Share.access_count + 1, last_accessed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.flush()


async def _open(
    session: AsyncSession,
    state: AppState,
    token: str,
    action: ShareAction,
    song_id: uuid.UUID | None,
    origin: Origin,
) -> tuple[OpenedShare, ShareAccessEntry]:
    """The share behind a token, refusing (and logging) unknown, suspended-owner and expired
    links. An unknown token is not logged: there is no share to log it against. The entry
    names `song_id` only when that song is in the share (anything else is no song of ours)."""
    share = await session.scalar(
        select(Share)
        .where(Share.token_hash == hash_token(token))
        .execution_options(populate_existing=True)
    )
    if share is None:
        raise ShareLinkNotFound()
    if song_id is not None:
        song_id = await session.scalar(
            select(ShareItem.song_id).where(
                ShareItem.share_id == share.id, ShareItem.song_id == song_id
            )
        )
    entry = ShareAccessEntry(share_id=share.id, action=action, song_id=song_id, origin=origin)
    try:
        owner, owner_libraries = await _owner_of(session, share)
        if owner.status != UserStatus.active:
            raise ShareLinkNotFound()
        if is_expired(share):
            raise ShareExpired()
    except AppError as error:
        await log_refusal(state, entry, error.status_code)
        raise
    return OpenedShare(share=share, owner_libraries=owner_libraries), entry


def _public_track(token: str, share: Share, row: Any) -> PublicTrack:
    base = f"{PUBLIC_API_PATH}/{token}"
    return PublicTrack(
        id=row.id,
        title=row.title,
        artist=row.artist_display,
        album=row.album,
        track_number=row.track_number,
        disc_number=row.disc_number,
        year=row.year,
        duration=row.duration,
        is_available=row.removed_at is None,
        stream_url=f"{base}/stream/{row.id}",
        download_url=f"{base}/download/{row.id}" if share.allow_download else None,
    )


async def view_share(
    session: AsyncSession, state: AppState, token: str, origin: Origin
) -> PublicShare:
    """What a link shows: its name and tracks (titles, artists, album, durations) — songs the
    owner may no longer read are left out; songs whose file vanished show as unavailable."""
    opened, entry = await _open(session, state, token, ShareAction.view, None, origin)
    share = opened.share
    rows = (
        await session.execute(
            select(
                Song.id,
                Song.library_id,
                Song.title,
                Song.artist_display,
                Song.track_number,
                Song.disc_number,
                Song.year,
                Song.duration,
                Song.removed_at,
                Album.title.label("album"),
            )
            .join(ShareItem, ShareItem.song_id == Song.id)
            .outerjoin(Album, Album.id == Song.album_id)
            .where(ShareItem.share_id == share.id)
            .order_by(ShareItem.position)
        )
    ).all()
    tracks = [
        _public_track(token, share, row)
        for row in rows
        if _readable(opened.owner_libraries, row.library_id)
    ]
    await record_access(session, entry, 200)
    return PublicShare(
        name=share.name,
        description=share.description,
        expires_at=share.expires_at,
        allow_download=share.allow_download,
        max_streaming_minutes=share.max_streaming_minutes,
        remaining_seconds=remaining_seconds(share),
        is_exhausted=is_exhausted(share),
        duration=sum(track.duration for track in tracks if track.is_available),
        tracks=tracks,
    )


@dataclass(frozen=True)
class SongToServe:
    share_id: uuid.UUID
    song: Song
    remaining_seconds: float | None
    entry: ShareAccessEntry


async def song_to_serve(
    session: AsyncSession,
    state: AppState,
    token: str,
    song_id: uuid.UUID,
    action: ShareAction,
    origin: Origin,
) -> SongToServe:
    """The song a stream or download of a link may send, after every check; each refusal is
    logged: expired 410, download not allowed 403, song outside the share (or no longer
    servable) 404, budget used up 403."""
    opened, entry = await _open(session, state, token, action, song_id, origin)
    share = opened.share
    try:
        if action is ShareAction.download and not share.allow_download:
            raise ShareDownloadForbidden()
        song = await session.get(Song, entry.song_id) if entry.song_id is not None else None
        if (
            song is None
            or song.removed_at is not None
            or not _readable(opened.owner_libraries, song.library_id)
        ):
            raise ShareSongNotFound()
        if is_exhausted(share):
            raise ShareExhausted()
    except AppError as error:
        await log_refusal(state, entry, error.status_code)
        raise
    return SongToServe(
        share_id=share.id, song=song, remaining_seconds=remaining_seconds(share), entry=entry
    )


async def count_streamed(
    state: AppState, share_id: uuid.UUID, access_id: uuid.UUID, seconds: float
) -> None:
    """Add seconds sent to the share's total and to its access row, in a unit of work of its
    own (the request's has committed by the time bytes flow). Each an atomic UPDATE, so
    parallel streams all count."""
    async with state.db.session() as session:
        await session.execute(
            update(ShareAccess)
            .where(ShareAccess.id == access_id)
            .values(seconds=ShareAccess.seconds + seconds)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(Share)
            .where(Share.id == share_id)
            .values(streamed_seconds=Share.streamed_seconds + seconds)
            .execution_options(synchronize_session=False)
        )
