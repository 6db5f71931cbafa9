"""A plain Starlette route in front of a hot FastAPI `GET` list, parsing its query string itself.

FastAPI solves a list route's query parameters one dependency at a time (pagination with its
aliases, then the filters): on a cached page that solving costs as much as the rest of the
answer (measured on `/albums`: ~0.6 ms of ~1.2 ms). A `FastQueryRoute` sits in front of the
documented route, reads the query string in one pass against a declared table of parameters,
and hands the values to the same functions the FastAPI dependencies call.

It only answers what it fully understands: a `GET` whose every parameter is declared, given
once (unless declared `many`) and converting cleanly, with every `required` one present.
Anything else — a typo, a repeated scalar, a value out of range, another method — does not
match, and the request reaches the documented route, whose validation answers it exactly as
before. So the fast route can never change an answer, only make it cheaper. The documented
route stays the one in the OpenAPI document (`include_in_schema=False` here).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

SCOPE_KEY = "cinesonic.fast_query"

Converter = Callable[[str], Any]


@dataclass(frozen=True)
class Param:
    """One query parameter: the keyword it is passed as, how its text converts (raising
    `ValueError` for text the documented route would refuse or read differently), and whether
    it may repeat (then the keyword receives the list of values)."""

    argument: str
    convert: Converter
    many: bool = False
    required: bool = False


_INTEGER = re.compile(r"-?[0-9]{1,10}")
_HEX = "[0-9a-fA-F]"
_UUID = re.compile(f"{_HEX}{{32}}|{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}")


def integer(low: int | None = None, high: int | None = None) -> Converter:
    """Plain decimal digits within [low, high]."""

    def convert(text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise ValueError(text)
        value = int(text)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(text)
        return value

    return convert


def string(min_length: int = 0, max_length: int | None = None) -> Converter:
    def convert(text: str) -> str:
        if len(text) < min_length or (max_length is not None and len(text) > max_length):
            raise ValueError(text)
        return text

    return convert


def identifier(text: str) -> uuid.UUID:
    """A UUID as 32 hex digits, plain or in the usual 8-4-4-4-12 groups."""
    if not _UUID.fullmatch(text):
        raise ValueError(text)
    return uuid.UUID(text)


def choice(*values: str) -> Converter:
    def convert(text: str) -> str:
        if text not in values:
            raise ValueError(text)
        return text

    return convert


def parse(query_string: bytes, params: Mapping[str, Param]) -> dict[str, Any] | None:
    """The keyword arguments for `query_string`, or None when it is not fully understood.
    Decoded as Starlette decodes `request.query_params`."""
    values: dict[str, Any] = {}
    seen: set[str] = set()
    for name, text in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        param = params.get(name)
        if param is None:
            return None
        try:
            value = param.convert(text)
        except ValueError:
            return None
        if param.many:
            values.setdefault(param.argument, []).append(value)
        elif name in seen or param.argument in values:
            return None  # a repeated scalar, or two aliases of one: let the documented route say
        else:
            values[param.argument] = value
        seen.add(name)
    if any(param.required and name not in seen for name, param in params.items()):
        return None
    return values


Endpoint = Callable[[Request, dict[str, Any]], Awaitable[Response]]


class FastQueryRoute(Route):
    """`GET path` answered by `endpoint(request, arguments)` when `parse` understands the
    query string; otherwise no match (see the module docstring)."""

    def __init__(self, path: str, params: Mapping[str, Param], endpoint: Endpoint) -> None:
        self.params = dict(params)
        self.fast_endpoint = endpoint
        super().__init__(path, self._handle, methods=["GET"], include_in_schema=False)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "GET":
            return Match.NONE, {}
        match, child_scope = super().matches(scope)
        if match is not Match.FULL:
            return Match.NONE, {}
        arguments = parse(scope.get("query_string", b""), self.params)
        if arguments is None:
            return Match.NONE, {}
        return match, {**child_scope, SCOPE_KEY: arguments}

    async def _handle(self, request: Request) -> Response:
        arguments: dict[str, Any] = request.scope[SCOPE_KEY]
        return await self.fast_endpoint(request, arguments)
