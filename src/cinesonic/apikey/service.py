"""API keys: creation (the secret is returned once), listing, revocation, and authentication.

A key reads `csk_<8-char id>_<secret>`; the `csk_<id>` prefix is stored to recognise a key in
lists and logs, the whole key only as SHA-256. Use is recorded (`last_used_at`, `last_used_ip`)
at most once a minute per key, so busy players do not turn every request into a write.

Scopes: a key with scopes may do what they name and its owner may still do, no more (checked on
every authentication, so a role taken from the owner is taken from their keys too). A key
without scopes acts with all of its owner's permissions, whatever they are at the time of use.
A key can never be created with more than its creator may do at that moment.

Revocation drops the cached principal after commit here and, through the event bus, on every
replica; a cached key never outlives its `expires_at`.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.apikey.schemas import ApiKeyRead
from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.db import after_commit
from cinesonic.errors import Conflict, Forbidden, InvalidToken, NotFound, ValidationFailed
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.kit.timeutil import as_utc, utcnow
from cinesonic.kit.tokens import hash_token
from cinesonic.models.apikey import ApiKey
from cinesonic.models.user import User
from cinesonic.rbac.permissions import CATALOGUE
from cinesonic.state import AppState
from cinesonic.user import service as user_service

log = structlog.get_logger("cinesonic.apikey")

KEY_PREFIX = "csk_"
KEY_ID_LENGTH = 8
TOUCH_INTERVAL_SECONDS = 60.0
MAX_ACTIVE_KEYS_PER_USER = 50
MANAGE_PERMISSION = "apikeys.manage"

SORTABLE: dict[str, ColumnElement[Any]] = {
    "created_at": ApiKey.created_at.expression,
    "name": ApiKey.name.expression,
    "last_used_at": ApiKey.last_used_at.expression,
    "expires_at": ApiKey.expires_at.expression,
}


class ApiKeyNotFound(NotFound):
    message = "No such API key."


class TooManyApiKeys(Conflict):
    code = "too_many_api_keys"
    message = (
        f"You already have {MAX_ACTIVE_KEYS_PER_USER} active API keys; revoke one to make another."
    )


class UnknownPermission(ValidationFailed):
    code, message = "unknown_permission", "Some scopes are not permissions this server knows."


class ScopeNotHeld(ValidationFailed):
    code, message = "scope_not_held", "A key cannot have permissions you do not hold."


class ApiKeyListForbidden(Forbidden):
    message = f"Listing other users' keys needs the '{MANAGE_PERMISSION}' permission."


# ---------------------------------------------------------------- reading


def is_active(api_key: ApiKey, now: datetime | None = None) -> bool:
    if api_key.revoked_at is not None:
        return False
    return api_key.expires_at is None or api_key.expires_at > (now or utcnow())


def to_read(api_key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(
        id=api_key.id,
        user_id=api_key.user_id,
        name=api_key.name,
        prefix=api_key.prefix,
        scopes=list(api_key.scopes) or None,
        created_at=api_key.created_at,
        expires_at=api_key.expires_at,
        last_used_at=api_key.last_used_at,
        last_used_ip=api_key.last_used_ip,
        revoked_at=api_key.revoked_at,
        is_active=is_active(api_key),
    )


async def list_keys(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    user_id: uuid.UUID | None = None,
    include_all: bool = False,
    active: bool | None = None,
) -> tuple[Sequence[ApiKey], int]:
    """The principal's own keys; with `apikeys.manage`, one user's (`user_id`) or, without
    `user_id`, everyone's (`include_all`). `active` keeps only usable (True) or only revoked
    or expired (False) keys."""
    owner = user_id if user_id is not None else (None if include_all else principal.id)
    if owner != principal.id and not principal.can(MANAGE_PERMISSION):
        raise ApiKeyListForbidden()
    statement = select(ApiKey)
    if owner is not None:
        statement = statement.where(ApiKey.user_id == owner)
    if active is not None:
        now = utcnow()
        usable = ApiKey.revoked_at.is_(None) & (
            ApiKey.expires_at.is_(None) | (ApiKey.expires_at > now)
        )
        statement = statement.where(usable if active else ~usable)
    statement = apply_sort(
        statement, params, SORTABLE, default=[ApiKey.created_at.desc()], tiebreaker=ApiKey.id.desc()
    )
    return await paginate_rows(session, statement, params)


async def get_key(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    """A key its owner or a holder of `apikeys.manage` may see; 404 for anyone else, so the
    answer does not tell them it exists."""
    api_key = await session.get(ApiKey, key_id)
    if api_key is None or (
        api_key.user_id != principal.id and not principal.can(MANAGE_PERMISSION)
    ):
        raise ApiKeyNotFound()
    return api_key


# ---------------------------------------------------------------- creating


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    secret: str  # the whole key; never stored, shown once


def _scope_error(
    error: type[ValidationFailed], scopes: Sequence[str], message: str
) -> ValidationFailed:
    return error(
        f"{message}: {', '.join(scopes)}.",
        details=[
            {
                "field": "scopes",
                "location": "body",
                "message": message,
                "type": error.code,
                "scopes": list(scopes),
            }
        ],
    )


def _resolve_scopes(principal: Principal, requested: Sequence[str] | None) -> list[str]:
    """The scopes to store (empty: the owner's permissions), checked against the creator."""
    if requested is None:
        # Made with a key: a new unscoped key would act with all of the owner's permissions,
        # more than the calling key may have; it inherits what the caller may do instead.
        if principal.api_key_id is not None and not principal.grants_all:
            return sorted(principal.permissions)
        return []
    scopes = sorted(set(requested))
    unknown = [s for s in scopes if s not in CATALOGUE]
    if unknown:
        raise _scope_error(UnknownPermission, unknown, "Unknown permissions")
    not_held = [s for s in scopes if not principal.can(s)]
    if not_held:
        raise _scope_error(ScopeNotHeld, not_held, "You do not hold these permissions")
    return scopes


def _new_key() -> tuple[str, str]:
    """(prefix, whole key): `csk_<8 lower-case letters/digits>_<43 url-safe characters>`."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    key_id = "".join(secrets.choice(alphabet) for _ in range(KEY_ID_LENGTH))
    prefix = f"{KEY_PREFIX}{key_id}"
    return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


async def create_key(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    scopes: Sequence[str] | None,
    expires_at: datetime | None,
    expires_in_days: int | None,
    origin: Origin,
) -> CreatedKey:
    """A new key for the principal's user; the secret is in the answer and nowhere else."""
    now = utcnow()
    if expires_in_days is not None:
        expires_at = now + timedelta(days=expires_in_days)
    elif expires_at is not None:
        expires_at = as_utc(expires_at)
        if expires_at <= now:
            raise ValidationFailed(
                "The expiry must be in the future.",
                details=[
                    {
                        "field": "expires_at",
                        "location": "body",
                        "message": "must be in the future",
                        "type": "value_error",
                    }
                ],
            )
    stored_scopes = _resolve_scopes(principal, scopes)
    # Lock the owner's row (PostgreSQL; SQLite serialises writers) so two concurrent creations
    # cannot both slip under the cap; the new key is counted after its insert for the same reason.
    await session.execute(select(User.id).where(User.id == principal.id).with_for_update())
    prefix, secret = _new_key()
    api_key = ApiKey(
        user_id=principal.id,
        name=name,
        prefix=prefix,
        key_hash=hash_token(secret),
        scopes=stored_scopes,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(api_key)
    await session.flush()
    active = await session.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(
            ApiKey.user_id == principal.id,
            ApiKey.revoked_at.is_(None),
            ApiKey.expires_at.is_(None) | (ApiKey.expires_at > now),
        )
    )
    if int(active or 0) > MAX_ACTIVE_KEYS_PER_USER:
        raise TooManyApiKeys()
    await activity_service.record_by(
        session,
        principal,
        action="apikey.create",
        resource_type="api_key",
        resource_id=api_key.id,
        origin=origin,
        details={
            "name": name,
            "prefix": prefix,
            "scopes": stored_scopes or None,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "via_api_key": str(principal.api_key_id) if principal.api_key_id else None,
        },
    )
    return CreatedKey(api_key=api_key, secret=secret)


# ---------------------------------------------------------------- revoking


def invalidate_key(session: AsyncSession, state: AppState, key_id: uuid.UUID) -> None:
    """After this transaction commits, forget the key's cached principal, everywhere."""
    tag = f"apikey:{key_id}"

    async def _publish() -> None:
        state.auth_cache.invalidate_tag(tag)
        state.api_key_touched.pop(key_id, None)
        await state.bus.publish(auth_service.INVALIDATION_CHANNEL, {"tag": tag})

    after_commit(session, _publish)


async def revoke_key(
    session: AsyncSession,
    state: AppState,
    principal: Principal,
    key_id: uuid.UUID,
    *,
    origin: Origin,
) -> ApiKey:
    """Revoke a key (the row stays for the record); revoking a revoked key changes nothing."""
    api_key = await get_key(session, principal, key_id)
    if api_key.revoked_at is not None:
        return api_key
    api_key.revoked_at = utcnow()
    await session.flush()
    details: dict[str, object] = {"name": api_key.name, "prefix": api_key.prefix}
    if api_key.user_id != principal.id:
        details["owner_id"] = str(api_key.user_id)
    await activity_service.record_by(
        session,
        principal,
        action="apikey.revoke",
        resource_type="api_key",
        resource_id=api_key.id,
        origin=origin,
        details=details,
    )
    invalidate_key(session, state, api_key.id)
    return api_key


# ---------------------------------------------------------------- authenticating


async def authenticate_key(state: AppState, presented: str) -> Principal:
    if not presented.startswith(KEY_PREFIX):
        raise InvalidToken("The API key is not valid.")
    key_hash = hash_token(presented)
    cache_key = f"apikey:{key_hash}"
    principal = state.auth_cache.get(cache_key)
    if principal is None:
        generation = state.auth_cache.generation
        async with state.db.sessionmaker() as session:
            api_key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
            if api_key is None or api_key.revoked_at is not None:
                raise InvalidToken("The API key is not valid.")
            now = utcnow()
            if api_key.expires_at is not None and api_key.expires_at <= now:
                raise InvalidToken("The API key has expired.")
            user = await user_service.get_user(session, api_key.user_id)
            auth_service.check_status(user)
            principal = auth_service.principal_for(
                user, api_key_id=api_key.id, scopes=api_key.scopes or None
            )
            # The cached principal must not outlive the key.
            ttl = (api_key.expires_at - now).total_seconds() if api_key.expires_at else None
        state.auth_cache.set(
            cache_key,
            principal,
            tags=[f"user:{principal.id}", f"apikey:{principal.api_key_id}"],
            ttl=ttl,
            loaded_at_generation=generation,
        )
    return principal


async def touch(state: AppState, key_id: uuid.UUID, ip: str) -> None:
    """Record a use of the key in a unit of work of its own, at most once per interval per
    process; within the interval this returns without awaiting anything."""
    now = time.monotonic()
    if now - state.api_key_touched.get(key_id, float("-inf")) < TOUCH_INTERVAL_SECONDS:
        return
    state.api_key_touched[key_id] = now
    try:
        async with state.db.session() as session:
            await session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id)
                .values(last_used_at=utcnow(), last_used_ip=ip[:64])
            )
    except SQLAlchemyError:
        # Bookkeeping must never fail the request it rides on; the next interval retries.
        log.warning("api_key_touch_failed", api_key_id=str(key_id), exc_info=True)
