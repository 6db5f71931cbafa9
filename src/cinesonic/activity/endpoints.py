"""Audit log routes (`/admin/activity…`); every one needs the `activity.read` permission."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from cinesonic.activity import service as activity_service
from cinesonic.activity.schemas import ActionCount, ActivityRead, ActivityStats
from cinesonic.activity.service import ActivityFilter
from cinesonic.deps import DbSession, require
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    ValidationFailed,
    error_responses,
)
from cinesonic.kit.pagination import Page, PaginationDep
from cinesonic.user.service import UserNotFound

router = APIRouter(
    prefix="/admin/activity",
    tags=["activity"],
    dependencies=[Depends(require("activity.read"))],
)

_REFUSALS = (AuthenticationRequired, InvalidToken, Forbidden, ValidationFailed)
_LIST_DESCRIPTION = (
    "Newest first; `sort=action` or `sort=created_at` (with `-` or `order=desc`) to change. "
    "`action` matches exactly, or every action it begins when it ends in `.` or `*` (`auth.`)."
)


def activity_filter(
    action: Annotated[
        str | None,
        Query(max_length=64, description="Exact action, or a prefix ending in `.` or `*`."),
    ] = None,
    success: Annotated[bool | None, Query(description="Only successes or failures.")] = None,
    since: Annotated[
        datetime | None, Query(description="Entries at or after (ISO 8601; UTC by default).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Entries at or before (ISO 8601; UTC by default).")
    ] = None,
    ip: Annotated[str | None, Query(max_length=64, description="Client address.")] = None,
) -> ActivityFilter:
    return ActivityFilter(action=action, success=success, since=since, until=until, ip=ip)


Filters = Annotated[ActivityFilter, Depends(activity_filter)]


@router.get(
    "",
    response_model=Page[ActivityRead],
    summary="Search the audit log",
    description=_LIST_DESCRIPTION,
    responses=error_responses(*_REFUSALS),
)
async def list_activity(
    session: DbSession,
    params: PaginationDep,
    filters: Filters,
    user_id: Annotated[uuid.UUID | None, Query(description="Entries by this account.")] = None,
    resource_type: Annotated[str | None, Query(max_length=64)] = None,
    resource_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[ActivityRead]:
    where = replace(filters, user_id=user_id, resource_type=resource_type, resource_id=resource_id)
    items, total = await activity_service.list_activity(session, params, where)
    return Page(data=items, pagination=params.meta(total))


@router.get(
    "/users/{user_id}",
    response_model=Page[ActivityRead],
    summary="What one account did",
    description=_LIST_DESCRIPTION,
    responses=error_responses(*_REFUSALS, UserNotFound),
)
async def list_user_activity(
    user_id: uuid.UUID, session: DbSession, params: PaginationDep, filters: Filters
) -> Page[ActivityRead]:
    items, total = await activity_service.list_user_activity(session, params, user_id, filters)
    return Page(data=items, pagination=params.meta(total))


@router.get(
    "/resources/{resource_type}/{resource_id}",
    response_model=Page[ActivityRead],
    summary="The history of one resource",
    description=_LIST_DESCRIPTION + " A resource that has since been deleted keeps its history.",
    responses=error_responses(*_REFUSALS),
)
async def list_resource_activity(
    resource_type: str,
    resource_id: str,
    session: DbSession,
    params: PaginationDep,
    filters: Filters,
) -> Page[ActivityRead]:
    where = replace(filters, resource_type=resource_type, resource_id=resource_id)
    items, total = await activity_service.list_activity(session, params, where)
    return Page(data=items, pagination=params.meta(total))


@router.get(
    "/stats",
    response_model=ActivityStats,
    summary="Counts by action and by day over a window",
    responses=error_responses(*_REFUSALS),
)
async def read_activity_stats(
    session: DbSession,
    days: Annotated[
        int,
        Query(
            ge=1,
            le=activity_service.MAX_STATS_DAYS,
            description="UTC days back, today included.",
        ),
    ] = 30,
) -> ActivityStats:
    return await activity_service.stats(session, days)


@router.get(
    "/actions",
    response_model=Page[ActionCount],
    summary="Every action in the log, with counts",
    description="Sort by `action` (default), `count` or `last_at`.",
    responses=error_responses(*_REFUSALS),
)
async def list_activity_actions(session: DbSession, params: PaginationDep) -> Page[ActionCount]:
    items, total = await activity_service.list_actions(session, params)
    return Page(data=list(items), pagination=params.meta(total))
