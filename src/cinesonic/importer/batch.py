"""`import.process` over inbound audio files, a batch at a time.

Processing file by file spent most of its time on the database, not on the files: per file a
look-up, a decision in its own session, an intent committed, the item committed. A batch does
that work in a fixed number of steps:

    look (identity and checks of every file, in one worker thread, the next batch's while this
    one is recorded) → skip (one query for the batch's already-processed files) → decide (one
    session; `lookups.BatchLookups` answers from a few prefetched queries and makes the batch's
    files check each other as staged rows would) → move (every intent committed at once, then
    the moves: `moves.moving`) → record (items, albums, quarantine records, activity and the
    intents' `done` in one transaction) → announce (events)

The intent protocol is every pipeline move's: a crash before the record commits leaves every
intent of the batch `planned`, and recovery puts each file back in inbound. If a move fails
(a file taken away, a full disk), `moving` puts every moved file of the batch back and the
error fails the job's attempt; the retry (`IMPORT_ATTEMPTS`) skips the batches already
recorded and does the rest again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, tuple_

from cinesonic.importer import checks as file_checks
from cinesonic.importer.checks import Inspection, TransientFileError
from cinesonic.importer.lookups import BatchLookups, Wanted, group_key
from cinesonic.importer.moves import PlannedMove, mark_done, moving
from cinesonic.importer.pipeline import (
    Decision,
    Pipeline,
    decide,
    prune_folders,
    publish,
    quarantine_destination,
    refresh_album_status,
    staged_album,
    stat_or_zero,
    status_of,
    track_of,
)
from cinesonic.kit.ids import uuid7
from cinesonic.kit.paths import unique_path
from cinesonic.models.importer import (
    ImportAlbum,
    ImportItem,
    ImportStatus,
    QuarantineItem,
    QuarantineReason,
)

BATCH_SIZE = 64  # files per batch: one intent commit and one record commit each


@dataclass
class Looked:
    path: Path
    relative: str
    inspection: Inspection


@dataclass
class Planned:
    looked: Looked
    decision: Decision
    move: PlannedMove


def _look(paths: Sequence[Path], inbound: Path, final_attempt: bool) -> list[Looked]:
    """Identity and checks of each file (in a worker thread). A file gone meanwhile is left
    out; an unreadable one raises `TransientFileError` unless this is the last attempt, when it
    is recorded as unreadable (to quarantine), as the single-file path does."""
    looked = []
    for path in paths:
        try:
            size, mtime_ns, sha256 = file_checks.file_identity(path)
            inspection = file_checks.inspect_audio(
                path, inbound, sha256=sha256, size=size, mtime_ns=mtime_ns
            )
        except FileNotFoundError:
            continue
        except TransientFileError as exc:
            if not final_attempt:
                raise
            size, mtime_ns = stat_or_zero(path)
            inspection = Inspection(sha256="", size=size, mtime_ns=mtime_ns, info=None)
            inspection.fail(
                "probe", QuarantineReason.unsupported_container, f"The file cannot be read: {exc}"
            )
        looked.append(Looked(path, path.relative_to(inbound).as_posix(), inspection))
    return looked


async def _processed(pipeline: Pipeline, looked: Sequence[Looked]) -> set[tuple[str, int]]:
    """(sha256, mtime_ns) of the batch's files already staged or quarantined."""
    keys = [(item.inspection.sha256, item.inspection.mtime_ns) for item in looked]
    found: set[tuple[str, int]] = set()
    async with pipeline.db.sessionmaker() as session:
        for model in (ImportItem, QuarantineItem):
            rows = await session.execute(
                select(model.sha256, model.mtime_ns).where(
                    model.sha256.in_({sha256 for sha256, _ in keys}),
                    tuple_(model.sha256, model.mtime_ns).in_(keys),
                )
            )
            found.update((sha256, mtime_ns) for sha256, mtime_ns in rows)
    return found


def _wanted(item: Looked) -> Wanted:
    """What deciding `item` will look up (its album group as `decide` computes it)."""
    inspection = item.inspection
    values = file_checks.template_values(inspection.tags, item.path.suffix, item.path.stem)
    album_artist = str(values["album_artist"] or file_checks.FALLBACKS["album_artist"])
    album = str(values["album"] or file_checks.FALLBACKS["album"])
    info = inspection.info
    return Wanted(
        key=group_key(album_artist, album, inspection.tags.get("year")),
        album_artist=album_artist,
        album=album,
        sha256=inspection.sha256,
        fingerprint=info.fingerprint if info is not None else None,
        size=info.size if info is not None else inspection.size,
        track=track_of(inspection),
    )


async def process_all(
    pipeline: Pipeline, paths: Sequence[Path], *, force: bool, total: int
) -> dict[Path, ImportItem]:
    """Process inbound audio files batch by batch; answer the staged items by inbound path.
    The next batch's files are read while this one is decided, moved and recorded (reading
    and hashing wait on the disk; recording waits on the database)."""
    batches = [paths[start : start + BATCH_SIZE] for start in range(0, len(paths), BATCH_SIZE)]
    inbound, final = pipeline.folders.inbound, pipeline.final_attempt
    staged: dict[Path, ImportItem] = {}
    ahead: asyncio.Task[list[Looked]] | None = None
    done = 0
    try:
        for index, batch in enumerate(batches):
            looked = await (ahead or asyncio.to_thread(_look, batch, inbound, final))
            ahead = None
            if index + 1 < len(batches):
                following = batches[index + 1]
                ahead = asyncio.create_task(asyncio.to_thread(_look, following, inbound, final))
            pipeline.counters.seen += len(batch)
            staged.update(await process_batch(pipeline, looked, force=force))
            done += len(batch)
            await pipeline._progress(done, total, f"{done} of {total} files checked")
    finally:
        if ahead is not None:
            ahead.cancel()
            with contextlib.suppress(BaseException):
                await ahead
    return staged


async def process_batch(
    pipeline: Pipeline, looked: list[Looked], *, force: bool
) -> dict[Path, ImportItem]:
    """Decide, move and record files already looked at; answer the staged items by path."""
    folders, settings = pipeline.folders, pipeline.settings
    if not force and looked:
        done = await _processed(pipeline, looked)
        pipeline.counters.skipped += sum(
            1 for item in looked if (item.inspection.sha256, item.inspection.mtime_ns) in done
        )
        looked = [
            item
            for item in looked
            if (item.inspection.sha256, item.inspection.mtime_ns) not in done
        ]
    if not looked:
        return {}
    taken: set[Path] = set()
    plans: list[Planned] = []
    async with pipeline.db.sessionmaker() as session:
        lookups = BatchLookups(session)
        await lookups.prefetch(_wanted(item) for item in looked)
        for item in looked:
            decision = await decide(
                session,
                settings,
                item.inspection,
                item.path.suffix,
                item.path.stem,
                lookups=lookups,
            )
            if decision.reason is None:
                key = group_key(decision.album_artist, decision.album, decision.year)
                track = track_of(item.inspection)
                lookups.remember(key, item.inspection.sha256, track, item.relative)
                root = folders.staging
                destination = unique_path(root / decision.proposed_path, taken)
            else:
                root = folders.quarantine
                destination = quarantine_destination(root, decision.reason, item.relative, taken)
            taken.add(destination)
            move = PlannedMove(
                item.path, destination, item.inspection.sha256, item.inspection.size, root=root
            )
            plans.append(Planned(item, decision, move))
    recorded = await _move_and_record(pipeline, plans)
    await asyncio.to_thread(
        prune_folders, [plan.looked.path.parent for plan in plans], folders.inbound
    )
    await _announce(pipeline, plans, recorded)
    return recorded.staged


@dataclass
class Recorded:
    staged: dict[Path, ImportItem]
    quarantined: dict[Path, QuarantineItem]


async def _move_and_record(pipeline: Pipeline, plans: Sequence[Planned]) -> Recorded:
    staged: dict[Path, ImportItem] = {}
    quarantined: dict[Path, QuarantineItem] = {}
    async with (
        moving(pipeline.db, [plan.move for plan in plans], job_id=pipeline.job_id) as moves,
        pipeline.db.session() as session,
    ):
        albums: dict[str, ImportAlbum] = {}
        for plan, move in zip(plans, moves, strict=True):
            looked, decision = plan.looked, plan.decision
            inspection = looked.inspection
            if decision.reason is not None:
                entry = QuarantineItem(
                    id=uuid7(),
                    file_path=str(move.destination),
                    original_path=str(looked.path),
                    inbound_path=looked.relative,
                    reason=decision.reason,
                    message=decision.message,
                    sha256=inspection.sha256,
                    size=inspection.size,
                    mtime_ns=inspection.mtime_ns,
                    tags=inspection.tags,
                    checks=decision.checks,
                )
                session.add(entry)
                quarantined[looked.path] = entry
                await pipeline._audit(
                    session,
                    "import.quarantined",
                    "quarantine_item",
                    entry.id,
                    reason=decision.reason.value,
                    original_path=looked.relative,
                    path=str(move.destination),
                )
                continue
            key = group_key(decision.album_artist, decision.album, decision.year)
            album = albums.get(key)
            if album is None:
                album = albums[key] = await staged_album(session, decision)
            item = ImportItem(
                id=uuid7(),
                album_id=album.id,
                status=status_of(decision.checks),
                original_path=looked.relative,
                current_path=str(move.destination),
                proposed_path=decision.proposed_path,
                sha256=inspection.sha256,
                size=inspection.size,
                mtime_ns=inspection.mtime_ns,
                tags=inspection.tags,
                corrections={},
                checks=decision.checks,
                replaces_song_id=decision.replaces_song_id,
            )
            session.add(item)
            staged[looked.path] = item
            await pipeline._audit(
                session,
                "import.staged",
                "import_item",
                item.id,
                original_path=looked.relative,
                path=str(move.destination),
                status=item.status.value,
            )
        for album in albums.values():
            await refresh_album_status(session, album)
        await mark_done(session, moves)
    return Recorded(staged, quarantined)


async def _announce(pipeline: Pipeline, plans: Sequence[Planned], recorded: Recorded) -> None:
    counters = pipeline.counters
    for plan in plans:
        decision, looked = plan.decision, plan.looked
        if decision.reason is not None:
            counters.quarantined += 1
            await publish(
                pipeline.bus,
                "import.quarantined",
                quarantine_id=str(recorded.quarantined[looked.path].id),
                reason=decision.reason.value,
                path=looked.relative,
            )
            continue
        item = recorded.staged[looked.path]
        counters.staged += 1
        if item.status == ImportStatus.needs_review:
            counters.needs_review += 1
        await publish(
            pipeline.bus,
            "import.staged",
            item_id=str(item.id),
            album_id=str(item.album_id),
            status=item.status.value,
            path=decision.proposed_path,
        )
