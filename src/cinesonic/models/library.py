"""Libraries: named sets of root folders of one kind, who may read them, and their scans.

A library is unrestricted by default (every signed-in user with `library.read` sees it, as in
Jellyfin's "access to all libraries"); a restricted one is visible to administrators and to the
users granted a `library_permission` row. Every media row carries its `library_id`, so a
visibility check is one `library_id IN (...)` filter.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.base import Base, IdMixin, TimestampMixin


class LibraryKind(enum.StrEnum):
    music = "music"
    movies = "movies"
    tvshows = "tvshows"


class ScanStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class Library(IdMixin, TimestampMixin, Base):
    __tablename__ = "library"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[LibraryKind] = mapped_column(Enum(LibraryKind, native_enum=False, length=16))
    is_enabled: Mapped[bool] = mapped_column(default=True)
    is_restricted: Mapped[bool] = mapped_column(default=False)
    scan_on_start: Mapped[bool] = mapped_column(default=False)
    watch_for_changes: Mapped[bool] = mapped_column(default=False)
    last_scanned_at: Mapped[datetime | None]

    roots: Mapped[list[LibraryRoot]] = relationship(
        back_populates="library",
        cascade="all, delete-orphan",
        order_by="LibraryRoot.path",
        lazy="raise",
    )


class LibraryRoot(IdMixin, Base):
    """A folder of a library. A folder belongs to at most one library (absolute, resolved)."""

    __tablename__ = "library_root"

    library_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("library.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(4096), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    library: Mapped[Library] = relationship(back_populates="roots", lazy="raise")


class LibraryPermission(Base):
    """A user's read access to a restricted library."""

    __tablename__ = "library_permission"

    library_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("library.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    granted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LibraryScan(IdMixin, Base):
    """One scan of a library: its counters and outcome. Per-file errors are `LibraryScanError`."""

    __tablename__ = "library_scan"
    __table_args__ = (Index("ix_library_scan_library_created", "library_id", "created_at"),)

    library_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("library.id", ondelete="CASCADE"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
    status: Mapped[ScanStatus] = mapped_column(
        Enum(ScanStatus, native_enum=False, length=16), default=ScanStatus.queued
    )
    is_full: Mapped[bool] = mapped_column(default=False)  # reopen every file, changed or not
    files_seen: Mapped[int] = mapped_column(default=0)
    added: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    moved: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    bytes_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class LibraryScanError(IdMixin, Base):
    __tablename__ = "library_scan_error"

    scan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("library_scan.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(4096))
    code: Mapped[str] = mapped_column(String(64))  # unreadable, not_audio, tag_parse_error, ...
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
