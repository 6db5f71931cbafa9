"""Server settings as administrators change them, and each user's own settings.

Server settings: read one by one or grouped [003], changed with their rule enforced (422 with
the rule), put back to their default; every change is audited and applied once it commits (see
`cinesonic.setting.runtime` for which value wins and how it reaches the running server). A
change to a setting pinned by its environment variable is refused (409
`overridden_by_environment`): the stored value would never apply. Secrets never leave the
server: answers carry `null` (or a mask in the grouped view) and whether one is set.

User settings are the user domain's preferences, read and stored through its service.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import JsonValue, ValidationError
from sqlalchemy import Executable
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth.principal import Principal
from cinesonic.errors import Conflict, NotFound, ValidationFailed
from cinesonic.kit.pagination import PageParams
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.setting import ServerSetting
from cinesonic.setting import runtime
from cinesonic.setting.registry import (
    SERVER_SETTINGS,
    USER_SETTINGS,
    ServerSettingDefinition,
    SettingGroup,
    UserSettingDefinition,
    ValueRule,
)
from cinesonic.setting.schemas import (
    AdminConfig,
    AdminConfigUpdated,
    ServerSettingRead,
    SettingSource,
    UserSettingRead,
)
from cinesonic.state import AppState
from cinesonic.user import service as user_service
from cinesonic.user.schemas import PreferencesUpdate

# A set secret in `/admin/config`; sent back unchanged, it leaves the secret as it is.
SECRET_MASK = "********"

T = TypeVar("T")


class SettingNotFound(NotFound):
    message = "No such setting."


class OverriddenByEnvironment(Conflict):
    code = "overridden_by_environment"
    message = "This setting is pinned by an environment variable; a stored value would never apply."


class InvalidSettingValue(ValidationFailed):
    message = "The value does not meet the setting's rule."


# ---------------------------------------------------------------- reading server settings


def get_definition(key: str) -> ServerSettingDefinition:
    definition = SERVER_SETTINGS.get(key)
    if definition is None:
        raise SettingNotFound(f"No server setting named '{key}'.")
    return definition


def _public(definition: ServerSettingDefinition, value: Any) -> JsonValue:
    return None if definition.is_secret else definition.rule.dump(value)


def _read(
    state: AppState, definition: ServerSettingDefinition, row: ServerSetting | None
) -> ServerSettingRead:
    effective = runtime.effective(state, definition, row)
    stored = effective.source == SettingSource.database
    rule = definition.rule
    return ServerSettingRead(
        key=definition.key,
        group=definition.group,
        type=rule.type,
        description=definition.description,
        rule=rule.text,
        value_schema=rule.schema,
        value=_public(definition, effective.value),
        is_set=effective.value is not None,
        default=_public(definition, runtime.runtime_of(state).defaults[definition.key]),
        source=effective.source,
        environment_variable=definition.environment_variable,
        is_secret=definition.is_secret,
        restart_required=definition.restart_required,
        pending_restart=definition.restart_required
        and effective.value != getattr(state.settings, definition.key),
        updated_at=row.updated_at if row is not None and stored else None,
        updated_by=row.updated_by if row is not None and stored else None,
    )


def _invalid_sort(message: str) -> ValidationFailed:
    return ValidationFailed(
        details=[{"field": "sort", "location": "query", "message": message, "type": "value_error"}]
    )


def _page(
    items: list[T], params: PageParams, sortable: Mapping[str, Callable[[T], str]]
) -> tuple[list[T], int]:
    """One page of an in-memory list (the registries are small), sorted as asked."""
    for name, descending in reversed(params.sort):
        sort_key = sortable.get(name)
        if sort_key is None:
            allowed = ", ".join(sorted(sortable))
            raise _invalid_sort(f"cannot sort by '{name}'; allowed: {allowed}")
        items = sorted(items, key=sort_key, reverse=descending)
    return items[params.offset : params.offset + params.page_size], len(items)


_SERVER_SORTS: dict[str, Callable[[ServerSettingRead], str]] = {
    "key": lambda entry: entry.key,
    "group": lambda entry: entry.group.value,
}


async def list_server_settings(
    session: AsyncSession, state: AppState, params: PageParams, group: SettingGroup | None
) -> tuple[list[ServerSettingRead], int]:
    """Every runtime setting (of one group), in registry order unless sorted by key or group."""
    rows = await runtime.stored_rows(session)
    entries = [
        _read(state, definition, rows.get(key))
        for key, definition in SERVER_SETTINGS.items()
        if group is None or definition.group == group
    ]
    return _page(entries, params, _SERVER_SORTS)


async def read_server_setting(
    session: AsyncSession, state: AppState, key: str
) -> ServerSettingRead:
    definition = get_definition(key)
    return _read(state, definition, await session.get(ServerSetting, key))


# ---------------------------------------------------------------- changing server settings


def _rule_error(field_name: str, rule: ValueRule, exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": field_name,
            "location": "body",
            "message": error["msg"],
            "type": error["type"],
            "rule": rule.text,
        }
        for error in exc.errors(include_url=False)
    ]


def _check(rule: ValueRule, value: JsonValue, field_name: str) -> Any:
    try:
        return rule.check(value)
    except ValidationError as exc:
        raise InvalidSettingValue(
            f"{field_name} must be {rule.text}.", details=_rule_error(field_name, rule, exc)
        ) from exc


def _pinned_error(definitions: Iterable[ServerSettingDefinition]) -> OverriddenByEnvironment:
    pinned = [{"key": d.key, "environment_variable": d.environment_variable} for d in definitions]
    names = ", ".join(entry["environment_variable"] for entry in pinned)
    return OverriddenByEnvironment(
        f"Pinned by the environment ({names}); change it there and restart.", details=pinned
    )


_UPSERTED = ("value", "updated_at", "updated_by")


def _upsert(dialect: str, rows: list[dict[str, Any]]) -> Executable:
    """Insert or replace rows in one statement (safe against a concurrent first write)."""
    if dialect == "postgresql":
        pg = postgresql.insert(ServerSetting).values(rows)
        replace = {name: pg.excluded[name] for name in _UPSERTED}
        return pg.on_conflict_do_update(index_elements=["key"], set_=replace)
    lite = sqlite.insert(ServerSetting).values(rows)
    replace = {name: lite.excluded[name] for name in _UPSERTED}
    return lite.on_conflict_do_update(index_elements=["key"], set_=replace)


async def _store(
    session: AsyncSession, state: AppState, values: Mapping[str, Any], user_id: uuid.UUID
) -> datetime:
    """Store checked values (sealing secrets); answer when."""
    now = utcnow()
    rows = [
        {
            "key": key,
            "value": runtime.encode(state, SERVER_SETTINGS[key], value),
            "updated_at": now,
            "updated_by": user_id,
        }
        for key, value in values.items()
    ]
    if rows:
        await session.execute(_upsert(session.get_bind().dialect.name, rows))
    return now


def _audit_value(definition: ServerSettingDefinition, value: Any) -> JsonValue:
    if definition.is_secret:
        return {"is_set": value is not None}
    return definition.rule.dump(value)


async def _audit(
    session: AsyncSession,
    actor: Principal,
    origin: Origin,
    action: str,
    definition: ServerSettingDefinition,
    details: dict[str, Any],
) -> None:
    await activity_service.record_by(
        session,
        actor,
        action=action,
        resource_type="setting",
        resource_id=definition.key,
        origin=origin,
        details=details,
    )


async def update_server_setting(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    key: str,
    value: JsonValue,
) -> ServerSettingRead:
    """Store a new value; it applies once the change commits (at restart for
    `restart_required` settings)."""
    definition = get_definition(key)
    if key in runtime.runtime_of(state).pinned:
        raise _pinned_error([definition])
    parsed = _check(definition.rule, value, "value")
    previous = runtime.effective(state, definition, await session.get(ServerSetting, key))
    await _store(session, state, {key: parsed}, actor.id)
    row = await session.get(ServerSetting, key, populate_existing=True)
    await _audit(
        session,
        actor,
        origin,
        "setting.update",
        definition,
        {
            "value": _audit_value(definition, parsed),
            "previous": _audit_value(definition, previous.value),
        },
    )
    runtime.apply_after_commit(session, state, [key])
    return _read(state, definition, row)


async def reset_server_setting(
    session: AsyncSession, state: AppState, actor: Principal, origin: Origin, key: str
) -> None:
    """Forget the stored value: the setting goes back to its default (or its environment
    variable's value)."""
    definition = get_definition(key)
    row = await session.get(ServerSetting, key)
    if row is None:
        return
    previous = runtime.effective(state, definition, row)
    await session.delete(row)
    await session.flush()
    await _audit(
        session,
        actor,
        origin,
        "setting.reset",
        definition,
        {"previous": _audit_value(definition, previous.value)},
    )
    runtime.apply_after_commit(session, state, [key])


# ---------------------------------------------------------------- the grouped view [003]


def _admin_value(definition: ServerSettingDefinition, value: Any) -> JsonValue:
    if definition.is_secret:
        return None if value is None else SECRET_MASK
    return definition.rule.dump(value)


async def read_admin_config(session: AsyncSession, state: AppState) -> AdminConfig:
    rows = await runtime.stored_rows(session)
    groups: dict[str, dict[str, JsonValue]] = {group.value: {} for group in SettingGroup}
    for key, definition in SERVER_SETTINGS.items():
        effective = runtime.effective(state, definition, rows.get(key))
        groups[definition.group.value][key] = _admin_value(definition, effective.value)
    return AdminConfig.model_validate(groups)


def _flatten(body: Mapping[str, JsonValue]) -> tuple[dict[str, tuple[str, JsonValue]], list[Any]]:
    """`{group: {key: value}}` and `{key: value}` (mixed freely) as key → (field, value);
    plus the problems found (unknown keys, keys in the wrong group, keys given twice)."""
    found: dict[str, tuple[str, JsonValue]] = {}
    problems: list[dict[str, Any]] = []

    def problem(field_name: str, message: str) -> None:
        problems.append(
            {"field": field_name, "location": "body", "message": message, "type": "value_error"}
        )

    def add(key: str, field_name: str, value: JsonValue, group: str | None) -> None:
        definition = SERVER_SETTINGS.get(key)
        if definition is None:
            problem(field_name, f"'{key}' is not a server setting")
        elif group is not None and definition.group != group:
            problem(field_name, f"'{key}' belongs to the '{definition.group}' group")
        elif key in found:
            problem(field_name, f"'{key}' is given twice")
        else:
            found[key] = (field_name, value)

    groups = {group.value for group in SettingGroup}
    for name, value in body.items():
        if name in groups and isinstance(value, dict):
            for key, inner in value.items():
                add(key, f"{name}.{key}", inner, name)
        elif name in groups:
            problem(name, "a group must be an object of settings")
        else:
            add(name, name, value, None)
    return found, problems


async def update_admin_config(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    body: Mapping[str, JsonValue],
) -> AdminConfigUpdated:
    """Change many settings at once: every value is checked first, and one bad value (422) or
    one changed setting pinned by the environment (409) changes nothing. Values equal to the
    one in force are `unchanged` and not stored; a secret sent back as its mask is left as is."""
    given, problems = _flatten(body)
    pinned_keys = runtime.runtime_of(state).pinned
    parsed: dict[str, Any] = {}
    for key, (field_name, value) in given.items():
        definition = SERVER_SETTINGS[key]
        if definition.is_secret and value == SECRET_MASK:
            continue
        try:
            parsed[key] = definition.rule.check(value)
        except ValidationError as exc:
            problems.extend(_rule_error(field_name, definition.rule, exc))
    if problems:
        raise InvalidSettingValue(
            "Some settings are not valid; nothing was changed.", details=problems
        )
    rows = await runtime.stored_rows(session)
    current = {key: runtime.effective(state, SERVER_SETTINGS[key], rows.get(key)) for key in given}
    updated = [key for key, value in parsed.items() if value != current[key].value]
    pinned = [SERVER_SETTINGS[key] for key in updated if key in pinned_keys]
    if pinned:
        raise _pinned_error(pinned)
    updated_at = await _store(session, state, {key: parsed[key] for key in updated}, actor.id)
    for key in updated:
        definition = SERVER_SETTINGS[key]
        await _audit(
            session,
            actor,
            origin,
            "setting.update",
            definition,
            {
                "value": _audit_value(definition, parsed[key]),
                "previous": _audit_value(definition, current[key].value),
            },
        )
    if updated:
        runtime.apply_after_commit(session, state, updated)
    return AdminConfigUpdated(
        updated=updated,
        unchanged=[key for key in given if key not in updated],
        restart_required=[key for key in updated if SERVER_SETTINGS[key].restart_required],
        updated_at=updated_at,
        updated_by=actor.id,
    )


# ---------------------------------------------------------------- each user's own settings


def get_user_definition(key: str) -> UserSettingDefinition:
    definition = USER_SETTINGS.get(key)
    if definition is None:
        raise SettingNotFound(f"No user setting named '{key}'.")
    return definition


def _user_reads(stored: Mapping[str, Any]) -> dict[str, UserSettingRead]:
    """Every user setting of an account whose stored preferences are `stored`."""
    effective = user_service.read_preferences(dict(stored)).model_dump(mode="json")
    reads = {}
    for key, definition in USER_SETTINGS.items():
        rule = definition.rule
        # A stored value the rules no longer accept reads as the default, source included.
        is_mine = key in stored and stored[key] == effective[key]
        reads[key] = UserSettingRead(
            key=key,
            type=rule.type,
            description=definition.description,
            rule=rule.text,
            value_schema=rule.schema,
            value=effective[key],
            default=definition.default,
            source="user" if is_mine else "default",
        )
    return reads


_USER_SORTS: dict[str, Callable[[UserSettingRead], str]] = {"key": lambda entry: entry.key}


async def list_user_settings(
    session: AsyncSession, user_id: uuid.UUID, params: PageParams
) -> tuple[list[UserSettingRead], int]:
    user = await user_service.get_user(session, user_id)
    return _page(list(_user_reads(user.preferences).values()), params, _USER_SORTS)


async def read_user_setting(session: AsyncSession, user_id: uuid.UUID, key: str) -> UserSettingRead:
    get_user_definition(key)
    user = await user_service.get_user(session, user_id)
    return _user_reads(user.preferences)[key]


async def update_user_setting(
    session: AsyncSession, user_id: uuid.UUID, key: str, value: JsonValue
) -> UserSettingRead:
    definition = get_user_definition(key)
    parsed = _check(definition.rule, value, "value")
    user = await user_service.get_user(session, user_id)
    # `None` in a preferences update means "back to the default", which for the one nullable
    # preference (no subtitles) is that same `None`. The update changes `user` in place.
    await user_service.update_preferences(
        session, user_id, PreferencesUpdate.model_validate({key: parsed})
    )
    return _user_reads(user.preferences)[key]


async def reset_user_setting(session: AsyncSession, user_id: uuid.UUID, key: str) -> None:
    get_user_definition(key)
    await user_service.update_preferences(
        session, user_id, PreferencesUpdate.model_validate({key: None})
    )
