"""Routes of roles and permissions [001]: the catalogue, roles and their permissions, who holds
which role, and the effective policy table. Everything but the catalogue needs `rbac.manage`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.deps import ClientInfo, CurrentPrincipal, DbSession, State, require
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    ValidationFailed,
    error_responses,
)
from cinesonic.kit.pagination import Page, PaginationDep
from cinesonic.kit.schemas import DeletedResponse
from cinesonic.rbac import service as rbac_service
from cinesonic.rbac.schemas import (
    PermissionCatalogue,
    PermissionsAdd,
    PermissionsReplace,
    PolicyPage,
    RoleAssign,
    RoleCreate,
    RoleDeleted,
    RolePermissions,
    RoleRead,
    RoleUpdate,
    UserRoles,
)
from cinesonic.user import service as user_service

router = APIRouter(tags=["rbac"])

RbacManager = Annotated[Principal, Depends(require("rbac.manage"))]

# What authentication itself may answer; unsafe methods in cookie mode also check CSRF.
SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
)
MANAGER = (*SIGNED_IN, Forbidden)
MANAGER_WRITE = (*MANAGER, auth_service.CsrfFailed)


@router.get(
    "/rbac/permissions",
    response_model=PermissionCatalogue,
    summary="The permission catalogue",
    description="Every permission with what it allows. Any signed-in user may read it.",
    responses=error_responses(*SIGNED_IN),
)
async def read_permission_catalogue(_principal: CurrentPrincipal) -> PermissionCatalogue:
    return rbac_service.permission_catalogue()


# ---------------------------------------------------------------- roles


@router.get(
    "/rbac/roles",
    response_model=Page[RoleRead],
    summary="List roles with their permissions and user counts",
    description="Sorts: `name` (default), `created_at`.",
    responses=error_responses(*MANAGER, ValidationFailed),
)
async def list_roles(
    _manager: RbacManager, session: DbSession, paging: PaginationDep
) -> Page[RoleRead]:
    roles, total = await rbac_service.list_roles(session, paging)
    return Page[RoleRead](data=roles, pagination=paging.meta(total))


@router.post(
    "/rbac/roles",
    status_code=201,
    response_model=RoleRead,
    summary="Create a role",
    description="Names are lower-case and unique. You can only grant permissions you hold.",
    responses=error_responses(
        *MANAGER_WRITE,
        rbac_service.PrivilegeEscalation,
        rbac_service.RoleNameTaken,
        ValidationFailed,
    ),
)
async def create_role(
    body: RoleCreate,
    actor: RbacManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    response: Response,
) -> RoleRead:
    role = await rbac_service.create_role(
        session,
        state,
        actor,
        origin,
        name=body.name,
        description=body.description,
        permissions=body.permissions,
    )
    response.headers["Location"] = f"/api/v1/rbac/roles/{role.name}"
    return role


@router.get(
    "/rbac/roles/{name}",
    response_model=RoleRead,
    summary="A role",
    responses=error_responses(*MANAGER, rbac_service.RoleNotFound),
)
async def read_role(name: str, _manager: RbacManager, session: DbSession) -> RoleRead:
    return await rbac_service.read_role(session, name)


@router.put(
    "/rbac/roles/{name}",
    response_model=RoleRead,
    summary="Change a role's name, description or permissions",
    description="Fields left out stay. Built-in roles keep their names; the admin role's "
    "permissions (all of them) cannot be edited. Permission changes apply to every holder's "
    "next request.",
    responses=error_responses(
        *MANAGER_WRITE,
        rbac_service.PrivilegeEscalation,
        rbac_service.RoleNotFound,
        rbac_service.BuiltinRole,
        rbac_service.GrantsAllRole,
        rbac_service.RoleNameTaken,
        ValidationFailed,
    ),
)
async def update_role(
    name: str,
    body: RoleUpdate,
    actor: RbacManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> RoleRead:
    return await rbac_service.update_role(session, state, actor, origin, name, body)


@router.delete(
    "/rbac/roles/{name}",
    response_model=RoleDeleted,
    summary="Delete a custom role",
    description="A role accounts hold is refused (409 `role_in_use`) unless `force=true`, which "
    "takes it from them first; anyone left without a role gets the default role `user`.",
    responses=error_responses(
        *MANAGER_WRITE, rbac_service.RoleNotFound, rbac_service.BuiltinRole, rbac_service.RoleInUse
    ),
)
async def delete_role(
    name: str,
    actor: RbacManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    force: Annotated[bool, Query(description="Delete even when accounts hold it.")] = False,
) -> RoleDeleted:
    affected = await rbac_service.delete_role(session, state, actor, origin, name, force=force)
    return RoleDeleted(users_affected=affected)


# ---------------------------------------------------------------- a role's permissions


@router.get(
    "/rbac/roles/{name}/permissions",
    response_model=RolePermissions,
    summary="A role's permissions",
    responses=error_responses(*MANAGER, rbac_service.RoleNotFound),
)
async def read_role_permissions(
    name: str, _manager: RbacManager, session: DbSession
) -> RolePermissions:
    return await rbac_service.read_role_permissions(session, name)


@router.put(
    "/rbac/roles/{name}/permissions",
    response_model=RolePermissions,
    summary="Replace a role's permissions",
    responses=error_responses(
        *MANAGER_WRITE,
        rbac_service.PrivilegeEscalation,
        rbac_service.RoleNotFound,
        rbac_service.GrantsAllRole,
        ValidationFailed,
    ),
)
async def replace_role_permissions(
    name: str,
    body: PermissionsReplace,
    actor: RbacManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> RolePermissions:
    return await rbac_service.replace_role_permissions(
        session, state, actor, origin, name, body.permissions
    )


@router.post(
    "/rbac/roles/{name}/permissions",
    response_model=RolePermissions,
    summary="Grant a role more permissions",
    description='`{"permissions": [...]}` or `{"permission": "..."}`; granting one it '
    "already holds changes nothing. Answers the role's permissions.",
    responses=error_responses(
        *MANAGER_WRITE,
        rbac_service.PrivilegeEscalation,
        rbac_service.RoleNotFound,
        rbac_service.GrantsAllRole,
        ValidationFailed,
    ),
)
async def add_role_permissions(
    name: str,
    body: PermissionsAdd,
    actor: RbacManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> RolePermissions:
    return await rbac_service.add_role_permissions(
        session, state, actor, origin, name, body.permissions
    )


@router.delete(
    "/rbac/roles/{name}/permissions/{permission}",
    response_model=DeletedResponse,
    summary="Take a permission from a role",
    responses=error_responses(
        *MANAGER_WRITE,
        rbac_service.RoleNotFound,
        rbac_service.PermissionNotGranted,
        rbac_service.GrantsAllRole,
    ),
)
async def remove_role_permission(
    name: str,
    permission: str,
    actor: RbacManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> DeletedResponse:
    await rbac_service.remove_role_permission(session, state, actor, origin, name, permission)
    return DeletedResponse()


# ---------------------------------------------------------------- who holds which role


@router.get(
    "/rbac/users/{user_id}/roles",
    response_model=UserRoles,
    summary="A user's roles and effective permissions",
    responses=error_responses(*MANAGER, user_service.UserNotFound, ValidationFailed),
)
async def read_user_roles(
    user_id: uuid.UUID, _manager: RbacManager, session: DbSession
) -> UserRoles:
    return await rbac_service.read_user_roles(session, user_id)


@router.post(
    "/rbac/users/{user_id}/roles",
    status_code=201,
    response_model=UserRoles,
    summary="Give a user a role",
    description="Applies from the user's next request. You can only grant a role whose "
    "permissions you hold.",
    responses=error_responses(
        *MANAGER_WRITE,
        rbac_service.AdministratorProtected,
        rbac_service.PrivilegeEscalation,
        user_service.UserNotFound,
        rbac_service.RoleAlreadyAssigned,
        rbac_service.UnknownRole,
        ValidationFailed,
    ),
)
async def assign_user_role(
    user_id: uuid.UUID,
    body: RoleAssign,
    actor: RbacManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    response: Response,
) -> UserRoles:
    roles = await rbac_service.assign_role(session, state, actor, origin, user_id, body.role)
    response.headers["Location"] = f"/api/v1/rbac/users/{user_id}/roles"
    return roles


@router.delete(
    "/rbac/users/{user_id}/roles/{role}",
    response_model=DeletedResponse,
    summary="Take a role from a user",
    description="Applies from the user's next request. A user keeps at least one role, and the "
    "server keeps one active administrator.",
    responses=error_responses(
        *MANAGER_WRITE,
        rbac_service.AdministratorProtected,
        user_service.UserNotFound,
        rbac_service.RoleNotAssigned,
        rbac_service.LastRole,
        rbac_service.LastAdmin,
        ValidationFailed,
    ),
)
async def remove_user_role(
    user_id: uuid.UUID,
    role: str,
    actor: RbacManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> DeletedResponse:
    await rbac_service.remove_role(session, state, actor, origin, user_id, role)
    return DeletedResponse()


# ---------------------------------------------------------------- the policy table


@router.get(
    "/rbac/policies",
    response_model=PolicyPage,
    summary="The effective policy table: one row per (role, permission)",
    description="`grants_all_roles` lists the roles holding every permission; they have no rows. "
    "Filter with `role`; sorts: `role` (default), `permission`.",
    responses=error_responses(*MANAGER, ValidationFailed),
)
async def list_policies(
    _manager: RbacManager,
    session: DbSession,
    paging: PaginationDep,
    role: Annotated[str | None, Query(max_length=64, description="Role name.")] = None,
) -> PolicyPage:
    rows, total, grants_all = await rbac_service.list_policies(session, paging, role)
    return PolicyPage(data=rows, pagination=paging.meta(total), grants_all_roles=grants_all)
