"""Helpers of the video tests: libraries on disk, scans run in the test's event loop, rows."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from sqlalchemy import select, update

from cinesonic.library import service as library_service
from cinesonic.models.job import Job, JobStatus
from cinesonic.models.library import Library, LibraryKind, LibraryScanError
from cinesonic.models.video import Episode, MediaFile, Movie, Season, TvShow, VideoFile
from cinesonic.state import AppState
from cinesonic.video.scanner import VideoScanner
from tests.fixtures.music import create_library


async def video_library(
    state: AppState,
    name: str,
    kind: LibraryKind,
    *,
    restricted: bool = False,
    readers: tuple[str, ...] = (),
) -> tuple[Library, Path]:
    root = state.settings.data_dir.parent / "media" / name
    library = await create_library(
        state, name, root=root, kind=kind, is_restricted=restricted, readers=readers
    )
    return library, root.resolve()


async def scan(state: AppState, library_id: uuid.UUID, *, full: bool = False) -> dict[str, Any]:
    """Enqueue a scan as the API does, run it here (no worker), and close its job."""
    async with state.db.session() as session:
        library = await library_service.get_library(session, library_id)
        started = await library_service.enqueue_scan(session, library, full=full, owner_id=None)
    scanner = VideoScanner(state.db, state.bus, state.settings, started.scan_id)
    try:
        return await scanner.run()
    finally:
        async with state.db.session() as session:
            await session.execute(
                update(Job).where(Job.id == started.job_id).values(status=JobStatus.succeeded)
            )


def jpeg(color: tuple[int, int, int], size: tuple[int, int] = (40, 60)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


async def rows(state: AppState, model: Any, *order: Any) -> list[Any]:
    async with state.db.sessionmaker() as session:
        return list(await session.scalars(select(model).order_by(*order)))


async def file_at(state: AppState, path: Path) -> VideoFile:
    async with state.db.sessionmaker() as session:
        found = await session.scalar(select(VideoFile).where(VideoFile.path == str(path)))
        assert found is not None, f"no file at {path}"
        return found


async def links_of(state: AppState, file_id: uuid.UUID) -> list[MediaFile]:
    async with state.db.sessionmaker() as session:
        return list(
            await session.scalars(select(MediaFile).where(MediaFile.video_file_id == file_id))
        )


async def scan_errors(state: AppState, scan_id: str) -> dict[str, str]:
    async with state.db.sessionmaker() as session:
        found = await session.scalars(
            select(LibraryScanError).where(LibraryScanError.scan_id == uuid.UUID(scan_id))
        )
        return {Path(row.path).name: row.code for row in found}


__all__ = ["Episode", "Movie", "Season", "TvShow"]
