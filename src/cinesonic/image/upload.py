"""Reading one file field of a `multipart/form-data` request without trusting its size.

Starlette's form parser spools every file part to a temporary file with no size limit, and the
global middleware leaves multipart bodies to their routes; so a route taking `UploadFile` has
already stored the whole upload before it could refuse it. This reads the request stream itself,
keeps the one field in memory, and answers 413 as soon as the field — or the body around it —
passes the limit, whatever `Content-Length` said. HTTP only: it knows nothing of images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from cinesonic.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

if TYPE_CHECKING:  # python-multipart declares its callback types for type checkers only
    from python_multipart.multipart import MultipartCallbacks

# Room for boundaries, part headers and small fields beside the file.
ENVELOPE_BYTES = 16 * 1024


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str | None
    declared_type: str | None  # the part's Content-Type: recorded, never trusted


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


class _FieldReader:
    """python-multipart callbacks that keep the first part named `name`."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.found: Upload | None = None
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._collecting = False
        self._data = bytearray()
        self._filename: str | None = None
        self._declared_type: str | None = None

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_name_data,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._collecting = False

    def _header_name_data(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _disposition, options = parse_options_header(self._headers.get(b"content-disposition"))
        if self.found is not None or _text(options.get(b"name")) != self.name:
            return
        self._collecting = True
        self._filename = _text(options.get(b"filename"))
        declared, _params = parse_options_header(self._headers.get(b"content-type"))
        self._declared_type = _text(declared) or None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._collecting:
            return
        if len(self._data) + (end - start) > self.limit:
            raise too_large(self.limit)
        self._data += data[start:end]

    def _part_end(self) -> None:
        if self._collecting:
            self.found = Upload(bytes(self._data), self._filename, self._declared_type)
            self._collecting = False


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file may be at most {limit:,} bytes ({limit / 1_048_576:g} MiB).",
        details={"max_bytes": limit},
    )


async def read_file_field(request: Request, *, name: str, limit: int) -> Upload:
    """The part `name` of a multipart body, at most `limit` bytes (413 past it, 415 for another
    body type, 400 for a malformed body, 422 when the field is missing)."""
    media_type, params = parse_options_header(request.headers.get("content-type"))
    if media_type != b"multipart/form-data":
        raise UnsupportedMediaType(
            f"Send the file as multipart/form-data, in a field named '{name}'.",
            details={"accepted": ["multipart/form-data"]},
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest("The multipart Content-Type has no boundary.")
    ceiling = limit + ENVELOPE_BYTES
    declared_length = request.headers.get("content-length", "")
    if declared_length.isdigit() and int(declared_length) > ceiling:
        raise too_large(limit)  # refused before reading a byte; the count below still applies
    reader = _FieldReader(name, limit)
    parser = MultipartParser(boundary, reader.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > ceiling:
                raise too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequest("The multipart body is malformed.") from exc
    if reader.found is None:
        raise ValidationFailed(
            f"The multipart body has no complete '{name}' field.",
            details=[
                {"field": name, "location": "body", "message": "Field required", "type": "missing"}
            ],
        )
    return reader.found
