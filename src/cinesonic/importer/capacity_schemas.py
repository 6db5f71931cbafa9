"""Request and response models of the disk-capacity report (`/admin/capacity…`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from cinesonic.kit.schemas import Schema
from cinesonic.models.capacity import CapacityStatus
from cinesonic.models.library import LibraryKind

MAX_PROBE_LIBRARIES = 100

_STATUS = (
    "`ok`, `warning` (at least the warning threshold full), `alert` (at least the alert "
    "threshold full) or `unknown` (the latest probe failed, or none ran yet)."
)


class ProbeRequest(Schema):
    library_ids: list[uuid.UUID] | None = Field(
        None,
        min_length=1,
        max_length=MAX_PROBE_LIBRARIES,
        description="Libraries whose roots to probe; left out: every library.",
    )


class RootCapacityRead(Schema):
    """One root folder of a library with its latest disk-usage probe."""

    root_id: uuid.UUID
    library_id: uuid.UUID
    library_name: str
    path: str
    status: CapacityStatus = Field(description=_STATUS)
    used_percent: float | None = Field(
        None,
        description="Share of the disk in use, as `df` counts it: used / (used + free), so "
        "space reserved for the system counts as full. From the last probe that succeeded.",
    )
    total_bytes: int | None = Field(None, description="Size of the disk (last good probe).")
    used_bytes: int | None = Field(None, description="Bytes in use (last good probe).")
    free_bytes: int | None = Field(None, description="Bytes free to the server (last good probe).")
    checked_at: datetime | None = Field(
        None, description="When the latest probe ran, whatever its outcome; null: never."
    )
    last_success_at: datetime | None = Field(
        None, description="When a probe last succeeded (the reading above is from then)."
    )
    next_check_at: datetime = Field(description="When the scheduled probe is due.")
    error_count: int = Field(description="Failed probes in all.")
    consecutive_errors: int = Field(description="Failed probes since the last success.")
    last_error: str | None = Field(None, description="Why the latest failed probe failed.")


class LibraryCapacityRead(Schema):
    library_id: uuid.UUID
    name: str
    kind: LibraryKind
    status: CapacityStatus = Field(
        description="The worst status of its roots (`alert` > `unknown` > `warning` > `ok`)."
    )
    roots: list[RootCapacityRead]


class CapacityReport(Schema):
    """Every library (or those asked) with its roots, and the worst status of all."""

    status: CapacityStatus = Field(
        description="The worst status of every root listed (`alert` > `unknown` > `warning` > "
        "`ok`); `ok` when there is no root."
    )
    warning_percent: int = Field(description="The warning threshold in force.")
    alert_percent: int = Field(description="The alert threshold in force.")
    probe_interval_minutes: int = Field(description="How often each root is probed.")
    data: list[LibraryCapacityRead]
