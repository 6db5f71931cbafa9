"""Helpers of the playlist tests: making playlists through the API and reading error codes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from tests.fixtures.users import SignedIn

PLAYLISTS = "/api/v1/playlists"


async def create_playlist(
    client: httpx.AsyncClient,
    owner: SignedIn,
    name: str = "Mix",
    songs: Sequence[uuid.UUID | str] = (),
    *,
    is_public: bool = False,
    description: str | None = None,
) -> dict[str, Any]:
    response = await client.post(
        PLAYLISTS,
        json={
            "name": name,
            "description": description,
            "is_public": is_public,
            "song_ids": [str(s) for s in songs],
        },
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def item_song_ids(detail: dict[str, Any]) -> list[str | None]:
    return [item["song_id"] for item in detail["items"]]
