"""Request and response models of the import pipeline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from cinesonic.importer.checks import RANGE_PATTERN
from cinesonic.kit.pagination import Page
from cinesonic.kit.schemas import Schema
from cinesonic.models.importer import (
    CheckStatus,
    ImportStatus,
    QuarantineReason,
    QuarantineResolution,
)
from cinesonic.models.job import JobStatus

MAX_PATHS = 1000
MAX_ALBUMS = 1000

# ---------------------------------------------------------------- jobs


class ProcessRequest(Schema):
    force: bool = Field(
        False, description="Process files again even when the same content and mtime was seen."
    )
    paths: list[str] | None = Field(
        None,
        max_length=MAX_PATHS,
        description="Files or folders relative to the inbound folder; left out: all of it.",
    )

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: list[str] | None) -> list[str] | None:
        for path in value or []:
            if not path or len(path) > 4096:
                raise ValueError("each path must be 1 to 4096 characters")
        return value


class MoveOkRequest(Schema):
    album_ids: list[uuid.UUID] | None = Field(
        None,
        max_length=MAX_ALBUMS,
        description="Staged albums to promote; left out: every approved and `ok` album.",
    )


class ImportJobStarted(Schema):
    """The answer of a pipeline request (202): the job doing it."""

    job_id: uuid.UUID
    type: str
    status: JobStatus


# ---------------------------------------------------------------- staging


class CheckRead(Schema):
    name: str
    status: CheckStatus
    message: str = ""


class StagedItemRead(Schema):
    id: uuid.UUID
    album_id: uuid.UUID
    status: ImportStatus
    original_path: str = Field(description="Where it arrived, relative to the inbound folder.")
    current_path: str = Field(description="Where it is now (absolute).")
    proposed_path: str = Field(description="Where it goes, relative to the library root.")
    sha256: str
    size: int
    tags: dict[str, Any] = Field(description="The tags as read.")
    corrections: dict[str, Any] = Field(description="Tag corrections written by reviewers.")
    checks: list[CheckRead]
    replaces_song_id: uuid.UUID | None = Field(
        None, description="The library song it replaces when promoted (policy `replace`)."
    )
    attempts: int
    created_at: datetime
    updated_at: datetime


class StagedAlbumRead(Schema):
    id: uuid.UUID
    album_artist: str
    album: str
    year: int | None = None
    disc_total: int | None = None
    status: ImportStatus
    target_library_id: uuid.UUID | None = Field(
        None, description="The production library its import rules choose (null: none matches)."
    )
    reviewer_id: uuid.UUID | None = None
    reviewed_at: datetime | None = None
    decision_note: str | None = None
    created_at: datetime
    updated_at: datetime
    items: list[StagedItemRead]


class StagedAlbumPage(Page[StagedAlbumRead]):
    pass


class ReviewRequest(Schema):
    note: str | None = Field(None, max_length=2000, description="Why; kept with the decision.")


class TagCorrection(Schema):
    """Fields left out stay as they are; at least one is needed."""

    title: str | None = Field(None, min_length=1, max_length=500)
    artist: str | None = Field(None, min_length=1, max_length=500)
    album: str | None = Field(None, min_length=1, max_length=500)
    album_artist: str | None = Field(None, min_length=1, max_length=500)
    track: int | None = Field(None, ge=1, le=999)
    disc: int | None = Field(None, ge=1, le=99)
    year: int | None = Field(None, ge=1000)
    genre: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("year")
    @classmethod
    def _year(cls, value: int | None) -> int | None:
        if value is not None and value > datetime.now(UTC).year + 1:
            raise ValueError("must not be later than next year")
        return value

    @field_validator("title", "artist", "album", "album_artist", "genre")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "\x00" in value):
            raise ValueError("must not be blank or hold NUL characters")
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _something(self) -> TagCorrection:
        if not self.model_dump(exclude_none=True):
            raise ValueError("give at least one tag to correct")
        return self


# ---------------------------------------------------------------- quarantine


class QuarantineItemRead(Schema):
    id: uuid.UUID
    file_path: str
    original_path: str
    inbound_path: str = Field(description="Where `restore` puts it, relative to inbound.")
    reason: QuarantineReason
    message: str
    library_id: uuid.UUID | None = None
    import_item_id: uuid.UUID | None = None
    sha256: str
    size: int
    tags: dict[str, Any]
    checks: list[CheckRead]
    attempts: int
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    resolution: QuarantineResolution | None = None


class QuarantinePage(Page[QuarantineItemRead]):
    counts: dict[str, int] = Field(
        description="Open items by reason, under the same library filter."
    )


class ResolveRequest(Schema):
    action: Literal["accept", "restore", "delete"] = Field(
        description="`accept`: back to staging with the failed check waived; `restore`: back "
        "to inbound; `delete`: removes the file (administrators only, audited)."
    )


# ---------------------------------------------------------------- import rules


class ImportRuleUpdate(Schema):
    artist_range: str | None = Field(
        None,
        max_length=16,
        pattern=RANGE_PATTERN,
        description="Album-artist initials this library takes: `A-M`, `N-Z`, `#` (digits and "
        "other characters), several joined by commas; null: any artist.",
    )
    priority: int = Field(0, ge=-1000, le=1000, description="Higher wins among matching rules.")
    is_enabled: bool = True


class ImportRuleRead(Schema):
    library_id: uuid.UUID
    artist_range: str | None = None
    priority: int
    is_enabled: bool
    created_at: datetime
    updated_at: datetime
