"""HTTP answers for image files: the validators (`ETag`, `Last-Modified`), conditional GETs
(304 on `If-None-Match` / `If-Modified-Since`, RFC 9110 §13), and the body — from memory when
the service kept it (small files; the server drops it for HEAD), else through Starlette's
`FileResponse`, which streams from disk and itself answers HEAD and `Range` (206, 416)."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from cinesonic.image.service import ImageFile
from cinesonic.kit.timeutil import as_utc, utcnow

# Content-addressed: the bytes behind a URL never change. Private: images need a sign-in.
IMMUTABLE = "private, max-age=31536000, immutable"
# The same URL answers a different image once the avatar changes: ask each time (304s are cheap).
REVALIDATE = "private, no-cache"
_ENTITY_TAG = re.compile(r'(?:W/)?"([^"]*)"')


def _matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): `W/"x"` matches `"x"`; `*` matches anything."""
    if if_none_match.strip() == "*":
        return True
    return etag in _ENTITY_TAG.findall(if_none_match)


def _unchanged_since(if_modified_since: str, last_modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unparsable date is ignored
    if since.tzinfo is None or since > utcnow():
        return False  # not an HTTP date, or one in the future: ignored (RFC 9110 §13.1.3)
    # HTTP dates have whole seconds.
    return int(last_modified.timestamp()) <= int(since.timestamp())


def is_not_modified(headers: Headers, etag: str, last_modified: datetime | None) -> bool:
    """Whether a GET/HEAD with these headers gets 304; `If-None-Match`, when sent, decides
    alone. With `last_modified` None, dates are not trusted and `If-Modified-Since` is ignored."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return _matches(if_none_match, etag)
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since is None or last_modified is None:
        return False
    return _unchanged_since(if_modified_since, last_modified)


def image_response(
    request: Request, image: ImageFile, *, cache_control: str, trust_dates: bool = True
) -> Response:
    """200 with the file, 206 for a satisfiable `Range`, or 304 when the client's copy is
    current. `trust_dates=False` where one URL can move to an older image (an avatar): there
    `Last-Modified` may go backwards, so only the entity tag can prove a copy current."""
    validators = {
        "ETag": f'"{image.etag}"',
        "Last-Modified": format_datetime(as_utc(image.last_modified), usegmt=True),
        "Cache-Control": cache_control,
    }
    if is_not_modified(request.headers, image.etag, image.last_modified if trust_dates else None):
        return Response(status_code=304, headers=validators)
    if image.body is not None and "range" not in request.headers:
        # FileResponse opens, reads and closes the file in worker threads, at several times the
        # cost of the whole request; a kept body needs none of that.
        validators["Accept-Ranges"] = "bytes"
        return Response(image.body, headers=validators, media_type=image.content_type)
    return FileResponse(
        image.path, headers=validators, media_type=image.content_type, stat_result=image.stat
    )
