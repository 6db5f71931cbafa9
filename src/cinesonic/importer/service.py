"""Import pipeline rules for requests: starting the jobs, the staging list and its review
actions (approve, reject, tag corrections), the quarantine list and its resolutions, and the
per-library import rules.

Review actions that move files (reject, accept, restore, requeue) move them with intent records
(`moves`) before the request's transaction records the change; the intents are committed in a
unit of work of their own, so these services read first and write the request's transaction
only after the files moved. Deleting a quarantined file — the only deletion in the pipeline —
happens after the request commits, for administrators only, and is audited.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth.principal import Principal
from cinesonic.config import Settings
from cinesonic.db import Database, after_commit
from cinesonic.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cinesonic.events.bus import EventBus
from cinesonic.importer import checks as file_checks
from cinesonic.importer import lookups, pipeline
from cinesonic.importer.checks import Inspection, TransientFileError, check
from cinesonic.importer.moves import PlannedMove, mark_done, moving
from cinesonic.importer.schemas import (
    ImportJobStarted,
    ImportRuleRead,
    ImportRuleUpdate,
    MoveOkRequest,
    ProcessRequest,
    QuarantineItemRead,
    StagedAlbumRead,
    StagedItemRead,
    TagCorrection,
)
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.kit.paths import UnsafePath, resolve_inside, unique_path
from cinesonic.kit.timeutil import utcnow
from cinesonic.library import service as library_service
from cinesonic.models.importer import (
    CheckStatus,
    ImportAlbum,
    ImportItem,
    ImportStatus,
    LibraryImportRule,
    QuarantineItem,
    QuarantineReason,
    QuarantineResolution,
)
from cinesonic.models.library import LibraryKind
from cinesonic.worker import queue as job_queue

PROCESS_JOB = "import.process"
PROMOTE_JOB = "import.promote"
IMPORT_QUEUE = "import"
IMPORT_ATTEMPTS = 3
ALBUM_SORTS = {
    "created_at": ImportAlbum.created_at,
    "album_artist": ImportAlbum.album_artist,
    "album": ImportAlbum.album,
    "status": ImportAlbum.status,
}
QUARANTINE_SORTS = {
    "created_at": QuarantineItem.created_at,
    "reason": QuarantineItem.reason,
    "original_path": QuarantineItem.original_path,
}


# ---------------------------------------------------------------- errors


class StagedAlbumNotFound(NotFound):
    message = "No such staged album."


class StagedItemNotFound(NotFound):
    message = "No such staged file."


class QuarantineItemNotFound(NotFound):
    message = "No such quarantined file."


class ImportRuleNotFound(NotFound):
    code, message = "import_rule_not_found", "This library has no import rule."


class AlbumNotReviewable(Conflict):
    code = "album_not_reviewable"
    message = "Only albums waiting in staging (ok or needs_review) can be approved or rejected."


class ItemNotEditable(Conflict):
    code, message = "item_not_editable", "Only files still in staging can be corrected."


class QuarantineResolved(Conflict):
    code, message = "quarantine_resolved", "This quarantined file was resolved already."


class FileUnavailable(Conflict):
    code, message = "file_unavailable", "The file cannot be read or moved now; try again."


class NotMusicLibrary(Conflict):
    code, message = "not_music_library", "Import rules apply to music libraries only."


class PathOutsideRoot(ValidationFailed):
    code, message = "path_outside_root", "A path leads outside the inbound folder."


class DeleteNeedsAdmin(Forbidden):
    message = "Only an administrator may delete a quarantined file."


# ---------------------------------------------------------------- shapes


def item_read(item: ImportItem) -> StagedItemRead:
    return StagedItemRead.model_validate(item)


def quarantine_read(entry: QuarantineItem) -> QuarantineItemRead:
    return QuarantineItemRead.model_validate(entry)


async def _album_read(session: AsyncSession, album: ImportAlbum) -> StagedAlbumRead:
    return (await _album_reads(session, [album]))[0]


async def _album_reads(
    session: AsyncSession, albums: Sequence[ImportAlbum]
) -> list[StagedAlbumRead]:
    ids = [album.id for album in albums]
    items: dict[uuid.UUID, list[StagedItemRead]] = {album_id: [] for album_id in ids}
    if ids:
        rows = await session.scalars(
            select(ImportItem)
            .where(ImportItem.album_id.in_(ids))
            .order_by(ImportItem.proposed_path, ImportItem.id)
        )
        for item in rows:
            items[item.album_id].append(item_read(item))
    return [
        StagedAlbumRead.model_validate(
            {
                **{
                    name: getattr(album, name)
                    for name in StagedAlbumRead.model_fields
                    if name != "items"
                },
                "items": items[album.id],
            }
        )
        for album in albums
    ]


def _announce(session: AsyncSession, bus: EventBus, event: str, **data: Any) -> None:
    async def send() -> None:
        await pipeline.publish(bus, event, **data)

    after_commit(session, send)


# ---------------------------------------------------------------- jobs


async def start_process(
    session: AsyncSession,
    settings: Settings,
    actor: Principal,
    origin: Origin,
    request: ProcessRequest,
) -> ImportJobStarted:
    """Enqueue `import.process` (one at a time: 409 `duplicate_job` while one is active)."""
    inbound = (await asyncio.to_thread(pipeline.folders, settings)).inbound
    problems = []
    for index, value in enumerate(request.paths or []):
        try:
            await asyncio.to_thread(resolve_inside, inbound, value)
        except UnsafePath as exc:
            problems.append(
                {
                    "field": f"paths.{index}",
                    "location": "body",
                    "message": str(exc),
                    "type": "path_outside_root",
                }
            )
    if problems:
        raise PathOutsideRoot(details=problems)
    payload = {"force": request.force, "paths": request.paths}
    return await _start_job(session, actor, origin, PROCESS_JOB, "import.process", payload)


async def start_promotion(
    session: AsyncSession, actor: Principal, origin: Origin, request: MoveOkRequest
) -> ImportJobStarted:
    """Enqueue `import.promote` (one at a time); unknown album ids are a 404."""
    album_ids = list(dict.fromkeys(request.album_ids)) if request.album_ids is not None else None
    if album_ids:
        found = set(
            await session.scalars(select(ImportAlbum.id).where(ImportAlbum.id.in_(album_ids)))
        )
        missing = [str(album_id) for album_id in album_ids if album_id not in found]
        if missing:
            raise StagedAlbumNotFound(details={"album_ids": missing})
    payload = {"album_ids": [str(a) for a in album_ids] if album_ids is not None else None}
    return await _start_job(session, actor, origin, PROMOTE_JOB, "import.promote", payload)


async def _start_job(
    session: AsyncSession,
    actor: Principal,
    origin: Origin,
    job_type: str,
    action: str,
    payload: dict[str, Any],
) -> ImportJobStarted:
    """Enqueue a pipeline job (one of each type at a time) and audit who asked for it."""
    job = await job_queue.enqueue(
        session,
        job_type,
        payload,
        queue=IMPORT_QUEUE,
        max_attempts=IMPORT_ATTEMPTS,
        unique_key=job_type,
        owner_id=actor.id,
    )
    await activity_service.record_by(
        session,
        actor,
        action=action,
        resource_type="job",
        resource_id=job.id,
        origin=origin,
        details=payload,
    )
    return ImportJobStarted(job_id=job.id, type=job.type, status=job.status)


# ---------------------------------------------------------------- staging


async def list_staging(
    session: AsyncSession, params: PageParams, status: ImportStatus | None
) -> tuple[list[StagedAlbumRead], int]:
    """Staged albums (by default those still waiting: ok, needs_review, approved)."""
    statement = select(ImportAlbum)
    if status is not None:
        statement = statement.where(ImportAlbum.status == status)
    else:
        statement = statement.where(ImportAlbum.status.in_(lookups.STAGED_LIVE))
    statement = apply_sort(
        statement, params, ALBUM_SORTS, [ImportAlbum.created_at.asc()], ImportAlbum.id.asc()
    )
    rows, total = await paginate_rows(session, statement, params)
    return await _album_reads(session, list(rows)), total


async def _album(session: AsyncSession, album_id: uuid.UUID) -> ImportAlbum:
    album = await session.get(ImportAlbum, album_id)
    if album is None:
        raise StagedAlbumNotFound()
    return album


async def approve_album(
    session: AsyncSession,
    bus: EventBus,
    actor: Principal,
    origin: Origin,
    album_id: uuid.UUID,
    note: str | None,
) -> StagedAlbumRead:
    album = await _album(session, album_id)
    if album.status not in lookups.STAGED_OPEN:
        raise AlbumNotReviewable(details={"status": album.status.value})
    items = list(
        await session.scalars(
            select(ImportItem).where(
                ImportItem.album_id == album.id, ImportItem.status.in_(lookups.STAGED_OPEN)
            )
        )
    )
    for item in items:
        item.status = ImportStatus.approved
    album.status = ImportStatus.approved
    album.reviewer_id, album.reviewed_at, album.decision_note = actor.id, utcnow(), note
    await session.flush()
    await activity_service.record_by(
        session,
        actor,
        action="import.approve",
        resource_type="import_album",
        resource_id=album.id,
        origin=origin,
        details={"note": note, "files": len(items)},
    )
    _announce(session, bus, "import.approved", album_id=str(album.id))
    return await _album_read(session, album)


def _inbound_destination(inbound: Path, relative: str, taken: set[Path]) -> Path:
    """Back in inbound at its original relative path; a name taken there gets a suffix."""
    try:
        target = resolve_inside(inbound, relative)
    except UnsafePath:
        target = inbound / Path(relative).name
    return unique_path(target, taken)


async def reject_album(
    session: AsyncSession,
    db: Database,
    bus: EventBus,
    settings: Settings,
    actor: Principal,
    origin: Origin,
    album_id: uuid.UUID,
    note: str | None,
) -> StagedAlbumRead:
    """Every staged file of the album goes back to inbound (never overwriting)."""
    album = await _album(session, album_id)
    if album.status not in lookups.STAGED_OPEN:
        raise AlbumNotReviewable(details={"status": album.status.value})
    items = list(
        await session.scalars(
            select(ImportItem).where(
                ImportItem.album_id == album.id, ImportItem.status.in_(lookups.STAGED_OPEN)
            )
        )
    )
    places = await asyncio.to_thread(pipeline.folders, settings)
    taken: set[Path] = set()
    planned = []
    for item in items:
        destination = await asyncio.to_thread(
            _inbound_destination, places.inbound, item.original_path, taken
        )
        taken.add(destination)
        planned.append(
            PlannedMove(
                Path(item.current_path), destination, item.sha256, item.size, places.inbound
            )
        )
    try:
        async with moving(db, planned, in_request=True) as moves:
            for item, move in zip(items, moves, strict=True):
                item.status = ImportStatus.rejected
                item.current_path = str(move.destination)
            album.status = ImportStatus.rejected
            album.reviewer_id, album.reviewed_at, album.decision_note = actor.id, utcnow(), note
            await session.flush()
            await mark_done(session, moves)
            await activity_service.record_by(
                session,
                actor,
                action="import.reject",
                resource_type="import_album",
                resource_id=album.id,
                origin=origin,
                details={"note": note, "files": [str(m.destination) for m in moves]},
            )
    except OSError as exc:
        raise FileUnavailable(f"The files could not be moved back to inbound: {exc}") from exc
    for move in planned:
        await asyncio.to_thread(pipeline.prune_empty_folders, move.source.parent, places.staging)
    _announce(session, bus, "import.rejected", album_id=str(album.id))
    return await _album_read(session, album)


async def correct_item(
    session: AsyncSession,
    bus: EventBus,
    settings: Settings,
    actor: Principal,
    origin: Origin,
    item_id: uuid.UUID,
    correction: TagCorrection,
) -> StagedItemRead:
    """Write the corrected tags into the staged file, record them, and check it again (its
    checks, proposed path, album and SHA-256 follow the new tags)."""
    item = await session.get(ImportItem, item_id)
    if item is None:
        raise StagedItemNotFound()
    if item.status not in lookups.STAGED_LIVE:
        raise ItemNotEditable(details={"status": item.status.value})
    path = Path(item.current_path)
    if path.suffix.lower() == ".cue":
        raise ItemNotEditable("A cue sheet has no tags to correct.")
    values = correction.model_dump(exclude_none=True)
    places = await asyncio.to_thread(pipeline.folders, settings)
    try:
        await asyncio.to_thread(file_checks.write_corrections, path, values)
        size, mtime_ns, sha256 = await asyncio.to_thread(file_checks.file_identity, path)
        inspection = await asyncio.to_thread(
            file_checks.inspect_audio,
            path,
            places.staging,
            sha256=sha256,
            size=size,
            mtime_ns=mtime_ns,
        )
    except (OSError, file_checks.TagWriteError) as exc:
        raise FileUnavailable(f"The tags could not be written: {exc}") from exc
    decision = await pipeline.decide(
        session, settings, inspection, path.suffix, path.stem, exclude_item=item.id
    )
    old_album = await session.get(ImportAlbum, item.album_id)
    if old_album is not None and decision.existing_album_id != old_album.id:
        same_key = old_album.group_key == lookups.group_key(
            decision.album_artist, decision.album, decision.year
        )
        if same_key:
            decision.existing_album_id = old_album.id
    album = await pipeline.staged_album(session, decision)
    item.album_id = album.id
    item.tags = inspection.tags
    item.corrections = {**item.corrections, **values}
    item.checks = decision.checks
    item.proposed_path = decision.proposed_path
    item.sha256, item.size, item.mtime_ns = sha256, size, mtime_ns
    item.replaces_song_id = decision.replaces_song_id
    if item.status != ImportStatus.approved:
        item.status = pipeline.status_of(decision.checks)
    await session.flush()
    await pipeline.refresh_album_status(session, album)
    if old_album is not None and old_album.id != album.id:
        await pipeline.refresh_album_status(session, old_album)
    await activity_service.record_by(
        session,
        actor,
        action="import.correct",
        resource_type="import_item",
        resource_id=item.id,
        origin=origin,
        details={"corrections": values},
    )
    _announce(session, bus, "import.corrected", item_id=str(item.id), album_id=str(album.id))
    return item_read(item)


# ---------------------------------------------------------------- quarantine


async def list_quarantine(
    session: AsyncSession,
    params: PageParams,
    *,
    reason: QuarantineReason | None,
    library_id: uuid.UUID | None,
    resolved: bool,
) -> tuple[list[QuarantineItemRead], int, dict[str, int]]:
    statement = select(QuarantineItem).where(
        QuarantineItem.resolved_at.is_not(None)
        if resolved
        else QuarantineItem.resolved_at.is_(None)
    )
    counting = select(QuarantineItem.reason, func.count()).where(
        QuarantineItem.resolved_at.is_(None)
    )
    if library_id is not None:
        statement = statement.where(QuarantineItem.library_id == library_id)
        counting = counting.where(QuarantineItem.library_id == library_id)
    if reason is not None:
        statement = statement.where(QuarantineItem.reason == reason)
    statement = apply_sort(
        statement,
        params,
        QUARANTINE_SORTS,
        [QuarantineItem.created_at.desc()],
        QuarantineItem.id.desc(),
    )
    rows, total = await paginate_rows(session, statement, params)
    counts = {
        (found.value if isinstance(found, QuarantineReason) else str(found)): int(count)
        for found, count in await session.execute(counting.group_by(QuarantineItem.reason))
    }
    return [quarantine_read(row) for row in rows], total, counts


async def _open_quarantine(session: AsyncSession, entry_id: uuid.UUID) -> QuarantineItem:
    entry = await session.get(QuarantineItem, entry_id)
    if entry is None:
        raise QuarantineItemNotFound()
    if entry.resolved_at is not None:
        raise QuarantineResolved(details={"resolution": entry.resolution})
    return entry


async def _inspect_quarantined(entry: QuarantineItem) -> Inspection:
    path = Path(entry.file_path)
    # Its folder below `quarantine/<reason>/<date>/` mirrors inbound: path fallbacks work.
    depth = min(len(Path(entry.inbound_path).parts), len(path.parents))
    root = path.parents[max(0, depth - 1)]
    try:
        size, mtime_ns, sha256 = await asyncio.to_thread(file_checks.file_identity, path)
        if path.suffix.lower() == ".cue":
            return Inspection(sha256=sha256, size=size, mtime_ns=mtime_ns, info=None)
        return await asyncio.to_thread(
            file_checks.inspect_audio, path, root, sha256=sha256, size=size, mtime_ns=mtime_ns
        )
    except (OSError, TransientFileError) as exc:
        raise FileUnavailable(f"The quarantined file cannot be read: {exc}") from exc


async def _back_to_staging(
    session: AsyncSession,
    db: Database,
    settings: Settings,
    entry: QuarantineItem,
    inspection: Inspection,
    decision: pipeline.Decision,
    resolution: QuarantineResolution,
    actor: Principal,
) -> None:
    places = await asyncio.to_thread(pipeline.folders, settings)
    source = Path(entry.file_path)
    if source.suffix.lower() == ".cue":
        decision.proposed_path = (Path(entry.inbound_path).parent / source.name).as_posix()
    destination = await asyncio.to_thread(unique_path, places.staging / decision.proposed_path)
    move = PlannedMove(source, destination, inspection.sha256, inspection.size, places.staging)
    try:
        async with moving(db, [move], in_request=True) as moves:
            album = await pipeline.staged_album(session, decision)
            item = (
                await session.get(ImportItem, entry.import_item_id)
                if entry.import_item_id is not None
                else None
            )
            if item is None:
                item = ImportItem(
                    album_id=album.id,
                    status=ImportStatus.ok,
                    original_path=entry.inbound_path,
                    current_path=str(destination),
                    proposed_path=decision.proposed_path,
                    sha256=inspection.sha256,
                    size=inspection.size,
                    mtime_ns=inspection.mtime_ns,
                    tags={},
                    corrections={},
                    checks=[],
                )
                session.add(item)
            item.album_id = album.id
            item.current_path = str(destination)
            item.proposed_path = decision.proposed_path
            item.tags = inspection.tags or entry.tags
            item.checks = decision.checks
            item.sha256, item.size, item.mtime_ns = (
                inspection.sha256,
                inspection.size,
                inspection.mtime_ns,
            )
            item.replaces_song_id = decision.replaces_song_id
            item.attempts = entry.attempts
            item.status = pipeline.status_of(decision.checks)
            await session.flush()
            entry.import_item_id = item.id
            entry.resolved_at, entry.resolution, entry.resolved_by_id = (
                utcnow(),
                resolution,
                actor.id,
            )
            entry.file_path = str(destination)
            await pipeline.refresh_album_status(session, album)
            await mark_done(session, moves)
    except OSError as exc:
        raise FileUnavailable(f"The file could not be moved to staging: {exc}") from exc


async def resolve_quarantine(
    session: AsyncSession,
    db: Database,
    bus: EventBus,
    settings: Settings,
    actor: Principal,
    origin: Origin,
    entry_id: uuid.UUID,
    action: str,
) -> QuarantineItemRead:
    entry = await _open_quarantine(session, entry_id)
    if action == "delete" and not actor.grants_all:
        raise DeleteNeedsAdmin()
    details: dict[str, Any] = {"reason": entry.reason.value, "path": entry.file_path}
    if action == "accept":
        inspection = await _inspect_quarantined(entry)
        decision = await pipeline.decide(
            session,
            settings,
            inspection,
            Path(entry.file_path).suffix,
            Path(entry.file_path).stem,
            waive_failures=True,
            exclude_item=entry.import_item_id,
        )
        decision.checks.append(
            check(
                entry.reason.value,
                CheckStatus.waived,
                f"Accepted from quarantine by {actor.user.username}: {entry.message}",
            )
        )
        await _back_to_staging(
            session,
            db,
            settings,
            entry,
            inspection,
            decision,
            QuarantineResolution.accepted,
            actor,
        )
        details["staged_at"] = entry.file_path
    elif action == "restore":
        places = await asyncio.to_thread(pipeline.folders, settings)
        destination = await asyncio.to_thread(
            _inbound_destination, places.inbound, entry.inbound_path, set()
        )
        source = Path(entry.file_path)
        move = PlannedMove(source, destination, entry.sha256, entry.size, places.inbound)
        try:
            async with moving(db, [move], in_request=True) as moves:
                entry.file_path = str(destination)
                entry.resolved_at, entry.resolution = utcnow(), QuarantineResolution.restored
                entry.resolved_by_id = actor.id
                await session.flush()
                await mark_done(session, moves)
        except OSError as exc:
            raise FileUnavailable(f"The file could not be moved to inbound: {exc}") from exc
        details["restored_to"] = str(destination)
    else:
        path = entry.file_path
        details["sha256"] = entry.sha256
        entry.resolved_at, entry.resolution = utcnow(), QuarantineResolution.deleted
        entry.resolved_by_id = actor.id
        await session.flush()

        async def remove() -> None:
            # After the commit: a deletion the database does not record never happens.
            await asyncio.to_thread(_unlink_quietly, path)

        after_commit(session, remove)
    await activity_service.record_by(
        session,
        actor,
        action=f"import.quarantine.{action}",
        resource_type="quarantine_item",
        resource_id=entry.id,
        origin=origin,
        details=details,
    )
    _announce(session, bus, f"import.quarantine.{action}", quarantine_id=str(entry.id))
    return quarantine_read(entry)


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


async def requeue_quarantine(
    session: AsyncSession,
    db: Database,
    bus: EventBus,
    settings: Settings,
    actor: Principal,
    origin: Origin,
    entry_id: uuid.UUID,
) -> QuarantineItemRead:
    """Run the checks again: passing files go to staging (`requeued`); others stay, with
    their attempts counted and their checks and reason updated."""
    entry = await _open_quarantine(session, entry_id)
    inspection = await _inspect_quarantined(entry)
    path = Path(entry.file_path)
    decision = await pipeline.decide(
        session, settings, inspection, path.suffix, path.stem, exclude_item=entry.import_item_id
    )
    if entry.reason in (QuarantineReason.disk_full, QuarantineReason.capacity_probe_failed):
        decision.checks.append(check(entry.reason.value, CheckStatus.passed, "Checked again."))
    if path.suffix.lower() == ".cue":
        missing = await asyncio.to_thread(file_checks.missing_cue_audio, path)
        if missing:
            decision.fail(
                "cue_sheet",
                QuarantineReason.cue_missing_audio,
                f"The cue sheet names audio that is not beside it: {', '.join(missing)}.",
            )
    if decision.reason is None:
        await _back_to_staging(
            session, db, settings, entry, inspection, decision, QuarantineResolution.requeued, actor
        )
        outcome = "staged"
    else:
        entry.attempts += 1
        entry.reason, entry.message, entry.checks = (
            decision.reason,
            decision.message,
            decision.checks,
        )
        entry.sha256 = inspection.sha256 or entry.sha256
        await session.flush()
        outcome = "kept"
    await activity_service.record_by(
        session,
        actor,
        action="import.quarantine.requeue",
        resource_type="quarantine_item",
        resource_id=entry.id,
        origin=origin,
        details={"outcome": outcome, "reason": entry.reason.value},
    )
    _announce(
        session, bus, "import.quarantine.requeue", quarantine_id=str(entry.id), outcome=outcome
    )
    return quarantine_read(entry)


# ---------------------------------------------------------------- import rules


async def read_rule(session: AsyncSession, library_id: uuid.UUID) -> ImportRuleRead:
    await library_service.get_library(session, library_id)
    rule = await session.get(LibraryImportRule, library_id)
    if rule is None:
        raise ImportRuleNotFound()
    return ImportRuleRead.model_validate(rule)


async def put_rule(
    session: AsyncSession,
    actor: Principal,
    origin: Origin,
    library_id: uuid.UUID,
    body: ImportRuleUpdate,
) -> ImportRuleRead:
    library = await library_service.get_library(session, library_id)
    if library.kind != LibraryKind.music:
        raise NotMusicLibrary(details={"kind": library.kind.value})
    rule = await session.get(LibraryImportRule, library_id)
    if rule is None:
        rule = LibraryImportRule(library_id=library_id)
        session.add(rule)
    rule.artist_range = body.artist_range.upper() if body.artist_range else None
    rule.priority = body.priority
    rule.is_enabled = body.is_enabled
    rule.updated_at = utcnow()
    await session.flush()
    await activity_service.record_by(
        session,
        actor,
        action="import.rule.update",
        resource_type="library",
        resource_id=library_id,
        origin=origin,
        details=body.model_dump(),
    )
    return ImportRuleRead.model_validate(rule)
