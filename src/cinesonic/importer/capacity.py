"""Disk capacity of library roots [000]: probing, the report, and the promotion guard.

A probe is `shutil.disk_usage` of a root folder, run in a thread with a time limit; a root that
is missing, not a folder, unreadable or hangs (a dead network mount) is a failed probe, counted
and kept with its error, never a crash. The used share is counted as `df` counts it,
used / (used + free): space the filesystem reserves for the system counts as full, because
the server cannot write there. A successful probe sets the status from the thresholds in force
(`capacity_warning_percent`, `capacity_alert_percent`); a failed one sets `unknown` and keeps
the last good reading, so the report still shows what the disk looked like.

Scheduling: `capacity.probe` runs every minute and probes the roots that are due — never
probed, or probed at least `capacity_probe_interval_minutes` ago, or past the `next_check_at`
the last probe stored. Reading the interval at every run means a shorter interval applies at
once; a longer one from the next probe. Every library's roots are probed, whatever its kind
and whether it is enabled: any of them may receive files.

Each status change is published on the `import` topic (`capacity.changed`, for holders of
`library.manage`) once its transaction commits. The disks are probed while no write is
pending, so SQLite's single writer is never held across a slow disk.

This module never touches a file: it only reads disk usage.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth.principal import Principal
from cinesonic.config import Settings
from cinesonic.db import after_commit
from cinesonic.events.bus import EventBus
from cinesonic.importer.capacity_schemas import (
    CapacityReport,
    LibraryCapacityRead,
    ProbeRequest,
    RootCapacityRead,
)
from cinesonic.kit.timeutil import utcnow
from cinesonic.library import service as library_service
from cinesonic.models.capacity import CapacityStatus, LibraryRootCapacity
from cinesonic.models.library import Library, LibraryKind, LibraryRoot

IMPORT_CHANNEL = "import"  # event-bus channel and WebSocket topic of the import pipeline
PROBE_JOB = "capacity.probe"
PROBE_QUEUE = "maintenance"
PROBE_TIMEOUT_SECONDS = 10.0
MAX_ERROR_LENGTH = 1000
# Refusal reasons of `promotion_refusal`, as the quarantine names them [000].
DISK_FULL = "disk_full"
CAPACITY_PROBE_FAILED = "capacity_probe_failed"
# Probes that failed in a row (for two intervals) before promotion stops.
FAILED_PROBES_TO_REFUSE = 2
# The interval assumed for a root no probe has reached yet.
DEFAULT_PROBE_INTERVAL_MINUTES: int = Settings.model_fields[
    "capacity_probe_interval_minutes"
].default

# Worst last: the overall status of several roots is the highest ranked.
_SEVERITY = {
    CapacityStatus.ok: 0,
    CapacityStatus.warning: 1,
    CapacityStatus.unknown: 2,
    CapacityStatus.alert: 3,
}


def worst(statuses: Iterable[CapacityStatus]) -> CapacityStatus:
    """The worst of `statuses` (`alert` > `unknown` > `warning` > `ok`); `ok` when empty."""
    return max(statuses, key=_SEVERITY.__getitem__, default=CapacityStatus.ok)


def classify(used_percent: float, settings: Settings) -> CapacityStatus:
    # Alert is tested first, so thresholds changed at runtime into the wrong order still
    # never hide an alert.
    if used_percent >= settings.capacity_alert_percent:
        return CapacityStatus.alert
    if used_percent >= settings.capacity_warning_percent:
        return CapacityStatus.warning
    return CapacityStatus.ok


def _interval(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.capacity_probe_interval_minutes)


# ---------------------------------------------------------------- probing one folder


@dataclass(frozen=True)
class Reading:
    """The outcome of one probe: the disk's figures, or why there are none."""

    total_bytes: int = 0
    used_bytes: int = 0
    free_bytes: int = 0
    error: str | None = None

    @property
    def used_percent(self) -> float:
        counted = self.used_bytes + self.free_bytes
        return round(100.0 * self.used_bytes / counted, 2) if counted else 100.0


def _measure(path: str) -> Reading:
    """Disk usage of the folder at `path` (blocking: run in a thread)."""
    try:
        if not os.path.isdir(path):
            missing = not os.path.lexists(path)
            return Reading(error=f"{path} {'does not exist' if missing else 'is not a folder'}")
        if not os.access(path, os.R_OK | os.X_OK):
            return Reading(error=f"{path} is not readable by the server")
        usage = shutil.disk_usage(path)
    except OSError as exc:
        return Reading(error=f"{path}: {exc.strerror or exc}")
    return Reading(total_bytes=usage.total, used_bytes=usage.used, free_bytes=usage.free)


async def probe_path(path: str) -> Reading:
    """Probe one folder in a thread; a disk that does not answer in time is a failed probe
    (its thread is left to finish on its own: a hung mount cannot be interrupted)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(_measure, path), PROBE_TIMEOUT_SECONDS)
    except TimeoutError:
        return Reading(error=f"{path} did not answer within {PROBE_TIMEOUT_SECONDS:g} s")


# ---------------------------------------------------------------- probing roots


@dataclass(frozen=True)
class _Root:
    id: uuid.UUID
    library_id: uuid.UUID
    library_name: str
    library_kind: LibraryKind
    path: str
    created_at: datetime


_RootsSelect = Select[uuid.UUID, uuid.UUID, str, LibraryKind, str, datetime]


def _roots_query() -> _RootsSelect:
    return (
        select(
            LibraryRoot.id,
            LibraryRoot.library_id,
            Library.name,
            Library.kind,
            LibraryRoot.path,
            LibraryRoot.created_at,
        )
        .join(Library, Library.id == LibraryRoot.library_id)
        .order_by(Library.name, Library.id, LibraryRoot.path)
    )


async def _load_roots(session: AsyncSession, statement: _RootsSelect) -> list[_Root]:
    return [_Root(*row) for row in await session.execute(statement)]


def _insert_missing(dialect: str, root_ids: Sequence[uuid.UUID], now: datetime) -> Any:
    """Create the rows of roots never probed, leaving rows that exist (a concurrent probe's)."""
    rows = [
        {
            "root_id": root_id,
            "status": CapacityStatus.unknown,
            "next_check_at": now,
            "consecutive_errors": 0,
            "error_count": 0,
            "created_at": now,
        }
        for root_id in root_ids
    ]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(LibraryRootCapacity).values(rows).on_conflict_do_nothing(index_elements=["root_id"])
    )


def _announce(
    session: AsyncSession,
    bus: EventBus,
    root: _Root,
    row: LibraryRootCapacity,
    previous: CapacityStatus,
) -> None:
    data: dict[str, Any] = {
        "event": "capacity.changed",
        "library_id": str(root.library_id),
        "root_id": str(root.id),
        "path": root.path,
        "status": row.status.value,
        "previous_status": previous.value,
        "used_percent": row.used_percent,
        "audience": [],  # administrators only (the topic's oversight permission)
    }

    async def publish() -> None:
        await bus.publish(IMPORT_CHANNEL, data)

    after_commit(session, publish)


async def _probe_and_record(
    session: AsyncSession,
    bus: EventBus,
    settings: Settings,
    roots: Sequence[_Root],
    now: datetime | None = None,
) -> dict[uuid.UUID, LibraryRootCapacity]:
    """Probe `roots` side by side, then store each outcome; answers the rows by root id."""
    if not roots:
        return {}
    readings = await asyncio.gather(*(probe_path(root.path) for root in roots))
    now = now or utcnow()
    ids = [root.id for root in roots]
    await session.execute(_insert_missing(session.get_bind().dialect.name, ids, now))
    rows = {
        row.root_id: row
        for row in await session.scalars(
            select(LibraryRootCapacity)
            .where(LibraryRootCapacity.root_id.in_(ids))
            .execution_options(populate_existing=True)
        )
    }
    next_check_at = now + _interval(settings)
    for root, reading in zip(roots, readings, strict=True):
        row = rows[root.id]
        previous = row.status
        row.checked_at, row.next_check_at = now, next_check_at
        if reading.error is None:
            row.total_bytes = reading.total_bytes
            row.used_bytes = reading.used_bytes
            row.free_bytes = reading.free_bytes
            row.used_percent = reading.used_percent
            row.status = classify(reading.used_percent, settings)
            row.last_success_at = now
            row.consecutive_errors = 0
        else:
            row.status = CapacityStatus.unknown
            row.consecutive_errors += 1
            row.error_count += 1
            row.last_error = reading.error[:MAX_ERROR_LENGTH]
        if row.status != previous:
            _announce(session, bus, root, row, previous)
    await session.flush()
    return rows


async def probe_due_roots(
    session: AsyncSession, bus: EventBus, settings: Settings, *, now: datetime | None = None
) -> dict[str, int]:
    """The scheduled probe: every root never probed or due by the interval in force."""
    now = now or utcnow()
    statement = (
        _roots_query()
        .outerjoin(LibraryRootCapacity, LibraryRootCapacity.root_id == LibraryRoot.id)
        .where(
            or_(
                LibraryRootCapacity.root_id.is_(None),
                LibraryRootCapacity.next_check_at <= now,
                LibraryRootCapacity.checked_at <= now - _interval(settings),
            )
        )
    )
    roots = await _load_roots(session, statement)
    rows = await _probe_and_record(session, bus, settings, roots, now)
    failed = sum(1 for row in rows.values() if row.status == CapacityStatus.unknown)
    return {"probed": len(rows), "failed": failed}


async def probe_now(
    session: AsyncSession,
    bus: EventBus,
    settings: Settings,
    actor: Principal,
    origin: Origin,
    request: ProbeRequest,
) -> CapacityReport:
    """Probe the roots of the libraries asked (404 for an unknown one, nothing probed), or of
    every library, now; answer their fresh report. Audited."""
    library_ids = await _existing_library_ids(session, request.library_ids)
    statement = _roots_query()
    if library_ids is not None:
        statement = statement.where(LibraryRoot.library_id.in_(library_ids))
    roots = await _load_roots(session, statement)
    rows = await _probe_and_record(session, bus, settings, roots)
    report = _report(roots, rows, settings)
    await activity_service.record_by(
        session,
        actor,
        action="capacity.probe",
        resource_type="capacity",
        origin=origin,
        details={
            "library_ids": None if library_ids is None else [str(i) for i in library_ids],
            "roots": len(roots),
            "status": report.status.value,
            "failed": sum(1 for row in rows.values() if row.status == CapacityStatus.unknown),
        },
    )
    return report


async def _existing_library_ids(
    session: AsyncSession, wanted: Sequence[uuid.UUID] | None
) -> list[uuid.UUID] | None:
    if wanted is None:
        return None
    unique = list(dict.fromkeys(wanted))
    found = set(await session.scalars(select(Library.id).where(Library.id.in_(unique))))
    missing = [library_id for library_id in unique if library_id not in found]
    if missing:
        raise library_service.LibraryNotFound(
            "No such library.", details={"library_ids": [str(i) for i in missing]}
        )
    return unique


# ---------------------------------------------------------------- reading the report


def _next_check(row: LibraryRootCapacity | None, root: _Root, settings: Settings) -> datetime:
    """When the root is due: as stored, or sooner when the interval was shortened since."""
    if row is None:
        return root.created_at  # never probed: due since it was added
    if row.checked_at is None:
        return row.next_check_at
    return min(row.next_check_at, row.checked_at + _interval(settings))


def _root_read(
    root: _Root, row: LibraryRootCapacity | None, settings: Settings
) -> RootCapacityRead:
    return RootCapacityRead(
        root_id=root.id,
        library_id=root.library_id,
        library_name=root.library_name,
        path=root.path,
        status=row.status if row is not None else CapacityStatus.unknown,
        used_percent=row.used_percent if row is not None else None,
        total_bytes=row.total_bytes if row is not None else None,
        used_bytes=row.used_bytes if row is not None else None,
        free_bytes=row.free_bytes if row is not None else None,
        checked_at=row.checked_at if row is not None else None,
        last_success_at=row.last_success_at if row is not None else None,
        next_check_at=_next_check(row, root, settings),
        error_count=row.error_count if row is not None else 0,
        consecutive_errors=row.consecutive_errors if row is not None else 0,
        last_error=row.last_error if row is not None else None,
    )


def _libraries(
    roots: Sequence[_Root], rows: dict[uuid.UUID, LibraryRootCapacity], settings: Settings
) -> list[LibraryCapacityRead]:
    grouped: dict[uuid.UUID, LibraryCapacityRead] = {}
    for root in roots:  # ordered by library, then path
        entry = grouped.get(root.library_id)
        if entry is None:
            entry = grouped[root.library_id] = LibraryCapacityRead(
                library_id=root.library_id,
                name=root.library_name,
                kind=root.library_kind,
                status=CapacityStatus.ok,
                roots=[],
            )
        entry.roots.append(_root_read(root, rows.get(root.id), settings))
    for entry in grouped.values():
        entry.status = worst(item.status for item in entry.roots)
    return list(grouped.values())


def _report(
    roots: Sequence[_Root], rows: dict[uuid.UUID, LibraryRootCapacity], settings: Settings
) -> CapacityReport:
    libraries = _libraries(roots, rows, settings)
    return CapacityReport(
        status=worst(entry.status for entry in libraries),
        warning_percent=settings.capacity_warning_percent,
        alert_percent=settings.capacity_alert_percent,
        probe_interval_minutes=settings.capacity_probe_interval_minutes,
        data=libraries,
    )


async def _stored_rows(
    session: AsyncSession, roots: Sequence[_Root]
) -> dict[uuid.UUID, LibraryRootCapacity]:
    if not roots:
        return {}
    statement = select(LibraryRootCapacity).where(
        LibraryRootCapacity.root_id.in_([root.id for root in roots])
    )
    return {row.root_id: row for row in await session.scalars(statement)}


async def capacity_report(session: AsyncSession, settings: Settings) -> CapacityReport:
    """Every library with its roots' latest probe, and the worst status of all."""
    roots = await _load_roots(session, _roots_query())
    return _report(roots, await _stored_rows(session, roots), settings)


async def library_capacity(
    session: AsyncSession, settings: Settings, library_id: uuid.UUID
) -> LibraryCapacityRead:
    """One library with its roots' latest probe (404 when there is no such library)."""
    roots = await _load_roots(session, _roots_query().where(Library.id == library_id))
    if not roots:  # a library without roots (none is made through the API), or none at all
        library = await library_service.get_library(session, library_id)
        return LibraryCapacityRead(
            library_id=library.id,
            name=library.name,
            kind=library.kind,
            status=CapacityStatus.ok,
            roots=[],
        )
    return _libraries(roots, await _stored_rows(session, roots), settings)[0]


# ---------------------------------------------------------------- the promotion guard


async def promotion_refusal(
    session: AsyncSession, library_id: uuid.UUID, *, now: datetime | None = None
) -> str | None:
    """Why nothing may be promoted into the library now, or None when promotion may go on.

    - `"disk_full"`: a root of the library is at `alert` (its latest probe found the disk at
      least `capacity_alert_percent` full).
    - `"capacity_probe_failed"`: a root's disk cannot be trusted — its probes failed for two
      intervals in a row (at least 2 failures since its last success, and that success is two
      intervals old or more), or no probe of it ever succeeded two intervals after the root was
      added (probes failing from the start, or not running at all).
    - `None` otherwise. A library without roots, or unknown, is `None`: promotion finds no
      target there anyway.

    The interval is the one in force at each root's latest probe, read from its row (the
    default `capacity_probe_interval_minutes` before any probe), so the answer needs no
    settings; `alert` is the status the latest probe found. `disk_full` wins over
    `capacity_probe_failed` when both apply. Read-only: the caller quarantines.
    """
    now = now or utcnow()
    rows = await session.execute(
        select(LibraryRoot.created_at, LibraryRootCapacity)
        .outerjoin(LibraryRootCapacity, LibraryRootCapacity.root_id == LibraryRoot.id)
        .where(LibraryRoot.library_id == library_id)
    )
    probe_failed = False
    for created_at, capacity in rows:
        if capacity is not None and capacity.status == CapacityStatus.alert:
            return DISK_FULL
        probe_failed = probe_failed or _probes_failed(created_at, capacity, now)
    return CAPACITY_PROBE_FAILED if probe_failed else None


def _probes_failed(
    root_created_at: datetime, capacity: LibraryRootCapacity | None, now: datetime
) -> bool:
    """Whether a root's disk went unread for two intervals: the interval in force at its
    latest probe (it scheduled the next one), or the default before any probe."""
    interval = timedelta(minutes=DEFAULT_PROBE_INTERVAL_MINUTES)
    if capacity is not None and capacity.checked_at is not None:
        interval = max(capacity.next_check_at - capacity.checked_at, timedelta(minutes=1))
    window = FAILED_PROBES_TO_REFUSE * interval
    if capacity is None or capacity.last_success_at is None:
        return now - root_created_at >= window
    return (
        capacity.consecutive_errors >= FAILED_PROBES_TO_REFUSE
        and now - capacity.last_success_at >= window
    )
