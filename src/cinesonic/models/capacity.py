"""Disk capacity of library roots: the latest probe of each root folder.

One row per `library_root`, created by its first probe and deleted with the root (the database
cascades). The byte counts and `used_percent` are those of the last probe that succeeded, so a
failing disk still shows its last known reading; `status` is that of the latest probe
(`unknown` when it failed). A root without a row has never been probed.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Enum, Float, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.base import Base


class CapacityStatus(enum.StrEnum):
    ok = "ok"
    warning = "warning"
    alert = "alert"
    unknown = "unknown"


class LibraryRootCapacity(Base):
    __tablename__ = "library_root_capacity"

    root_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("library_root.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[CapacityStatus] = mapped_column(
        Enum(CapacityStatus, native_enum=False, length=16), default=CapacityStatus.unknown
    )
    total_bytes: Mapped[int | None] = mapped_column(BigInteger)
    used_bytes: Mapped[int | None] = mapped_column(BigInteger)
    free_bytes: Mapped[int | None] = mapped_column(BigInteger)
    used_percent: Mapped[float | None] = mapped_column(Float)
    checked_at: Mapped[datetime | None]  # the latest probe, whatever its outcome
    last_success_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime] = mapped_column(index=True)
    consecutive_errors: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
