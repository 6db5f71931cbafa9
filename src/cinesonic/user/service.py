"""Accounts: creation with case-insensitive uniqueness, look-ups, read models; the admin's list,
changes and deletion; the owner's profile and preferences.

The admin list costs two statements whatever the page size: the page — each row's role names and
activity counts as correlated subqueries, which the database runs for the returned rows only —
and its total. The summary over all accounts scans every account, so it is kept a few seconds.
The counts read the session, API key and audit tables directly: asking each domain's service
would cost a statement per domain and per page.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from pydantic import ValidationError
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    bindparam,
    delete,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import BindParameter

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.auth.security import check_password_policy
from cinesonic.db import after_commit
from cinesonic.errors import Conflict, Forbidden, NotFound
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows_sync
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.activity import Activity
from cinesonic.models.apikey import ApiKey
from cinesonic.models.auth import AuthSession, OneTimeToken, RefreshToken
from cinesonic.models.user import Role, User, UserRole, UserStatus
from cinesonic.rbac import service as rbac_service
from cinesonic.rbac.permissions import DEFAULT_ROLE
from cinesonic.state import AppState
from cinesonic.user.schemas import (
    ActivityEntry,
    DeletedRecords,
    Preferences,
    PreferencesUpdate,
    ProfileUpdate,
    SessionsSummary,
    UserActivityCounts,
    UserCreate,
    UserDeleted,
    UserFull,
    UserListItem,
    UserPublic,
    UserRead,
    UserSummary,
    UserUpdate,
)

# A user's roles and their permissions, in two extra queries.
WITH_ROLES = selectinload(User.roles).selectinload(Role.permissions)
READ_PERMISSION = "users.read"
RECENT_ACTIVITY = 10
SUMMARY_KEY = "user.summary"
# Registrations (and writes on other replicas) show in the summary within this many seconds.
SUMMARY_TTL_SECONDS = 5.0
USER_SORTS: dict[str, ColumnElement[Any]] = {
    "username": User.username_key.expression,
    "email": User.email_key.expression,
    "created_at": User.created_at.expression,
    "last_login_at": User.last_login_at.expression,
    "status": User.status.expression,
}


class UserNotFound(NotFound):
    message = "No such user."


class UsernameTaken(Conflict):
    code, message = "username_taken", "That username is taken."


class EmailTaken(Conflict):
    code, message = "email_taken", "An account with that email exists."


class SelfLockout(Conflict):
    code = "self_lockout"
    message = "You cannot suspend, deactivate or delete your own account."


class FullProfileForbidden(Forbidden):
    message = "This needs the 'users.read' permission, or to be this user."


def username_key(username: str) -> str:
    return unicodedata.normalize("NFKC", username).casefold()


def email_key(email: str) -> str:
    return email.strip().lower()


def _read_fields(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "bio": user.bio,
        "avatar_image_id": user.avatar_image_id,
        "status": user.status,
        "roles": [role.name for role in user.roles],
        "is_email_verified": user.is_email_verified,
        "requires_password_change": user.requires_password_change,
        "last_login_at": user.last_login_at,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def to_read(user: User) -> UserRead:
    """The owner's/admin's view; `user.roles` must be loaded."""
    return UserRead(**_read_fields(user))


def to_public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        bio=user.bio,
        avatar_image_id=user.avatar_image_id,
        created_at=user.created_at,
    )


def may_see_full_profile(viewer: Principal, user_id: uuid.UUID) -> bool:
    return viewer.id == user_id or viewer.can(READ_PERMISSION)


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def ensure_available(
    session: AsyncSession,
    *,
    username: str | None = None,
    email: str | None = None,
    exclude: uuid.UUID | None = None,
) -> None:
    conditions = []
    if username is not None:
        conditions.append(User.username_key == username_key(username))
    if email is not None:
        conditions.append(User.email_key == email_key(email))
    if not conditions:
        return
    statement = select(User.username_key, User.email_key).where(or_(*conditions))
    if exclude is not None:
        statement = statement.where(User.id != exclude)
    for taken_username, taken_email in (await session.execute(statement)).all():
        if username is not None and taken_username == username_key(username):
            raise UsernameTaken()
        if email is not None and taken_email == email_key(email):
            raise EmailTaken()


async def _flush_account(session: AsyncSession) -> None:
    """Flush, turning a lost race for a username or email into the same 409 as the check."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if "username_key" in str(exc.orig):
            raise UsernameTaken() from exc
        if "email_key" in str(exc.orig):
            raise EmailTaken() from exc
        raise


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    email: str,
    password_hash: str,
    roles: Sequence[Role],
    display_name: str | None = None,
    bio: str | None = None,
    status: UserStatus = UserStatus.active,
    email_verified: bool = False,
    requires_password_change: bool = False,
) -> User:
    await ensure_available(session, username=username, email=email)
    user = User(
        username=username,
        username_key=username_key(username),
        email=email.strip(),
        email_key=email_key(email),
        display_name=display_name,
        bio=bio,
        password_hash=password_hash,
        status=status,
        email_verified_at=utcnow() if email_verified else None,
        requires_password_change=requires_password_change,
        preferences={},
        roles=list(roles),
    )
    session.add(user)
    await _flush_account(session)
    return user


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.scalar(select(User).where(User.id == user_id).options(WITH_ROLES))
    if user is None:
        raise UserNotFound()
    return user


async def find_by_identifier(session: AsyncSession, identifier: str) -> User | None:
    """A user by username or email, case-insensitively."""
    key = identifier.strip()
    statement = (
        select(User)
        .where(or_(User.username_key == username_key(key), User.email_key == email_key(key)))
        .options(WITH_ROLES)
    )
    return await session.scalar(statement)


# ---------------------------------------------------------------- the admin's list


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# The database's clock, not a bound value: the statements below are built once, and SQLAlchemy
# keeps the cache keys of such parts (half the cost of a list request's statement building).
# SQLite's CURRENT_TIMESTAMP has whole seconds; stored times compare with it as text.
_NOW = func.current_timestamp()
# Each activity count of the `User` row a statement selects, as a correlated subquery: the
# database runs them for the rows a page returns only, each an index range scan.
_ACTIVITY_COLUMNS = (
    select(func.count())
    .where(
        AuthSession.user_id == User.id,
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > _NOW,
    )
    .scalar_subquery()
    .label("sessions_active"),
    select(func.count())
    .where(
        ApiKey.user_id == User.id,
        ApiKey.revoked_at.is_(None),
        or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > _NOW),
    )
    .scalar_subquery()
    .label("api_keys"),
    select(func.count())
    .where(Activity.user_id == User.id)
    .scalar_subquery()
    .label("activity_events"),
)


def _activities(row: Row[*tuple[Any, ...]]) -> UserActivityCounts:
    return UserActivityCounts(
        sessions_active=row.sessions_active,
        api_keys=row.api_keys,
        activity_events=row.activity_events,
    )


# Role names ride along as one string per row (names cannot hold commas).
_ROLE_NAMES = (
    select(func.aggregate_strings(Role.name, ","))
    .select_from(UserRole)
    .join(Role, Role.id == UserRole.role_id)
    .where(UserRole.user_id == User.id)
    .scalar_subquery()
    .label("role_names")
)
_LIST_COLUMNS = (
    User.id,
    User.username,
    User.email,
    User.display_name,
    User.bio,
    User.avatar_image_id,
    User.status,
    User.email_verified_at,
    User.requires_password_change,
    User.last_login_at,
    User.created_at,
    User.updated_at,
    _ROLE_NAMES,
)


def _list_item(row: Row[*tuple[Any, ...]]) -> UserListItem:
    return UserListItem(
        id=row.id,
        username=row.username,
        email=row.email,
        display_name=row.display_name,
        bio=row.bio,
        avatar_image_id=row.avatar_image_id,
        status=row.status,
        roles=sorted(row.role_names.split(",")) if row.role_names else [],
        is_email_verified=row.email_verified_at is not None,
        requires_password_change=row.requires_password_change,
        last_login_at=row.last_login_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        activities=_activities(row),
    )


async def summarize_users(session: AsyncSession, state: AppState) -> UserSummary:
    """Counts by status and by role over every account. They scan an index entry per account
    (`ix_user_status`, `ix_user_role_role_id`), so they are kept for `SUMMARY_TTL_SECONDS`;
    this process's own account writes drop them at once (`summary_changed`)."""
    cached = state.aggregates.get(SUMMARY_KEY)
    if isinstance(cached, UserSummary):
        return cached
    by_status = select(literal("status"), type_coerce(User.status, String), func.count()).group_by(
        User.status
    )
    by_role = select(
        literal("role"),
        Role.name,
        select(func.count())
        .select_from(UserRole)
        .where(UserRole.role_id == Role.id)
        .scalar_subquery(),
    )
    statuses: dict[str, int] = {}
    roles: dict[str, int] = {}
    statement: CompoundSelect[str, str, int] = union_all(by_status, by_role)
    for kind, key, count in (await session.execute(statement)).all():
        (statuses if kind == "status" else roles)[key] = int(count)
    summary = UserSummary(
        total_users=sum(statuses.values()),
        active_users=statuses.get(UserStatus.active.value, 0),
        suspended_users=statuses.get(UserStatus.suspended.value, 0),
        inactive_users=statuses.get(UserStatus.inactive.value, 0),
        by_role=dict(sorted(roles.items())),
    )
    state.aggregates.set(SUMMARY_KEY, summary, ttl=SUMMARY_TTL_SECONDS)
    return summary


def summary_changed(session: AsyncSession, state: AppState) -> None:
    """After commit, drop the cached summary (accounts, statuses or roles changed)."""

    async def _drop() -> None:
        state.aggregates.invalidate(SUMMARY_KEY)

    after_commit(session, _drop)


LIST_TABLES = ("user", "user_role", "role", "auth_session", "api_key", "activity")
LIST_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class _CachedPage:
    versions: tuple[int, ...]
    items: list[UserListItem]
    total: int


@lru_cache(maxsize=128)
def _list_statement(
    sort: tuple[tuple[str, bool], ...], by_status: bool, by_role: bool, by_search: bool
) -> Select[Any]:
    """The list statement for one shape of request, built once: values travel as bound
    parameters, so SQLAlchemy reuses its compiled form and never re-walks the statement."""
    statement = select(*_LIST_COLUMNS, *_ACTIVITY_COLUMNS)
    if by_status:
        statement = statement.where(User.status == bindparam("status"))
    if by_role:
        holders = (
            select(UserRole.user_id)
            .join(Role, Role.id == UserRole.role_id)
            .where(Role.name == bindparam("role"))
        )
        statement = statement.where(User.id.in_(holders))
    if by_search:
        pattern: BindParameter[str] = bindparam("pattern")
        statement = statement.where(
            or_(
                User.username_key.like(pattern, escape="\\"),
                User.email_key.like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
            )
        )
    return apply_sort(
        statement,
        PageParams(offset=0, page_size=1, sort=sort),
        USER_SORTS,
        default=[USER_SORTS["username"]],
        tiebreaker=User.id.expression,
    )


async def list_users(
    session: AsyncSession,
    state: AppState,
    params: PageParams,
    *,
    role: str | None = None,
    status: UserStatus | None = None,
    search: str | None = None,
) -> tuple[list[UserListItem], int, UserSummary]:
    """A page of accounts with their activity counts — one statement for the page, roles and
    counts, one for the total — and the summary over all accounts."""
    search = search.strip() if search else None
    values: dict[str, Any] = {}
    if status is not None:
        values["status"] = status
    if role is not None:
        values["role"] = rbac_service.normalize_role_name(role)
    if search:
        values["pattern"] = f"%{_escape_like(search.casefold())}%"
    # A page is kept while none of the tables it reads has seen a committed write (on any
    # replica), and at most LIST_TTL_SECONDS for what changes with time alone (sessions expire).
    key = f"users.list:{params.offset}:{params.page_size}:{params.sort}:{sorted(values.items())}"
    versions = state.db.table_versions(LIST_TABLES)
    cached = state.aggregates.get(key)
    if isinstance(cached, _CachedPage) and cached.versions == versions:
        items, total = cached.items, cached.total
    else:
        statement = _list_statement(params.sort, status is not None, role is not None, bool(search))
        rows, total = await state.db.read(
            session,
            partial(paginate_rows_sync, statement=statement, params=params, values=values),
        )
        items = [_list_item(row) for row in rows]
        state.aggregates.set(key, _CachedPage(versions, items, total), ttl=LIST_TTL_SECONDS)
    return items, total, await summarize_users(session, state)


# ---------------------------------------------------------------- one account


async def read_profile(
    session: AsyncSession, viewer: Principal, user_id: uuid.UUID
) -> UserRead | UserPublic:
    """The full account for its owner and `users.read` holders; the public profile otherwise."""
    user = await get_user(session, user_id)
    return to_read(user) if may_see_full_profile(viewer, user.id) else to_public(user)


async def read_full(session: AsyncSession, viewer: Principal, user_id: uuid.UUID) -> UserFull:
    if not may_see_full_profile(viewer, user_id):
        raise FullProfileForbidden()
    user = await get_user(session, user_id)
    counts = _activities(
        (await session.execute(select(*_ACTIVITY_COLUMNS).where(User.id == user.id))).one()
    )
    total, last_used_at = (
        await session.execute(
            select(func.count(), func.max(AuthSession.last_used_at)).where(
                AuthSession.user_id == user.id
            )
        )
    ).one()
    recent = await session.scalars(
        select(Activity)
        .where(Activity.user_id == user.id)
        .order_by(Activity.created_at.desc(), Activity.id.desc())
        .limit(RECENT_ACTIVITY)
    )
    return UserFull(
        **_read_fields(user),
        activities=counts,
        sessions=SessionsSummary(
            active=counts.sessions_active, total=int(total), last_used_at=last_used_at
        ),
        recent_activity=[ActivityEntry.model_validate(entry) for entry in recent],
    )


async def read_user(session: AsyncSession, user_id: uuid.UUID) -> UserRead:
    return to_read(await get_user(session, user_id))


async def _apply_changes(session: AsyncSession, user: User, values: dict[str, Any]) -> list[str]:
    """Set the account fields in `values` (only those sent); answer the names that changed.
    A new email address (not merely new capitals) is unverified."""
    username, email = values.pop("username", None), values.pop("email", None)
    await ensure_available(session, username=username, email=email, exclude=user.id)
    changed = []
    if username is not None and username != user.username:
        user.username, user.username_key = username, username_key(username)
        changed.append("username")
    if email is not None and email.strip() != user.email:
        if email_key(email) != user.email_key:
            user.email_verified_at = None
        user.email, user.email_key = email.strip(), email_key(email)
        changed.append("email")
    for field in ("display_name", "bio", "requires_password_change"):
        if field in values and values[field] != getattr(user, field):
            setattr(user, field, values[field])
            changed.append(field)
    return changed


async def _audit(
    session: AsyncSession,
    actor: Principal,
    origin: Origin,
    action: str,
    user: User,
    details: dict[str, Any],
) -> None:
    await activity_service.record_by(
        session,
        actor,
        action=action,
        resource_type="user",
        resource_id=user.id,
        origin=origin,
        details=details,
    )


async def admin_create_user(
    session: AsyncSession, state: AppState, actor: Principal, origin: Origin, body: UserCreate
) -> UserRead:
    check_password_policy(body.password)
    roles = await rbac_service.resolve_roles(session, body.role_names or [DEFAULT_ROLE])
    rbac_service.ensure_may_grant(actor, roles)
    await ensure_available(session, username=body.username, email=str(body.email))
    user = await create_user(
        session,
        username=body.username,
        email=str(body.email),
        password_hash=await state.passwords.hash(body.password),
        roles=roles,
        display_name=body.display_name,
        bio=body.bio,
        status=body.status,
        requires_password_change=body.requires_password_change,
    )
    summary_changed(session, state)
    await _audit(
        session,
        actor,
        origin,
        "user.create",
        user,
        {"username": user.username, "roles": [r.name for r in roles], "status": user.status},
    )
    return to_read(user)


async def admin_update_user(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    user_id: uuid.UUID,
    changes: UserUpdate,
) -> UserRead:
    """[003]'s admin update. Role and status changes reach the user's very next request;
    suspending or deactivating also ends their sessions."""
    user = await get_user(session, user_id)
    rbac_service.ensure_may_manage_user(actor, user)
    values = changes.model_dump(exclude_unset=True, exclude={"role", "roles"})
    status: UserStatus | None = values.pop("status", None)
    if user.id == actor.id and status is not None and status != UserStatus.active:
        raise SelfLockout("You cannot suspend or deactivate your own account.")
    changed = await _apply_changes(session, user, values)
    details: dict[str, Any] = {}
    async with rbac_service.keeping_an_administrator(session, user):
        names = changes.role_names
        if names is not None and await rbac_service.set_user_roles(session, actor, user, names):
            changed.append("roles")
            details["roles"] = [role.name for role in user.roles]
        if status is not None and status != user.status:
            user.status = status
            changed.append("status")
            details["status"] = status
    if not changed:
        return to_read(user)
    await _flush_account(session)
    if "status" in changed and user.status != UserStatus.active:
        await auth_service.revoke_sessions(session, state, user.id, reason=f"account_{status}")
    auth_service.invalidate_user(session, state, user.id)
    if details:  # roles or status changed
        summary_changed(session, state)
    await _audit(session, actor, origin, "user.update", user, {"changed": changed, **details})
    return to_read(user)


async def delete_user(
    session: AsyncSession, state: AppState, actor: Principal, origin: Origin, user_id: uuid.UUID
) -> UserDeleted:
    """Delete an account and what hangs off it; its audit entries stay, without the link."""
    if user_id == actor.id:
        raise SelfLockout("You cannot delete your own account.")
    user = await get_user(session, user_id)
    rbac_service.ensure_may_manage_user(actor, user)
    session_ids = select(AuthSession.id).where(AuthSession.user_id == user.id)
    row = (
        await session.execute(
            select(
                select(func.count()).where(AuthSession.user_id == user.id).scalar_subquery(),
                select(func.count())
                .where(RefreshToken.session_id.in_(session_ids))
                .scalar_subquery(),
                select(func.count()).where(ApiKey.user_id == user.id).scalar_subquery(),
                select(func.count()).where(OneTimeToken.user_id == user.id).scalar_subquery(),
            )
        )
    ).one()
    records = DeletedRecords(
        sessions=row[0], refresh_tokens=row[1], api_keys=row[2], one_time_tokens=row[3]
    )
    await _audit(
        session,
        actor,
        origin,
        "user.delete",
        user,
        {"username": user.username, "deleted_records": records.model_dump()},
    )
    async with rbac_service.keeping_an_administrator(session, user):
        # The database cascades to sessions, tokens, keys and role assignments, and sets the
        # user's audit entries' `user_id` to NULL (their `actor_name` remains).
        await session.execute(delete(User).where(User.id == user.id))
    session.expunge(user)
    auth_service.invalidate_user(session, state, user.id)
    summary_changed(session, state)
    return UserDeleted(id=user.id, deleted_records=records, deleted_at=utcnow())


# ---------------------------------------------------------------- the owner's profile


async def update_profile(
    session: AsyncSession,
    state: AppState,
    principal: Principal,
    origin: Origin,
    changes: ProfileUpdate,
) -> UserRead:
    user = await get_user(session, principal.id)
    changed = await _apply_changes(session, user, changes.model_dump(exclude_unset=True))
    if changed:
        await _flush_account(session)
        # The cached principal carries the profile (`/auth/me` answers from it).
        auth_service.invalidate_user(session, state, user.id)
        await _audit(session, principal, origin, "user.profile_update", user, {"changed": changed})
    return to_read(user)


def read_preferences(stored: dict[str, Any]) -> Preferences:
    """Defaults overlaid with what the user set. A stored value a later version no longer
    accepts falls back to its default rather than breaking the account."""
    known = {key: value for key, value in stored.items() if key in Preferences.model_fields}
    try:
        return Preferences.model_validate(known)
    except ValidationError as exc:
        invalid = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        return Preferences.model_validate({k: v for k, v in known.items() if k not in invalid})


async def get_preferences(session: AsyncSession, user_id: uuid.UUID) -> Preferences:
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    return read_preferences(user.preferences)


async def update_preferences(
    session: AsyncSession, user_id: uuid.UUID, changes: PreferencesUpdate
) -> Preferences:
    """Merge a partial update; `null` drops the key back to its default. Only the keys a user
    set are stored, so changed defaults reach everyone else."""
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    stored = dict(user.preferences or {})
    for key, value in changes.model_dump(mode="json", exclude_unset=True).items():
        if value is None:
            stored.pop(key, None)
        else:
            stored[key] = value
    user.preferences = stored
    await session.flush()
    return read_preferences(stored)


async def set_avatar(
    session: AsyncSession, state: AppState, user_id: uuid.UUID, image_id: uuid.UUID | None
) -> str | None:
    """Point the user's avatar at an image (None clears it); answers the previous image id.
    The cached principal carries the avatar, so it is forgotten once this commits."""
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    previous = user.avatar_image_id
    user.avatar_image_id = None if image_id is None else str(image_id)
    await session.flush()
    if user.avatar_image_id != previous:
        auth_service.invalidate_user(session, state, user_id)
    return previous
