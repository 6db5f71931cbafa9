"""Moves with an intent record, and the recovery of moves a crash interrupted.

Protocol of every pipeline move:
1. a `file_move` row (state `planned`) is written and committed in a unit of work of its own;
2. the file is moved (`kit.fsmove.move_file`: never overwrites, verifies across filesystems);
3. the database change the move belongs to (a staged item, a quarantine record, a promoted
   song) and the row's state `done` commit in one transaction.

So a row still `planned` (or `copied`) means the change never committed: the database still
describes the file at its source, and the source is authoritative. `recover_moves` therefore
settles each such row back to its source (`kit.fsmove.settle` with `source_wins`: a destination
alone is moved back, a verified twin is removed, a partial copy dropped, a stranger's file never
touched) and marks it `rolled_back`; the work is then simply done again. A move whose files are
both gone, or whose destination holds other content, is logged and left `planned` for a person
(it never happens through this code).

Recovery runs before each pipeline job. It settles the moves of jobs that are not running
(finished, dead, or whose lease ran out), the moves of the job asking (an earlier attempt of
it), and moves started by requests more than `REQUEST_MOVE_GRACE` ago — never the moves of a
job running elsewhere at that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from threading import Event

import structlog
from sqlalchemy import and_, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.db import Database
from cinesonic.kit.fsmove import Settled, move_file, settle, sync_folders
from cinesonic.kit.ids import uuid7
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.importer import FileMove, FileMoveState
from cinesonic.models.job import Job, JobStatus

log = structlog.get_logger("cinesonic.importer")

REQUEST_MOVE_GRACE = timedelta(minutes=10)
OPEN_STATES = (FileMoveState.planned, FileMoveState.copied)


@dataclass(frozen=True)
class PlannedMove:
    source: Path
    destination: Path
    sha256: str
    size: int
    root: Path | None = None  # the destination must stay inside it
    id: uuid.UUID | None = None


async def _record_intents(
    db: Database, moves: Sequence[PlannedMove], job_id: uuid.UUID | None
) -> list[PlannedMove]:
    planned = [
        PlannedMove(m.source, m.destination, m.sha256, m.size, m.root, uuid7()) for m in moves
    ]
    async with db.session() as session:
        session.add_all(
            FileMove(
                id=move.id,
                source=str(move.source),
                destination=str(move.destination),
                sha256=move.sha256,
                size=move.size,
                state=FileMoveState.planned,
                job_id=job_id,
            )
            for move in planned
        )
    return planned


async def _set_state(db: Database, ids: Sequence[uuid.UUID], state: FileMoveState) -> None:
    if not ids:
        return
    async with db.session() as session:
        await session.execute(
            update(FileMove)
            .where(FileMove.id.in_(list(ids)))
            .values(state=state, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


async def mark_done(session: AsyncSession, moves: Sequence[PlannedMove]) -> None:
    """In the caller's transaction: the moves belong to the change it commits."""
    ids = [move.id for move in moves if move.id is not None]
    if ids:
        await session.execute(
            update(FileMove)
            .where(FileMove.id.in_(ids))
            .values(state=FileMoveState.done, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


async def _undo(moves: Sequence[PlannedMove]) -> None:
    for move in reversed(moves):
        try:
            await asyncio.to_thread(move_file, move.destination, move.source)
        except OSError as exc:  # left planned: recovery settles it
            log.error("move_not_undone", source=str(move.source), error=str(exc))


def _move_all(planned: Sequence[PlannedMove], moved: list[PlannedMove], stop: Event) -> None:
    """Move the files in order (in a worker thread), noting each as it lands; the folders the
    files left are synced once, at the end, whatever happens."""
    unsynced: set[Path] = set()
    try:
        for move in planned:
            if stop.is_set():
                return
            move_file(
                move.source,
                move.destination,
                root=move.root,
                expected_sha256=None,
                unsynced=unsynced,
            )
            moved.append(move)
    finally:
        sync_folders(unsynced)


@asynccontextmanager
async def moving(
    db: Database,
    moves: Sequence[PlannedMove],
    *,
    job_id: uuid.UUID | None = None,
    in_request: bool = False,
) -> AsyncIterator[list[PlannedMove]]:
    """Record the intents, move the files, and hand the moves to the block, which makes the
    database change and calls `mark_done` in the same transaction. If a move fails, or the
    block raises, every file moved goes back where it was. `in_request`: the block writes in
    a request's transaction, which may hold SQLite's write lock until it ends, so the intents
    are not marked rolled back here (recovery does it: each finds its file at the source)."""
    planned = await _record_intents(db, moves, job_id)
    moved: list[PlannedMove] = []
    stop = Event()
    work = asyncio.ensure_future(asyncio.to_thread(_move_all, planned, moved, stop))
    try:
        await asyncio.shield(work)
        yield planned
    except BaseException:
        stop.set()  # a cancelled wait leaves the thread moving: stop it at the next file
        while not work.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(work)
        await asyncio.shield(_undo(moved))
        if not in_request:
            undone = [m.id for m in planned if m.id is not None]
            await asyncio.shield(_set_state(db, undone, FileMoveState.rolled_back))
        raise


async def recover_moves(db: Database, *, job_id: uuid.UUID | None = None) -> dict[str, int]:
    """Settle every interrupted move that no running job owns (see the module docstring)."""
    now = utcnow()
    live_job = and_(Job.status == JobStatus.running, Job.lease_expires_at > now)
    async with db.sessionmaker() as session:
        rows = list(
            await session.execute(
                select(FileMove.id, FileMove.source, FileMove.destination, FileMove.sha256)
                .outerjoin(Job, Job.id == FileMove.job_id)
                .where(
                    FileMove.state.in_(OPEN_STATES),
                    or_(
                        FileMove.job_id == job_id if job_id is not None else false(),
                        and_(
                            FileMove.job_id.is_(None),
                            FileMove.created_at < now - REQUEST_MOVE_GRACE,
                        ),
                        and_(FileMove.job_id.is_not(None), ~live_job),
                        and_(FileMove.job_id.is_not(None), Job.id.is_(None)),
                    ),
                )
                .order_by(FileMove.created_at.desc())  # undo in reverse order
            )
        )
    counts = {"rolled_back": 0, "unresolved": 0}
    for move_id, source, destination, sha256 in rows:
        digest = sha256 or None  # an unreadable file was moved without a checksum
        outcome = await asyncio.to_thread(settle, source, destination, digest, source_wins=True)
        if outcome is Settled.at_source:
            await _set_state(db, [move_id], FileMoveState.rolled_back)
            counts["rolled_back"] += 1
        else:
            log.error(
                "move_unresolved",
                move_id=str(move_id),
                source=source,
                destination=destination,
                outcome=outcome.value,
            )
            counts["unresolved"] += 1
    if rows:
        log.warning("moves_recovered", **counts)
    return counts
