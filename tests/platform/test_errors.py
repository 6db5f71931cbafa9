"""Every refusal answers the one envelope,
`{"error": {"code", "message", "details"}, "request_id"}`, and every response carries
`X-Request-ID`."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cinesonic.config import Settings
from tests.platform.probe import PREFIX

ECHO = f"{PREFIX}/echo"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "request_id"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def chunks(payload: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


async def test_given_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "trace-42.a:b_c"})
    assert response.headers["x-request-id"] == "trace-42.a:b_c"


async def test_request_id_is_generated_when_none_is_given(client: httpx.AsyncClient) -> None:
    first = await client.get("/health")
    second = await client.get("/health")
    assert GENERATED_ID.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    "given",
    ["x" * 129, "has space", "semi;colon", 'quote"d', "<script>", "ünïcode", "tab\there"],
    ids=["too-long", "space", "semicolon", "quote", "angle", "non-ascii", "tab"],
)
async def test_invalid_request_id_is_replaced(client: httpx.AsyncClient, given: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": given.encode()})
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


async def test_request_id_with_a_trailing_newline_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers=[(b"X-Request-ID", b"abc\n")])
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


async def test_request_id_of_an_error_is_in_body_and_header(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nowhere", headers={"X-Request-ID": "req-123"})
    body = envelope(response, 404, "not_found")
    assert body["request_id"] == "req-123"


async def test_unknown_route_is_not_found(client: httpx.AsyncClient) -> None:
    envelope(await client.get("/api/v1/does-not-exist"), 404, "not_found")


async def test_wrong_method_is_method_not_allowed_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/auth/login")
    envelope(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


async def test_invalid_json_is_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        ECHO, content=b'{"name": "a", "count": ', headers={"content-type": "application/json"}
    )
    envelope(response, 400, "bad_request")


async def test_body_that_is_not_utf8_is_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        ECHO,
        content=b'{"name": "\xff\xfe\xfa", "count": 1}',
        headers={"content-type": "application/json"},
    )
    envelope(response, 400, "bad_request")


async def test_body_over_the_limit_with_content_length_is_payload_too_large(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    payload = json.dumps({"name": "x" * settings.max_json_body_bytes, "count": 1}).encode()
    response = await client.post(
        ECHO, content=payload, headers={"content-type": "application/json"}
    )
    envelope(response, 413, "payload_too_large")


async def test_chunked_body_over_the_limit_is_payload_too_large(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    payload = json.dumps({"name": "x" * settings.max_json_body_bytes, "count": 1}).encode()
    request = client.build_request(
        "POST", ECHO, content=chunks(payload), headers={"content-type": "application/json"}
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    envelope(await client.send(request), 413, "payload_too_large")


async def test_chunked_body_within_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    payload = json.dumps({"name": "y" * 20_000, "count": 3}).encode()
    response = await client.post(
        ECHO, content=chunks(payload), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "y" * 20_000, "count": 3}


async def test_body_exactly_at_the_limit_is_accepted(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    skeleton = len(json.dumps({"name": "", "count": 1}).encode())
    payload = json.dumps({"name": "z" * (settings.max_json_body_bytes - skeleton), "count": 1})
    assert len(payload.encode()) == settings.max_json_body_bytes
    response = await client.post(
        ECHO, content=payload.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


async def test_missing_and_invalid_fields_get_one_detail_each(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(ECHO, json={"name": "", "count": "many"})
    body = envelope(response, 422, "validation_error")
    details = {detail["field"]: detail for detail in body["error"]["details"]}
    assert set(details) == {"name", "count"}
    assert all(detail["location"] == "body" for detail in details.values())
    assert all(detail["message"] for detail in details.values())


async def test_missing_field_is_named(client: httpx.AsyncClient) -> None:
    body = envelope(await client.post(ECHO, json={"name": "a"}), 422, "validation_error")
    assert body["error"]["details"] == [
        {"field": "count", "location": "body", "message": "Field required", "type": "missing"}
    ]


async def test_missing_body_is_a_validation_error(client: httpx.AsyncClient) -> None:
    body = envelope(await client.post(ECHO), 422, "validation_error")
    assert [detail["field"] for detail in body["error"]["details"]] == ["body"]


async def test_error_details_holding_ids_and_times_are_rendered_as_json(
    client: httpx.AsyncClient,
) -> None:
    body = envelope(await client.get(f"{PREFIX}/conflict"), 409, "conflict")
    assert body["error"]["message"] == "Already there."
    assert body["error"]["details"] == {
        "existing_id": "00000000-0000-0000-0000-000000000007",
        "since": "2024-01-02T00:00:00Z",
    }


async def test_unexpected_exception_is_internal_error_without_its_text(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"{PREFIX}/boom", headers={"X-Request-ID": "boom-1"})
    body = envelope(response, 500, "internal_error")
    assert body["request_id"] == "boom-1"
    assert body["error"]["details"] is None
    assert "secret-internal-detail" not in response.text
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text


async def test_app_keeps_serving_after_an_unexpected_exception(
    client: httpx.AsyncClient,
) -> None:
    await client.get(f"{PREFIX}/boom")
    assert (await client.get("/health")).status_code == 200


async def test_responses_carry_the_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/does-not-exist")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
