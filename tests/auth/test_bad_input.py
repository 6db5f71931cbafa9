"""Malformed requests to the auth routes: oversized, non-UTF-8 and invalid JSON bodies, wrong
types and missing fields — each answered with the error envelope, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

LOGIN = "/api/v1/auth/login"
JSON = {"Content-Type": "application/json"}


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.mark.settings(max_json_body_bytes=1024)
async def test_body_declared_larger_than_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    body = b'{"identifier": "ada", "password": "' + b"x" * 2000 + b'"}'
    response = await client.post(LOGIN, content=body, headers=JSON)
    assert_error(response, 413, "payload_too_large")


@pytest.mark.settings(max_json_body_bytes=1024)
async def test_streamed_body_growing_past_the_limit_is_refused(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"identifier": "ada", "password": "'
        for _ in range(10):
            yield b"x" * 512
        yield b'"}'

    response = await client.post(LOGIN, content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "payload_too_large")


async def test_non_utf8_body_is_a_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        LOGIN, content=b'{"identifier": "\xff\xfe\xfa", "password": "x"}', headers=JSON
    )
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize("body", [b"{", b'{"identifier": "ada",}', b"not json", b"[1, 2"])
async def test_invalid_json_is_a_bad_request(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(LOGIN, content=body, headers=JSON)
    assert_error(response, 400, "bad_request")


async def test_json_of_the_wrong_shape_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGIN, json=["ada", "secret"])
    assert_error(response, 422, "validation_error")


async def test_fields_of_the_wrong_type_are_each_listed(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGIN, json={"identifier": 42, "password": ["x"]})
    assert_error(response, 422, "validation_error")
    details = response.json()["error"]["details"]
    assert {d["field"] for d in details} == {"identifier", "password"}
    assert all(d["location"] == "body" and d["message"] for d in details)


async def test_empty_identifier_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGIN, json={"identifier": "", "password": "x"})
    assert_error(response, 422, "validation_error")
    assert response.json()["error"]["details"][0]["field"] == "identifier"


async def test_oversized_field_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGIN, json={"identifier": "ada", "password": "x" * 2000})
    assert_error(response, 422, "validation_error")
    assert response.json()["error"]["details"][0]["field"] == "password"
