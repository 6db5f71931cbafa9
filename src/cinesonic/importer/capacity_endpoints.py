"""Disk-capacity routes [000]: `/admin/capacity`, `/admin/capacity/{library_id}` and
`/admin/capacity/probe-now`, for holders of `settings.manage` (administrators), as the other
`/admin/*` routes. The literal `probe-now` is declared before `{library_id}`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.deps import ClientInfo, DbSession, State, require
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    RateLimited,
    ValidationFailed,
    error_responses,
)
from cinesonic.importer import capacity as capacity_service
from cinesonic.importer.capacity_schemas import CapacityReport, LibraryCapacityRead, ProbeRequest
from cinesonic.library import service as library_service

router = APIRouter(tags=["capacity"])

Administrator = Annotated[Principal, Depends(require("settings.manage"))]

SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
    Forbidden,
    RateLimited,
)
SIGNED_IN_WRITE = (*SIGNED_IN, auth_service.CsrfFailed)


@router.get(
    "/admin/capacity",
    response_model=CapacityReport,
    summary="Disk capacity of every library's roots",
    description="Every library with each root folder's latest disk-usage probe (used percent, "
    "total/used/free bytes, status, when it was checked and is due next, error counters) and "
    "the worst status of all: `alert` > `unknown` > `warning` > `ok`. Roots are probed every "
    "`capacity_probe_interval_minutes`; a root never probed yet is `unknown`.",
    responses=error_responses(*SIGNED_IN),
)
async def read_capacity(_admin: Administrator, session: DbSession, state: State) -> CapacityReport:
    return await capacity_service.capacity_report(session, state.settings)


@router.post(
    "/admin/capacity/probe-now",
    response_model=CapacityReport,
    summary="Probe library roots now",
    description="Body `{library_ids?}` (optional; without it, every library). Probes each "
    "root's disk at once — a probe is one `statfs`, so the answer waits for it — and answers "
    "the fresh report of those libraries. A root that is missing or unreadable is a failed "
    "probe (`unknown`, its error counted), not an error of the request. An unknown library id "
    "is a 404 and nothing is probed.",
    responses=error_responses(*SIGNED_IN_WRITE, library_service.LibraryNotFound, ValidationFailed),
)
async def probe_capacity_now(
    actor: Administrator,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    body: Annotated[ProbeRequest | None, Body()] = None,
) -> CapacityReport:
    return await capacity_service.probe_now(
        session, state.bus, state.settings, actor, origin, body or ProbeRequest()
    )


@router.get(
    "/admin/capacity/{library_id}",
    response_model=LibraryCapacityRead,
    summary="Disk capacity of one library's roots",
    description="The library's roots with their latest probe, and the worst of their statuses.",
    responses=error_responses(*SIGNED_IN, library_service.LibraryNotFound, ValidationFailed),
)
async def read_library_capacity(
    library_id: uuid.UUID, _admin: Administrator, session: DbSession, state: State
) -> LibraryCapacityRead:
    return await capacity_service.library_capacity(session, state.settings, library_id)
