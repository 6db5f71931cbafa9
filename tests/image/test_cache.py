"""The in-memory answers to image requests: what they keep, for how long, and what the routes
do with them (thumbnails answered without the disk; removed images gone once their entry
expires; large files and ranges always read from the file)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import delete

from cinesonic.image.cache import ImageCache
from cinesonic.image.service import ImageFile
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.image import Image
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn
from tests.image.images import create_png, create_two_tone_png, upload


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(tmp_path: Path, body: bytes | None, name: str = "a") -> ImageFile:
    path = tmp_path / name
    path.write_bytes(body or b"x")
    return ImageFile(
        path=path,
        stat=os.stat(path),
        content_type="image/png",
        etag=name,
        last_modified=utcnow(),
        body=body,
    )


def test_small_answer_is_kept_per_image_and_size(tmp_path: Path) -> None:
    cache = ImageCache()
    image_id = uuid.uuid4()
    found = answer(tmp_path, b"thumbnail")
    cache.put(image_id, 64, found)
    assert cache.get(image_id, 64) is found
    assert cache.get(image_id, 128) is None
    assert cache.get(image_id, None) is None
    assert cache.size_bytes == len(b"thumbnail")


def test_answer_without_its_bytes_or_too_large_is_not_kept(tmp_path: Path) -> None:
    cache = ImageCache(max_body_bytes=4)
    cache.put(uuid.uuid4(), None, answer(tmp_path, None))
    cache.put(uuid.uuid4(), None, answer(tmp_path, b"12345"))
    assert len(cache) == 0
    assert cache.largest_body == 4


def test_entries_expire_after_their_lifetime(tmp_path: Path) -> None:
    clock = Clock()
    cache = ImageCache(ttl=10, clock=clock)
    image_id = uuid.uuid4()
    cache.put(image_id, None, answer(tmp_path, b"bytes"))
    clock.now += 9.9
    assert cache.get(image_id, None) is not None
    clock.now += 0.1
    assert cache.get(image_id, None) is None
    assert cache.size_bytes == 0


def test_least_recently_used_go_first_past_the_byte_budget(tmp_path: Path) -> None:
    cache = ImageCache(max_bytes=10, max_body_bytes=10)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cache.put(first, None, answer(tmp_path, b"aaaa", "1"))
    cache.put(second, None, answer(tmp_path, b"bbbb", "2"))
    assert cache.get(first, None) is not None  # now the most recently used
    cache.put(third, None, answer(tmp_path, b"cccc", "3"))
    assert cache.get(second, None) is None
    assert cache.get(first, None) is not None and cache.get(third, None) is not None
    assert cache.size_bytes == 8


def test_zero_lifetime_keeps_nothing(tmp_path: Path) -> None:
    cache = ImageCache(ttl=0)
    cache.put(uuid.uuid4(), None, answer(tmp_path, b"bytes"))
    assert len(cache) == 0 and cache.largest_body == -1


# ---------------------------------------------------------------- through the routes


async def uploaded(client: httpx.AsyncClient, who: SignedIn, data: bytes) -> dict[str, Any]:
    response = await upload(client, who, data)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def stored_files(root: Path, sha256: str) -> list[Path]:
    return [path for path in root.rglob(f"{sha256}.*") if path.is_file()]


async def test_repeated_thumbnail_is_answered_without_the_disk(
    app: FastAPI, client: httpx.AsyncClient, ada: SignedIn, store_root: Path
) -> None:
    image = await uploaded(client, ada, create_two_tone_png((600, 400)))
    url = f"/api/v1/images/{image['id']}"
    first = await client.get(url, params={"size": 128}, headers=ada.headers)
    for path in stored_files(store_root, image["etag"]):
        path.unlink()
    again = await client.get(url, params={"size": 128}, headers=ada.headers)
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"] == f'"{image["etag"]}-128"'
    assert again.headers["accept-ranges"] == "bytes"
    assert again.headers["content-length"] == str(len(first.content))
    not_modified = await client.get(
        url, params={"size": 128}, headers={**ada.headers, "If-None-Match": first.headers["etag"]}
    )
    assert not_modified.status_code == 304


async def test_removed_image_is_not_found_once_its_entry_expires(
    app: FastAPI, client: httpx.AsyncClient, ada: SignedIn, state: AppState, store_root: Path
) -> None:
    clock = Clock()
    app.state.image_cache = ImageCache(ttl=60, clock=clock)
    image = await uploaded(client, ada, create_png())
    url = f"/api/v1/images/{image['id']}"
    assert (await client.get(url, headers=ada.headers)).status_code == 200
    # What deleting an image would do: its row and its file go.
    async with state.db.session() as session:
        await session.execute(delete(Image).where(Image.id == uuid.UUID(image["id"])))
    for path in stored_files(store_root, image["etag"]):
        path.unlink()
    assert (await client.get(url, headers=ada.headers)).status_code == 200  # still kept
    clock.now += 60
    response = await client.get(url, headers=ada.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_file_too_large_to_keep_is_read_from_disk_each_time(
    app: FastAPI, client: httpx.AsyncClient, ada: SignedIn, store_root: Path
) -> None:
    app.state.image_cache = cache = ImageCache(max_body_bytes=16)
    image = await uploaded(client, ada, create_png((64, 48)))
    url = f"/api/v1/images/{image['id']}"
    first = await client.get(url, headers=ada.headers)
    assert first.status_code == 200 and len(cache) == 0
    for path in stored_files(store_root, image["etag"]):
        path.unlink()
    assert (await client.get(url, headers=ada.headers)).status_code == 404


async def test_range_of_a_kept_image_is_read_from_the_file(
    app: FastAPI, client: httpx.AsyncClient, ada: SignedIn, store_root: Path
) -> None:
    image = await uploaded(client, ada, create_png((64, 48)))
    url = f"/api/v1/images/{image['id']}"
    whole = await client.get(url, headers=ada.headers)
    ranged = await client.get(url, headers={**ada.headers, "Range": "bytes=2-5"})
    assert ranged.status_code == 206
    assert ranged.content == whole.content[2:6]
    for path in stored_files(store_root, image["etag"]):
        path.unlink()
    assert (await client.get(url, headers={**ada.headers, "Range": "bytes=2-5"})).status_code == 404
