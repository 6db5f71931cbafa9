"""Data safety with real processes: the pipeline killed with SIGKILL in the middle of processing
and of promoting a few hundred files, then recovered and resumed — every original file exists
exactly once (inbound, staging, library or quarantine), byte-identical, and the database agrees
with the disk. Plus the recovery rules for moves of requests and of running jobs."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import mutagen
from sqlalchemy import func, select

from cinesonic.importer.moves import recover_moves
from cinesonic.importer.pipeline import Folders, Pipeline
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.importer import (
    FileMove,
    FileMoveState,
    ImportItem,
    ImportStatus,
    LibraryImportRule,
    QuarantineItem,
)
from cinesonic.models.job import Job, JobStatus
from cinesonic.models.music import Song
from cinesonic.state import AppState
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import Worker
from tests.fixtures.audio import write_audio
from tests.fixtures.music import create_library
from tests.importer.helpers import read

FILES = 200

RUNNER = """
import asyncio, sys, uuid
from pathlib import Path
from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.events.bus import create_bus
from cinesonic.importer.pipeline import Pipeline

async def main() -> None:
    settings = Settings(data_dir=Path(sys.argv[1]), database_url=sys.argv[2],
                        secret_key="x" * 40, log_level="error")
    db = Database(settings)
    bus = create_bus(None, "crash-test")
    pipeline = Pipeline(db, bus, settings, job_id=uuid.UUID(sys.argv[4]))
    if sys.argv[3] == "process":
        await pipeline.process(force=False, paths=None)
    else:
        await pipeline.promote(None)

asyncio.run(main())
"""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def inbound_files(inbound: Path) -> dict[str, bytes]:
    """`FILES` distinct tagged MP3s (one encoded, the rest copies retagged), by SHA-256."""
    model = write_audio(inbound / "model.mp3", "mp3", seconds=1.2)
    originals: dict[str, bytes] = {}
    for index in range(FILES):
        album = f"Album {index // 12:02d}"
        path = inbound / f"Band {index % 3}" / album / f"{index % 12 + 1:02d} song.mp3"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model, path)
        tags = mutagen.File(path, easy=True)
        if tags.tags is None:
            tags.add_tags()
        tags.update(
            {
                "title": f"Song {index}",
                "artist": f"Band {index % 3}",
                "albumartist": f"Band {index % 3}",
                "album": album,
                "tracknumber": str(index % 12 + 1),
                "date": "2001",
            }
        )
        tags.save()
        originals[digest(path)] = path.read_bytes()
    model.unlink()
    return originals


async def dead_job(state: AppState) -> uuid.UUID:
    """A job row as a killed worker leaves it: running, its lease run out."""
    async with state.db.session() as session:
        job = Job(
            queue="import",
            type="import.process",
            payload={},
            status=JobStatus.running,
            run_at=utcnow(),
            max_attempts=3,
            progress={},
            lease_owner="killed",
            lease_expires_at=utcnow() - timedelta(seconds=1),
        )
        session.add(job)
        await session.flush()
        return job.id


async def run_and_kill(state: AppState, stage: str, enough: object) -> None:
    job_id = await dead_job(state)
    process = subprocess.Popen(  # noqa: ASYNC220  (killed below; nothing awaits it)
        [
            sys.executable,
            "-c",
            RUNNER,
            str(state.settings.data_dir),
            state.db.url,
            stage,
            str(job_id),
        ]
    )
    try:
        deadline = asyncio.get_running_loop().time() + 120
        while not await enough():  # type: ignore[operator]
            assert process.poll() is None, "the pipeline ended before it was killed"
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL


async def count(state: AppState, model: type, *conditions: object) -> int:
    async with state.db.sessionmaker() as session:
        return int(
            await session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0
        )


async def assert_disk_agrees(
    state: AppState, places: Folders, originals: dict[str, bytes], library_root: Path | None
) -> None:
    roots = [places.inbound, places.staging, places.quarantine]
    if library_root is not None:
        roots.append(library_root)
    found: dict[str, int] = {}
    on_disk: set[str] = set()
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                found[digest(path)] = found.get(digest(path), 0) + 1
                on_disk.add(str(path))
    assert found == {key: 1 for key in originals}  # each exactly once, byte-identical
    async with state.db.sessionmaker() as session:
        items = list(await session.scalars(select(ImportItem)))
        parked = list(await session.scalars(select(QuarantineItem)))
        songs = list(await session.scalars(select(Song.path).where(Song.removed_at.is_(None))))
        open_moves = await session.scalar(
            select(func.count())
            .select_from(FileMove)
            .where(FileMove.state.in_((FileMoveState.planned, FileMoveState.copied)))
        )
    assert open_moves == 0
    recorded = {item.current_path for item in items} | {entry.file_path for entry in parked}
    in_pipeline = {p for p in on_disk if not p.startswith(str(places.inbound))}
    assert recorded == in_pipeline  # every staged, quarantined or promoted file has its row
    for item in items:
        assert digest(Path(item.current_path)) == item.sha256
    if library_root is not None:
        library_files = {p for p in on_disk if p.startswith(str(library_root))}
        assert set(songs) == library_files  # the library's songs are exactly its files


async def test_processing_killed_half_way_then_resumed_loses_and_duplicates_nothing(
    state: AppState, places: Folders
) -> None:
    originals = await asyncio.to_thread(inbound_files, places.inbound)

    async def enough() -> bool:
        return await count(state, ImportItem) >= 30

    await run_and_kill(state, "process", enough)
    assert await count(state, ImportItem) < FILES

    await recover_moves(state.db)
    await assert_disk_agrees(state, places, originals, None)
    result = await Pipeline(state.db, state.bus, state.settings).process(force=False, paths=None)

    assert result["staged"] + result["quarantined"] < FILES  # the first run's work was kept
    assert await count(state, ImportItem) == FILES
    assert list(places.inbound.rglob("*.mp3")) == []
    await assert_disk_agrees(state, places, originals, None)


async def test_promotion_killed_half_way_then_resumed_loses_and_duplicates_nothing(
    state: AppState, places: Folders, tmp_path: Path
) -> None:
    originals = await asyncio.to_thread(inbound_files, places.inbound)
    library = await create_library(state, "Main", root=tmp_path / "library")
    async with state.db.session() as session:
        session.add(LibraryImportRule(library_id=library.id))
    await Pipeline(state.db, state.bus, state.settings).process(force=False, paths=None)
    root = (tmp_path / "library").resolve()

    async def enough() -> bool:
        return await count(state, ImportItem, ImportItem.status == ImportStatus.promoted) >= 48

    await run_and_kill(state, "promote", enough)
    assert await count(state, ImportItem, ImportItem.status == ImportStatus.promoted) < FILES

    await recover_moves(state.db)
    await assert_disk_agrees(state, places, originals, root)
    await Pipeline(state.db, state.bus, state.settings).promote(None)

    assert await count(state, ImportItem, ImportItem.status == ImportStatus.promoted) == FILES
    assert await count(state, Song) == FILES
    await assert_disk_agrees(state, places, originals, root)


# ---------------------------------------------------------------- recovery rules


async def planned_move(
    state: AppState, source: Path, destination: Path, job_id: uuid.UUID | None, age: timedelta
) -> uuid.UUID:
    async with state.db.session() as session:
        move = FileMove(
            source=str(source),
            destination=str(destination),
            sha256=digest(destination),
            size=len(read(destination)),
            state=FileMoveState.planned,
            job_id=job_id,
            created_at=utcnow() - age,
        )
        session.add(move)
        await session.flush()
        return move.id


async def test_recovery_moves_files_back_but_leaves_live_jobs_and_fresh_requests_alone(
    state: AppState, tmp_path: Path
) -> None:
    def moved(name: str) -> tuple[Path, Path]:
        destination = tmp_path / "staging" / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(os.urandom(64))
        return tmp_path / "inbound" / name, destination

    async with state.db.session() as session:
        live = Job(
            queue="import",
            type="import.promote",
            payload={},
            status=JobStatus.running,
            run_at=utcnow(),
            max_attempts=3,
            progress={},
            lease_owner="elsewhere",
            lease_expires_at=utcnow() + timedelta(minutes=5),
        )
        session.add(live)
        await session.flush()
        live_id = live.id
    old_request = moved("old-request")
    fresh_request = moved("fresh-request")
    running = moved("running-job")
    mine = moved("my-earlier-attempt")
    old_id = await planned_move(state, *old_request, None, timedelta(hours=1))
    fresh_id = await planned_move(state, *fresh_request, None, timedelta(seconds=1))
    running_id = await planned_move(state, *running, live_id, timedelta(hours=1))
    mine_id = await planned_move(state, *mine, live_id, timedelta(hours=1))

    counts = await recover_moves(state.db, job_id=None)
    assert counts == {"rolled_back": 1, "unresolved": 0}
    counts = await recover_moves(state.db, job_id=live_id)
    assert counts == {"rolled_back": 2, "unresolved": 0}

    assert old_request[0].exists() and not old_request[1].exists()
    assert mine[0].exists() and not mine[1].exists()
    assert fresh_request[1].exists() and not fresh_request[0].exists()
    async with state.db.sessionmaker() as session:
        states = {
            move_id: state_
            for move_id, state_ in await session.execute(select(FileMove.id, FileMove.state))
        }
    assert states[old_id] == states[mine_id] == states[running_id] == FileMoveState.rolled_back
    assert states[fresh_id] == FileMoveState.planned


async def test_a_starting_worker_puts_back_what_a_dead_job_left_half_moved(
    state: AppState, tmp_path: Path
) -> None:
    """Recovery also runs as a worker starts (a registry start hook), not only before the next
    pipeline job: a crash is repaired at the restart even if no import runs again."""
    import cinesonic.importer.tasks  # noqa: F401  (declares the start hook)

    async with state.db.session() as session:
        dead = Job(
            queue="import",
            type="import.process",
            payload={},
            status=JobStatus.dead,
            run_at=utcnow(),
            max_attempts=3,
            progress={},
        )
        session.add(dead)
        await session.flush()
        dead_id = dead.id
    destination = tmp_path / "staging" / "half.mp3"
    destination.parent.mkdir(parents=True)
    destination.write_bytes(os.urandom(128))
    source = tmp_path / "inbound" / "half.mp3"
    move_id = await planned_move(state, source, destination, dead_id, timedelta(minutes=1))

    worker = Worker(state.db, state.bus, registry, state.settings, poll_interval=0.05)
    await worker.start()
    try:
        assert source.exists() and not destination.exists()
        async with state.db.sessionmaker() as session:
            moved = await session.scalar(select(FileMove.state).where(FileMove.id == move_id))
        assert moved == FileMoveState.rolled_back
    finally:
        await worker.stop(grace_seconds=1)
