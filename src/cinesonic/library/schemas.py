"""Request and response models of libraries, their scans and their permissions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from cinesonic.kit.pagination import Page
from cinesonic.kit.schemas import Schema
from cinesonic.models.job import JobStatus
from cinesonic.models.library import LibraryKind, ScanStatus

MAX_ROOTS = 32
MAX_SCAN_LIBRARIES = 100

RootPath = str


def _clean_name(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValueError("must not be blank")
    return cleaned


def _check_roots(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    for root in value:
        if not root or len(root) > 4096:
            raise ValueError("each root must be 1 to 4096 characters")
        if "\x00" in root:
            raise ValueError("a root must not contain NUL characters")
    return value


# ---------------------------------------------------------------- requests


class LibraryCreate(Schema):
    name: str = Field(min_length=1, max_length=200)
    kind: LibraryKind = Field(
        LibraryKind.music,
        description="`music`, `movies` or `tvshows`.",
    )
    roots: list[RootPath] = Field(
        min_length=1,
        max_length=MAX_ROOTS,
        description="Absolute paths of existing folders on the server. A folder belongs to one "
        "library: a root inside, or around, another library's root is refused (409).",
    )
    is_enabled: bool = Field(True, description="Disabled libraries are hidden and not scanned.")
    is_restricted: bool = Field(
        False, description="Only administrators and users granted access see it."
    )
    scan_on_start: bool = Field(False, description="Scan it whenever the server starts.")
    watch_for_changes: bool = Field(
        False, description="Scan it after its folders change (once quiet for a while)."
    )

    _name = field_validator("name")(_clean_name)
    _roots = field_validator("roots")(_check_roots)


class LibraryUpdate(Schema):
    """Fields left out stay. `roots` replaces the whole list; songs under a root taken away
    are marked removed by the next scan. The kind of a library cannot change."""

    name: str | None = Field(None, min_length=1, max_length=200)
    roots: list[RootPath] | None = Field(None, min_length=1, max_length=MAX_ROOTS)
    is_enabled: bool | None = None
    is_restricted: bool | None = None
    scan_on_start: bool | None = None
    watch_for_changes: bool | None = None

    _name = field_validator("name")(_clean_name)
    _roots = field_validator("roots")(_check_roots)


class ScanRequest(Schema):
    library_ids: list[uuid.UUID] | None = Field(
        None,
        max_length=MAX_SCAN_LIBRARIES,
        description="Libraries to scan; left out: every enabled music library.",
    )
    full: bool = Field(False, description="Reopen every file, changed or not.")


# ---------------------------------------------------------------- scans


class ScanSummary(Schema):
    id: uuid.UUID
    status: ScanStatus
    is_full: bool
    files_seen: int
    added: int
    updated: int
    moved: int
    removed: int
    failed: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ScanRead(ScanSummary):
    library_id: uuid.UUID
    job_id: uuid.UUID | None = None
    unchanged: int
    bytes_seen: int
    error_count: int = Field(description="Rows in the scan's error list.")
    message: str | None = Field(None, description="Why the scan failed or stopped.")
    duration_seconds: float | None = Field(
        None, description="From start to end (to now while running)."
    )


class ScanPage(Page[ScanRead]):
    pass


class ScanErrorRead(Schema):
    id: uuid.UUID
    path: str
    code: str = Field(
        description="`empty`, `unreadable`, `not_audio`, `corrupt`, or `bad_cover` (an album "
        "picture that is not a readable JPEG/PNG; not counted in `failed`)."
    )
    message: str
    created_at: datetime


class ScanErrorPage(Page[ScanErrorRead]):
    pass


class ScanStarted(Schema):
    """The answer of a scan request (202): the job doing it."""

    job_id: uuid.UUID
    status: JobStatus
    scan_id: uuid.UUID
    library_id: uuid.UUID
    is_full: bool
    is_new: bool = Field(
        description="False when a scan of this library was already queued or running: that "
        "one is answered (a queued one is upgraded to a full scan when asked)."
    )


class SkippedLibrary(Schema):
    library_id: uuid.UUID
    reason: Literal["disabled", "not_scannable", "scan_running"]


class ScansStarted(Schema):
    data: list[ScanStarted]
    skipped: list[SkippedLibrary] = Field(
        description="Libraries not scanned: disabled, of a kind not scanned yet, or (for a "
        "full scan) with an incremental scan already running."
    )


# ---------------------------------------------------------------- libraries


class LibraryRead(Schema):
    id: uuid.UUID
    name: str
    kind: LibraryKind
    roots: list[str] | None = Field(
        None, description="Folder paths; shown to library managers only (null for others)."
    )
    is_enabled: bool
    is_restricted: bool
    scan_on_start: bool
    watch_for_changes: bool
    created_at: datetime
    updated_at: datetime
    last_scanned_at: datetime | None = None
    song_count: int = 0
    album_count: int = 0
    artist_count: int = 0
    total_duration: float = Field(0.0, description="Seconds of music, removed songs excluded.")
    total_size_bytes: int = 0
    state: Literal["idle", "queued", "scanning"] = "idle"
    active_scan: ScanSummary | None = None
    last_scan: ScanSummary | None = Field(None, description="The latest finished scan.")


class LibraryDetail(LibraryRead):
    formats: dict[str, int] = Field(
        default_factory=dict, description="Songs by format (`mp3`, `flac`, …)."
    )


class LibraryPage(Page[LibraryRead]):
    pass


class LibraryStatsItem(Schema):
    id: uuid.UUID
    name: str
    kind: LibraryKind
    song_count: int
    album_count: int
    artist_count: int
    total_duration: float
    total_size_bytes: int
    last_scanned_at: datetime | None = None
    state: Literal["idle", "queued", "scanning"]


class LibraryStats(Schema):
    """Totals over the libraries the caller may read."""

    library_count: int
    song_count: int
    album_count: int
    artist_count: int = Field(description="Distinct artists across these libraries.")
    genre_count: int
    total_duration: float
    total_size_bytes: int
    formats: dict[str, int]
    last_scanned_at: datetime | None = None
    scans_active: int = Field(description="Scans queued or running.")
    libraries: list[LibraryStatsItem]


# ---------------------------------------------------------------- permissions


class LibraryPermissionRead(Schema):
    library_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    granted_by_id: uuid.UUID | None = None
    created_at: datetime


class LibraryPermissionPage(Page[LibraryPermissionRead]):
    pass
