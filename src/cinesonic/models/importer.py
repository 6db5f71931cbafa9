"""The import pipeline's tables: staged albums and their files, quarantined files, the intent
record of every file move, and the per-library rules that pick a production library.

A file is in exactly one place at a time and exactly one row says where: an `import_item`
(inbound → staging → library), or a `quarantine_item`. `file_move` rows are the write-ahead
intent of a move; a row left `planned`/`copied` after a crash is settled by
`cinesonic.importer.moves.recover_moves`. The processed-file record that lets an unchanged
inbound file be skipped is the pair (`sha256`, `mtime_ns`) kept on both item tables.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.base import Base, IdMixin, TimestampMixin


class ImportStatus(enum.StrEnum):
    """Status of a staged file, and of a staged album (the album is `needs_review` when any
    of its files is)."""

    ok = "ok"
    needs_review = "needs_review"
    failed = "failed"
    approved = "approved"
    rejected = "rejected"
    promoted = "promoted"


class CheckStatus(enum.StrEnum):
    passed = "passed"
    failed = "failed"
    warning = "warning"
    waived = "waived"


class QuarantineReason(enum.StrEnum):
    checksum_mismatch = "checksum_mismatch"
    tag_parse_error = "tag_parse_error"
    unsupported_container = "unsupported_container"
    ffmpeg_failure = "ffmpeg_failure"
    path_safety = "path_safety"
    validation_bounds = "validation_bounds"
    metadata_conflict = "metadata_conflict"
    duplicate = "duplicate"
    disk_full = "disk_full"
    cue_missing_audio = "cue_missing_audio"
    capacity_probe_failed = "capacity_probe_failed"


class QuarantineResolution(enum.StrEnum):
    accepted = "accepted"  # back to staging, the failed check waived
    restored = "restored"  # back to inbound
    deleted = "deleted"  # the only deletion in the pipeline
    requeued = "requeued"  # the checks passed on a re-run: back to staging


class FileMoveState(enum.StrEnum):
    planned = "planned"
    copied = "copied"
    done = "done"
    rolled_back = "rolled_back"


def _enum(kind: type[enum.StrEnum], length: int = 32) -> Enum:
    return Enum(kind, native_enum=False, length=length)


class LibraryImportRule(Base):
    """Which albums a music library takes: an album-artist initial range, or any artist."""

    __tablename__ = "library_import_rule"

    library_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("library.id", ondelete="CASCADE"), primary_key=True
    )
    artist_range: Mapped[str | None] = mapped_column(String(16))  # "A-M", "#", None = any
    priority: Mapped[int] = mapped_column(default=0)
    is_enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ImportAlbum(IdMixin, TimestampMixin, Base):
    """Staged files grouped by album artist, album and year."""

    __tablename__ = "import_album"
    __table_args__ = (Index("ix_import_album_group", "group_key", "status"),)

    group_key: Mapped[str] = mapped_column(String(1100))  # folded artist, album and year
    album_artist: Mapped[str] = mapped_column(String(500))
    album: Mapped[str] = mapped_column(String(500))
    year: Mapped[int | None]
    disc_total: Mapped[int | None]
    status: Mapped[ImportStatus] = mapped_column(_enum(ImportStatus), index=True)
    target_library_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("library.id", ondelete="SET NULL")
    )
    reviewer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


class ImportItem(IdMixin, TimestampMixin, Base):
    """One staged file."""

    __tablename__ = "import_item"
    __table_args__ = (Index("ix_import_item_processed", "sha256", "mtime_ns"),)

    album_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("import_album.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[ImportStatus] = mapped_column(_enum(ImportStatus), index=True)
    original_path: Mapped[str] = mapped_column(String(4096))  # relative to inbound
    current_path: Mapped[str] = mapped_column(String(4096))  # absolute
    proposed_path: Mapped[str] = mapped_column(String(4096))  # relative to the library root
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    corrections: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The library song this file replaces when promoted (duplicate policy `replace`).
    replaces_song_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("song.id", ondelete="SET NULL")
    )
    attempts: Mapped[int] = mapped_column(default=1)


class QuarantineItem(IdMixin, TimestampMixin, Base):
    """A file that failed a check (or was replaced in a library), kept for a person to
    resolve under `quarantine/<reason>/<date>/`."""

    __tablename__ = "quarantine_item"
    __table_args__ = (
        Index("ix_quarantine_item_processed", "sha256", "mtime_ns"),
        Index("ix_quarantine_item_open", "resolved_at", "reason"),
    )

    file_path: Mapped[str] = mapped_column(String(4096))  # absolute, in quarantine
    original_path: Mapped[str] = mapped_column(String(4096))  # absolute, where it came from
    inbound_path: Mapped[str] = mapped_column(String(4096))  # relative; where `restore` puts it
    reason: Mapped[QuarantineReason] = mapped_column(_enum(QuarantineReason))
    message: Mapped[str] = mapped_column(Text, default="")
    library_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("library.id", ondelete="SET NULL"), index=True
    )
    import_item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("import_item.id", ondelete="SET NULL")
    )
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(default=1)
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[QuarantineResolution | None] = mapped_column(_enum(QuarantineResolution))
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )


class FileMove(IdMixin, TimestampMixin, Base):
    """The intent record of one move, committed before the move starts; `done` commits in
    the same transaction as the change the move belongs to."""

    __tablename__ = "file_move"
    __table_args__ = (Index("ix_file_move_state", "state", "created_at"),)

    source: Mapped[str] = mapped_column(String(4096))
    destination: Mapped[str] = mapped_column(String(4096))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[FileMoveState] = mapped_column(_enum(FileMoveState, 16))
    # The job whose move this is (null for a request's); recovery leaves running jobs' moves.
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
