"""Import pipeline routes [000]: process inbound, review staging, promote, resolve quarantine,
and the per-library import rules — all for holders of `library.manage`; deleting a quarantined
file for administrators only.

`/libraries/staging` and `/libraries/quarantine` are literal paths: this router is mounted
before the library router, whose `/libraries/{library_id}` would otherwise take them.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.deps import ClientInfo, DbSession, State, require
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    ValidationFailed,
    error_responses,
)
from cinesonic.importer import service as import_service
from cinesonic.importer.schemas import (
    ImportJobStarted,
    ImportRuleRead,
    ImportRuleUpdate,
    MoveOkRequest,
    ProcessRequest,
    QuarantineItemRead,
    QuarantinePage,
    ResolveRequest,
    ReviewRequest,
    StagedAlbumPage,
    StagedAlbumRead,
    StagedItemRead,
    TagCorrection,
)
from cinesonic.kit.pagination import PaginationDep
from cinesonic.library import service as library_service
from cinesonic.models.importer import ImportStatus, QuarantineReason
from cinesonic.worker.queue import DuplicateJob

router = APIRouter(tags=["import"])

Manager = Annotated[Principal, Depends(require("library.manage"))]

SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
    Forbidden,
)
SIGNED_IN_WRITE = (*SIGNED_IN, auth_service.CsrfFailed)


# ---------------------------------------------------------------- jobs


@router.post(
    "/libraries/process",
    status_code=202,
    response_model=ImportJobStarted,
    summary="Process the inbound folder into staging",
    description="Starts `import.process`: every audio file under the inbound folder (or under "
    "`paths`, relative to it) is checked — container and codec, tags, bounds, SHA-256, path "
    "safety, cue sheets, disc folders, duplicates — grouped into albums and moved into "
    "staging at its organised path (`ok` or `needs_review`), or into quarantine with the "
    "reason it failed. Files already processed (same SHA-256 and mtime) are skipped unless "
    "`force`. One at a time: 409 `duplicate_job` while one is queued or running. Follow the "
    "job at `/jobs/{job_id}` or on the WebSocket topics `jobs` and `import`.",
    responses=error_responses(
        *SIGNED_IN_WRITE, import_service.PathOutsideRoot, DuplicateJob, ValidationFailed
    ),
)
async def process_inbound(
    actor: Manager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    body: Annotated[ProcessRequest | None, Body()] = None,
) -> ImportJobStarted:
    return await import_service.start_process(
        session, state.settings, actor, origin, body or ProcessRequest()
    )


@router.post(
    "/libraries/move-ok",
    status_code=202,
    response_model=ImportJobStarted,
    summary="Promote approved and ok albums into their libraries",
    description="Starts `import.promote`: each staged album that is `approved` or `ok` (or "
    "those listed) goes to the music library its import rules choose (highest priority, then "
    "most free space). Each file's SHA-256 is verified again (a mismatch is quarantined as "
    "`checksum_mismatch`), moved with an intent record and indexed into the library in one "
    "transaction; if anything fails, the files are back in staging. A library at its capacity "
    "alert (or whose probes fail) refuses: the album's files are quarantined as `disk_full` "
    "or `capacity_probe_failed`. Albums no rule matches stay in staging. One at a time (409).",
    responses=error_responses(
        *SIGNED_IN_WRITE, import_service.StagedAlbumNotFound, DuplicateJob, ValidationFailed
    ),
)
async def promote_staged(
    actor: Manager,
    session: DbSession,
    origin: ClientInfo,
    body: Annotated[MoveOkRequest | None, Body()] = None,
) -> ImportJobStarted:
    return await import_service.start_promotion(session, actor, origin, body or MoveOkRequest())


# ---------------------------------------------------------------- staging


@router.get(
    "/libraries/staging",
    response_model=StagedAlbumPage,
    summary="Staged albums with their files, checks and proposed paths",
    description="Without `status`, the albums still waiting (`ok`, `needs_review`, "
    "`approved`). Each album lists its files with the tags read, the checks (`passed`, "
    "`failed`, `warning`, `waived`), the proposed path below the library root and the target "
    "library. Sorts: `created_at` (default), `album_artist`, `album`, `status`.",
    responses=error_responses(*SIGNED_IN, ValidationFailed),
)
async def list_staging(
    _manager: Manager,
    session: DbSession,
    params: PaginationDep,
    status: Annotated[ImportStatus | None, Query(description="Only albums in this status.")] = None,
) -> StagedAlbumPage:
    items, total = await import_service.list_staging(session, params, status)
    return StagedAlbumPage(data=items, pagination=params.meta(total))


@router.post(
    "/libraries/staging/{album_id}/approve",
    response_model=StagedAlbumRead,
    summary="Approve a staged album",
    description="Its files become `approved`; the next `move-ok` promotes them. Only albums "
    "that are `ok` or `needs_review` can be approved (409 `album_not_reviewable`).",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        import_service.StagedAlbumNotFound,
        import_service.AlbumNotReviewable,
        ValidationFailed,
    ),
)
async def approve_album(
    album_id: uuid.UUID,
    actor: Manager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    body: Annotated[ReviewRequest | None, Body()] = None,
) -> StagedAlbumRead:
    note = body.note if body else None
    return await import_service.approve_album(session, state.bus, actor, origin, album_id, note)


@router.post(
    "/libraries/staging/{album_id}/reject",
    response_model=StagedAlbumRead,
    summary="Reject a staged album: its files go back to inbound",
    description="Each file goes back to its original path below the inbound folder (a name "
    "taken there gets a ` (2)` suffix; nothing is overwritten). Being the same content and "
    "mtime, they are skipped by later processing unless `force`.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        import_service.StagedAlbumNotFound,
        import_service.AlbumNotReviewable,
        import_service.FileUnavailable,
        ValidationFailed,
    ),
)
async def reject_album(
    album_id: uuid.UUID,
    actor: Manager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    body: Annotated[ReviewRequest | None, Body()] = None,
) -> StagedAlbumRead:
    note = body.note if body else None
    return await import_service.reject_album(
        session, state.db, state.bus, state.settings, actor, origin, album_id, note
    )


@router.patch(
    "/libraries/staging/items/{item_id}",
    response_model=StagedItemRead,
    summary="Correct a staged file's tags",
    description="The corrections are written into the file (mutagen) and recorded; the file "
    "is checked again, so its checks, proposed path, album and SHA-256 follow. Files already "
    "promoted or rejected cannot be corrected (409 `item_not_editable`).",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        import_service.StagedItemNotFound,
        import_service.ItemNotEditable,
        import_service.FileUnavailable,
        ValidationFailed,
    ),
)
async def correct_item(
    item_id: uuid.UUID,
    body: TagCorrection,
    actor: Manager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> StagedItemRead:
    return await import_service.correct_item(
        session, state.bus, state.settings, actor, origin, item_id, body
    )


# ---------------------------------------------------------------- quarantine


@router.get(
    "/libraries/quarantine",
    response_model=QuarantinePage,
    summary="Quarantined files, with counts by reason",
    description="Open items by default (`resolved=true` lists resolved ones). Filter by "
    "`reason` and `library_id`; `counts` gives the open items by reason under the library "
    "filter. Sorts: `created_at` (default, newest first), `reason`, `original_path`.",
    responses=error_responses(*SIGNED_IN, ValidationFailed),
)
async def list_quarantine(
    _manager: Manager,
    session: DbSession,
    params: PaginationDep,
    reason: Annotated[QuarantineReason | None, Query(description="Only this reason.")] = None,
    library_id: Annotated[uuid.UUID | None, Query(description="Only this library.")] = None,
    resolved: Annotated[bool, Query(description="Resolved items instead of open ones.")] = False,
) -> QuarantinePage:
    items, total, counts = await import_service.list_quarantine(
        session, params, reason=reason, library_id=library_id, resolved=resolved
    )
    return QuarantinePage(data=items, pagination=params.meta(total), counts=counts)


@router.post(
    "/libraries/quarantine/{entry_id}/resolve",
    response_model=QuarantineItemRead,
    summary="Resolve a quarantined file",
    description="`accept`: back to staging with its failed checks waived; `restore`: back to "
    "its original path in inbound (suffixed if taken); `delete`: the file is removed — the "
    "only deletion in the pipeline, administrators only, audited. 409 "
    "`quarantine_resolved` when it was resolved already.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        import_service.DeleteNeedsAdmin,
        import_service.QuarantineItemNotFound,
        import_service.QuarantineResolved,
        import_service.FileUnavailable,
        ValidationFailed,
    ),
)
async def resolve_quarantine(
    entry_id: uuid.UUID,
    body: ResolveRequest,
    actor: Manager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> QuarantineItemRead:
    return await import_service.resolve_quarantine(
        session, state.db, state.bus, state.settings, actor, origin, entry_id, body.action
    )


@router.post(
    "/libraries/quarantine/{entry_id}/requeue",
    response_model=QuarantineItemRead,
    summary="Check a quarantined file again",
    description="Runs the checks again: a file that passes goes to staging (resolution "
    "`requeued`); one that fails stays, with `attempts` counted and its reason and checks "
    "updated.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        import_service.QuarantineItemNotFound,
        import_service.QuarantineResolved,
        import_service.FileUnavailable,
        ValidationFailed,
    ),
)
async def requeue_quarantine(
    entry_id: uuid.UUID, actor: Manager, session: DbSession, state: State, origin: ClientInfo
) -> QuarantineItemRead:
    return await import_service.requeue_quarantine(
        session, state.db, state.bus, state.settings, actor, origin, entry_id
    )


# ---------------------------------------------------------------- import rules


@router.get(
    "/libraries/{library_id}/import-rule",
    response_model=ImportRuleRead,
    summary="A library's import rule",
    description="Which albums the import pipeline promotes into this library. A library "
    "without a rule takes no imports (404 `import_rule_not_found`).",
    responses=error_responses(
        *SIGNED_IN,
        library_service.LibraryNotFound,
        import_service.ImportRuleNotFound,
        ValidationFailed,
    ),
)
async def read_import_rule(
    library_id: uuid.UUID, _manager: Manager, session: DbSession
) -> ImportRuleRead:
    return await import_service.read_rule(session, library_id)


@router.put(
    "/libraries/{library_id}/import-rule",
    response_model=ImportRuleRead,
    summary="Set a library's import rule",
    description="`artist_range`: album-artist initials (`A-M`, `N-Z`, `#` for digits and "
    "other characters, several joined by commas; null: any artist); among the enabled rules "
    "that match an album, the highest `priority` wins, then the library with the most free "
    "space. Music libraries only (409 `not_music_library`).",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        library_service.LibraryNotFound,
        import_service.NotMusicLibrary,
        ValidationFailed,
    ),
)
async def put_import_rule(
    library_id: uuid.UUID,
    body: ImportRuleUpdate,
    actor: Manager,
    session: DbSession,
    origin: ClientInfo,
) -> ImportRuleRead:
    return await import_service.put_rule(session, actor, origin, library_id, body)
