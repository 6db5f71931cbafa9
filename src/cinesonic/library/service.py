"""Library rules: which libraries exist, who may read them, their roots, scans and totals.

Every domain that shows media filters by `readable_library_ids(session, principal)` — the one
place that decides visibility. `None` means "every library" (administrators and holders of
`library.manage`); otherwise the list of ids of enabled libraries that are unrestricted or that
the user was granted. A library a user may not read answers 404, never 403: its existence is
not to be learnt.

Roots are absolute, resolved folders; a folder belongs to at most one library (a root inside or
around another library's root is a 409). Deleting a library deletes its rows (songs, albums,
scans; the database cascades) and never touches a file.

Scans are jobs (`library.scan`, queue `scan`) with one active job per library (the job's unique
key). Asking again while one is queued or running answers that scan (202, `is_new: false`); a
full scan asked while an incremental one is queued upgrades it, while one is running is a 409.
Totals come from the albums' cached counts and `library_artist`, so reading a library never
aggregates its songs, except for the format breakdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import Select, delete, distinct, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth.principal import Principal
from cinesonic.db import after_commit
from cinesonic.errors import Conflict, NotFound, ValidationFailed
from cinesonic.events.bus import EventBus
from cinesonic.job import service as job_service
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.kit.timeutil import utcnow
from cinesonic.library.schemas import (
    LibraryCreate,
    LibraryDetail,
    LibraryPermissionRead,
    LibraryRead,
    LibraryStats,
    LibraryStatsItem,
    LibraryUpdate,
    ScanErrorRead,
    ScanRead,
    ScanRequest,
    ScansStarted,
    ScanStarted,
    ScanSummary,
    SkippedLibrary,
)
from cinesonic.models.job import ACTIVE_STATUSES, Job, JobStatus
from cinesonic.models.library import (
    Library,
    LibraryKind,
    LibraryPermission,
    LibraryRoot,
    LibraryScan,
    LibraryScanError,
    ScanStatus,
)
from cinesonic.models.music import Album, Genre, LibraryArtist, Song, SongGenre
from cinesonic.models.user import User
from cinesonic.music import indexer
from cinesonic.user import service as user_service
from cinesonic.worker import queue as job_queue

LIBRARY_CHANNEL = "library"  # event-bus channel and WebSocket topic
SCAN_JOB = "library.scan"
SCAN_QUEUE = "scan"
SCAN_ATTEMPTS = 3
SCANNABLE_KINDS = (LibraryKind.music, LibraryKind.movies, LibraryKind.tvshows)
ACTIVE_SCAN = (ScanStatus.queued, ScanStatus.running)
FINISHED_SCAN = (ScanStatus.succeeded, ScanStatus.failed, ScanStatus.cancelled)
ScanState = Literal["idle", "queued", "scanning"]

LIBRARY_SORTS = {
    "name": Library.name,
    "created_at": Library.created_at,
    "last_scanned_at": Library.last_scanned_at,
    "kind": Library.kind,
}
SCAN_SORTS = {"created_at": LibraryScan.created_at, "status": LibraryScan.status}
ERROR_SORTS = {"path": LibraryScanError.path, "code": LibraryScanError.code}
PERMISSION_SORTS = {"username": User.username, "created_at": LibraryPermission.created_at}


# ---------------------------------------------------------------- errors


class LibraryNotFound(NotFound):
    message = "No such library."


class ScanNotFound(NotFound):
    message = "No such scan of this library."


class PermissionNotFound(NotFound):
    message = "This user has no grant on this library."


class LibraryNameTaken(Conflict):
    code, message = "library_name_taken", "A library with this name exists."


class RootOverlap(Conflict):
    code, message = "root_overlap", "A root is inside, or contains, another library's root."


class InvalidRoot(ValidationFailed):
    code, message = "invalid_root", "Each root must be an absolute path to an existing folder."


class ScanNotSupported(Conflict):
    code = "scan_not_supported"
    message = "Libraries of this kind cannot be scanned."


class LibraryDisabled(Conflict):
    code, message = "library_disabled", "The library is disabled; enable it to scan it."


class ScanInProgress(Conflict):
    code = "scan_in_progress"
    message = "An incremental scan of this library is running; ask for the full scan after it."


# ---------------------------------------------------------------- visibility


async def readable_library_ids(
    session: AsyncSession, principal: Principal
) -> list[uuid.UUID] | None:
    if principal.can("library.manage"):
        return None
    if not principal.can("library.read"):
        return []
    granted = select(LibraryPermission.library_id).where(LibraryPermission.user_id == principal.id)
    rows = await session.scalars(
        select(Library.id).where(
            Library.is_enabled.is_(True),
            or_(Library.is_restricted.is_(False), Library.id.in_(granted)),
        )
    )
    return list(rows)


async def get_library(session: AsyncSession, library_id: uuid.UUID) -> Library:
    """A library with its roots loaded, whoever asks (callers check visibility)."""
    library = await session.scalar(
        select(Library).where(Library.id == library_id).options(selectinload(Library.roots))
    )
    if library is None:
        raise LibraryNotFound()
    return library


async def _visible_library(
    session: AsyncSession, principal: Principal, library_id: uuid.UUID
) -> Library:
    readable = await readable_library_ids(session, principal)
    if readable is not None and library_id not in readable:
        raise LibraryNotFound()
    return await get_library(session, library_id)


# ---------------------------------------------------------------- reading libraries


@dataclass
class _Totals:
    songs: int = 0
    albums: int = 0
    artists: int = 0
    duration: float = 0.0
    size: int = 0


async def _totals(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, _Totals]:
    totals = {library_id: _Totals() for library_id in ids}
    if not ids:
        return totals
    rows = await session.execute(
        select(
            Album.library_id,
            func.coalesce(func.sum(Album.song_count), 0),
            func.count(),
            func.coalesce(func.sum(Album.duration), 0.0),
            func.coalesce(func.sum(Album.size_bytes), 0),
        )
        .where(Album.library_id.in_(ids), Album.song_count > 0)
        .group_by(Album.library_id)
    )
    for library_id, songs, albums, duration, size in rows:
        entry = totals[library_id]
        entry.songs, entry.albums = int(songs), int(albums)
        entry.duration, entry.size = float(duration), int(size)
    artists = await session.execute(
        select(LibraryArtist.library_id, func.count())
        .where(LibraryArtist.library_id.in_(ids))
        .group_by(LibraryArtist.library_id)
    )
    for library_id, count in artists:
        totals[library_id].artists = int(count)
    return totals


def _scan_status(
    scan: LibraryScan, job_status: JobStatus | None, job_error: str | None
) -> tuple[ScanStatus, str | None]:
    """A scan's status, reconciled with its job: a scan left queued or running by a job that
    ended (cancelled while queued, dead after its retries, lost) reads as what the job became."""
    if scan.status not in ACTIVE_SCAN:
        return scan.status, scan.message
    if job_status in ACTIVE_STATUSES:
        return scan.status, scan.message
    if job_status == JobStatus.cancelled:
        return ScanStatus.cancelled, scan.message or "The scan was cancelled."
    return ScanStatus.failed, job_error or scan.message or "The scan's job ended without it."


def _summary(scan: LibraryScan, status: ScanStatus) -> ScanSummary:
    summary = ScanSummary.model_validate(scan)
    summary.status = status
    return summary


async def _scan_states(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[ScanState, ScanSummary | None, ScanSummary | None]]:
    """Per library: state (idle/queued/scanning), the active scan, the last finished scan."""
    states: dict[uuid.UUID, tuple[ScanState, ScanSummary | None, ScanSummary | None]] = {}
    if not ids:
        return states
    active_rows = await session.execute(
        select(LibraryScan, Job.status)
        .join(Job, Job.id == LibraryScan.job_id)
        .where(LibraryScan.library_id.in_(ids), Job.status.in_(ACTIVE_STATUSES))
        .order_by(LibraryScan.created_at)
    )
    active: dict[uuid.UUID, tuple[ScanState, ScanSummary]] = {}
    for scan, job_status in active_rows:
        state: ScanState = "scanning" if job_status == JobStatus.running else "queued"
        status = ScanStatus.running if state == "scanning" else ScanStatus.queued
        active[scan.library_id] = (state, _summary(scan, status))
    ranked = (
        select(
            LibraryScan.id,
            func.row_number()
            .over(partition_by=LibraryScan.library_id, order_by=LibraryScan.created_at.desc())
            .label("rank"),
        )
        .where(LibraryScan.library_id.in_(ids), LibraryScan.status.in_(FINISHED_SCAN))
        .subquery()
    )
    last_rows = await session.scalars(
        select(LibraryScan).join(ranked, ranked.c.id == LibraryScan.id).where(ranked.c.rank == 1)
    )
    last = {scan.library_id: _summary(scan, scan.status) for scan in last_rows}
    for library_id in ids:
        state, running = active.get(library_id, ("idle", None))
        states[library_id] = (state, running, last.get(library_id))
    return states


def _to_read(
    library: Library,
    totals: _Totals,
    state: tuple[ScanState, ScanSummary | None, ScanSummary | None],
    *,
    show_roots: bool,
    model: type[LibraryRead] = LibraryRead,
) -> Any:
    return model(
        id=library.id,
        name=library.name,
        kind=library.kind,
        roots=[root.path for root in library.roots] if show_roots else None,
        is_enabled=library.is_enabled,
        is_restricted=library.is_restricted,
        scan_on_start=library.scan_on_start,
        watch_for_changes=library.watch_for_changes,
        created_at=library.created_at,
        updated_at=library.updated_at,
        last_scanned_at=library.last_scanned_at,
        song_count=totals.songs,
        album_count=totals.albums,
        artist_count=totals.artists,
        total_duration=round(totals.duration, 3),
        total_size_bytes=totals.size,
        state=state[0],
        active_scan=state[1],
        last_scan=state[2],
    )


async def list_libraries(
    session: AsyncSession, principal: Principal, params: PageParams
) -> tuple[list[LibraryRead], int]:
    statement = select(Library).options(selectinload(Library.roots))
    readable = await readable_library_ids(session, principal)
    if readable is not None:
        statement = statement.where(Library.id.in_(readable))
    statement = apply_sort(statement, params, LIBRARY_SORTS, [Library.name.asc()], Library.id.asc())
    rows, total = await paginate_rows(session, statement, params)
    libraries: list[Library] = list(rows)
    ids = [library.id for library in libraries]
    totals = await _totals(session, ids)
    states = await _scan_states(session, ids)
    manager = principal.can("library.manage")
    items = [
        _to_read(library, totals[library.id], states[library.id], show_roots=manager)
        for library in libraries
    ]
    return items, total


async def _formats(session: AsyncSession, ids: Sequence[uuid.UUID] | None) -> dict[str, int]:
    statement = select(Song.format, func.count()).where(Song.removed_at.is_(None))
    if ids is not None:
        statement = statement.where(Song.library_id.in_(ids))
    rows = await session.execute(statement.group_by(Song.format).order_by(Song.format))
    return {fmt: int(count) for fmt, count in rows}


async def read_library(
    session: AsyncSession, principal: Principal, library_id: uuid.UUID
) -> LibraryDetail:
    library = await _visible_library(session, principal, library_id)
    totals = await _totals(session, [library.id])
    states = await _scan_states(session, [library.id])
    detail: LibraryDetail = _to_read(
        library,
        totals[library.id],
        states[library.id],
        show_roots=principal.can("library.manage"),
        model=LibraryDetail,
    )
    detail.formats = await _formats(session, [library.id])
    return detail


async def library_stats(session: AsyncSession, principal: Principal) -> LibraryStats:
    readable = await readable_library_ids(session, principal)
    statement = select(Library).order_by(Library.name)
    if readable is not None:
        statement = statement.where(Library.id.in_(readable))
    libraries = list(await session.scalars(statement))
    ids = [library.id for library in libraries]
    totals = await _totals(session, ids)
    states = await _scan_states(session, ids)
    artist_count = genre_count = 0
    if ids:
        artist_count = int(
            await session.scalar(
                select(func.count(distinct(LibraryArtist.artist_id))).where(
                    LibraryArtist.library_id.in_(ids)
                )
            )
            or 0
        )
        genre_count = int(
            await session.scalar(
                select(func.count(distinct(SongGenre.genre_id)))
                .join(Song, Song.id == SongGenre.song_id)
                .join(Genre, Genre.id == SongGenre.genre_id)
                .where(Song.library_id.in_(ids), Song.removed_at.is_(None))
            )
            or 0
        )
    items = [
        LibraryStatsItem(
            id=library.id,
            name=library.name,
            kind=library.kind,
            song_count=totals[library.id].songs,
            album_count=totals[library.id].albums,
            artist_count=totals[library.id].artists,
            total_duration=round(totals[library.id].duration, 3),
            total_size_bytes=totals[library.id].size,
            last_scanned_at=library.last_scanned_at,
            state=states[library.id][0],
        )
        for library in libraries
    ]
    scanned = [library.last_scanned_at for library in libraries if library.last_scanned_at]
    return LibraryStats(
        library_count=len(libraries),
        song_count=sum(item.song_count for item in items),
        album_count=sum(item.album_count for item in items),
        artist_count=artist_count,
        genre_count=genre_count,
        total_duration=round(sum(item.total_duration for item in items), 3),
        total_size_bytes=sum(item.total_size_bytes for item in items),
        formats=await _formats(session, ids) if ids else {},
        last_scanned_at=max(scanned) if scanned else None,
        scans_active=sum(1 for item in items if item.state != "idle"),
        libraries=items,
    )


# ---------------------------------------------------------------- creating and changing


def _resolve_roots(roots: Sequence[str]) -> list[str]:
    """Absolute, existing folders, resolved (symbolic links followed); no duplicates and no
    root inside another one of the same list. Runs in a thread (it touches the disk)."""
    resolved: list[Path] = []
    problems: list[dict[str, Any]] = []
    for index, raw in enumerate(roots):
        field = f"roots.{index}"
        if not os.path.isabs(raw):
            problems.append(_root_problem(field, f"{raw!r} is not an absolute path"))
            continue
        try:
            path = Path(raw).resolve(strict=True)
        except (OSError, RuntimeError):
            problems.append(_root_problem(field, f"{raw} does not exist"))
            continue
        if not path.is_dir():
            problems.append(_root_problem(field, f"{raw} is not a folder"))
            continue
        clash = next((other for other in resolved if _overlaps(path, other)), None)
        if clash is not None:
            problems.append(_root_problem(field, f"{raw} overlaps {clash}, listed already"))
            continue
        resolved.append(path)
    if problems:
        raise InvalidRoot(details=problems)
    return [str(path) for path in resolved]


def _root_problem(field: str, message: str) -> dict[str, Any]:
    return {"field": field, "location": "body", "message": message, "type": "invalid_root"}


def _overlaps(one: Path, other: Path) -> bool:
    return one == other or one in other.parents or other in one.parents


async def _check_overlap(
    session: AsyncSession, roots: Sequence[str], library_id: uuid.UUID | None
) -> None:
    statement = select(LibraryRoot.path, Library.name).join(
        Library, Library.id == LibraryRoot.library_id
    )
    if library_id is not None:
        statement = statement.where(LibraryRoot.library_id != library_id)
    others = list(await session.execute(statement))
    clashes = [
        {"root": root, "library": name, "library_root": other}
        for root in roots
        for other, name in others
        if _overlaps(Path(root), Path(other))
    ]
    if clashes:
        first = clashes[0]
        raise RootOverlap(
            f"{first['root']} overlaps {first['library_root']} of the library "
            f"'{first['library']}'; a folder belongs to one library.",
            details=clashes,
        )


async def _check_name(
    session: AsyncSession, name: str, library_id: uuid.UUID | None = None
) -> None:
    statement = select(Library.id).where(func.lower(Library.name) == name.lower())
    if library_id is not None:
        statement = statement.where(Library.id != library_id)
    if await session.scalar(statement) is not None:
        raise LibraryNameTaken(details={"name": name})


def _announce(session: AsyncSession, bus: EventBus, event: str, library_id: uuid.UUID) -> None:
    """Tell other processes (the folder watcher) after commit; administrators only."""
    data = {"event": event, "library_id": str(library_id), "audience": []}

    async def publish() -> None:
        await bus.publish(LIBRARY_CHANNEL, data)

    after_commit(session, publish)


async def create_library(
    session: AsyncSession, bus: EventBus, actor: Principal, origin: Origin, body: LibraryCreate
) -> LibraryDetail:
    roots = await asyncio.to_thread(_resolve_roots, body.roots)
    await _check_name(session, body.name)
    await _check_overlap(session, roots, None)
    library = Library(
        name=body.name,
        kind=body.kind,
        is_enabled=body.is_enabled,
        is_restricted=body.is_restricted,
        scan_on_start=body.scan_on_start,
        watch_for_changes=body.watch_for_changes,
    )
    session.add(library)
    await session.flush()
    session.add_all(LibraryRoot(library_id=library.id, path=root) for root in roots)
    await session.flush()
    await activity_service.record_by(
        session,
        actor,
        action="library.create",
        resource_type="library",
        resource_id=library.id,
        origin=origin,
        details={"name": library.name, "kind": library.kind.value, "roots": roots},
    )
    _announce(session, bus, "library.created", library.id)
    session.expunge(library)  # read back with its roots loaded
    return await read_library(session, actor, library.id)


async def update_library(
    session: AsyncSession,
    bus: EventBus,
    actor: Principal,
    origin: Origin,
    library_id: uuid.UUID,
    body: LibraryUpdate,
) -> LibraryDetail:
    library = await get_library(session, library_id)
    values = body.model_dump(exclude_unset=True)
    changed: dict[str, Any] = {}
    if values.get("name") is not None and values["name"] != library.name:
        await _check_name(session, values["name"], library.id)
        library.name = changed["name"] = values["name"]
    for flag in ("is_enabled", "is_restricted", "scan_on_start", "watch_for_changes"):
        value = values.get(flag)
        if value is not None and value != getattr(library, flag):
            setattr(library, flag, value)
            changed[flag] = value
    if values.get("roots") is not None:
        roots = await asyncio.to_thread(_resolve_roots, values["roots"])
        current = {root.path for root in library.roots}
        if set(roots) != current:
            await _check_overlap(session, roots, library.id)
            await session.execute(
                delete(LibraryRoot).where(
                    LibraryRoot.library_id == library.id, LibraryRoot.path.not_in(roots)
                )
            )
            session.add_all(
                LibraryRoot(library_id=library.id, path=root)
                for root in roots
                if root not in current
            )
            changed["roots"] = roots
    if changed:
        library.updated_at = utcnow()
        await session.flush()
        await activity_service.record_by(
            session,
            actor,
            action="library.update",
            resource_type="library",
            resource_id=library.id,
            origin=origin,
            details={"changed": changed},
        )
        _announce(session, bus, "library.updated", library.id)
    session.expunge(library)
    return await read_library(session, actor, library.id)


async def delete_library(
    session: AsyncSession, bus: EventBus, actor: Principal, origin: Origin, library_id: uuid.UUID
) -> None:
    """Delete the library and its rows (the database cascades: songs, albums, scans, grants;
    playlists and shares lose its songs); artists left with nothing go too. No file is
    touched. A scan under way is cancelled."""
    library = await get_library(session, library_id)
    active = await session.scalars(
        select(Job).where(Job.unique_key == _scan_key(library.id), Job.status.in_(ACTIVE_STATUSES))
    )
    for job in active:
        await job_service.cancel_job(session, bus, job)
    artists = list(
        await session.scalars(
            select(LibraryArtist.artist_id).where(LibraryArtist.library_id == library.id)
        )
    )
    songs = await session.scalar(
        select(func.count()).where(Song.library_id == library.id).select_from(Song)
    )
    await activity_service.record_by(
        session,
        actor,
        action="library.delete",
        resource_type="library",
        resource_id=library.id,
        origin=origin,
        details={"name": library.name, "songs": int(songs or 0)},
    )
    await session.execute(delete(Library).where(Library.id == library.id))
    session.expunge(library)
    await indexer.delete_orphans(session, None, artists)
    _announce(session, bus, "library.deleted", library.id)


# ---------------------------------------------------------------- scans


def _scan_key(library_id: uuid.UUID) -> str:
    return f"{SCAN_JOB}:{library_id}"


async def enqueue_scan(
    session: AsyncSession,
    library: Library,
    *,
    full: bool,
    owner_id: uuid.UUID | None,
) -> ScanStarted:
    """The library's scan job: a new one, or the one already queued or running."""
    if library.kind not in SCANNABLE_KINDS:
        raise ScanNotSupported(details={"kind": library.kind.value})
    if not library.is_enabled:
        raise LibraryDisabled()
    key = _scan_key(library.id)
    job = await session.scalar(
        select(Job).where(Job.unique_key == key, Job.status.in_(ACTIVE_STATUSES))
    )
    if job is not None:
        scan = await session.scalar(select(LibraryScan).where(LibraryScan.job_id == job.id))
        if scan is not None:
            if full and not scan.is_full:
                if job.status == JobStatus.running:
                    raise ScanInProgress(details={"job_id": str(job.id), "scan_id": str(scan.id)})
                scan.is_full = True  # still waiting: it will reopen every file
                job.payload = {**job.payload, "full": True}
                await session.flush()
            return ScanStarted(
                job_id=job.id,
                status=job.status,
                scan_id=scan.id,
                library_id=library.id,
                is_full=scan.is_full,
                is_new=False,
            )
    scan = LibraryScan(library_id=library.id, is_full=full, status=ScanStatus.queued)
    session.add(scan)
    await session.flush()
    job = await job_queue.enqueue(
        session,
        SCAN_JOB,
        {"scan_id": str(scan.id), "library_id": str(library.id), "full": full},
        queue=SCAN_QUEUE,
        max_attempts=SCAN_ATTEMPTS,
        unique_key=key,
        owner_id=owner_id,
    )
    scan.job_id = job.id
    await session.flush()
    return ScanStarted(
        job_id=job.id,
        status=job.status,
        scan_id=scan.id,
        library_id=library.id,
        is_full=full,
        is_new=True,
    )


async def start_scan(
    session: AsyncSession,
    actor: Principal,
    origin: Origin,
    library_id: uuid.UUID,
    *,
    full: bool,
) -> ScanStarted:
    library = await get_library(session, library_id)
    started = await enqueue_scan(session, library, full=full, owner_id=actor.id)
    if started.is_new:
        await _audit_scan(session, actor, origin, started)
    return started


async def _audit_scan(
    session: AsyncSession, actor: Principal, origin: Origin, started: ScanStarted
) -> None:
    await activity_service.record_by(
        session,
        actor,
        action="library.scan",
        resource_type="library",
        resource_id=started.library_id,
        origin=origin,
        details={"job_id": str(started.job_id), "full": started.is_full},
    )


async def start_scans(
    session: AsyncSession, actor: Principal, origin: Origin, request: ScanRequest
) -> ScansStarted:
    """Scan the listed libraries (404 for an unknown one), or every enabled music library;
    libraries that cannot be scanned are listed as skipped rather than failing the rest."""
    statement = select(Library).order_by(Library.name)
    if request.library_ids is not None:
        wanted = list(dict.fromkeys(request.library_ids))
        statement = statement.where(Library.id.in_(wanted))
        libraries = list(await session.scalars(statement))
        missing = set(wanted) - {library.id for library in libraries}
        if missing:
            raise LibraryNotFound(
                "No such library.", details={"library_ids": sorted(map(str, missing))}
            )
    else:
        libraries = list(await session.scalars(statement))
    started: list[ScanStarted] = []
    skipped: list[SkippedLibrary] = []
    for library in libraries:
        if library.kind not in SCANNABLE_KINDS:
            skipped.append(SkippedLibrary(library_id=library.id, reason="not_scannable"))
            continue
        if not library.is_enabled:
            skipped.append(SkippedLibrary(library_id=library.id, reason="disabled"))
            continue
        try:
            one = await enqueue_scan(session, library, full=request.full, owner_id=actor.id)
        except ScanInProgress:
            skipped.append(SkippedLibrary(library_id=library.id, reason="scan_running"))
            continue
        if one.is_new:
            await _audit_scan(session, actor, origin, one)
        started.append(one)
    return ScansStarted(data=started, skipped=skipped)


async def list_scans(
    session: AsyncSession, library_id: uuid.UUID, params: PageParams
) -> tuple[list[ScanRead], int]:
    await get_library(session, library_id)
    errors = (
        select(func.count())
        .where(LibraryScanError.scan_id == LibraryScan.id)
        .correlate(LibraryScan)
        .scalar_subquery()
    )
    statement = (
        select(LibraryScan, Job.status, Job.last_error, errors.label("error_count"))
        .outerjoin(Job, Job.id == LibraryScan.job_id)
        .where(LibraryScan.library_id == library_id)
    )
    statement = apply_sort(
        statement, params, SCAN_SORTS, [LibraryScan.created_at.desc()], LibraryScan.id.desc()
    )
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    now = utcnow()
    items = []
    for scan, job_status, job_error, error_count in rows:
        status, message = _scan_status(scan, job_status, job_error)
        item = ScanRead.model_validate(
            {
                **ScanSummary.model_validate(scan).model_dump(),
                "status": status,
                "library_id": scan.library_id,
                "job_id": scan.job_id,
                "unchanged": scan.unchanged,
                "bytes_seen": scan.bytes_seen,
                "error_count": int(error_count or 0),
                "message": message,
                "duration_seconds": _duration(scan.started_at, scan.finished_at, status, now),
            }
        )
        items.append(item)
    return items, total


def _duration(
    started: datetime | None, finished: datetime | None, status: ScanStatus, now: datetime
) -> float | None:
    if started is None:
        return None
    end = finished or (now if status in ACTIVE_SCAN else None)
    return round((end - started).total_seconds(), 3) if end else None


async def list_scan_errors(
    session: AsyncSession,
    library_id: uuid.UUID,
    scan_id: uuid.UUID,
    params: PageParams,
    *,
    code: str | None = None,
) -> tuple[list[ScanErrorRead], int]:
    await get_library(session, library_id)
    scan = await session.get(LibraryScan, scan_id)
    if scan is None or scan.library_id != library_id:
        raise ScanNotFound()
    statement = select(LibraryScanError).where(LibraryScanError.scan_id == scan_id)
    if code:
        statement = statement.where(LibraryScanError.code == code)
    statement = apply_sort(
        statement, params, ERROR_SORTS, [LibraryScanError.path.asc()], LibraryScanError.id.asc()
    )
    rows, total = await paginate_rows(session, statement, params)
    return [ScanErrorRead.model_validate(row) for row in rows], total


# ---------------------------------------------------------------- permissions


async def list_permissions(
    session: AsyncSession, library_id: uuid.UUID, params: PageParams
) -> tuple[list[LibraryPermissionRead], int]:
    await get_library(session, library_id)
    # Rows of (grant, username); apply_sort and paginate_rows take any select.
    statement = cast(
        "Select[Any]",
        select(LibraryPermission, User.username)
        .join(User, User.id == LibraryPermission.user_id)
        .where(LibraryPermission.library_id == library_id),
    )
    statement = apply_sort(
        statement,
        params,
        PERMISSION_SORTS,
        [User.username.asc()],
        LibraryPermission.user_id.asc(),
    )
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return [_permission_read(grant, username) for grant, username in rows], total


def _permission_read(grant: LibraryPermission, username: str) -> LibraryPermissionRead:
    return LibraryPermissionRead(
        library_id=grant.library_id,
        user_id=grant.user_id,
        username=username,
        granted_by_id=grant.granted_by_id,
        created_at=grant.created_at,
    )


async def grant_permission(
    session: AsyncSession,
    actor: Principal,
    origin: Origin,
    library_id: uuid.UUID,
    user_id: uuid.UUID,
) -> tuple[LibraryPermissionRead, bool]:
    """Let the user read the library (it matters once the library is restricted); answers
    the grant and whether it is new. Granting twice changes nothing."""
    library = await get_library(session, library_id)
    user = await user_service.get_user(session, user_id)
    grant = await session.get(LibraryPermission, (library.id, user.id))
    created = grant is None
    if grant is None:
        grant = LibraryPermission(library_id=library.id, user_id=user.id, granted_by_id=actor.id)
        session.add(grant)
        await session.flush()
        await activity_service.record_by(
            session,
            actor,
            action="library.permission.grant",
            resource_type="library",
            resource_id=library.id,
            origin=origin,
            details={"user_id": str(user.id), "username": user.username},
        )
    return _permission_read(grant, user.username), created


async def revoke_permission(
    session: AsyncSession,
    actor: Principal,
    origin: Origin,
    library_id: uuid.UUID,
    user_id: uuid.UUID,
) -> None:
    library = await get_library(session, library_id)
    grant = await session.get(LibraryPermission, (library.id, user_id))
    if grant is None:
        raise PermissionNotFound()
    await session.delete(grant)
    await session.flush()
    await activity_service.record_by(
        session,
        actor,
        action="library.permission.revoke",
        resource_type="library",
        resource_id=library.id,
        origin=origin,
        details={"user_id": str(user_id)},
    )


# ---------------------------------------------------------------- engines and the CLI


async def libraries_for_cli(session: AsyncSession, reference: str | None) -> list[Library]:
    """`cinesonic scan [LIBRARY]`: the library named (by id, or name in any case), else every
    enabled library that can be scanned."""
    if reference is None:
        return list(
            await session.scalars(
                select(Library)
                .where(Library.is_enabled.is_(True), Library.kind.in_(SCANNABLE_KINDS))
                .order_by(Library.name)
            )
        )
    condition = func.lower(Library.name) == reference.lower()
    with contextlib.suppress(ValueError):  # an id, not a name
        condition = or_(condition, Library.id == uuid.UUID(reference))
    library = await session.scalar(select(Library).where(condition))
    if library is None:
        raise LibraryNotFound(f"No library is named or numbered {reference!r}.")
    return [library]


async def claim_scan_job(
    session: AsyncSession, job_id: uuid.UUID, owner: str, lease_seconds: float
) -> None:
    """Mark a just-enqueued scan job as running under `owner` (a foreground scan), so no
    worker claims it; the owner renews the lease while it runs."""
    now = utcnow()
    await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.queued)
        .values(
            status=JobStatus.running,
            attempts=Job.attempts + 1,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            started_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


async def libraries_to_scan_on_start(session: AsyncSession) -> list[Library]:
    return list(
        await session.scalars(
            select(Library).where(
                Library.scan_on_start.is_(True),
                Library.is_enabled.is_(True),
                Library.kind.in_(SCANNABLE_KINDS),
            )
        )
    )


async def watched_roots(session: AsyncSession) -> dict[str, uuid.UUID]:
    """Root folder → library, for enabled music libraries that watch for changes."""
    rows = await session.execute(
        select(LibraryRoot.path, LibraryRoot.library_id)
        .join(Library, Library.id == LibraryRoot.library_id)
        .where(
            Library.watch_for_changes.is_(True),
            Library.is_enabled.is_(True),
            Library.kind.in_(SCANNABLE_KINDS),
        )
    )
    return {path: library_id for path, library_id in rows}
