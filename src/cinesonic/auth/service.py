"""Sign-in rules: registration, login with lockout, sessions with rotating refresh tokens,
logout, and turning presented credentials into a `Principal`.

Principals are cached per session (and per API key) so an authenticated request normally costs
no query; every write that changes what a principal may do calls `invalidate_user` after its
commit (see `db.after_commit`), which drops the cached entries here and, through the event bus,
on every replica — so a revoked session or a suspended user is refused on the very next request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth.principal import Principal
from cinesonic.auth.security import (
    check_password_policy,
    csrf_token_valid,
    decode_access_token,
    issue_access_token,
    issue_csrf_token,
)
from cinesonic.db import after_commit
from cinesonic.errors import (
    AppError,
    Forbidden,
    InvalidCredentials,
    InvalidToken,
)
from cinesonic.kit.timeutil import utcnow
from cinesonic.kit.tokens import hash_token, new_token
from cinesonic.models.auth import AuthSession, RefreshToken
from cinesonic.models.user import User, UserStatus
from cinesonic.rbac import service as rbac_service
from cinesonic.rbac.permissions import ADMIN_ROLE, DEFAULT_ROLE
from cinesonic.state import AppState
from cinesonic.user import service as user_service

log = structlog.get_logger("cinesonic.auth")

INVALIDATION_CHANNEL = "auth.invalidate"
REFRESH_TOKEN_PREFIX = "csr_"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_TTL_SECONDS = 12 * 3600


class RegistrationClosed(Forbidden):
    code, message = "registration_closed", "Registration is closed on this server."


class AccountLocked(AppError):
    status_code, code = 403, "account_locked"
    message = "Too many failed sign-ins; the account is locked for a while."


class AccountSuspended(AppError):
    status_code, code, message = 403, "account_suspended", "This account is suspended."


class AccountInactive(AppError):
    status_code, code, message = 403, "account_inactive", "This account is deactivated."


class EmailNotVerified(AppError):
    status_code, code, message = 403, "email_not_verified", "Verify your email address first."


class CsrfFailed(Forbidden):
    code, message = "csrf_failed", "Missing or wrong X-CSRF-Token header."


# ---------------------------------------------------------------- principals and the cache


def principal_for(
    user: User,
    *,
    session_id: uuid.UUID | None = None,
    api_key_id: uuid.UUID | None = None,
    scopes: list[str] | None = None,
    via_cookie: bool = False,
) -> Principal:
    """The principal of a user whose roles (with permissions) are loaded."""
    permissions, grants_all = rbac_service.effective_permissions(user.roles)
    if scopes is not None:
        # A scoped key may do what it names and its owner may still do — no more.
        permissions = frozenset(s for s in scopes if grants_all or s in permissions)
        grants_all = False
    return Principal(
        user=user_service.to_read(user),
        permissions=permissions,
        grants_all=grants_all,
        session_id=session_id,
        api_key_id=api_key_id,
        via_cookie=via_cookie,
    )


def check_status(user: User) -> None:
    if user.status == UserStatus.suspended:
        raise AccountSuspended()
    if user.status == UserStatus.inactive:
        raise AccountInactive()


def invalidate_user(session: AsyncSession, state: AppState, user_id: uuid.UUID) -> None:
    """After this transaction commits, forget every cached principal of this user, everywhere."""

    async def _publish() -> None:
        state.auth_cache.invalidate_tag(f"user:{user_id}")
        await state.bus.publish(INVALIDATION_CHANNEL, {"user_id": str(user_id)})

    after_commit(session, _publish)


def invalidate_all(session: AsyncSession, state: AppState) -> None:
    """After commit, forget every cached principal (role permissions changed)."""

    async def _publish() -> None:
        state.auth_cache.clear()
        await state.bus.publish(INVALIDATION_CHANNEL, {"all": True})

    after_commit(session, _publish)


async def on_invalidation(state: AppState, data: Any) -> None:
    if data.get("all"):
        state.auth_cache.clear()
    elif data.get("user_id"):
        state.auth_cache.invalidate_tag(f"user:{data['user_id']}")


@dataclass(frozen=True)
class Credentials:
    """What a request presented, as the `deps` module read it."""

    method: str
    bearer: str | None = None
    api_key: str | None = None
    access_cookie: str | None = None
    csrf_header: str | None = None
    csrf_cookie: str | None = None


async def authenticate(state: AppState, credentials: Credentials) -> Principal | None:
    """The principal behind the credentials; None if none were presented; 401/403 if bad."""
    if credentials.api_key:
        from cinesonic.apikey import service as apikey_service

        return await apikey_service.authenticate_key(state, credentials.api_key)
    token = credentials.bearer or credentials.access_cookie
    if not token:
        return None
    via_cookie = credentials.bearer is None
    if via_cookie and credentials.method not in SAFE_METHODS:
        require_csrf(state, credentials.csrf_header, credentials.csrf_cookie)
    claims = decode_access_token(state.settings.signing_key, token)
    if claims is None:
        raise InvalidToken("The access token is invalid or has expired.")
    cache_key = f"session:{claims.session_id}"
    principal = state.auth_cache.get(cache_key)
    if principal is None or principal.id != claims.user_id:
        principal = await _load_session_principal(state, claims.session_id, claims.user_id)
        state.auth_cache.set(cache_key, principal, tags=[f"user:{principal.id}"])
    if via_cookie:
        principal = Principal(**{**principal.__dict__, "via_cookie": True})
    return principal


async def _load_session_principal(
    state: AppState, session_id: uuid.UUID, user_id: uuid.UUID
) -> Principal:
    async with state.db.sessionmaker() as session:
        auth_session = await session.get(AuthSession, session_id)
        now = utcnow()
        if (
            auth_session is None
            or auth_session.user_id != user_id
            or auth_session.revoked_at is not None
            or auth_session.expires_at <= now
        ):
            raise InvalidToken("This session has ended; sign in again.")
        user = await user_service.get_user(session, user_id)
        check_status(user)
        return principal_for(user, session_id=session_id)


def require_csrf(state: AppState, header: str | None, cookie: str | None) -> None:
    if not header or not cookie or header != cookie:
        raise CsrfFailed()
    if not csrf_token_valid(state.settings.signing_key, header):
        raise CsrfFailed("The CSRF token is invalid or has expired; ask for a new one.")


def new_csrf_token(state: AppState) -> tuple[str, Any]:
    return issue_csrf_token(state.settings.signing_key, CSRF_TTL_SECONDS)


# ---------------------------------------------------------------- sessions and tokens


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    csrf_token: str
    session: AuthSession
    user: User


async def open_session(
    session: AsyncSession,
    state: AppState,
    user: User,
    origin: Origin,
    device_name: str | None = None,
) -> IssuedTokens:
    settings = state.settings
    now = utcnow()
    auth_session = AuthSession(
        user_id=user.id,
        device_name=device_name or _device_from_agent(origin.user_agent),
        ip_address=origin.ip,
        user_agent=origin.user_agent,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=settings.refresh_token_ttl_days),
    )
    session.add(auth_session)
    await session.flush()
    return await _issue(session, state, auth_session, user)


async def _issue(
    session: AsyncSession, state: AppState, auth_session: AuthSession, user: User
) -> IssuedTokens:
    refresh = new_token(REFRESH_TOKEN_PREFIX)
    session.add(RefreshToken(session_id=auth_session.id, token_hash=hash_token(refresh)))
    await session.flush()
    access, expires_in = issue_access_token(
        state.settings.signing_key,
        user.id,
        auth_session.id,
        state.settings.access_token_ttl_seconds,
    )
    csrf, _ = new_csrf_token(state)
    return IssuedTokens(access, refresh, expires_in, csrf, auth_session, user)


def _device_from_agent(user_agent: str | None) -> str | None:
    if not user_agent:
        return None
    return user_agent.split(" ", 1)[0][:128]


# ---------------------------------------------------------------- register and login


async def register(
    session: AsyncSession,
    state: AppState,
    *,
    username: str,
    email: str,
    password: str,
    display_name: str | None,
    origin: Origin,
) -> User:
    """Create an account. The very first account becomes admin, even with registration closed."""
    check_password_policy(password)
    is_first = await user_service.count_users(session) == 0
    if not is_first and not state.settings.open_registration:
        raise RegistrationClosed()
    role = await rbac_service.get_role_by_name(session, ADMIN_ROLE if is_first else DEFAULT_ROLE)
    user = await user_service.create_user(
        session,
        username=username,
        email=email,
        password_hash=await state.passwords.hash(password),
        roles=[role],
        display_name=display_name,
        # The first admin has nobody to verify them; nor does a server without verification.
        email_verified=is_first,
    )
    await activity_service.record(
        session,
        action="auth.register",
        user_id=user.id,
        actor_name=user.username,
        resource_type="user",
        resource_id=user.id,
        origin=origin,
        details={"first_admin": is_first},
    )
    return user


async def login(
    session: AsyncSession,
    state: AppState,
    *,
    identifier: str,
    password: str,
    device_name: str | None,
    origin: Origin,
) -> IssuedTokens:
    settings = state.settings
    await state.limiter.check(
        settings.rate_limit_login,
        "login",
        origin.ip,
        message="Too many sign-in attempts from this address; try again later.",
    )
    user = await user_service.find_by_identifier(session, identifier)
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        await _record_failure(state, user, origin, "locked")
        retry_after = int((user.locked_until - now).total_seconds()) + 1
        raise AccountLocked(
            details={"locked_until": user.locked_until.isoformat()},
            headers={"Retry-After": str(retry_after)},
        )
    # Verify against a decoy hash when there is no such user, so both take the same time.
    valid = await state.passwords.verify(user.password_hash if user else None, password)
    if user is None or not valid:
        if user is not None:
            await _register_failed_password(state, user.id, origin)
        else:
            await _record_failure(state, None, origin, "unknown_identifier", identifier)
        raise InvalidCredentials()
    if user.status != UserStatus.active:
        await _record_failure(state, user, origin, user.status.value)
        check_status(user)
    if settings.require_email_verification and not user.is_email_verified:
        raise EmailNotVerified()
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    if state.passwords.needs_rehash(user.password_hash):
        user.password_hash = await state.passwords.hash(password)
    issued = await open_session(session, state, user, origin, device_name)
    await activity_service.record(
        session,
        action="auth.login",
        user_id=user.id,
        actor_name=user.username,
        resource_type="session",
        resource_id=issued.session.id,
        origin=origin,
    )
    return issued


async def _register_failed_password(state: AppState, user_id: uuid.UUID, origin: Origin) -> None:
    """Count the failure in its own transaction (the request's is rolled back) and lock the
    account after `login_lockout_threshold` failures, for longer each time."""
    settings = state.settings
    async with state.db.session() as session:
        user = await session.get(User, user_id, with_for_update=not state.db.is_sqlite)
        if user is None:
            return
        user.failed_login_count += 1
        details: dict[str, Any] = {"reason": "bad_password", "failures": user.failed_login_count}
        if user.failed_login_count >= settings.login_lockout_threshold:
            minutes = min(settings.login_lockout_minutes * 2**user.lockout_count, 24 * 60)
            user.locked_until = utcnow() + timedelta(minutes=minutes)
            user.lockout_count += 1
            user.failed_login_count = 0
            details["locked_minutes"] = minutes
            log.warning("account_locked", user_id=str(user.id), minutes=minutes)
        await activity_service.record(
            session,
            action="auth.login_failed",
            user_id=user.id,
            actor_name=user.username,
            resource_type="user",
            resource_id=user.id,
            origin=origin,
            success=False,
            details=details,
        )


async def _record_failure(
    state: AppState, user: User | None, origin: Origin, reason: str, identifier: str | None = None
) -> None:
    async with state.db.session() as session:
        await activity_service.record(
            session,
            action="auth.login_failed",
            user_id=user.id if user else None,
            actor_name=user.username if user else None,
            resource_type="user" if user else None,
            resource_id=user.id if user else None,
            origin=origin,
            success=False,
            details={"reason": reason, **({"identifier": identifier[:64]} if identifier else {})},
        )


# ---------------------------------------------------------------- refresh and logout


async def refresh(
    session: AsyncSession, state: AppState, *, refresh_token: str, origin: Origin
) -> IssuedTokens:
    """Rotate a refresh token. Presenting an already-rotated token means it was stolen or
    replayed: the whole session (token family) is revoked and the event logged."""
    token = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
    )
    if token is None:
        raise InvalidToken("The refresh token is not valid.")
    auth_session = await session.get(AuthSession, token.session_id)
    now = utcnow()
    if (
        auth_session is None
        or auth_session.revoked_at is not None
        or auth_session.expires_at <= now
    ):
        raise InvalidToken("This session has ended; sign in again.")
    if token.rotated_at is not None:
        await _revoke_family_on_reuse(state, auth_session.id, origin)
        raise InvalidToken("This refresh token was already used; the session has been revoked.")
    user = await user_service.get_user(session, auth_session.user_id)
    check_status(user)
    token.rotated_at = now
    auth_session.last_used_at = now
    auth_session.ip_address = origin.ip
    return await _issue(session, state, auth_session, user)


async def _revoke_family_on_reuse(state: AppState, session_id: uuid.UUID, origin: Origin) -> None:
    async with state.db.session() as session:
        auth_session = await session.get(AuthSession, session_id)
        if auth_session is None:
            return
        auth_session.revoked_at = utcnow()
        auth_session.revoked_reason = "refresh_token_reuse"
        await activity_service.record(
            session,
            action="auth.refresh_token_reuse",
            user_id=auth_session.user_id,
            resource_type="session",
            resource_id=session_id,
            origin=origin,
            success=False,
        )
        log.warning("refresh_token_reuse", session_id=str(session_id))
        invalidate_user(session, state, auth_session.user_id)


async def revoke_sessions(
    session: AsyncSession,
    state: AppState,
    user_id: uuid.UUID,
    *,
    reason: str,
    only: uuid.UUID | None = None,
    keep: uuid.UUID | None = None,
) -> int:
    """Revoke one session (`only`), or all of a user's open sessions except `keep`."""
    statement = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if only is not None:
        statement = statement.where(AuthSession.id == only)
    if keep is not None:
        statement = statement.where(AuthSession.id != keep)
    result = await session.execute(
        statement.values(revoked_at=utcnow(), revoked_reason=reason).execution_options(
            synchronize_session=False
        )
    )
    invalidate_user(session, state, user_id)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def logout(
    session: AsyncSession,
    state: AppState,
    principal: Principal,
    *,
    all_devices: bool,
    origin: Origin,
) -> int:
    if all_devices:
        revoked = await revoke_sessions(session, state, principal.id, reason="logout_all")
    elif principal.session_id is not None:
        revoked = await revoke_sessions(
            session, state, principal.id, reason="logout", only=principal.session_id
        )
    else:
        revoked = 0  # an API key has no session to end
    await activity_service.record(
        session,
        action="auth.logout_all" if all_devices else "auth.logout",
        user_id=principal.id,
        actor_name=principal.user.username,
        resource_type="session",
        resource_id=principal.session_id,
        origin=origin,
        details={"tokens_revoked": revoked},
    )
    return revoked


class SessionNotFound(AppError):
    status_code, code, message = 404, "not_found", "No such session."


async def get_session(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
) -> AuthSession:
    auth_session = await session.get(AuthSession, session_id)
    if auth_session is None or auth_session.user_id != user_id:
        raise SessionNotFound()
    return auth_session
