"""Share routes [000].

`router`: the owner's routes — holders of `shares.create` make links to songs, an album or a
playlist they may read; anyone lists and manages their own links; `shares.manage` reaches
everyone's.

`public_router`: the link itself, for anyone who holds it, without an account —
`GET /s/{token}` (name and tracks), `…/stream/{song_id}`, `…/download/{song_id}`. It is mounted
under `/api/v1/s/…` (the documented API) and again at the root, `/s/…`, so the link handed out
stays short; both are limited per client address (`rate_limit_share`).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.deps import ClientInfo, CurrentPrincipal, DbSession, State, rate_limited, require
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    RateLimited,
    ValidationFailed,
    error_responses,
)
from cinesonic.kit.conditional import InvalidRange, RangeNotSatisfiable
from cinesonic.kit.pagination import PaginationDep
from cinesonic.kit.schemas import DeletedResponse
from cinesonic.music import streaming
from cinesonic.music.transcode import TranscodeBusy, TranscodeFailed, TranscoderUnavailable
from cinesonic.share import service as share_service
from cinesonic.share import streaming as share_streaming
from cinesonic.share.schemas import (
    PublicShare,
    ShareAccessPage,
    ShareAction,
    ShareCreate,
    ShareDetail,
    SharePage,
    ShareUpdate,
)

router = APIRouter(tags=["shares"])
public_router = APIRouter(tags=["shares"], dependencies=[Depends(rate_limited("share"))])

Creator = Annotated[Principal, Depends(require(share_service.CREATE_PERMISSION))]

SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
)
SIGNED_IN_WRITE = (*SIGNED_IN, auth_service.CsrfFailed)
LINK_REFUSALS = (share_service.ShareLinkNotFound, share_service.ShareExpired, RateLimited)
MEDIA_REFUSALS = (
    *LINK_REFUSALS,
    share_service.ShareSongNotFound,
    streaming.SongFileMissing,
    share_service.ShareExhausted,
    RangeNotSatisfiable,
    InvalidRange,
    ValidationFailed,
)
TRANSCODE_REFUSALS = (TranscodeFailed, TranscodeBusy, TranscoderUnavailable)

_AUDIO = {"audio/*": {"schema": {"type": "string", "format": "binary"}}}
AUDIO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The audio: the original file, or a transcode.", "content": _AUDIO},
    206: {"description": "The requested `Range` of the file.", "content": _AUDIO},
    304: {"description": "Not modified: the client's copy is current (no body)."},
}


# ---------------------------------------------------------------- the owner's routes


@router.get(
    "/shares",
    response_model=SharePage,
    summary="List my share links (everyone's with shares.manage)",
    description="`owner=me` keeps your own only (holders of `shares.manage` see all by "
    "default). `q` matches names. Sorts: `created_at` (default, newest first), `name`, "
    "`expires_at`, `last_accessed_at`, `access_count`.",
    responses=error_responses(*SIGNED_IN, ValidationFailed),
)
async def list_shares(
    principal: CurrentPrincipal,
    session: DbSession,
    state: State,
    params: PaginationDep,
    owner: Annotated[
        Literal["me", "all"], Query(description="`me`: yours only; `all`: all you may manage.")
    ] = "all",
    q: Annotated[str | None, Query(max_length=200, description="Text in the name.")] = None,
) -> SharePage:
    items, total = await share_service.list_shares(
        session, state, principal, params, mine_only=owner == "me", search=q
    )
    return SharePage(data=items, pagination=params.meta(total))


@router.post(
    "/shares",
    status_code=status.HTTP_201_CREATED,
    response_model=ShareDetail,
    summary="Create a share link",
    description="Exactly one of `track_ids`, `album_id`, `playlist_id`; you must be able to "
    "read every song (422 otherwise). The songs are fixed when the link is made. The answer's "
    "`url` (`{public_url}/s/{token}`) is the link; its token is random (32 bytes) and only its "
    "hash is looked up.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        Forbidden,
        share_service.UnknownShareSource,
        share_service.NothingToShare,
        ValidationFailed,
    ),
)
async def create_share(
    body: ShareCreate,
    principal: Creator,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    response: Response,
) -> ShareDetail:
    share = await share_service.create_share(session, state, principal, origin, body)
    response.headers["Location"] = f"/api/v1/shares/{share.id}"
    return share


@router.get(
    "/shares/{share_id}",
    response_model=ShareDetail,
    summary="A share link with its songs and counters",
    responses=error_responses(*SIGNED_IN, share_service.ShareNotFound, ValidationFailed),
)
async def read_share(
    share_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, state: State
) -> ShareDetail:
    return await share_service.read_share(session, state, principal, share_id)


@router.put(
    "/shares/{share_id}",
    response_model=ShareDetail,
    summary="Change a share link (name, expiry, budget, download flag)",
    description="Fields left out stay; `null` clears `expires_at` and `max_streaming_minutes`. "
    "An `expires_at` in the past ends the link now. The songs never change.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        share_service.ShareEditForbidden,
        share_service.ShareNotFound,
        ValidationFailed,
    ),
)
async def update_share(
    share_id: uuid.UUID,
    body: ShareUpdate,
    principal: CurrentPrincipal,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> ShareDetail:
    return await share_service.update_share(session, state, principal, origin, share_id, body)


@router.delete(
    "/shares/{share_id}",
    response_model=DeletedResponse,
    summary="Delete a share link (and its access log)",
    responses=error_responses(*SIGNED_IN_WRITE, share_service.ShareNotFound, ValidationFailed),
)
async def delete_share(
    share_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, origin: ClientInfo
) -> DeletedResponse:
    await share_service.delete_share(session, principal, origin, share_id)
    return DeletedResponse()


@router.get(
    "/shares/{share_id}/accesses",
    response_model=ShareAccessPage,
    summary="A share link's access log",
    description="Every view, stream and download of the link, refusals included (429s "
    "excepted): time, address, user agent, seconds sent, status. Sorts: `accessed_at` "
    "(default, newest first), `seconds`.",
    responses=error_responses(*SIGNED_IN, share_service.ShareNotFound, ValidationFailed),
)
async def list_share_accesses(
    share_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, params: PaginationDep
) -> ShareAccessPage:
    items, total = await share_service.list_accesses(session, principal, share_id, params)
    return ShareAccessPage(data=items, pagination=params.meta(total))


# ---------------------------------------------------------------- the public link


@public_router.get(
    "/s/{token}",
    response_model=PublicShare,
    summary="A shared link: its name and tracks (public)",
    description="No account needed. Titles, artists, album and durations, with each track's "
    "stream (and download) URL. 404 for an unknown link, 410 `share_expired` after expiry.",
    responses=error_responses(*LINK_REFUSALS),
)
async def view_shared_link(
    token: str, session: DbSession, state: State, origin: ClientInfo
) -> PublicShare:
    return await share_service.view_share(session, state, token, origin)


@public_router.get(
    "/s/{token}/stream/{song_id}",
    response_class=Response,
    response_model=None,
    summary="Stream a shared song (public)",
    description="Like `/songs/{id}/stream` (Range, ETag, `format`/`bitrate`/`time_offset` "
    "transcoding; HEAD answers the headers), without an account. The seconds of audio sent "
    "count against the link's budget; once it is used up, streams are refused with 403 "
    "`share_exhausted` (a stream already under way is not cut).",
    responses={**AUDIO_RESPONSES, **error_responses(*MEDIA_REFUSALS, *TRANSCODE_REFUSALS)},
)
@public_router.head("/s/{token}/stream/{song_id}", response_class=Response, include_in_schema=False)
async def stream_shared_song(
    token: str,
    song_id: uuid.UUID,
    request: Request,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    options: share_streaming.StreamOptionsDep,
) -> Response:
    return await share_streaming.serve(
        request, session, state, token, song_id, origin, ShareAction.stream, options
    )


@public_router.get(
    "/s/{token}/download/{song_id}",
    response_class=Response,
    response_model=None,
    summary="Download a shared song (public, when the link allows it)",
    description="The original file with `Content-Disposition` (`Artist - Title.ext`). 403 "
    "`share_download_forbidden` unless the link allows downloads; counts against the budget "
    "like a stream.",
    responses={
        **AUDIO_RESPONSES,
        **error_responses(*MEDIA_REFUSALS, share_service.ShareDownloadForbidden),
    },
)
@public_router.head(
    "/s/{token}/download/{song_id}", response_class=Response, include_in_schema=False
)
async def download_shared_song(
    token: str,
    song_id: uuid.UUID,
    request: Request,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> Response:
    return await share_streaming.serve(
        request, session, state, token, song_id, origin, ShareAction.download, None
    )
