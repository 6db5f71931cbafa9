"""Routes of the user domain: the admin's accounts list and changes [000] [002] [003], anyone's
public profile, and the owner's profile and preferences [001].

`/users/me…` is declared before `/users/{user_id}` so the literal path wins. [003]'s
`/admin/users` paths are kept as hidden aliases of the list, update and delete.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.auth.security import PasswordPolicyError
from cinesonic.deps import ClientInfo, CurrentPrincipal, DbSession, State, require
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    ValidationFailed,
    error_responses,
)
from cinesonic.kit.pagination import PaginationDep
from cinesonic.models.user import UserStatus
from cinesonic.rbac import service as rbac_service
from cinesonic.user import service as user_service
from cinesonic.user.schemas import (
    Preferences,
    PreferencesUpdate,
    ProfileUpdate,
    UserCreate,
    UserDeleted,
    UserFull,
    UserPage,
    UserPublic,
    UserRead,
    UserUpdate,
)

router = APIRouter(tags=["user"])

UsersReader = Annotated[Principal, Depends(require("users.read"))]
UsersManager = Annotated[Principal, Depends(require("users.manage"))]

# What authentication itself may answer; unsafe methods in cookie mode also check CSRF.
SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
)
SIGNED_IN_WRITE = (*SIGNED_IN, auth_service.CsrfFailed)


# ---------------------------------------------------------------- the owner's profile


@router.get(
    "/users/me",
    response_model=UserRead,
    summary="My account",
    responses=error_responses(*SIGNED_IN, user_service.UserNotFound),
)
async def read_my_account(principal: CurrentPrincipal, session: DbSession) -> UserRead:
    return await user_service.read_user(session, principal.id)


@router.put(
    "/users/me",
    response_model=UserRead,
    summary="Change my profile",
    description="`display_name`, `bio`, `username`, `email`; fields left out stay. A new email "
    "address is marked unverified.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        user_service.UserNotFound,
        user_service.UsernameTaken,
        user_service.EmailTaken,
        ValidationFailed,
    ),
)
async def update_my_profile(
    body: ProfileUpdate,
    principal: CurrentPrincipal,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> UserRead:
    return await user_service.update_profile(session, state, principal, origin, body)


@router.get(
    "/users/me/preferences",
    response_model=Preferences,
    summary="My preferences, defaults filled in",
    responses=error_responses(*SIGNED_IN, user_service.UserNotFound),
)
async def read_my_preferences(principal: CurrentPrincipal, session: DbSession) -> Preferences:
    return await user_service.get_preferences(session, principal.id)


@router.put(
    "/users/me/preferences",
    response_model=Preferences,
    summary="Change some of my preferences",
    description="A partial update: keys sent are set, `null` resets a key to its default, keys "
    "left out stay. Unlike other bodies, unknown keys are refused (422), so a misspelt "
    "preference cannot silently do nothing.",
    responses=error_responses(*SIGNED_IN_WRITE, user_service.UserNotFound, ValidationFailed),
)
async def update_my_preferences(
    body: PreferencesUpdate, principal: CurrentPrincipal, session: DbSession
) -> Preferences:
    return await user_service.update_preferences(session, principal.id, body)


# ---------------------------------------------------------------- accounts


@router.get(
    "/users",
    response_model=UserPage,
    summary="List accounts, with activity counts and a summary",
    description="Filters: `role`, `status`, `q` (case-insensitive, in username, email and "
    "display name). Sorts: `username` (default), `email`, `created_at`, `last_login_at`, "
    "`status`. `summary` counts every account, whatever the filters [003].",
    responses=error_responses(*SIGNED_IN, Forbidden, ValidationFailed),
)
@router.get("/admin/users", response_model=UserPage, include_in_schema=False)
async def list_accounts(
    _reader: UsersReader,
    session: DbSession,
    state: State,
    paging: PaginationDep,
    role: Annotated[str | None, Query(max_length=64, description="Role name.")] = None,
    user_status: Annotated[UserStatus | None, Query(alias="status")] = None,
    q: Annotated[str | None, Query(max_length=128, description="Search text.")] = None,
) -> UserPage:
    items, total, summary = await user_service.list_users(
        session, state, paging, role=role, status=user_status, search=q
    )
    return UserPage(data=items, pagination=paging.meta(total), summary=summary)


@router.post(
    "/users",
    status_code=201,
    response_model=UserRead,
    summary="Create an account",
    description="`role` (default `user`) or `roles`. The password policy applies; usernames and "
    "emails are unique case-insensitively.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        Forbidden,
        rbac_service.PrivilegeEscalation,
        user_service.UsernameTaken,
        user_service.EmailTaken,
        PasswordPolicyError,
        rbac_service.UnknownRole,
        ValidationFailed,
    ),
)
async def create_account(
    body: UserCreate,
    actor: UsersManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    response: Response,
) -> UserRead:
    user = await user_service.admin_create_user(session, state, actor, origin, body)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return user


@router.get(
    "/users/{user_id}",
    response_model=UserRead | UserPublic,
    summary="An account",
    description="The account itself (`UserRead`) for its owner and holders of `users.read`; the "
    "public profile (`UserPublic`: id, username, display name, bio, avatar) for anyone else.",
    responses=error_responses(*SIGNED_IN, user_service.UserNotFound, ValidationFailed),
)
async def read_account(
    user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> UserRead | UserPublic:
    return await user_service.read_profile(session, principal, user_id)


@router.get(
    "/users/{user_id}/full",
    response_model=UserFull,
    summary="An account with activity counts, sessions and recent activity",
    responses=error_responses(
        *SIGNED_IN, user_service.FullProfileForbidden, user_service.UserNotFound, ValidationFailed
    ),
)
async def read_full_account(
    user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> UserFull:
    return await user_service.read_full(session, principal, user_id)


@router.put(
    "/users/{user_id}",
    response_model=UserRead,
    summary="Change an account (roles, status, profile)",
    description="Fields left out stay. Role and status changes apply from the user's next "
    "request; suspending or deactivating also ends their sessions. The last active "
    "administrator cannot be demoted or suspended, nor can you suspend yourself.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        Forbidden,
        rbac_service.AdministratorProtected,
        rbac_service.PrivilegeEscalation,
        user_service.UserNotFound,
        user_service.UsernameTaken,
        user_service.EmailTaken,
        user_service.SelfLockout,
        rbac_service.LastAdmin,
        rbac_service.UnknownRole,
        ValidationFailed,
    ),
)
@router.put("/admin/users/{user_id}", response_model=UserRead, include_in_schema=False)
async def update_account(
    user_id: uuid.UUID,
    body: UserUpdate,
    actor: UsersManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> UserRead:
    return await user_service.admin_update_user(session, state, actor, origin, user_id, body)


@router.delete(
    "/users/{user_id}",
    response_model=UserDeleted,
    summary="Delete an account and what belongs to it",
    description="Reports what was removed [003]. The account's audit entries are kept (their "
    "actor name remains). You cannot delete yourself or the last administrator.",
    responses=error_responses(
        *SIGNED_IN_WRITE,
        Forbidden,
        rbac_service.AdministratorProtected,
        user_service.UserNotFound,
        user_service.SelfLockout,
        rbac_service.LastAdmin,
        ValidationFailed,
    ),
)
@router.delete("/admin/users/{user_id}", response_model=UserDeleted, include_in_schema=False)
async def delete_account(
    user_id: uuid.UUID, actor: UsersManager, session: DbSession, state: State, origin: ClientInfo
) -> UserDeleted:
    return await user_service.delete_user(session, state, actor, origin, user_id)
