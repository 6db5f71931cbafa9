"""Library routes [000][001][004]: libraries and their state for readers; creating, changing,
scanning and granting access for holders of `library.manage`.

Literal paths (`/libraries/stats`, `/libraries/scan`) are declared before
`/libraries/{library_id}` so they win. A library the caller may not read is a 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.deps import ClientInfo, DbSession, State, rate_limited, require
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    RateLimited,
    ValidationFailed,
    error_responses,
)
from cinesonic.kit.pagination import PaginationDep
from cinesonic.kit.schemas import DeletedResponse
from cinesonic.library import service as library_service
from cinesonic.library.schemas import (
    LibraryCreate,
    LibraryDetail,
    LibraryPage,
    LibraryPermissionPage,
    LibraryPermissionRead,
    LibraryStats,
    LibraryUpdate,
    ScanErrorPage,
    ScanPage,
    ScanRequest,
    ScansStarted,
    ScanStarted,
)
from cinesonic.user import service as user_service
from cinesonic.worker.queue import DuplicateJob

router = APIRouter(tags=["libraries"])

Reader = Annotated[Principal, Depends(require("library.read"))]
Manager = Annotated[Principal, Depends(require("library.manage"))]

SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
    Forbidden,
)
SIGNED_IN_WRITE = (*SIGNED_IN, auth_service.CsrfFailed)
SCAN_REFUSALS = (
    library_service.ScanNotSupported,
    library_service.LibraryDisabled,
    library_service.ScanInProgress,
    DuplicateJob,
    RateLimited,
)


def _location(library_id: uuid.UUID) -> str:
    return f"/api/v1/libraries/{library_id}"


# ---------------------------------------------------------------- collection


@router.get(
    "/libraries",
    response_model=LibraryPage,
    summary="Libraries I may read, with their state",
    description="Each library with its counts, total duration and size, and its scan state "
    "(`idle`, `queued`, `scanning`; the active and the last finished scan). Roots are shown to "
    "library managers only. Sorts: `name` (default), `created_at`, `last_scanned_at`, `kind`.",
    responses=error_responses(*SIGNED_IN, ValidationFailed),
)
async def list_libraries(
    principal: Reader, session: DbSession, params: PaginationDep
) -> LibraryPage:
    items, total = await library_service.list_libraries(session, principal, params)
    return LibraryPage(data=items, pagination=params.meta(total))


@router.post(
    "/libraries",
    status_code=201,
    response_model=LibraryDetail,
    summary="Create a library",
    description="`roots` are absolute paths of existing folders on the server (resolved, "
    "symbolic links followed). A folder belongs to one library: a root inside or around "
    "another library's root is a 409 `root_overlap`. Nothing is scanned until you ask "
    "(`POST /libraries/{id}/scan`) or `scan_on_start`/`watch_for_changes` do.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        library_service.LibraryNameTaken,
        library_service.RootOverlap,
        library_service.InvalidRoot,
        ValidationFailed,
    ),
)
async def create_library(
    body: LibraryCreate,
    actor: Manager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    response: Response,
) -> LibraryDetail:
    library = await library_service.create_library(session, state.bus, actor, origin, body)
    response.headers["Location"] = _location(library.id)
    return library


@router.get(
    "/libraries/stats",
    response_model=LibraryStats,
    summary="Totals over the libraries I may read",
    description="Counts of libraries, songs, albums, artists and genres, total duration and "
    "size, songs by format, the last scan time and the scans under way, with one line per "
    "library. Removed songs are not counted.",
    responses=error_responses(*SIGNED_IN),
)
async def read_library_stats(principal: Reader, session: DbSession) -> LibraryStats:
    return await library_service.library_stats(session, principal)


@router.post(
    "/libraries/scan",
    status_code=202,
    response_model=ScansStarted,
    summary="Scan several libraries, or all",
    description="Body `{library_ids?, full?}`; without ids, every enabled music library. "
    "Each library answers its scan job (a scan already queued or running is answered as it "
    "is, `is_new: false`); libraries that are disabled or not music, or running an "
    "incremental scan when a full one is asked, are listed in `skipped`. An unknown id is a "
    "404 and nothing is scanned.",
    responses=error_responses(
        *SIGNED_IN_WRITE, library_service.LibraryNotFound, DuplicateJob, RateLimited
    ),
    dependencies=[Depends(rate_limited("scan"))],
)
async def scan_libraries(
    actor: Manager,
    session: DbSession,
    origin: ClientInfo,
    body: Annotated[ScanRequest | None, Body()] = None,
) -> ScansStarted:
    return await library_service.start_scans(session, actor, origin, body or ScanRequest())


# ---------------------------------------------------------------- one library


@router.get(
    "/libraries/{library_id}",
    response_model=LibraryDetail,
    summary="A library with its state",
    description="Its counts, songs by format, and scan state. A library you may not read is a 404.",
    responses=error_responses(*SIGNED_IN, library_service.LibraryNotFound, ValidationFailed),
)
async def read_library(
    library_id: uuid.UUID, principal: Reader, session: DbSession
) -> LibraryDetail:
    return await library_service.read_library(session, principal, library_id)


@router.put(
    "/libraries/{library_id}",
    response_model=LibraryDetail,
    summary="Change a library",
    description="Fields left out stay; `roots` replaces the list (songs under a root taken "
    "away are marked removed by the next scan). The kind cannot change.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        library_service.LibraryNotFound,
        library_service.LibraryNameTaken,
        library_service.RootOverlap,
        library_service.InvalidRoot,
        ValidationFailed,
    ),
)
async def update_library(
    library_id: uuid.UUID,
    body: LibraryUpdate,
    actor: Manager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> LibraryDetail:
    return await library_service.update_library(session, state.bus, actor, origin, library_id, body)


@router.delete(
    "/libraries/{library_id}",
    response_model=DeletedResponse,
    summary="Delete a library (its rows, never its files)",
    description="Songs, albums, scans and grants of the library are deleted (playlists and "
    "shares lose its songs); artists left with no song anywhere go too. Files on disk are "
    "not touched. A scan under way is cancelled.",
    responses=error_responses(*SIGNED_IN_WRITE, library_service.LibraryNotFound, ValidationFailed),
)
async def delete_library(
    library_id: uuid.UUID, actor: Manager, session: DbSession, state: State, origin: ClientInfo
) -> DeletedResponse:
    await library_service.delete_library(session, state.bus, actor, origin, library_id)
    return DeletedResponse()


# ---------------------------------------------------------------- scans


@router.post(
    "/libraries/{library_id}/scan",
    status_code=202,
    response_model=ScanStarted,
    summary="Scan a library",
    description="Starts an incremental scan (new, changed, moved and removed files; unchanged "
    "files are not reopened), or with `full=true` one that rereads every file. One scan per "
    "library at a time: asking while one is queued or running answers that one "
    "(`is_new: false`; a queued one becomes full when asked). A full scan asked while an "
    "incremental one runs is a 409 `scan_in_progress`. Only music libraries can be scanned "
    "(409 `scan_not_supported`); a disabled library is a 409 `library_disabled`. Follow the "
    "job at `/jobs/{job_id}` or on the WebSocket topics `jobs` and `library`.",
    responses=error_responses(
        *SIGNED_IN_WRITE, library_service.LibraryNotFound, *SCAN_REFUSALS, ValidationFailed
    ),
    dependencies=[Depends(rate_limited("scan"))],
)
async def scan_library(
    library_id: uuid.UUID,
    actor: Manager,
    session: DbSession,
    origin: ClientInfo,
    full: Annotated[bool, Query(description="Reopen every file, changed or not.")] = False,
) -> ScanStarted:
    return await library_service.start_scan(session, actor, origin, library_id, full=full)


@router.get(
    "/libraries/{library_id}/scans",
    response_model=ScanPage,
    summary="A library's scans, newest first",
    description="Each scan with its counters (files seen, added, updated, moved, removed, "
    "unchanged, failed), its error count, message and duration. Sorts: `created_at` "
    "(default, newest first), `status`.",
    responses=error_responses(*SIGNED_IN, library_service.LibraryNotFound, ValidationFailed),
)
async def list_scans(
    library_id: uuid.UUID, _manager: Manager, session: DbSession, params: PaginationDep
) -> ScanPage:
    items, total = await library_service.list_scans(session, library_id, params)
    return ScanPage(data=items, pagination=params.meta(total))


@router.get(
    "/libraries/{library_id}/scans/{scan_id}/errors",
    response_model=ScanErrorPage,
    summary="The files a scan could not read",
    description="One line per file (or folder, or cover picture) with a code: `empty`, "
    "`unreadable`, `not_audio`, `corrupt`, `bad_cover`. Filter with `code`. Sorts: `path` "
    "(default), `code`.",
    responses=error_responses(
        *SIGNED_IN,
        library_service.LibraryNotFound,
        library_service.ScanNotFound,
        ValidationFailed,
    ),
)
async def list_scan_errors(
    library_id: uuid.UUID,
    scan_id: uuid.UUID,
    _manager: Manager,
    session: DbSession,
    params: PaginationDep,
    code: Annotated[str | None, Query(max_length=64, description="Only this code.")] = None,
) -> ScanErrorPage:
    items, total = await library_service.list_scan_errors(
        session, library_id, scan_id, params, code=code
    )
    return ScanErrorPage(data=items, pagination=params.meta(total))


# ---------------------------------------------------------------- permissions


@router.get(
    "/libraries/{library_id}/permissions",
    response_model=LibraryPermissionPage,
    summary="Who was granted access to a library",
    description="Grants matter for restricted libraries: only administrators and the users "
    "listed here see them. Sorts: `username` (default), `created_at`.",
    responses=error_responses(*SIGNED_IN, library_service.LibraryNotFound, ValidationFailed),
)
async def list_permissions(
    library_id: uuid.UUID, _manager: Manager, session: DbSession, params: PaginationDep
) -> LibraryPermissionPage:
    items, total = await library_service.list_permissions(session, library_id, params)
    return LibraryPermissionPage(data=items, pagination=params.meta(total))


GRANT_REFUSALS = (
    *SIGNED_IN_WRITE,
    library_service.LibraryNotFound,
    user_service.UserNotFound,
    ValidationFailed,
)


@router.put(
    "/libraries/{library_id}/permissions/{user_id}",
    response_model=LibraryPermissionRead,
    summary="Grant a user access to a library",
    description="Idempotent: granting again answers the existing grant.",
    responses=error_responses(*GRANT_REFUSALS),
)
async def put_permission(
    library_id: uuid.UUID,
    user_id: uuid.UUID,
    actor: Manager,
    session: DbSession,
    origin: ClientInfo,
) -> LibraryPermissionRead:
    grant, _ = await library_service.grant_permission(session, actor, origin, library_id, user_id)
    return grant


@router.post(
    "/libraries/{library_id}/permissions/{user_id}",
    status_code=201,
    response_model=LibraryPermissionRead,
    summary="Grant a user access to a library (201 when new)",
    description="As the PUT, but answers 201 with `Location` when the grant is new and 200 "
    "when it existed.",
    responses={
        200: {"description": "The grant existed already.", "model": LibraryPermissionRead},
        **error_responses(*GRANT_REFUSALS),
    },
)
async def post_permission(
    library_id: uuid.UUID,
    user_id: uuid.UUID,
    actor: Manager,
    session: DbSession,
    origin: ClientInfo,
    response: Response,
) -> LibraryPermissionRead:
    grant, created = await library_service.grant_permission(
        session, actor, origin, library_id, user_id
    )
    if created:
        response.headers["Location"] = f"{_location(library_id)}/permissions/{user_id}"
    else:
        response.status_code = 200
    return grant


@router.delete(
    "/libraries/{library_id}/permissions/{user_id}",
    response_model=DeletedResponse,
    summary="Take a user's access to a library away",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        library_service.LibraryNotFound,
        library_service.PermissionNotFound,
        ValidationFailed,
    ),
)
async def delete_permission(
    library_id: uuid.UUID,
    user_id: uuid.UUID,
    actor: Manager,
    session: DbSession,
    origin: ClientInfo,
) -> DeletedResponse:
    await library_service.revoke_permission(session, actor, origin, library_id, user_id)
    return DeletedResponse()
