"""Helpers of the share tests: making links through the API and taking their token apart."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from tests.fixtures.users import SignedIn

SHARES = "/api/v1/shares"
PUBLIC = "/api/v1/s"


async def create_share(
    client: httpx.AsyncClient,
    owner: SignedIn,
    songs: Sequence[uuid.UUID | str] = (),
    **fields: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "For Sam", **fields}
    if songs:
        body["track_ids"] = [str(s) for s in songs]
    response = await client.post(SHARES, json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def token_of(share: dict[str, Any]) -> str:
    url: str = share["url"]
    return url.rsplit("/s/", 1)[1]


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code
