"""The server settings in force: which value wins, and putting it in force.

A server setting's effective value is its environment variable's when that is set
(`CINESONIC_<KEY>`: the environment pins it), else the value stored in `server_setting`, else
the server's default — the value it started with (built-in default, config file, or what
`create_app` was given).

Effective values are applied by assigning them onto the running `state.settings`, which every
service reads: at startup (`load`), after each change commits (`apply_after_commit`), and on
every other replica when the change reaches it over the bus (each replica reloads from the
database). Settings marked `restart_required` are applied at startup only. Services built from
settings are reconfigured as their settings change (the mailer, the rate limiter).

Secret values are stored sealed with `kit.secretbox`; a stored value that no longer meets its
rule, or a secret sealed under another secret key, is logged and replaced by the default.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import JsonValue, SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.config import Settings
from cinesonic.db import after_commit
from cinesonic.kit.mail import SmtpConfig
from cinesonic.kit.secretbox import SecretBox, SecretUnreadable
from cinesonic.models.setting import ServerSetting
from cinesonic.setting.registry import MAIL_KEYS, SERVER_SETTINGS, ServerSettingDefinition
from cinesonic.setting.schemas import SettingSource
from cinesonic.state import AppState

log = structlog.get_logger("cinesonic.settings")

CHANGED_CHANNEL = "settings.changed"
_SECRET_PURPOSE = "server_setting"


@dataclass
class SettingsRuntime:
    """What this process started with, which settings its environment pins, and its id on the
    bus. Taken before any stored value is applied."""

    defaults: dict[str, Any]
    pinned: frozenset[str]
    instance: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Reloads run one at a time, so an older read can never be applied over a newer one.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def capture(cls, settings: Settings) -> SettingsRuntime:
        variables = {name.upper() for name in os.environ}
        return cls(
            defaults={key: getattr(settings, key) for key in SERVER_SETTINGS},
            pinned=frozenset(
                key
                for key, definition in SERVER_SETTINGS.items()
                if definition.environment_variable in variables
            ),
        )


def runtime_of(state: AppState) -> SettingsRuntime:
    """The app's runtime, captured on first use (at startup, before `load` applies anything)."""
    if state.settings_runtime is None:
        state.settings_runtime = SettingsRuntime.capture(state.settings)
    return state.settings_runtime


def _box(state: AppState) -> SecretBox:
    return SecretBox(state.settings.signing_key, _SECRET_PURPOSE)


class _Unusable(Exception):
    """A stored value that no longer meets its rule, or a secret sealed under another key."""


def _decode(state: AppState, definition: ServerSettingDefinition, stored: JsonValue) -> Any:
    try:
        if definition.is_secret and stored is not None:
            stored = _box(state).open(str(stored))
        return definition.rule.check(stored)
    except (SecretUnreadable, ValidationError) as exc:
        raise _Unusable(definition.key) from exc


def encode(state: AppState, definition: ServerSettingDefinition, value: Any) -> JsonValue:
    """A checked value as stored: JSON, sealed for secrets."""
    if definition.is_secret:
        secret: SecretStr | None = value
        return None if secret is None else _box(state).seal(secret.get_secret_value())
    return definition.rule.dump(value)


@dataclass(frozen=True)
class Effective:
    """The value in force for a setting, where it comes from, and its stored row if any."""

    value: Any
    source: SettingSource
    row: ServerSetting | None


def effective(
    state: AppState, definition: ServerSettingDefinition, row: ServerSetting | None
) -> Effective:
    runtime = runtime_of(state)
    default = runtime.defaults[definition.key]
    if definition.key in runtime.pinned:
        return Effective(default, SettingSource.environment, row)
    if row is not None:
        try:
            return Effective(_decode(state, definition, row.value), SettingSource.database, row)
        except _Unusable:
            pass  # `_apply` logs it; the default stands in
    return Effective(default, SettingSource.default, row)


def smtp_config(settings: Settings) -> SmtpConfig | None:
    """The SMTP server the mailer sends through; None writes mail to the outbox."""
    if not settings.smtp_host:
        return None
    password = settings.smtp_password
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        tls=settings.smtp_tls,
        user=settings.smtp_user,
        password=password.get_secret_value() if password else None,
    )


def _set_log_level(name: str) -> None:
    # Loggers already used keep their level (structlog caches them): hence restart_required.
    level = logging.getLevelNamesMapping().get(name.upper(), logging.INFO)
    logging.getLogger().setLevel(level)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))


def _apply(state: AppState, rows: Mapping[str, ServerSetting], *, startup: bool) -> list[str]:
    """Assign effective values onto `state.settings`; answer the keys that changed."""
    settings = state.settings
    changed = []
    for key, definition in SERVER_SETTINGS.items():
        if definition.restart_required and not startup:
            continue
        in_force = effective(state, definition, rows.get(key))
        if in_force.row is not None and in_force.source == SettingSource.default:
            log.warning("stored_setting_ignored", key=key, reason="unreadable or invalid")
        if in_force.value != getattr(settings, key):
            setattr(settings, key, in_force.value)
            changed.append(key)
    if MAIL_KEYS.intersection(changed):
        # Reconfigured in place: mail work already deferred stays tracked for `drain()`.
        state.mailer.sender = settings.mail_from
        state.mailer.smtp = smtp_config(settings)
    if "rate_limit_enabled" in changed:
        state.limiter.enabled = settings.rate_limit_enabled
    if "log_level" in changed:
        _set_log_level(settings.log_level)
    if changed:
        log.info("settings_applied", keys=changed, startup=startup)
    return changed


async def _reload(state: AppState, *, startup: bool) -> list[str]:
    async with runtime_of(state).lock:
        async with state.db.sessionmaker() as session:
            rows = await stored_rows(session)
        return _apply(state, rows, startup=startup)


async def load(state: AppState) -> None:
    """At startup, once the database exists: apply stored values, restart-only ones included."""
    await _reload(state, startup=True)


async def on_changed(state: AppState, data: Any) -> None:
    """A replica changed settings: reload them from the database (our own change is applied)."""
    if isinstance(data, dict) and data.get("origin") == runtime_of(state).instance:
        return
    await _reload(state, startup=False)


def apply_after_commit(session: AsyncSession, state: AppState, keys: Sequence[str]) -> None:
    """Once the change to `keys` commits: apply it here, then tell the other replicas."""
    runtime = runtime_of(state)
    message = {"keys": list(keys), "origin": runtime.instance}

    async def _apply_and_announce() -> None:
        await _reload(state, startup=False)
        await state.bus.publish(CHANGED_CHANNEL, message)

    after_commit(session, _apply_and_announce)


async def stored_rows(session: AsyncSession) -> dict[str, ServerSetting]:
    """Every stored setting by key (a few dozen rows at most)."""
    return {row.key: row for row in await session.scalars(select(ServerSetting))}
