"""`POST /search/reindex`: a job that rebuilds the index; one at a time; library managers only."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from cinesonic.models.search import SearchDocument
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn
from tests.music.browse_catalogue import build_catalogue, create_viewers, get_ok

REINDEX = "/api/v1/search/reindex"


async def wait_for_job(client: httpx.AsyncClient, owner: SignedIn, job_id: str) -> dict[str, Any]:
    for _ in range(300):
        job = await get_ok(client, owner, f"/jobs/{job_id}")
        if job["status"] in ("succeeded", "failed", "dead", "cancelled"):
            return dict(job)
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


@pytest.mark.parametrize("settings_overrides", [{"worker_enabled": True}])
async def test_reindex_job_rebuilds_the_index(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    async with state.db.session() as session:
        await session.execute(delete(SearchDocument))
    empty = await get_ok(client, viewers.admin, "/search", q="beyonce")
    assert empty["data"] == []
    response = await client.post(REINDEX, headers=viewers.admin.headers)
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["is_new"] is True and started["status"] == "queued"
    assert response.headers["Location"] == f"/api/v1/jobs/{started['job_id']}"
    job = await wait_for_job(client, viewers.admin, started["job_id"])
    assert job["status"] == "succeeded", job
    assert job["result"] == {"documents": {"album": 7, "artist": 8, "song": 11}}
    found = await get_ok(client, viewers.admin, "/search", q="beyonce")
    assert found["data"][0]["name"] == "Beyoncé"
    audit = await get_ok(client, viewers.admin, "/admin/activity", action="search.reindex")
    assert audit["pagination"]["total"] == 1


async def test_a_queued_rebuild_is_answered_not_repeated(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    first = await client.post(REINDEX, headers=viewers.admin.headers)
    second = await client.post(REINDEX, headers=viewers.admin.headers)
    assert first.status_code == second.status_code == 202
    assert second.json()["job_id"] == first.json()["job_id"]
    assert second.json()["is_new"] is False


async def test_reindex_refusals(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    assert (await client.post(REINDEX)).status_code == 401
    for viewer in (viewers.user, viewers.guest, viewers.outsider):
        response = await client.post(REINDEX, headers=viewer.headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
