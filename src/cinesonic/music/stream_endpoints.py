"""Song bytes and plays: `/songs/{id}/stream`, `/songs/{id}/download` [000], a client's play
reports (`POST /songs/{id}/plays`) and the signed-in user's history (`/users/me/plays`).

Stream and download accept `?api_key=` (an `<audio src>` cannot send headers). A song in a
library the caller may not read is a 404, as if it did not exist. HTTP only: visibility is
`music.service`, the bytes are `music.streaming`, plays are `music.plays`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.deps import CurrentPrincipal, DbSession, MediaPrincipal, State, rate_limited
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    RateLimited,
    ValidationFailed,
    error_responses,
)
from cinesonic.kit.conditional import InvalidRange, RangeNotSatisfiable
from cinesonic.kit.pagination import Page, PaginationDep
from cinesonic.music import plays, streaming
from cinesonic.music import service as music_service
from cinesonic.music.stream_schemas import PlayCreate, PlayRead, StreamFormat
from cinesonic.music.transcode import TranscodeBusy, TranscodeFailed, TranscoderUnavailable

router = APIRouter(tags=["streaming"])

SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
)
BYTES_REFUSALS = (
    *SIGNED_IN,
    Forbidden,
    music_service.SongNotFound,
    streaming.SongFileMissing,
    RangeNotSatisfiable,
    InvalidRange,
    ValidationFailed,
    RateLimited,
)

_AUDIO = {"schema": {"type": "string", "format": "binary"}}
_AUDIO_CONTENT = {
    "audio/mpeg": _AUDIO,
    "audio/flac": _AUDIO,
    "audio/ogg": _AUDIO,
    "audio/mp4": _AUDIO,
    "audio/aac": _AUDIO,
    "audio/wav": _AUDIO,
    "application/octet-stream": _AUDIO,
}
BYTES_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The bytes, with `ETag`, `Last-Modified` and `Accept-Ranges: bytes` — or, "
        "for a transcode being made, streamed as ffmpeg writes them (`Accept-Ranges: none`).",
        "content": _AUDIO_CONTENT,
    },
    206: {"description": "The requested `Range` of the bytes.", "content": _AUDIO_CONTENT},
    304: {"description": "Not modified: the client's copy is current (no body)."},
}


# Per user — the one a `?api_key=` names too (`cinesonic.ratelimits`).
STREAM_LIMIT = [Depends(rate_limited("stream", query_key=True))]


def require_media(permission: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """`require(permission)` for routes that also take `?api_key=`."""

    async def dependency(principal: MediaPrincipal) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"This needs the '{permission}' permission.")
        return principal

    dependency.__name__ = f"require_media_{permission.replace('.', '_')}"
    return dependency


StreamingUser = Annotated[Principal, Depends(require_media("music.stream"))]
DownloadingUser = Annotated[Principal, Depends(require_media("music.download"))]
SongId = Annotated[uuid.UUID, "the song's id"]
FormatQuery = Annotated[
    StreamFormat | None,
    Query(
        description="Transcode to `mp3` (192 kbit/s by default, 32–320), `opus` (128, 16–256) "
        "or `aac` (256, 32–320, ADTS); `raw` or none for the original file. A song already in "
        "that codec at no higher bit rate is served as it is."
    ),
]
BitrateQuery = Annotated[
    int | None,
    Query(
        ge=1,
        le=100_000,
        description="Transcoding bit rate in kbit/s, clamped to the format's range.",
    ),
]
OffsetQuery = Annotated[
    float | None,
    Query(
        ge=0,
        le=86_400,
        description="Start this many seconds into the song (a transcode; without `format`, "
        "to mp3).",
    ),
]


@router.get(
    "/songs/{song_id}/stream",
    response_class=Response,
    response_model=None,
    summary="Stream a song",
    description="The original file with `Range` (206; one range), `ETag` / `Last-Modified` "
    "and conditional requests (304); a malformed or past-the-end `Range` is a 416 "
    "(`Content-Range: bytes */size`). With `format`, a transcode: served from the cache like a "
    "file, or streamed while ffmpeg makes it (no Range then). Busy transcoders answer 503 "
    "`transcode_busy` with `Retry-After`. `?api_key=` is accepted. A stream that sends "
    "more than the play threshold of the song records a play. HEAD answers the same headers.",
    responses={
        **BYTES_RESPONSES,
        **error_responses(*BYTES_REFUSALS, TranscodeFailed, TranscodeBusy, TranscoderUnavailable),
    },
    dependencies=STREAM_LIMIT,
)
@router.head(
    "/songs/{song_id}/stream",
    response_class=Response,
    include_in_schema=False,
    dependencies=STREAM_LIMIT,
)
async def stream_song(
    song_id: SongId,
    request: Request,
    principal: StreamingUser,
    session: DbSession,
    state: State,
    format: FormatQuery = None,
    bitrate: BitrateQuery = None,
    time_offset: OffsetQuery = None,
) -> Response:
    song = await music_service.get_visible_song(session, principal, song_id)
    counter = None
    if request.method != "HEAD":
        counter = plays.stream_play_counter(state, principal.id, song)
    return await streaming.stream_song(
        request,
        song,
        format=format.value if format is not None else None,
        bitrate=bitrate,
        time_offset=time_offset,
        on_sent=counter,
    )


@router.get(
    "/songs/{song_id}/download",
    response_class=Response,
    response_model=None,
    summary="Download a song's original file",
    description="The original file as an attachment (`Content-Disposition` with an ASCII "
    "`filename` and the exact UTF-8 name in `filename*`, RFC 6266), named `Artist - Title.ext`. "
    "`Range`, validators and 304 as for streams; `?api_key=` is accepted. Needs "
    "`music.download`.",
    responses={**BYTES_RESPONSES, **error_responses(*BYTES_REFUSALS)},
    dependencies=STREAM_LIMIT,
)
@router.head(
    "/songs/{song_id}/download",
    response_class=Response,
    include_in_schema=False,
    dependencies=STREAM_LIMIT,
)
async def download_song(
    song_id: SongId, request: Request, principal: DownloadingUser, session: DbSession
) -> Response:
    song = await music_service.get_visible_song(session, principal, song_id)
    return await streaming.stream_song(request, song, as_download=True)


@router.post(
    "/songs/{song_id}/plays",
    response_model=PlayRead,
    status_code=201,
    summary="Report a play of a song",
    description="A client says it played the song (at `played_at`, default now). Counts it in "
    "the song's and album's play counts, the user's own and their history. Idempotent: the "
    "same moment again answers 200 with the play already recorded; so does a report of a "
    "listening the server already counted from its stream (same song, within one song length).",
    responses={
        200: {"model": PlayRead, "description": "This play was already recorded."},
        **error_responses(*SIGNED_IN, Forbidden, music_service.SongNotFound, ValidationFailed),
    },
)
async def report_play(
    song_id: SongId,
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
    body: Annotated[PlayCreate | None, Body()] = None,
) -> PlayRead:
    if not principal.can("music.read"):
        raise Forbidden("This needs the 'music.read' permission.")
    song = await music_service.get_visible_song(session, principal, song_id)
    play, created = await plays.report_play(session, principal, song, body or PlayCreate())
    if created:
        response.headers["Location"] = f"/api/v1/users/me/plays/{play.id}"
    else:
        response.status_code = 200
    return (await plays.read_plays(session, [play]))[0]


@router.get(
    "/users/me/plays",
    response_model=Page[PlayRead],
    summary="Your play history",
    description="Your plays, newest first (`sort=played_at` for oldest first), each with its "
    "song. Songs in libraries you can no longer read are left out.",
    responses=error_responses(*SIGNED_IN, ValidationFailed),
)
async def list_my_plays(
    principal: CurrentPrincipal, session: DbSession, params: PaginationDep
) -> Page[PlayRead]:
    rows, total = await plays.list_plays(session, principal, params)
    return Page(data=await plays.read_plays(session, rows), pagination=params.meta(total))


@router.get(
    "/users/me/plays/{play_id}",
    response_model=PlayRead,
    summary="One play of your history",
    responses=error_responses(*SIGNED_IN, plays.PlayNotFound, ValidationFailed),
)
async def read_my_play(
    play_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> PlayRead:
    play = await plays.get_play(session, principal, play_id)
    return (await plays.read_plays(session, [play]))[0]
