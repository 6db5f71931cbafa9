"""Conditional and partial GETs for binary answers (RFC 9110 §13 and §14): entity-tag and date
validators, `If-None-Match` / `If-Modified-Since` (→ 304), `If-Range`, and `Range` parsed into
the one byte range an answer will carry.

Pure functions over header values: what to answer is decided here, how the bytes go out is
`cinesonic.kit.filesend`. A `Range` the server cannot satisfy, or cannot parse, raises
`RangeNotSatisfiable` — a 416 in the API's error envelope with `Content-Range: bytes */size`,
not the plain-text 416 of Starlette's `FileResponse`. Nothing here knows a domain.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.datastructures import Headers

from cinesonic.errors import AppError
from cinesonic.kit.timeutil import as_utc, utcnow

# An entity tag in a list: `"x"` or `W/"x"` (RFC 9110 §8.8.3).
_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')
# One range-spec: `first-last`, `first-` or `-suffix` (RFC 9110 §14.1.1).
_RANGE_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
# More range-specs than this in one header is abuse (or a scan), not a player: answer it whole.
MAX_RANGE_SPECS = 64


class RangeNotSatisfiable(AppError):
    status_code, code = 416, "range_not_satisfiable"
    message = "The requested range lies outside the file."

    def __init__(self, size: int, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(
            message,
            code=code,
            details={"size": size},
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        )


class InvalidRange(RangeNotSatisfiable):
    code, message = "invalid_range", "The Range header is malformed."


@dataclass(frozen=True)
class Validators:
    """What identifies one version of a representation."""

    etag: str  # the opaque tag, without quotes
    last_modified: datetime | None
    weak: bool = False

    @property
    def etag_header(self) -> str:
        return f'{"W/" if self.weak else ""}"{self.etag}"'

    @property
    def last_modified_header(self) -> str | None:
        if self.last_modified is None:
            return None
        return format_datetime(as_utc(self.last_modified), usegmt=True)

    def headers(self) -> dict[str, str]:
        headers = {"ETag": self.etag_header}
        if (last_modified := self.last_modified_header) is not None:
            headers["Last-Modified"] = last_modified
        return headers


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` up to (not including) `end` of a representation of `size` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end - 1}/{self.size}"

    @property
    def is_whole(self) -> bool:
        return self.start == 0 and self.end == self.size


def file_etag(*parts: object) -> str:
    """A strong tag from what identifies a file version (path, size, mtime in ns): the same
    file gives the same tag in every process and replica, a rewritten one a new tag."""
    digest = hashlib.blake2b(":".join(str(p) for p in parts).encode(), digest_size=12)
    return digest.hexdigest()


def _tags(header: str) -> list[tuple[bool, str]] | None:
    """The (weak, opaque) tags of an `If-None-Match` / `If-Match` list; None when unparsable."""
    tags: list[tuple[bool, str]] = []
    position = 0
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None:
            return None
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return tags


def _http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None  # not an HTTP date (those are GMT)
    return parsed


def is_not_modified(headers: Headers, validators: Validators) -> bool:
    """Whether a GET/HEAD gets 304 (RFC 9110 §13.2.2). `If-None-Match`, when sent, decides alone
    with the weak comparison (`W/"x"` matches `"x"`; `*` matches any current representation);
    otherwise `If-Modified-Since` — ignored when unparsable or in the future."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        tags = _tags(if_none_match)
        return tags is not None and any(tag == validators.etag for _weak, tag in tags)
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since is None or validators.last_modified is None:
        return False
    since = _http_date(if_modified_since)
    if since is None or since > utcnow():
        return False
    # HTTP dates carry whole seconds.
    return int(as_utc(validators.last_modified).timestamp()) <= int(since.timestamp())


def range_applies(headers: Headers, validators: Validators) -> bool:
    """`If-Range` (RFC 9110 §13.1.5): the `Range` counts only while the client's copy is this
    version — a strong tag compared strongly, or exactly our `Last-Modified` date."""
    if_range = headers.get("if-range")
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith('"') or value.startswith("W/"):
        return not validators.weak and value == validators.etag_header
    return value == validators.last_modified_header


def _spec(text: str, size: int) -> tuple[int, int] | None:
    """(start, end) of one range-spec; None when it is unsatisfiable. Raises on bad syntax."""
    match = _RANGE_SPEC.match(text)
    if match is None:
        raise InvalidRange(size)
    first, last = match.group(1), match.group(2)
    if not first and not last:
        raise InvalidRange(size)
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            return None
        return max(size - suffix, 0), size
    start = int(first)
    if last and int(last) < start:
        raise InvalidRange(size, "The Range header has a range whose end is before its start.")
    if start >= size:
        return None
    end = size if not last else min(int(last) + 1, size)
    return start, end


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range a `Range` header asks for, or None to answer the whole representation.

    A unit other than `bytes` is ignored (RFC 9110 §14.2). Several ranges are coalesced when
    they overlap or touch; if they still form more than one range, the header is ignored and
    the whole file is the answer (allowed by §14.2; players never ask for several). Raises
    `InvalidRange` (416) for bad syntax and `RangeNotSatisfiable` (416) when no range starts
    inside the file.
    """
    if header is None:
        return None
    unit, separator, specs = header.partition("=")
    if not separator:
        raise InvalidRange(size)
    if unit.strip().lower() != "bytes":
        return None
    parts = specs.split(",")
    if len(parts) > MAX_RANGE_SPECS:
        return None
    ranges = [r for r in (_spec(part, size) for part in parts if part.strip()) if r is not None]
    if not any(part.strip() for part in parts):
        raise InvalidRange(size)
    if not ranges:
        raise RangeNotSatisfiable(size)
    ranges.sort()
    start, end = ranges[0]
    for next_start, next_end in ranges[1:]:
        if next_start > end:
            return None  # a real multi-range request: answered whole
        end = max(end, next_end)
    return ByteRange(start, end, size)
