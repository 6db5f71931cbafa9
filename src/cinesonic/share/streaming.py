"""Serving a shared song: the share's checks, then `music.streaming.stream_song`, metered.

What a link sends is counted once the body has gone out (`on_sent`: the seconds of audio in the
bytes the client actually received), into the access's row and the share's
`streamed_seconds`, each count one atomic UPDATE so parallel streams all add up. The budget is
checked before a stream starts (`share_service.song_to_serve`): once it is used up, every
stream and download is refused with 403 `share_exhausted`. A song already under way when the
budget runs out is not cut off — the budget can be overrun by at most the songs streaming at
that moment, and the overrun is counted.

This module never opens files itself and never decides visibility: the service does that.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity.service import Origin
from cinesonic.errors import AppError
from cinesonic.kit.ids import uuid7
from cinesonic.music import streaming
from cinesonic.music.stream_schemas import StreamFormat
from cinesonic.share import service as share_service
from cinesonic.share.schemas import ShareAction
from cinesonic.state import AppState


@dataclass(frozen=True)
class StreamOptions:
    format: str | None = None
    bitrate: int | None = None
    time_offset: float | None = None


async def stream_options(
    format: Annotated[
        StreamFormat | None,
        Query(
            description="Transcode to `mp3`, `opus` or `aac` (as `/songs/{id}/stream`); `raw` "
            "or none for the original file."
        ),
    ] = None,
    bitrate: Annotated[
        int | None,
        Query(ge=1, le=100_000, description="Transcoding bit rate in kbit/s, clamped."),
    ] = None,
    time_offset: Annotated[
        float | None,
        Query(ge=0, le=86_400, description="Start this many seconds in (a transcode)."),
    ] = None,
) -> StreamOptions:
    return StreamOptions(
        format=format.value if format is not None else None,
        bitrate=bitrate,
        time_offset=time_offset,
    )


StreamOptionsDep = Annotated[StreamOptions, Depends(stream_options)]


@dataclass
class _Meter:
    """Counts what one access sent against its share's budget."""

    state: AppState
    share_id: uuid.UUID
    access_id: uuid.UUID

    async def on_sent(self, seconds: float, _bytes: int) -> None:
        if seconds > 0:
            await share_service.count_streamed(self.state, self.share_id, self.access_id, seconds)


async def serve(
    request: Request,
    session: AsyncSession,
    state: AppState,
    token: str,
    song_id: uuid.UUID,
    origin: Origin,
    action: ShareAction,
    options: StreamOptions | None,
) -> Response:
    target = await share_service.song_to_serve(session, state, token, song_id, action, origin)
    access_id = uuid7()
    meter = _Meter(state, target.share_id, access_id)
    options = options or StreamOptions()
    try:
        response = await streaming.stream_song(
            request,
            target.song,
            format=options.format,
            bitrate=options.bitrate,
            time_offset=options.time_offset,
            on_sent=meter.on_sent,
            as_download=action is ShareAction.download,
        )
    except AppError as error:
        await share_service.log_refusal(state, target.entry, error.status_code)
        raise
    await share_service.record_access(session, target.entry, response.status_code, access_id)
    return response
