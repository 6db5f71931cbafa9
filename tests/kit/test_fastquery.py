"""The fast query route understands a query fully or not at all (then FastAPI answers)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cinesonic.kit import fastquery
from cinesonic.kit.fastquery import Param

PARAMS = {
    "page": Param("page", fastquery.integer(1, 100)),
    "pageSize": Param("page_size", fastquery.integer()),
    "page_size": Param("page_size", fastquery.integer()),
    "id": Param("id", fastquery.identifier),
    "tag": Param("tags", fastquery.string(1, 5), many=True),
    "order": Param("order", fastquery.choice("asc", "desc")),
    "q": Param("q", fastquery.string(1, 10), required=True),
}
ID = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"q=x", {"q": "x"}),
        (b"q=caf%C3%A9&page=2", {"q": "café", "page": 2}),
        (b"q=a+b&tag=x&tag=y", {"q": "a b", "tags": ["x", "y"]}),
        (b"q=x&order=desc&pageSize=5", {"q": "x", "order": "desc", "page_size": 5}),
        (f"q=x&id={ID}".encode(), {"q": "x", "id": ID}),
        (f"q=x&id={ID.hex}".encode(), {"q": "x", "id": ID}),
    ],
)
def test_understood_queries_become_arguments(query: bytes, expected: dict[str, object]) -> None:
    assert fastquery.parse(query, PARAMS) == expected


@pytest.mark.parametrize(
    "query",
    [
        b"",  # the required q is missing
        b"q=x&other=1",  # undeclared
        b"q=x&q=y",  # a repeated scalar
        b"q=x&page=0",  # out of range
        b"q=x&page=1.5",
        b"q=x&page=",
        b"q=x&page=+1",
        b"q=x&pageSize=5&page_size=5",  # two aliases of one argument
        b"q=x&order=up",
        b"q=",  # too short
        b"q=x&tag=toolong",
        b"q=x&id=0123-4567",
        b"q=x&id={01234567-89ab-cdef-0123-456789abcdef}",
        b"q=x&id=0123456789ab-cdef0123-456789abcdef",
    ],
)
def test_anything_else_is_not_understood(query: bytes) -> None:
    assert fastquery.parse(query, PARAMS) is None


async def test_the_route_answers_what_it_understands_and_leaves_the_rest() -> None:
    async def fast(request: Request, arguments: dict[str, object]) -> Response:
        return JSONResponse({"by": "fast", "q": arguments["q"]})

    async def documented(request: Request) -> Response:
        return JSONResponse({"by": "documented"}, headers={"x-by": "documented"})

    app = Starlette(
        routes=[
            fastquery.FastQueryRoute("/things", PARAMS, fast),
            Route("/things", documented, methods=["GET", "POST"]),
        ]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/things?q=hi")).json() == {"by": "fast", "q": "hi"}
        assert (await client.get("/things?q=hi&x=1")).json() == {"by": "documented"}
        assert (await client.get("/things")).json() == {"by": "documented"}
        assert (await client.post("/things?q=hi")).json() == {"by": "documented"}
        head = await client.head("/things?q=hi")
        assert head.headers["x-by"] == "documented"  # HEAD is the documented route's business
