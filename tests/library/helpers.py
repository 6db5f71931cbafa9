"""Helpers of the library tests: libraries on disk, scans run in the test's event loop, and
reading back what a scan wrote."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from cinesonic.library import service as library_service
from cinesonic.library.scanner import Scanner
from cinesonic.models.job import Job, JobStatus
from cinesonic.models.library import Library, LibraryScan, LibraryScanError
from cinesonic.models.music import Album, Artist, Song, SongArtist
from cinesonic.state import AppState
from tests.fixtures.audio import FORMATS, TagValue, write_audio
from tests.fixtures.music import create_library


async def music_library(
    state: AppState, name: str = "Music", *, restricted: bool = False
) -> tuple[Library, Path]:
    root = state.settings.data_dir.parent / "media" / name
    library = await create_library(state, name, root=root, is_restricted=restricted)
    return library, root.resolve()


def track(
    root: Path,
    relative: str,
    fmt: str = "mp3",
    *,
    seconds: float = 0.5,
    frequency: float = 440.0,
    **tags: TagValue,
) -> Path:
    """Write a real audio file at `root/relative` (the extension follows the format)."""
    path = root / relative
    path = path.with_suffix("." + FORMATS[fmt][2])
    return write_audio(path, fmt, seconds=seconds, tags=tags or None, frequency=frequency)


async def scan(
    state: AppState, library_id: uuid.UUID, *, full: bool = False, **options: Any
) -> dict[str, Any]:
    """Enqueue a scan as the API does, run it here (no worker), and close its job."""
    async with state.db.session() as session:
        library = await library_service.get_library(session, library_id)
        started = await library_service.enqueue_scan(session, library, full=full, owner_id=None)
    scanner = Scanner(
        state.db, state.bus, state.settings, started.scan_id, job_id=started.job_id, **options
    )
    try:
        return await scanner.run()
    finally:
        await finish_job(state, started.job_id)


async def finish_job(state: AppState, job_id: uuid.UUID) -> None:
    async with state.db.session() as session:
        await session.execute(
            update(Job).where(Job.id == job_id).values(status=JobStatus.succeeded)
        )


async def songs(state: AppState, *, removed: bool | None = False) -> list[Song]:
    async with state.db.sessionmaker() as session:
        statement = select(Song).order_by(Song.path)
        if removed is not None:
            statement = statement.where(
                Song.removed_at.is_not(None) if removed else Song.removed_at.is_(None)
            )
        return list(await session.scalars(statement))


async def song_at(state: AppState, path: Path) -> Song:
    async with state.db.sessionmaker() as session:
        song = await session.scalar(select(Song).where(Song.path == str(path)))
        assert song is not None, f"no song at {path}"
        return song


async def song_artists(state: AppState, song_id: uuid.UUID) -> list[str]:
    async with state.db.sessionmaker() as session:
        rows = await session.scalars(
            select(Artist.name)
            .join(SongArtist, SongArtist.artist_id == Artist.id)
            .where(SongArtist.song_id == song_id)
            .order_by(SongArtist.position)
        )
        return list(rows)


async def albums(state: AppState) -> list[tuple[Album, str]]:
    """Every album with its artist's name, by title."""
    async with state.db.sessionmaker() as session:
        rows = await session.execute(
            select(Album, Artist.name)
            .join(Artist, Artist.id == Album.artist_id)
            .order_by(Album.title, Artist.name)
        )
        return [(album, name) for album, name in rows]


async def last_scan(state: AppState, library_id: uuid.UUID) -> LibraryScan:
    async with state.db.sessionmaker() as session:
        scan_row = await session.scalar(
            select(LibraryScan)
            .where(LibraryScan.library_id == library_id)
            .order_by(LibraryScan.created_at.desc())
            .limit(1)
        )
        assert scan_row is not None
        return scan_row


async def scan_errors(state: AppState, scan_id: uuid.UUID) -> dict[str, str]:
    """Error code by file name."""
    async with state.db.sessionmaker() as session:
        rows = await session.scalars(
            select(LibraryScanError).where(LibraryScanError.scan_id == scan_id)
        )
        return {Path(row.path).name: row.code for row in rows}


def counters(result: dict[str, Any], *names: str) -> dict[str, int]:
    return {name: int(result[name]) for name in names}


__all__: Sequence[str] = (
    "albums",
    "counters",
    "last_scan",
    "music_library",
    "scan",
    "scan_errors",
    "selectinload",
    "song_artists",
    "song_at",
    "songs",
    "track",
)
