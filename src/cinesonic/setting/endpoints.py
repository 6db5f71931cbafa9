"""Routes of settings: server settings one by one (`/settings/server`) and grouped
(`/admin/config` [003]), for holders of `settings.manage`; and each signed-in user's own
settings (`/settings/user`) [001]. [000]'s `GET /settings` and `PUT /settings/{key}` are kept
as hidden aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import JsonValue

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.deps import ClientInfo, CurrentPrincipal, DbSession, State, require
from cinesonic.errors import AuthenticationRequired, Forbidden, InvalidToken, error_responses
from cinesonic.kit.pagination import PaginationDep
from cinesonic.kit.schemas import DeletedResponse
from cinesonic.setting import service as setting_service
from cinesonic.setting.registry import SettingGroup
from cinesonic.setting.schemas import (
    AdminConfig,
    AdminConfigUpdated,
    ServerSettingPage,
    ServerSettingRead,
    SettingValue,
    UserSettingPage,
    UserSettingRead,
)

router = APIRouter(tags=["settings"])

SettingsManager = Annotated[Principal, Depends(require("settings.manage"))]
SettingKey = Annotated[
    str, Path(min_length=1, max_length=64, description="The setting's key, e.g. `theme`.")
]

SIGNED_IN = (AuthenticationRequired, InvalidToken)
SIGNED_IN_WRITE = (*SIGNED_IN, auth_service.CsrfFailed)
INVALID = setting_service.InvalidSettingValue
NOT_FOUND = setting_service.SettingNotFound
PINNED = setting_service.OverriddenByEnvironment

ADMIN_CONFIG_EXAMPLES = {
    "grouped": {
        "summary": "By group, as `GET /admin/config` answers",
        "value": {"features": {"open_registration": False}, "security": {"cookie_secure": True}},
    },
    "flat": {
        "summary": "By key",
        "value": {"open_registration": False, "login_lockout_threshold": 10},
    },
}


# ---------------------------------------------------------------- server settings


@router.get(
    "/settings/server",
    response_model=ServerSettingPage,
    summary="Server settings that may change at runtime",
    description="Each with its type, rule, value, default and where the value comes from: "
    "`environment` (its `CINESONIC_*` variable pins it), `database` (changed here) or "
    "`default`. Secrets read `null` with `is_set`. Filter by `group`; sort by `key` or "
    "`group` (registry order by default).",
    responses=error_responses(*SIGNED_IN, Forbidden, INVALID),
)
@router.get("/settings", response_model=ServerSettingPage, include_in_schema=False)
async def list_server_settings(
    _manager: SettingsManager,
    session: DbSession,
    state: State,
    paging: PaginationDep,
    group: Annotated[SettingGroup | None, Query(description="Only this group.")] = None,
) -> ServerSettingPage:
    items, total = await setting_service.list_server_settings(session, state, paging, group)
    return ServerSettingPage(data=items, pagination=paging.meta(total))


@router.get(
    "/settings/server/{key}",
    response_model=ServerSettingRead,
    summary="One server setting",
    responses=error_responses(*SIGNED_IN, Forbidden, NOT_FOUND, INVALID),
)
async def read_server_setting(
    key: SettingKey, _manager: SettingsManager, session: DbSession, state: State
) -> ServerSettingRead:
    return await setting_service.read_server_setting(session, state, key)


@router.put(
    "/settings/server/{key}",
    response_model=ServerSettingRead,
    summary="Change a server setting",
    description='`{"value": …}` as JSON of the setting\'s type (`true`, not `"true"`); a '
    "value breaking the rule is a 422 whose details state the rule. The change applies to "
    "every replica once committed — or at the next restart for `restart_required` settings. "
    "A setting pinned by its environment variable answers `409 overridden_by_environment`: "
    "a stored value would never apply.",
    responses=error_responses(*SIGNED_IN_WRITE, Forbidden, NOT_FOUND, PINNED, INVALID),
)
@router.put("/settings/{key}", response_model=ServerSettingRead, include_in_schema=False)
async def update_server_setting(
    key: SettingKey,
    body: SettingValue,
    actor: SettingsManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> ServerSettingRead:
    return await setting_service.update_server_setting(
        session, state, actor, origin, key, body.value
    )


@router.delete(
    "/settings/server/{key}",
    response_model=DeletedResponse,
    summary="Put a server setting back to its default",
    description="Forgets the value changed here; the default (or the environment "
    "variable's value) applies again.",
    responses=error_responses(*SIGNED_IN_WRITE, Forbidden, NOT_FOUND, INVALID),
)
async def reset_server_setting(
    key: SettingKey, actor: SettingsManager, session: DbSession, state: State, origin: ClientInfo
) -> DeletedResponse:
    await setting_service.reset_server_setting(session, state, actor, origin, key)
    return DeletedResponse()


# ---------------------------------------------------------------- the grouped view [003]


@router.get(
    "/admin/config",
    response_model=AdminConfig,
    summary="Server configuration by group",
    description="`{group: {key: value}}` for groups `features`, `limits`, `security`, `mail`, "
    '`jobs` and `server`. A set secret reads `"********"`, an unset one `null`.',
    responses=error_responses(*SIGNED_IN, Forbidden),
)
async def read_admin_config(
    _manager: SettingsManager, session: DbSession, state: State
) -> AdminConfig:
    return await setting_service.read_admin_config(session, state)


@router.put(
    "/admin/config",
    response_model=AdminConfigUpdated,
    summary="Change several server settings at once",
    description="The grouped shape `GET /admin/config` answers, or `{key: value}`, or both "
    "mixed. All or nothing: one unknown key or bad value is a 422 listing every problem, one "
    "changed setting pinned by the environment a 409, and nothing changes. Values equal to "
    'those in force are `unchanged`; a secret sent back as `"********"` stays as it is.',
    responses=error_responses(*SIGNED_IN_WRITE, Forbidden, PINNED, INVALID),
)
async def update_admin_config(
    body: Annotated[dict[str, JsonValue], Body(openapi_examples=ADMIN_CONFIG_EXAMPLES)],
    actor: SettingsManager,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> AdminConfigUpdated:
    return await setting_service.update_admin_config(session, state, actor, origin, body)


# ---------------------------------------------------------------- the caller's own settings


@router.get(
    "/settings/user",
    response_model=UserSettingPage,
    summary="My settings",
    description="Each of my preferences with its type, rule, value and default; `source` "
    "says whether I set it. Sort by `key` (registry order by default).",
    responses=error_responses(*SIGNED_IN, INVALID),
)
async def list_my_settings(
    principal: CurrentPrincipal, session: DbSession, paging: PaginationDep
) -> UserSettingPage:
    items, total = await setting_service.list_user_settings(session, principal.id, paging)
    return UserSettingPage(data=items, pagination=paging.meta(total))


@router.get(
    "/settings/user/{key}",
    response_model=UserSettingRead,
    summary="One of my settings",
    responses=error_responses(*SIGNED_IN, NOT_FOUND, INVALID),
)
async def read_my_setting(
    key: SettingKey, principal: CurrentPrincipal, session: DbSession
) -> UserSettingRead:
    return await setting_service.read_user_setting(session, principal.id, key)


@router.put(
    "/settings/user/{key}",
    response_model=UserSettingRead,
    summary="Change one of my settings",
    description='`{"value": …}` as JSON of the setting\'s type; a value breaking the rule '
    "is a 422 whose details state the rule. Same store as `/users/me/preferences`.",
    responses=error_responses(*SIGNED_IN_WRITE, NOT_FOUND, INVALID),
)
async def update_my_setting(
    key: SettingKey, body: SettingValue, principal: CurrentPrincipal, session: DbSession
) -> UserSettingRead:
    return await setting_service.update_user_setting(session, principal.id, key, body.value)


@router.delete(
    "/settings/user/{key}",
    response_model=DeletedResponse,
    summary="Put one of my settings back to its default",
    responses=error_responses(*SIGNED_IN_WRITE, NOT_FOUND, INVALID),
)
async def reset_my_setting(
    key: SettingKey, principal: CurrentPrincipal, session: DbSession
) -> DeletedResponse:
    await setting_service.reset_user_setting(session, principal.id, key)
    return DeletedResponse()
