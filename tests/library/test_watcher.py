"""Scan-on-start and the folder watcher: real inotify events on real folders."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update

from cinesonic.app import create_app
from cinesonic.config import Settings
from cinesonic.library import service as library_service
from cinesonic.library.watcher import LibraryEngines
from cinesonic.models.job import ACTIVE_STATUSES, Job, JobStatus
from cinesonic.models.library import Library, LibraryKind
from cinesonic.state import AppState
from tests.fixtures.music import create_library
from tests.library.helpers import songs, track


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"scan_processes": 0, "scan_watch_quiet_seconds": 0.3}


@pytest.fixture
async def engines(state: AppState) -> AsyncIterator[LibraryEngines]:
    running = LibraryEngines(state.db, state.bus, state.settings)
    yield running
    await running.stop()


async def scan_jobs(state: AppState, library_id: uuid.UUID) -> list[Job]:
    async with state.db.sessionmaker() as session:
        rows = await session.scalars(
            select(Job)
            .where(Job.unique_key == f"library.scan:{library_id}")
            .order_by(Job.created_at)
        )
        return list(rows)


async def wait_for_jobs(
    state: AppState, library_id: uuid.UUID, count: int, within: float = 15.0
) -> list[Job]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        jobs = await scan_jobs(state, library_id)
        if len(jobs) >= count:
            return jobs
        assert asyncio.get_running_loop().time() < deadline, (
            f"{len(jobs)} scan jobs, wanted {count}"
        )
        await asyncio.sleep(0.05)


async def set_flags(state: AppState, library_id: uuid.UUID, **flags: bool) -> None:
    async with state.db.session() as session:
        await session.execute(update(Library).where(Library.id == library_id).values(**flags))


async def test_scan_on_start_enqueues_the_libraries_that_ask(
    state: AppState, engines: LibraryEngines
) -> None:
    wanted = await create_library(state, "Wanted")
    await set_flags(state, wanted.id, scan_on_start=True)
    off = await create_library(state, "Off")
    await set_flags(state, off.id, scan_on_start=True, is_enabled=False)
    films = await create_library(state, "Films", kind=LibraryKind.movies)
    await set_flags(state, films.id, scan_on_start=True)
    await create_library(state, "Quiet")
    assert sorted(await engines.scan_on_start()) == sorted([wanted.id, films.id])
    assert len(await scan_jobs(state, wanted.id)) == 1
    assert await scan_jobs(state, off.id) == []
    # Starting again (another replica) does not queue a second scan.
    await engines.scan_on_start()
    assert len(await scan_jobs(state, wanted.id)) == 1


async def test_a_change_in_a_watched_folder_enqueues_a_scan_after_quiet(
    state: AppState, engines: LibraryEngines
) -> None:
    library = await create_library(state, "Watched")
    await set_flags(state, library.id, watch_for_changes=True)
    await engines.start()
    assert engines.watching
    await asyncio.wait_for(engines.ready.wait(), 10)
    root = state.settings.data_dir / "media" / "Watched"
    track(root, "New/Album/01", "mp3", title="Fresh")
    (job,) = await wait_for_jobs(state, library.id, 1)
    assert job.payload["full"] is False


async def test_changing_a_library_restarts_the_watch(
    state: AppState, engines: LibraryEngines
) -> None:
    library = await create_library(state, "Later")
    await engines.start()
    assert not engines.watching
    await set_flags(state, library.id, watch_for_changes=True)
    await state.bus.publish(
        library_service.LIBRARY_CHANNEL, {"event": "library.updated", "library_id": str(library.id)}
    )
    deadline = asyncio.get_running_loop().time() + 10
    while not engines.watching:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    await asyncio.wait_for(engines.ready.wait(), 10)
    track(state.settings.data_dir / "media" / "Later", "x/01", "flac")
    await wait_for_jobs(state, library.id, 1)


async def test_a_change_during_a_running_scan_is_scanned_after_it(
    state: AppState, engines: LibraryEngines
) -> None:
    library = await create_library(state, "Busy")
    await set_flags(state, library.id, watch_for_changes=True)
    async with state.db.session() as session:
        started = await library_service.enqueue_scan(
            session,
            await library_service.get_library(session, library.id),
            full=False,
            owner_id=None,
        )
        await session.execute(
            update(Job).where(Job.id == started.job_id).values(status=JobStatus.running)
        )
    await engines.start()
    await asyncio.wait_for(engines.ready.wait(), 10)
    track(state.settings.data_dir / "media" / "Busy", "x/01", "ogg")
    deadline = asyncio.get_running_loop().time() + 10
    while library.id not in engines.pending:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    assert len(await scan_jobs(state, library.id)) == 1
    async with state.db.session() as session:
        await session.execute(
            update(Job).where(Job.id == started.job_id).values(status=JobStatus.succeeded)
        )
    jobs = await wait_for_jobs(state, library.id, 2)
    assert jobs[-1].status in ACTIVE_STATUSES
    assert library.id not in engines.pending


async def test_a_server_with_a_worker_scans_on_start(state: AppState, settings: Settings) -> None:
    library = await create_library(state, "Boot")
    await set_flags(state, library.id, scan_on_start=True)
    track(state.settings.data_dir / "media" / "Boot", "A/B/01", "mp3", title="At boot")
    server = create_app(settings.model_copy(update={"worker_enabled": True}))
    async with LifespanManager(server):
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            jobs = await scan_jobs(state, library.id)
            if jobs and jobs[0].status == JobStatus.succeeded:
                break
            assert asyncio.get_running_loop().time() < deadline, jobs
            await asyncio.sleep(0.1)
    assert [song.title for song in await songs(state)] == ["At boot"]
