"""Helpers of the import tests: tagged audio in inbound, jobs run to their end, rows read back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from cinesonic.models.importer import FileMove, ImportAlbum, ImportItem, QuarantineItem
from cinesonic.state import AppState
from tests.fixtures.audio import FORMATS, write_audio
from tests.fixtures.users import SignedIn

API = "/api/v1"


def tagged(
    root: Path,
    relative: str,
    fmt: str = "mp3",
    *,
    seconds: float = 1.5,
    frequency: float = 440.0,
    **tags: str,
) -> Path:
    """A real audio file at `root/relative` (extension from the format) with easy-named tags."""
    path = (root / relative).with_suffix("." + FORMATS[fmt][2])
    return write_audio(path, fmt, seconds=seconds, tags=tags or None, frequency=frequency)


def album_track(root: Path, number: int, fmt: str = "mp3", **overrides: str) -> Path:
    tags = {
        "title": f"Song {number}",
        "artist": "Nina Simone",
        "albumartist": "Nina Simone",
        "album": "Pastel Blues",
        "date": "1965",
        "tracknumber": str(number),
        "discnumber": "1",
        **overrides,
    }
    return tagged(
        root, f"rip/Pastel Blues/{number:02d} song", fmt, frequency=300.0 + number * 40, **tags
    )


async def wait_for_job(
    client: httpx.AsyncClient, who: SignedIn, job_id: str, within: float = 60.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await client.get(f"{API}/jobs/{job_id}", headers=who.headers)
        body: dict[str, Any] = response.json()
        if body["status"] in ("succeeded", "dead", "cancelled"):
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.05)


async def run_process(client: httpx.AsyncClient, who: SignedIn, **body: Any) -> dict[str, Any]:
    response = await client.post(f"{API}/libraries/process", json=body, headers=who.headers)
    assert response.status_code == 202, response.text
    job = await wait_for_job(client, who, response.json()["job_id"])
    assert job["status"] == "succeeded", job
    result: dict[str, Any] = job["result"]
    return result


async def run_promote(client: httpx.AsyncClient, who: SignedIn, **body: Any) -> dict[str, Any]:
    response = await client.post(f"{API}/libraries/move-ok", json=body, headers=who.headers)
    assert response.status_code == 202, response.text
    job = await wait_for_job(client, who, response.json()["job_id"])
    assert job["status"] == "succeeded", job
    result: dict[str, Any] = job["result"]
    return result


async def staging(client: httpx.AsyncClient, who: SignedIn, **query: Any) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/libraries/staging", params=query, headers=who.headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def quarantine(client: httpx.AsyncClient, who: SignedIn, **query: Any) -> dict[str, Any]:
    response = await client.get(f"{API}/libraries/quarantine", params=query, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def set_rule(
    client: httpx.AsyncClient, who: SignedIn, library_id: Any, **body: Any
) -> dict[str, Any]:
    response = await client.put(
        f"{API}/libraries/{library_id}/import-rule", json=body, headers=who.headers
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def rows(state: AppState) -> dict[str, list[Any]]:
    async with state.db.sessionmaker() as session:
        return {
            "albums": list(await session.scalars(select(ImportAlbum))),
            "items": list(await session.scalars(select(ImportItem))),
            "quarantine": list(await session.scalars(select(QuarantineItem))),
            "moves": list(await session.scalars(select(FileMove))),
        }


def exists(path: object) -> bool:
    return Path(str(path)).exists()


def read(path: object) -> bytes:
    return Path(str(path)).read_bytes()


def files_under(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*") if p.is_file())


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code
