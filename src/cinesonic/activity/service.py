"""Recording and querying the audit log.

`record` adds the entry to the caller's transaction, so an audited write and its entry land
together or not at all. Failed sign-ins are recorded by the auth service in a unit of work of
their own, since the request that carries them is rolled back.

Queries lean on the indexes on `created_at`, `user_id`, `action` and
`(resource_type, resource_id)`; aggregates are computed in SQL, never by loading entries.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement, Select, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity.schemas import (
    ActionCount,
    ActivityActor,
    ActivityRead,
    ActivityStats,
    DayCount,
)
from cinesonic.errors import ValidationFailed
from cinesonic.kit.ids import uuid7
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.kit.timeutil import as_utc, utcnow
from cinesonic.models.activity import Activity
from cinesonic.models.user import User

if TYPE_CHECKING:
    from cinesonic.auth.principal import Principal

MAX_STATS_DAYS = 365
# A filter value ending in one of these matches every action it begins: `auth.`, `auth*`.
_PREFIX_MARKERS = (".", "*")

SORTABLE: dict[str, ColumnElement[Any]] = {
    "created_at": Activity.created_at.expression,
    "action": Activity.action.expression,
}


class Origin(Protocol):
    """Where a request came from (`deps.RequestInfo` satisfies this)."""

    @property
    def ip(self) -> str: ...
    @property
    def user_agent(self) -> str | None: ...
    @property
    def request_id(self) -> str | None: ...


async def record(
    session: AsyncSession,
    *,
    action: str,
    user_id: uuid.UUID | None,
    actor_name: str | None = None,
    resource_type: str | None = None,
    resource_id: str | uuid.UUID | None = None,
    origin: Origin | None = None,
    success: bool = True,
    details: dict[str, Any] | None = None,
    flush: bool = True,
) -> Activity:
    """Add an entry to the session's transaction. `flush=False` leaves it to the next flush
    (a job recording many entries at once); the entry's id is set either way."""
    entry = Activity(
        id=uuid7(),
        user_id=user_id,
        actor_name=actor_name,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else None,
        success=success,
        ip_address=origin.ip if origin else None,
        user_agent=origin.user_agent if origin else None,
        request_id=origin.request_id if origin else None,
        details=details or {},
    )
    session.add(entry)
    if flush:
        await session.flush()
    return entry


async def record_by(
    session: AsyncSession,
    actor: Principal,
    *,
    action: str,
    resource_type: str | None = None,
    resource_id: str | uuid.UUID | None = None,
    origin: Origin | None = None,
    details: dict[str, Any] | None = None,
) -> Activity:
    """`record` for a signed-in actor: the user id and the name that outlives the account."""
    return await record(
        session,
        action=action,
        user_id=actor.id,
        actor_name=actor.user.username,
        resource_type=resource_type,
        resource_id=resource_id,
        origin=origin,
        details=details,
    )


# ---------------------------------------------------------------- reading the log


@dataclass(frozen=True)
class ActivityFilter:
    """What a list of entries is narrowed to; every field is optional."""

    user_id: uuid.UUID | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    success: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    ip: str | None = None


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field} {message}.",
        details=[{"field": field, "location": "query", "message": message, "type": "value_error"}],
    )


def _conditions(where: ActivityFilter) -> list[ColumnElement[bool]]:
    since = as_utc(where.since) if where.since else None
    until = as_utc(where.until) if where.until else None
    if since is not None and until is not None and since > until:
        raise _invalid("since", "must not be after until")
    conditions: list[ColumnElement[bool]] = []
    if where.user_id is not None:
        conditions.append(Activity.user_id == where.user_id)
    if where.action:
        if where.action.endswith(_PREFIX_MARKERS):
            prefix = where.action.rstrip("*")
            conditions.append(Activity.action.startswith(prefix, autoescape=True))
        else:
            conditions.append(Activity.action == where.action)
    if where.resource_type is not None:
        conditions.append(Activity.resource_type == where.resource_type)
    if where.resource_id is not None:
        conditions.append(Activity.resource_id == where.resource_id)
    if where.success is not None:
        conditions.append(Activity.success.is_(where.success))
    if since is not None:
        conditions.append(Activity.created_at >= since)
    if until is not None:
        conditions.append(Activity.created_at <= until)
    if where.ip is not None:
        conditions.append(Activity.ip_address == where.ip)
    return conditions


def to_read(entry: Activity, username: str | None) -> ActivityRead:
    """An entry with its actor; `username` is the account's current name (None once deleted)."""
    actor = None
    if entry.user_id is not None and username is not None:
        actor = ActivityActor(id=entry.user_id, username=username)
    return ActivityRead(
        id=entry.id,
        user=actor,
        actor_name=entry.actor_name or username,
        action=entry.action,
        resource_type=entry.resource_type,
        resource_id=entry.resource_id,
        success=entry.success,
        ip_address=entry.ip_address,
        user_agent=entry.user_agent,
        request_id=entry.request_id,
        details=dict(entry.details or {}),
        created_at=entry.created_at,
    )


async def list_activity(
    session: AsyncSession, params: PageParams, where: ActivityFilter
) -> tuple[list[ActivityRead], int]:
    """One page of entries matching `where`; newest first unless `sort` says otherwise
    (`created_at` or `action`)."""
    statement: Select[*tuple[Any, ...]] = (
        select(Activity, User.username)
        .outerjoin(User, User.id == Activity.user_id)
        .where(*_conditions(where))
    )
    statement = apply_sort(
        statement,
        params,
        SORTABLE,
        default=[Activity.created_at.desc()],
        # Ids are time-ordered, so entries made in the same instant stay newest first.
        tiebreaker=Activity.id.desc(),
    )
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return [to_read(entry, username) for entry, username in rows], total


async def list_user_activity(
    session: AsyncSession, params: PageParams, user_id: uuid.UUID, where: ActivityFilter
) -> tuple[list[ActivityRead], int]:
    """What one existing account did (404 for an unknown account)."""
    # Imported here: the user service records its own writes through this module.
    from cinesonic.user import service as user_service

    await user_service.get_user(session, user_id)
    return await list_activity(session, params, replace(where, user_id=user_id))


def _failure_count() -> ColumnElement[int]:
    return func.coalesce(func.sum(case((Activity.success.is_(False), 1), else_=0)), 0)


def _utc_day(session: AsyncSession) -> ColumnElement[Any]:
    """The UTC calendar day of `created_at`. SQLite keeps the UTC wall time as text;
    PostgreSQL keeps an instant, read in the session's time zone unless told otherwise.
    The zone is a literal so the select and GROUP BY render the very same expression."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(literal_column("'UTC'"), Activity.created_at))
    return func.date(Activity.created_at)


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


async def stats(session: AsyncSession, days: int) -> ActivityStats:
    """Counts by action and by UTC day over the last `days` days (today included)."""
    if not 1 <= days <= MAX_STATS_DAYS:
        raise _invalid("days", f"must be between 1 and {MAX_STATS_DAYS}")
    until = utcnow()
    first_day = until.date() - timedelta(days=days - 1)
    since = datetime.combine(first_day, time.min, tzinfo=until.tzinfo)
    in_window = Activity.created_at >= since

    day = _utc_day(session).label("day")
    day_rows = await session.execute(
        select(day, func.count(), _failure_count()).where(in_window).group_by(day)
    )
    counted = {_as_date(d): (int(n), int(f)) for d, n, f in day_rows.all()}
    by_day = [
        DayCount(day=d, count=counted.get(d, (0, 0))[0], failures=counted.get(d, (0, 0))[1])
        for d in (first_day + timedelta(days=i) for i in range(days))
    ]

    count = func.count().label("count")
    action_rows = await session.execute(
        select(Activity.action, count, _failure_count(), func.max(Activity.created_at))
        .where(in_window)
        .group_by(Activity.action)
        .order_by(count.desc(), Activity.action)
    )
    by_action = [
        ActionCount(action=a, count=int(n), failures=int(f), last_at=as_utc(last))
        for a, n, f, last in action_rows.all()
    ]
    return ActivityStats(
        days=days,
        since=since,
        until=until,
        total=sum(d.count for d in by_day),
        failures=sum(d.failures for d in by_day),
        by_action=by_action,
        by_day=by_day,
    )


async def list_actions(
    session: AsyncSession, params: PageParams
) -> tuple[Sequence[ActionCount], int]:
    """Every action in the log with its counts; sort by `action` (default), `count` or
    `last_at`."""
    count = func.count().label("count")
    last_at = func.max(Activity.created_at).label("last_at")
    statement: Select[*tuple[Any, ...]] = select(
        Activity.action, count, _failure_count(), last_at
    ).group_by(Activity.action)
    statement = apply_sort(
        statement,
        params,
        {"action": Activity.action.expression, "count": count, "last_at": last_at},
        default=[],
        tiebreaker=Activity.action.asc(),
    )
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return [
        ActionCount(action=a, count=int(n), failures=int(f), last_at=as_utc(last))
        for a, n, f, last in rows
    ], total
