"""Roles, their permissions, who holds them, and what a user may do.

The rules kept here:
- built-in roles keep their names and cannot be deleted; a `grants_all` role (admin) holds every
  permission, so its permissions cannot be edited;
- nobody grants what they do not hold: assigning a role, or adding a permission to one, needs
  the actor to hold every permission it carries (an admin holds all);
- only an administrator changes an administrator's account or roles;
- the server always keeps one active administrator (`keeping_an_administrator`);
- every change to what someone may do drops the cached principals after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import asynccontextmanager

from sqlalchemy import Uuid, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.user import Role, RolePermission, User, UserRole, UserStatus
from cinesonic.rbac.permissions import CATALOGUE, DEFAULT_ROLE
from cinesonic.rbac.schemas import (
    PermissionCatalogue,
    PermissionRead,
    PolicyRead,
    RolePermissions,
    RoleRead,
    RoleSummary,
    RoleUpdate,
    UserRoles,
)
from cinesonic.state import AppState
from cinesonic.user import service as user_service

ROLE_SORTS = {"name": Role.name, "created_at": Role.created_at}
POLICY_SORTS = {"role": Role.name, "permission": RolePermission.permission}


class RoleNotFound(NotFound):
    message = "No such role."


class UnknownRole(ValidationFailed):
    code, message = "unknown_role", "No role has that name."


class RoleNameTaken(Conflict):
    code, message = "role_name_taken", "A role with that name exists."


class BuiltinRole(Conflict):
    code, message = "builtin_role", "Built-in roles cannot be renamed or deleted."


class GrantsAllRole(Conflict):
    code = "grants_all_role"
    message = "This role holds every permission; its permissions cannot be edited."


class RoleInUse(Conflict):
    code = "role_in_use"
    message = "Accounts hold this role; pass force=true to take it from them and delete it."


class RoleAlreadyAssigned(Conflict):
    code, message = "role_already_assigned", "The user already holds that role."


class RoleNotAssigned(NotFound):
    message = "The user does not hold that role."


class PermissionNotGranted(NotFound):
    message = "The role does not hold that permission."


class LastRole(Conflict):
    code, message = "last_role", "A user keeps at least one role."


class LastAdmin(Conflict):
    code = "last_admin"
    message = "This would leave the server without an active administrator."


class PrivilegeEscalation(Forbidden):
    code, message = "privilege_escalation", "You cannot grant permissions you do not hold."


class AdministratorProtected(Forbidden):
    code = "administrator_protected"
    message = "Only an administrator may change an administrator's account or roles."


def normalize_role_name(name: str) -> str:
    return name.strip().lower()


# ---------------------------------------------------------------- what roles grant


def effective_permissions(roles: Iterable[Role]) -> tuple[frozenset[str], bool]:
    """(permissions, grants_all) of a set of roles whose `permissions` are loaded."""
    permissions: set[str] = set()
    grants_all = False
    for role in roles:
        grants_all = grants_all or role.grants_all
        permissions.update(p.permission for p in role.permissions)
    return frozenset(permissions), grants_all


def _listed(permissions: Collection[str], grants_all: bool) -> list[str]:
    return sorted(CATALOGUE) if grants_all else sorted(permissions)


def holds_grants_all(user: User) -> bool:
    """Whether the user is an administrator; `user.roles` must be loaded."""
    return any(role.grants_all for role in user.roles)


def permission_catalogue() -> PermissionCatalogue:
    return PermissionCatalogue(
        data=[PermissionRead(name=name, description=text) for name, text in CATALOGUE.items()]
    )


# ---------------------------------------------------------------- guards


def ensure_may_grant_permissions(actor: Principal, permissions: Iterable[str]) -> None:
    missing = sorted(p for p in permissions if not actor.can(p))
    if missing:
        raise PrivilegeEscalation(details={"missing_permissions": missing})


def ensure_may_grant(actor: Principal, roles: Iterable[Role]) -> None:
    """The actor holds everything the roles (with `permissions` loaded) would grant."""
    for role in roles:
        if role.grants_all and not actor.grants_all:
            raise PrivilegeEscalation(
                f"Only an administrator may grant the '{role.name}' role.",
                details={"role": role.name},
            )
        ensure_may_grant_permissions(actor, (p.permission for p in role.permissions))


def ensure_may_manage_user(actor: Principal, user: User) -> None:
    if holds_grants_all(user) and not actor.grants_all:
        raise AdministratorProtected()


async def count_active_administrators(session: AsyncSession) -> int:
    statement = (
        select(func.count(func.distinct(User.id)))
        .select_from(User)
        .join(UserRole, UserRole.user_id == User.id)
        .join(Role, Role.id == UserRole.role_id)
        .where(Role.grants_all.is_(True), User.status == UserStatus.active)
    )
    return int(await session.scalar(statement) or 0)


@asynccontextmanager
async def keeping_an_administrator(session: AsyncSession, user: User) -> AsyncIterator[None]:
    """Wrap a change to `user`'s roles, status or existence (`user.roles` loaded): if the user
    is an active administrator and the change leaves none, it is refused with `last_admin`.

    On PostgreSQL the `grants_all` roles' rows are locked first, so two administrators demoting
    each other at once are serialized and the second sees the first; FOR NO KEY UPDATE leaves
    role assignments (which take KEY SHARE) unblocked. SQLite serializes writers already, and
    the count runs after this change's first write."""
    was_administrator = user.status == UserStatus.active and holds_grants_all(user)
    if was_administrator:
        await session.execute(
            select(Role.id).where(Role.grants_all.is_(True)).with_for_update(key_share=True)
        )
    yield
    if was_administrator:
        await session.flush()
        if await count_active_administrators(session) == 0:
            raise LastAdmin()


# ---------------------------------------------------------------- roles


async def _find_role(session: AsyncSession, name: str) -> Role | None:
    return await session.scalar(
        select(Role)
        .where(Role.name == normalize_role_name(name))
        .options(selectinload(Role.permissions))
    )


async def get_role_by_name(session: AsyncSession, name: str) -> Role:
    """A role with its permissions loaded; names are case-insensitive."""
    role = await _find_role(session, name)
    if role is None:
        raise RoleNotFound(f"No role named '{normalize_role_name(name)}'.")
    return role


async def resolve_roles(session: AsyncSession, names: Sequence[str]) -> list[Role]:
    """The roles named in a request body (permissions loaded); 422 `unknown_role` otherwise."""
    wanted = [normalize_role_name(name) for name in names]
    roles = (
        await session.scalars(
            select(Role)
            .where(Role.name.in_(wanted))
            .options(selectinload(Role.permissions))
            .order_by(Role.name)
        )
    ).all()
    missing = sorted(set(wanted) - {role.name for role in roles})
    if missing:
        raise UnknownRole(
            f"No role named {', '.join(repr(name) for name in missing)}.",
            details=[
                {"field": "roles", "location": "body", "message": f"no role named '{name}'"}
                for name in missing
            ],
        )
    return list(roles)


async def _user_counts(
    session: AsyncSession, role_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not role_ids:
        return {}
    rows = await session.execute(
        select(UserRole.role_id, func.count())
        .where(UserRole.role_id.in_(role_ids))
        .group_by(UserRole.role_id)
    )
    return {role_id: int(count) for role_id, count in rows.all()}


def _role_read(role: Role, user_count: int) -> RoleRead:
    return RoleRead(
        id=role.id,
        name=role.name,
        description=role.description,
        is_builtin=role.is_builtin,
        grants_all=role.grants_all,
        permissions=_listed([p.permission for p in role.permissions], role.grants_all),
        user_count=user_count,
        created_at=role.created_at,
        updated_at=role.updated_at,
    )


def _role_permissions(role: Role) -> RolePermissions:
    return RolePermissions(
        role=role.name,
        grants_all=role.grants_all,
        permissions=_listed([p.permission for p in role.permissions], role.grants_all),
    )


async def list_roles(session: AsyncSession, params: PageParams) -> tuple[list[RoleRead], int]:
    statement = apply_sort(
        select(Role).options(selectinload(Role.permissions)),
        params,
        ROLE_SORTS,
        default=[Role.name.expression],
        tiebreaker=Role.id.expression,
    )
    roles, total = await paginate_rows(session, statement, params)
    counts = await _user_counts(session, [role.id for role in roles])
    return [_role_read(role, counts.get(role.id, 0)) for role in roles], total


async def read_role(session: AsyncSession, name: str) -> RoleRead:
    role = await get_role_by_name(session, name)
    counts = await _user_counts(session, [role.id])
    return _role_read(role, counts.get(role.id, 0))


async def read_role_permissions(session: AsyncSession, name: str) -> RolePermissions:
    return _role_permissions(await get_role_by_name(session, name))


async def _audit(
    session: AsyncSession,
    actor: Principal,
    origin: Origin,
    action: str,
    resource_type: str,
    resource_id: str | uuid.UUID,
    details: dict[str, object],
) -> None:
    await activity_service.record_by(
        session,
        actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        origin=origin,
        details=details,
    )


async def create_role(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    *,
    name: str,
    description: str | None,
    permissions: Sequence[str],
) -> RoleRead:
    """A custom role. Nobody holds it yet, so no cached principal changes."""
    ensure_may_grant_permissions(actor, permissions)
    name = normalize_role_name(name)
    if await _find_role(session, name) is not None:
        raise RoleNameTaken(f"A role named '{name}' exists.")
    role = Role(
        name=name,
        description=description,
        is_builtin=False,
        grants_all=False,
        permissions=[RolePermission(permission=p) for p in sorted(set(permissions))],
    )
    session.add(role)
    await session.flush()
    user_service.summary_changed(session, state)
    await _audit(
        session,
        actor,
        origin,
        "rbac.role_create",
        "role",
        role.id,
        {"name": name, "permissions": sorted(set(permissions))},
    )
    return _role_read(role, 0)


def _set_permissions(actor: Principal, role: Role, wanted: Collection[str]) -> dict[str, list[str]]:
    """Make the role hold exactly `wanted`; answer what was added and removed."""
    if role.grants_all:
        raise GrantsAllRole()
    current = {p.permission for p in role.permissions}
    added, removed = sorted(set(wanted) - current), sorted(current - set(wanted))
    ensure_may_grant_permissions(actor, added)
    if added or removed:
        kept = [p for p in role.permissions if p.permission in wanted]
        role.permissions = kept + [RolePermission(permission=p) for p in added]
        # The role's own row may not change, and `onupdate` only fires when it does.
        role.updated_at = utcnow()
    return {"added": added, "removed": removed}


async def update_role(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    name: str,
    changes: RoleUpdate,
) -> RoleRead:
    role = await get_role_by_name(session, name)
    sent = changes.model_fields_set
    details: dict[str, object] = {}
    if changes.name is not None and changes.name != role.name:
        if role.is_builtin:
            raise BuiltinRole("Built-in roles keep their names.")
        if await _find_role(session, changes.name) is not None:
            raise RoleNameTaken(f"A role named '{changes.name}' exists.")
        details["renamed"] = {"from": role.name, "to": changes.name}
        role.name = changes.name
    if "description" in sent and changes.description != role.description:
        role.description = changes.description
        details["description"] = True
    if changes.permissions is not None:
        delta = _set_permissions(actor, role, changes.permissions)
        if delta["added"] or delta["removed"]:
            details["permissions"] = delta
    await session.flush()
    if details:
        # Principals carry role names and permissions; every holder's cached one is stale.
        if "renamed" in details or "permissions" in details:
            auth_service.invalidate_all(session, state)
        if "renamed" in details:
            user_service.summary_changed(session, state)
        await _audit(session, actor, origin, "rbac.role_update", "role", role.id, details)
    counts = await _user_counts(session, [role.id])
    return _role_read(role, counts.get(role.id, 0))


async def delete_role(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    name: str,
    *,
    force: bool,
) -> int:
    """Delete a custom role; with `force`, take it from its holders first, giving the default
    role to any left with none. Answers how many accounts held it."""
    role = await get_role_by_name(session, name)
    if role.is_builtin:
        raise BuiltinRole("Built-in roles cannot be deleted.")
    holders = select(UserRole.user_id).where(UserRole.role_id == role.id)
    held_by = int(await session.scalar(select(func.count()).select_from(holders.subquery())) or 0)
    if held_by and not force:
        raise RoleInUse(details={"user_count": held_by})
    if held_by:
        default = await get_role_by_name(session, DEFAULT_ROLE)
        only_this_role = (
            select(UserRole.user_id)
            .where(UserRole.user_id.in_(holders))
            .group_by(UserRole.user_id)
            .having(func.count() == 1)
            .subquery()
        )
        await session.execute(
            insert(UserRole).from_select(
                ["user_id", "role_id"],
                select(only_this_role.c.user_id, literal(default.id, Uuid())),
            )
        )
    await _audit(
        session,
        actor,
        origin,
        "rbac.role_delete",
        "role",
        role.id,
        {"name": role.name, "users_affected": held_by},
    )
    # The database drops the role's assignments (ON DELETE CASCADE); the ORM its permissions.
    await session.delete(role)
    await session.flush()
    user_service.summary_changed(session, state)
    if held_by:
        auth_service.invalidate_all(session, state)
    return held_by


async def _change_role_permissions(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    role: Role,
    wanted: Collection[str],
) -> RolePermissions:
    """Make `role` hold exactly `wanted`; every holder's next request sees the change."""
    delta = _set_permissions(actor, role, wanted)
    await session.flush()
    if delta["added"] or delta["removed"]:
        auth_service.invalidate_all(session, state)
        await _audit(
            session,
            actor,
            origin,
            "rbac.role_permissions_update",
            "role",
            role.id,
            {"name": role.name, **delta},
        )
    return _role_permissions(role)


async def replace_role_permissions(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    name: str,
    permissions: Sequence[str],
) -> RolePermissions:
    role = await get_role_by_name(session, name)
    return await _change_role_permissions(session, state, actor, origin, role, set(permissions))


async def add_role_permissions(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    name: str,
    permissions: Sequence[str],
) -> RolePermissions:
    role = await get_role_by_name(session, name)
    if role.grants_all:
        raise GrantsAllRole()
    wanted = {p.permission for p in role.permissions} | set(permissions)
    return await _change_role_permissions(session, state, actor, origin, role, wanted)


async def remove_role_permission(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    name: str,
    permission: str,
) -> None:
    role = await get_role_by_name(session, name)
    if role.grants_all:
        raise GrantsAllRole()
    current = {p.permission for p in role.permissions}
    if permission not in current:
        raise PermissionNotGranted(f"The role '{role.name}' does not hold '{permission}'.")
    await _change_role_permissions(session, state, actor, origin, role, current - {permission})


# ---------------------------------------------------------------- who holds which role


def _user_roles(user: User) -> UserRoles:
    permissions, grants_all = effective_permissions(user.roles)
    return UserRoles(
        user_id=user.id,
        roles=[RoleSummary.model_validate(role) for role in user.roles],
        grants_all=grants_all,
        permissions=_listed(permissions, grants_all),
    )


async def read_user_roles(session: AsyncSession, user_id: uuid.UUID) -> UserRoles:
    return _user_roles(await user_service.get_user(session, user_id))


async def set_user_roles(
    session: AsyncSession, actor: Principal, user: User, names: Sequence[str]
) -> bool:
    """Give `user` (roles loaded) exactly the named roles; answers whether anything changed.
    The caller audits, invalidates and wraps this in `keeping_an_administrator`."""
    roles = await resolve_roles(session, names)
    current = {role.name for role in user.roles}
    if {role.name for role in roles} == current:
        return False
    ensure_may_grant(actor, [role for role in roles if role.name not in current])
    user.roles = roles
    user.updated_at = utcnow()
    return True


async def assign_role(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    user_id: uuid.UUID,
    role_name: str,
) -> UserRoles:
    user = await user_service.get_user(session, user_id)
    ensure_may_manage_user(actor, user)
    (role,) = await resolve_roles(session, [role_name])
    if any(held.id == role.id for held in user.roles):
        raise RoleAlreadyAssigned(f"The user already holds '{role.name}'.")
    ensure_may_grant(actor, [role])
    user.roles = sorted([*user.roles, role], key=lambda r: r.name)
    user.updated_at = utcnow()
    await session.flush()
    auth_service.invalidate_user(session, state, user.id)
    user_service.summary_changed(session, state)
    await _audit(
        session,
        actor,
        origin,
        "rbac.user_role_assign",
        "user",
        user.id,
        {"role": role.name, "username": user.username},
    )
    return _user_roles(user)


async def remove_role(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    user_id: uuid.UUID,
    role_name: str,
) -> None:
    user = await user_service.get_user(session, user_id)
    ensure_may_manage_user(actor, user)
    name = normalize_role_name(role_name)
    if not any(role.name == name for role in user.roles):
        raise RoleNotAssigned(f"The user does not hold '{name}'.")
    if len(user.roles) == 1:
        raise LastRole()
    async with keeping_an_administrator(session, user):
        user.roles = [role for role in user.roles if role.name != name]
        user.updated_at = utcnow()
    auth_service.invalidate_user(session, state, user.id)
    user_service.summary_changed(session, state)
    await _audit(
        session,
        actor,
        origin,
        "rbac.user_role_remove",
        "user",
        user.id,
        {"role": name, "username": user.username},
    )


# ---------------------------------------------------------------- the policy table


async def list_policies(
    session: AsyncSession, params: PageParams, role: str | None
) -> tuple[list[PolicyRead], int, list[str]]:
    """[001]'s effective policy table: one (role, permission) row per grant, plus the roles
    that grant everything (they have no rows)."""
    statement = select(RolePermission).join(Role, Role.id == RolePermission.role_id)
    grants_all = select(Role.name).where(Role.grants_all.is_(True)).order_by(Role.name)
    if role is not None:
        statement = statement.where(Role.name == normalize_role_name(role))
        grants_all = grants_all.where(Role.name == normalize_role_name(role))
    statement = apply_sort(
        statement,
        params,
        POLICY_SORTS,
        default=[Role.name.expression, RolePermission.permission.expression],
        tiebreaker=RolePermission.permission.expression,
    ).order_by(Role.name)  # with `sort=permission`, order each permission's roles too
    grants, total = await paginate_rows(session, statement, params)
    names = {role_id: name for role_id, name in await session.execute(select(Role.id, Role.name))}
    rows = [PolicyRead(role=names[g.role_id], permission=g.permission) for g in grants]
    return rows, total, list((await session.scalars(grants_all)).all())
