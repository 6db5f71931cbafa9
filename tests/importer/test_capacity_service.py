"""Disk capacity of library roots, at the service: real probes of the test's own disk, with the
thresholds set around its actual usage; failures from roots removed from disk; scheduling and
the promotion guard driven by explicit times, never by waiting."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from cinesonic.config import Settings
from cinesonic.importer import capacity
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.capacity import CapacityStatus, LibraryRootCapacity
from cinesonic.models.library import Library, LibraryRoot
from cinesonic.state import AppState
from tests.fixtures.music import create_library

MINUTE = timedelta(minutes=1)


def disk_percent(path: Path) -> float:
    usage = shutil.disk_usage(path)
    return 100.0 * usage.used / (usage.used + usage.free)


def set_thresholds(state: AppState, root: Path, status: CapacityStatus) -> None:
    """Thresholds that put the disk holding `root` at `status`, as an administrator would."""
    percent = disk_percent(root)
    warning, alert = {
        CapacityStatus.ok: (99, 100),
        CapacityStatus.warning: (1, 100),
        CapacityStatus.alert: (1, 2),
    }[status]
    if not (
        (status == CapacityStatus.ok and percent < warning)
        or (status == CapacityStatus.warning and warning <= percent < alert)
        or (status == CapacityStatus.alert and percent >= alert)
    ):
        pytest.skip(f"the test disk is {percent:.1f}% full; {status} cannot be set up")
    state.settings.capacity_warning_percent = warning
    state.settings.capacity_alert_percent = alert


async def library_with_root(state: AppState, tmp_path: Path, name: str = "Music") -> Path:
    root = tmp_path / "media" / name
    await create_library(state, name, root=root)
    return root.resolve()


async def library_id(state: AppState, name: str = "Music") -> uuid.UUID:
    async with state.db.sessionmaker() as session:
        found = await session.scalar(select(Library.id).where(Library.name == name))
    assert found is not None
    return found


async def probe_due(state: AppState, now: datetime) -> dict[str, int]:
    async with state.db.session() as session:
        return await capacity.probe_due_roots(session, state.bus, state.settings, now=now)


async def rows(state: AppState) -> list[LibraryRootCapacity]:
    async with state.db.sessionmaker() as session:
        return list(await session.scalars(select(LibraryRootCapacity)))


async def refusal(state: AppState, name: str, now: datetime) -> str | None:
    target = await library_id(state, name)
    async with state.db.sessionmaker() as session:
        return await capacity.promotion_refusal(session, target, now=now)


async def root_created_at(state: AppState) -> datetime:
    async with state.db.sessionmaker() as session:
        created = await session.scalar(select(LibraryRoot.created_at))
    assert created is not None
    return created


# ---------------------------------------------------------------- statuses and thresholds


@pytest.mark.parametrize(
    "status", [CapacityStatus.ok, CapacityStatus.warning, CapacityStatus.alert]
)
async def test_a_probe_reads_the_real_disk_and_applies_the_thresholds(
    state: AppState, tmp_path: Path, status: CapacityStatus
) -> None:
    root = await library_with_root(state, tmp_path)
    set_thresholds(state, root, status)
    now = utcnow()

    assert await probe_due(state, now) == {"probed": 1, "failed": 0}

    [row] = await rows(state)
    usage = shutil.disk_usage(root)
    assert row.status == status
    assert row.total_bytes == usage.total
    assert row.used_bytes is not None and row.free_bytes is not None
    assert abs(row.used_bytes - usage.used) < usage.total * 0.01  # the disk moves a little
    assert row.used_percent is not None
    assert row.used_percent == pytest.approx(disk_percent(root), abs=1.0)
    assert row.checked_at == row.last_success_at == now
    assert row.next_check_at == now + 10 * MINUTE
    assert (row.error_count, row.consecutive_errors, row.last_error) == (0, 0, None)


def test_classify_counts_a_threshold_reached_as_crossed() -> None:
    settings = Settings(capacity_warning_percent=80, capacity_alert_percent=90)
    assert capacity.classify(79.99, settings) == CapacityStatus.ok
    assert capacity.classify(80.0, settings) == CapacityStatus.warning
    assert capacity.classify(89.99, settings) == CapacityStatus.warning
    assert capacity.classify(90.0, settings) == CapacityStatus.alert
    assert capacity.classify(100.0, settings) == CapacityStatus.alert


def test_the_worst_status_wins() -> None:
    ok, warning, alert, unknown = (
        CapacityStatus.ok,
        CapacityStatus.warning,
        CapacityStatus.alert,
        CapacityStatus.unknown,
    )
    assert capacity.worst([]) == ok
    assert capacity.worst([ok, warning]) == warning
    assert capacity.worst([warning, unknown, ok]) == unknown
    assert capacity.worst([unknown, alert, ok]) == alert


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"capacity_warning_percent": 90, "capacity_alert_percent": 90}, "capacity_alert_percent"),
        ({"capacity_warning_percent": 95}, "capacity_alert_percent"),
        ({"capacity_alert_percent": 101}, "capacity_alert_percent"),
        ({"capacity_warning_percent": 0}, "capacity_warning_percent"),
        ({"capacity_probe_interval_minutes": 0}, "capacity_probe_interval_minutes"),
    ],
)
def test_capacity_settings_are_validated(values: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(**values)
    assert field in str(raised.value)


def test_capacity_settings_default_to_10_minutes_80_and_90_percent() -> None:
    settings = Settings()
    assert settings.capacity_probe_interval_minutes == 10
    assert settings.capacity_warning_percent == 80
    assert settings.capacity_alert_percent == 90


# ---------------------------------------------------------------- failures and counters


async def test_a_missing_root_is_a_failed_probe_counted_until_it_comes_back(
    state: AppState, tmp_path: Path
) -> None:
    root = await library_with_root(state, tmp_path)
    start = utcnow()
    await probe_due(state, start)
    [first] = await rows(state)
    shutil.rmtree(root)

    assert await probe_due(state, start + 10 * MINUTE) == {"probed": 1, "failed": 1}
    assert await probe_due(state, start + 20 * MINUTE) == {"probed": 1, "failed": 1}

    [failed] = await rows(state)
    assert failed.status == CapacityStatus.unknown
    assert (failed.consecutive_errors, failed.error_count) == (2, 2)
    assert failed.last_error == f"{root} does not exist"
    assert failed.checked_at == start + 20 * MINUTE
    assert failed.next_check_at == start + 30 * MINUTE
    # The last good reading stays, with when it was taken.
    assert failed.last_success_at == start
    assert failed.total_bytes == first.total_bytes

    root.mkdir(parents=True)
    await probe_due(state, start + 30 * MINUTE)
    [back] = await rows(state)
    assert back.status in (CapacityStatus.ok, CapacityStatus.warning, CapacityStatus.alert)
    assert (back.consecutive_errors, back.error_count) == (0, 2)
    assert back.last_success_at == start + 30 * MINUTE


async def test_a_root_replaced_by_a_file_is_a_failed_probe(state: AppState, tmp_path: Path) -> None:
    root = await library_with_root(state, tmp_path)
    root.rmdir()
    root.write_bytes(b"not a folder")

    await probe_due(state, utcnow())

    [row] = await rows(state)
    assert row.status == CapacityStatus.unknown
    assert row.last_error == f"{root} is not a folder"
    assert row.last_success_at is None and row.used_percent is None


# ---------------------------------------------------------------- scheduling


async def test_roots_are_probed_again_once_the_interval_has_passed(
    state: AppState, tmp_path: Path
) -> None:
    await library_with_root(state, tmp_path, "A")
    await library_with_root(state, tmp_path, "B")
    start = utcnow()

    assert (await probe_due(state, start))["probed"] == 2
    assert (await probe_due(state, start + MINUTE))["probed"] == 0
    assert (await probe_due(state, start + 10 * MINUTE - timedelta(seconds=1)))["probed"] == 0
    assert (await probe_due(state, start + 10 * MINUTE))["probed"] == 2


async def test_a_shorter_interval_applies_at_once_and_a_longer_one_after_the_next_probe(
    state: AppState, tmp_path: Path
) -> None:
    await library_with_root(state, tmp_path)
    start = utcnow()
    await probe_due(state, start)

    state.settings.capacity_probe_interval_minutes = 2  # changed while the server runs
    assert (await probe_due(state, start + MINUTE))["probed"] == 0
    assert (await probe_due(state, start + 2 * MINUTE))["probed"] == 1
    [row] = await rows(state)
    assert row.next_check_at == start + 4 * MINUTE

    state.settings.capacity_probe_interval_minutes = 30
    assert (await probe_due(state, start + 4 * MINUTE))["probed"] == 1  # scheduled before
    assert (await probe_due(state, start + 6 * MINUTE))["probed"] == 0
    [row] = await rows(state)
    assert row.next_check_at == start + 34 * MINUTE


async def test_a_root_added_later_is_probed_by_the_next_run(
    state: AppState, tmp_path: Path
) -> None:
    await library_with_root(state, tmp_path, "A")
    start = utcnow()
    await probe_due(state, start)
    await library_with_root(state, tmp_path, "B")

    assert (await probe_due(state, start + MINUTE))["probed"] == 1


# ---------------------------------------------------------------- events


async def test_status_changes_are_published_on_the_import_topic(
    state: AppState, tmp_path: Path
) -> None:
    root = await library_with_root(state, tmp_path)
    heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def listen(data: Any) -> None:
        await heard.put(data)

    state.bus.subscribe(capacity.IMPORT_CHANNEL, listen)
    set_thresholds(state, root, CapacityStatus.ok)
    start = utcnow()
    await probe_due(state, start)
    first = await asyncio.wait_for(heard.get(), 5)
    assert first["event"] == "capacity.changed"
    assert (first["previous_status"], first["status"]) == ("unknown", "ok")
    assert first["path"] == str(root) and first["library_id"] == str(await library_id(state))
    assert first["audience"] == []  # administrators only

    await probe_due(state, start + 10 * MINUTE)  # unchanged: nothing said
    set_thresholds(state, root, CapacityStatus.alert)
    await probe_due(state, start + 20 * MINUTE)
    second = await asyncio.wait_for(heard.get(), 5)
    assert (second["previous_status"], second["status"]) == ("ok", "alert")
    assert heard.empty()


# ---------------------------------------------------------------- the promotion guard


async def test_promotion_is_allowed_into_a_library_whose_disk_is_fine(
    state: AppState, tmp_path: Path
) -> None:
    root = await library_with_root(state, tmp_path)
    set_thresholds(state, root, CapacityStatus.warning)
    now = utcnow()
    await probe_due(state, now)

    assert await refusal(state, "Music", now) is None


async def test_promotion_into_a_library_at_alert_is_refused_as_disk_full(
    state: AppState, tmp_path: Path
) -> None:
    root = await library_with_root(state, tmp_path)
    set_thresholds(state, root, CapacityStatus.alert)
    now = utcnow()
    await probe_due(state, now)

    assert await refusal(state, "Music", now) == "disk_full"


async def test_promotion_stops_once_probes_failed_for_two_intervals(
    state: AppState, tmp_path: Path
) -> None:
    root = await library_with_root(state, tmp_path)
    start = utcnow()
    await probe_due(state, start)
    shutil.rmtree(root)

    await probe_due(state, start + 10 * MINUTE)
    assert await refusal(state, "Music", start + 10 * MINUTE) is None  # one failure
    await probe_due(state, start + 20 * MINUTE)
    assert await refusal(state, "Music", start + 20 * MINUTE) == "capacity_probe_failed"


async def test_a_root_never_probed_stops_promotion_after_two_default_intervals(
    state: AppState, tmp_path: Path
) -> None:
    await library_with_root(state, tmp_path)
    created = await root_created_at(state)

    assert await refusal(state, "Music", created + 19 * MINUTE) is None
    assert await refusal(state, "Music", created + 20 * MINUTE) == "capacity_probe_failed"


async def test_a_root_never_probed_successfully_stops_promotion_after_two_intervals(
    state: AppState, tmp_path: Path
) -> None:
    root = await library_with_root(state, tmp_path)
    shutil.rmtree(root)
    created = await root_created_at(state)
    await probe_due(state, created + MINUTE)

    assert await refusal(state, "Music", created + 5 * MINUTE) is None
    assert await refusal(state, "Music", created + 21 * MINUTE) == "capacity_probe_failed"


async def test_disk_full_wins_when_one_root_is_full_and_another_fails(
    state: AppState, tmp_path: Path
) -> None:
    root = await library_with_root(state, tmp_path)
    broken = tmp_path / "media" / "second"
    broken.mkdir()
    async with state.db.session() as session:
        session.add(LibraryRoot(library_id=await library_id(state), path=str(broken.resolve())))
    set_thresholds(state, root, CapacityStatus.alert)
    start = utcnow()
    await probe_due(state, start)
    shutil.rmtree(broken)
    for minutes in (10, 20):
        await probe_due(state, start + minutes * MINUTE)

    assert await refusal(state, "Music", start + 20 * MINUTE) == "disk_full"


async def test_an_unknown_library_is_not_refused(state: AppState) -> None:
    async with state.db.sessionmaker() as session:
        assert await capacity.promotion_refusal(session, uuid.uuid4()) is None
