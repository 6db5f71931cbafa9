"""Sign-in rules: registration, login with lockout, sessions with rotating refresh tokens,
logout, password change and reset, email verification, and turning presented credentials into
a `Principal`.

Principals are cached per session (and per API key) so an authenticated request normally costs
no query; every write that changes what a principal may do calls `invalidate_user` after its
commit (see `db.after_commit`), which drops the cached entries here and, through the event bus,
on every replica — so a revoked session or a suspended user is refused on the very next request.

Mailed links (verification, password reset) carry a random token stored only as its SHA-256 in
`one_time_token`; a token works once, until it expires, and only for the address it was mailed
to. The mail work runs through `state.mailer.defer` in a unit of work of its own, so answers to
"forgot password" take the same time whether or not the address has an account.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth import mailer_templates
from cinesonic.auth.principal import Principal
from cinesonic.auth.security import (
    PasswordPolicyError,
    check_password_policy,
    csrf_token_valid,
    decode_access_token,
    issue_access_token,
    issue_csrf_token,
)
from cinesonic.db import after_commit, lock_for_update
from cinesonic.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    ValidationFailed,
)
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.kit.timeutil import utcnow
from cinesonic.kit.tokens import hash_token, new_token
from cinesonic.models.auth import AuthSession, OneTimeToken, OneTimeTokenPurpose, RefreshToken
from cinesonic.models.user import User, UserStatus
from cinesonic.rbac import service as rbac_service
from cinesonic.rbac.permissions import ADMIN_ROLE, DEFAULT_ROLE
from cinesonic.state import AppState
from cinesonic.user import service as user_service

log = structlog.get_logger("cinesonic.auth")

INVALIDATION_CHANNEL = "auth.invalidate"
REFRESH_TOKEN_PREFIX = "csr_"
FIRST_ACCOUNT_LOCK = 0x63696E65  # "cine": the advisory lock of the first-admin check
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_TTL_SECONDS = 12 * 3600


class RegistrationClosed(Forbidden):
    code, message = "registration_closed", "Registration is closed on this server."


class AccountLocked(Forbidden):
    code, message = "account_locked", "Too many failed sign-ins; the account is locked for a while."


class AccountSuspended(Forbidden):
    code, message = "account_suspended", "This account is suspended."


class AccountInactive(Forbidden):
    code, message = "account_inactive", "This account is deactivated."


class EmailNotVerified(Forbidden):
    code, message = "email_not_verified", "Verify your email address first."


class CsrfFailed(Forbidden):
    code, message = "csrf_failed", "Missing or wrong X-CSRF-Token header."


class WrongPassword(Forbidden):
    # 403, not 401: the caller is signed in, and clients treat a 401 as "the session ended".
    code, message = "wrong_password", "The current password is wrong."


class InvalidMailToken(BadRequest):
    # 400, not 401: the token is a link's payload, not a credential of the request.
    code = "invalid_token"
    message = "This link is invalid, already used or expired; ask for a new one."


class EmailAlreadyVerified(Conflict):
    code, message = "email_already_verified", "Your email address is already verified."


class SessionNotFound(NotFound):
    message = "No such session."


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
    elif data.get("tag"):
        state.auth_cache.invalidate_tag(str(data["tag"]))


@dataclass(frozen=True)
class Credentials:
    """What a request presented, as the `deps` module read it."""

    method: str
    bearer: str | None = None
    api_key: str | None = None
    access_cookie: str | None = None
    csrf_header: str | None = None
    csrf_cookie: str | None = None
    ip: str = "unknown"


async def authenticate(state: AppState, credentials: Credentials) -> Principal | None:
    """The principal behind the credentials; None if none were presented; 401/403 if bad."""
    if credentials.api_key:
        from cinesonic.apikey import service as apikey_service

        key_principal = await apikey_service.authenticate_key(state, credentials.api_key)
        if key_principal.api_key_id is not None:
            await apikey_service.touch(state, key_principal.api_key_id, credentials.ip)
        return key_principal
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
        generation = state.auth_cache.generation
        principal = await _load_session_principal(state, claims.session_id, claims.user_id)
        state.auth_cache.set(
            cache_key, principal, tags=[f"user:{principal.id}"], loaded_at_generation=generation
        )
    if via_cookie:
        principal = dataclasses.replace(principal, via_cookie=True)
    return principal


async def _load_session_principal(
    state: AppState, session_id: uuid.UUID, user_id: uuid.UUID
) -> Principal:
    async with state.db.sessionmaker() as session:
        auth_session = await session.get(AuthSession, session_id)
        if auth_session is None or auth_session.user_id != user_id:
            raise InvalidToken("This session has ended; sign in again.")
        # Status first: suspending an account also revokes its sessions, and its owner should
        # be told why they are refused rather than to sign in again.
        user = await user_service.get_user(session, user_id)
        check_status(user)
        if auth_session.revoked_at is not None or auth_session.expires_at <= utcnow():
            raise InvalidToken("This session has ended; sign in again.")
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
    """Create an account. The very first account becomes admin, even with registration closed.
    Every later account is mailed a verification link once the account is committed."""
    is_first = await user_service.count_users(session) == 0
    if is_first:
        # Two first registrations at once must not both become admin: count again under a lock.
        await lock_for_update(session, FIRST_ACCOUNT_LOCK)
        is_first = await user_service.count_users(session) == 0
    if not is_first and not state.settings.open_registration:
        raise RegistrationClosed()
    check_password_policy(password)
    role = await rbac_service.get_role_by_name(session, ADMIN_ROLE if is_first else DEFAULT_ROLE)
    try:
        user = await user_service.create_user(
            session,
            username=username,
            email=email,
            password_hash=await state.passwords.hash(password),
            roles=[role],
            display_name=display_name,
            # The first admin has nobody to verify them.
            email_verified=is_first,
        )
    except IntegrityError as exc:
        # A concurrent registration took the name or address between check and insert.
        if "username_key" in str(exc.orig):
            raise user_service.UsernameTaken() from exc
        raise user_service.EmailTaken() from exc
    if not is_first:
        user_id = user.id

        async def _mail_link() -> None:
            state.mailer.defer(
                _mail_verification_link(state, origin, user_id=user_id), name="verification-mail"
            )

        after_commit(session, _mail_link)
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
    if user is not None and _is_locked(user, now):
        await _record_failure(state, user, origin, "locked")
        raise _locked_error(user, now)
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
        await _record_failure(state, user, origin, "email_not_verified")
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


def _is_locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _locked_error(user: User, now: datetime) -> AccountLocked:
    assert user.locked_until is not None
    retry_after = int((user.locked_until - now).total_seconds()) + 1
    return AccountLocked(
        details={"locked_until": user.locked_until.isoformat()},
        headers={"Retry-After": str(retry_after)},
    )


async def _register_failed_password(
    state: AppState, user_id: uuid.UUID, origin: Origin, action: str = "auth.login_failed"
) -> None:
    """Count the failure in its own transaction (the request's is rolled back) and lock the
    account after `login_lockout_threshold` failures, for longer each time. Every check of a
    password (sign-in, password change) counts; the lock count is kept across locks, so an
    attacker gets fewer guesses per day the longer they try (only a password reset clears it)."""
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
            action=action,
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
    rotated = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
        .execution_options(synchronize_session=False)
    )
    if rotated.rowcount != 1:  # type: ignore[attr-defined]
        # A concurrent refresh with the same token won the race; one token, one successor.
        # Any later presentation of this token is caught above as reuse.
        raise InvalidToken("This refresh token was already used.")
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
    await activity_service.record_by(
        session,
        principal,
        action="auth.logout_all" if all_devices else "auth.logout",
        resource_type="session",
        resource_id=principal.session_id,
        origin=origin,
        details={"tokens_revoked": revoked},
    )
    return revoked


async def get_session(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
) -> AuthSession:
    auth_session = await session.get(AuthSession, session_id)
    if auth_session is None or auth_session.user_id != user_id:
        raise SessionNotFound()
    return auth_session


# ---------------------------------------------------------------- the caller's sessions

SESSION_SORTS: dict[str, QueryableAttribute[Any]] = {
    "created_at": AuthSession.created_at,
    "last_used_at": AuthSession.last_used_at,
    "expires_at": AuthSession.expires_at,
}


async def list_sessions(
    session: AsyncSession, user_id: uuid.UUID, params: PageParams, *, include_ended: bool
) -> tuple[Sequence[AuthSession], int]:
    """A user's sessions, newest first; revoked and expired ones only with `include_ended`."""
    statement = select(AuthSession).where(AuthSession.user_id == user_id)
    if not include_ended:
        statement = statement.where(
            AuthSession.revoked_at.is_(None), AuthSession.expires_at > utcnow()
        )
    statement = apply_sort(
        statement,
        params,
        SESSION_SORTS,
        default=[AuthSession.created_at.desc()],
        tiebreaker=AuthSession.id.desc(),
    )
    return await paginate_rows(session, statement, params)


async def get_current_session(session: AsyncSession, principal: Principal) -> AuthSession:
    if principal.session_id is None:
        raise SessionNotFound("Signed in with an API key: there is no session.")
    return await get_session(session, principal.id, principal.session_id)


async def revoke_own_session(
    session: AsyncSession,
    state: AppState,
    principal: Principal,
    session_id: uuid.UUID,
    *,
    origin: Origin,
) -> None:
    """Sign one of the caller's own devices out; other users' sessions are "not found"."""
    auth_session = await get_session(session, principal.id, session_id)
    if auth_session.revoked_at is not None:
        return
    await revoke_sessions(session, state, principal.id, reason="revoked_by_user", only=session_id)
    await activity_service.record_by(
        session,
        principal,
        action="auth.session_revoked",
        resource_type="session",
        resource_id=session_id,
        origin=origin,
        details={"current": session_id == principal.session_id},
    )


# ---------------------------------------------------------------- passwords


async def change_password(
    session: AsyncSession,
    state: AppState,
    principal: Principal,
    *,
    current_password: str,
    new_password: str,
    origin: Origin,
) -> int:
    """Change the caller's password; sign every other device out. Returns how many were.

    A wrong current password counts toward the account lock, as at sign-in, so a stolen
    session cannot be used to guess the password."""
    check_password_policy(new_password, field="new_password")
    if new_password == current_password:
        raise PasswordPolicyError(
            details=[
                {"field": "new_password", "problems": ["must differ from the current password"]}
            ]
        )
    user = await user_service.get_user(session, principal.id)
    now = utcnow()
    if _is_locked(user, now):
        raise _locked_error(user, now)
    if not await state.passwords.verify(user.password_hash, current_password):
        await _register_failed_password(
            state, user.id, origin, action="auth.password_change_failed"
        )
        raise WrongPassword()
    _set_password(user, await state.passwords.hash(new_password), now)
    revoked = await revoke_sessions(
        session, state, user.id, reason="password_changed", keep=principal.session_id
    )
    await activity_service.record(
        session,
        action="auth.password_changed",
        user_id=user.id,
        actor_name=user.username,
        resource_type="user",
        resource_id=user.id,
        origin=origin,
        details={"sessions_revoked": revoked},
    )
    return revoked


def _set_password(user: User, password_hash: str, now: datetime) -> None:
    user.password_hash = password_hash
    user.password_changed_at = now
    user.requires_password_change = False
    user.failed_login_count = 0


async def request_password_reset(state: AppState, *, email: str, origin: Origin) -> None:
    """Mail a reset link if the address has an active account. The look-up, the token and the
    mail all happen in the background, so the caller learns nothing, not even from timing."""
    await state.limiter.check(
        state.settings.rate_limit_auth_sensitive,
        "forgot-password",
        origin.ip,
        message="Too many password reset requests from this address; try again later.",
    )
    state.mailer.defer(_mail_password_reset(state, email, origin), name="password-reset-mail")


async def _mail_password_reset(state: AppState, email: str, origin: Origin) -> None:
    settings = state.settings
    async with state.db.session() as session:
        user = await _find_by_email(session, email)
        if user is None or user.status != UserStatus.active:
            return
        if not await _may_mail(state, "reset-mail", user):
            return
        token = await _issue_mail_token(
            session,
            user,
            OneTimeTokenPurpose.reset_password,
            timedelta(minutes=settings.password_reset_ttl_minutes),
        )
        await activity_service.record(
            session,
            action="auth.password_reset_requested",
            user_id=user.id,
            actor_name=user.username,
            resource_type="user",
            resource_id=user.id,
            origin=origin,
        )
    mail = mailer_templates.password_reset_mail(
        name=user.display_name or user.username,
        url=mailer_templates.link(settings.public_url, mailer_templates.RESET_PASSWORD_PAGE, token),
        ttl_minutes=settings.password_reset_ttl_minutes,
    )
    await state.mailer.send(user.email, mail.subject, mail.text)


async def reset_password(
    session: AsyncSession, state: AppState, *, token: str, password: str, origin: Origin
) -> None:
    """Set a new password through a mailed link: every session ends, the lock is lifted, and
    the address the link reached counts as verified."""
    one_time, user = await _find_mail_token(session, token, OneTimeTokenPurpose.reset_password)
    check_password_policy(password)  # refused before use, so the link still works
    # Hash before the first write: on SQLite a write holds the database's write lock.
    password_hash = await state.passwords.hash(password)
    await _use_mail_token(session, one_time)
    now = utcnow()
    _set_password(user, password_hash, now)
    user.locked_until = None
    user.lockout_count = 0
    if user.email_verified_at is None:
        user.email_verified_at = now
    revoked = await revoke_sessions(session, state, user.id, reason="password_reset")
    await activity_service.record(
        session,
        action="auth.password_reset",
        user_id=user.id,
        actor_name=user.username,
        resource_type="user",
        resource_id=user.id,
        origin=origin,
        details={"sessions_revoked": revoked, "token_id": str(one_time.id)},
    )


# ---------------------------------------------------------------- email verification


async def resend_verification(
    state: AppState, principal: Principal | None, *, email: str | None, origin: Origin
) -> None:
    """Mail a fresh verification link: to the signed-in caller, or — publicly — to `email` if
    it belongs to an unverified account (answered the same either way)."""
    await state.limiter.check(
        state.settings.rate_limit_auth_sensitive,
        "resend-verification",
        origin.ip,
        message="Too many verification mails requested from this address; try again later.",
    )
    if principal is not None:
        if principal.user.is_email_verified:
            raise EmailAlreadyVerified()
        work = _mail_verification_link(state, origin, user_id=principal.id)
    elif email:
        work = _mail_verification_link(state, origin, email=email)
    else:
        raise ValidationFailed(
            "Sign in, or give the account's email address.",
            details=[
                {
                    "field": "email",
                    "location": "body",
                    "message": "Field required",
                    "type": "missing",
                }
            ],
        )
    state.mailer.defer(work, name="verification-mail")


async def _mail_verification_link(
    state: AppState,
    origin: Origin,
    *,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
) -> None:
    settings = state.settings
    async with state.db.session() as session:
        user = await session.get(User, user_id) if user_id else await _find_by_email(session, email)
        if user is None or user.is_email_verified or user.status != UserStatus.active:
            return
        if not await _may_mail(state, "verification-mail", user):
            return
        token = await _issue_mail_token(
            session,
            user,
            OneTimeTokenPurpose.verify_email,
            timedelta(hours=settings.email_verification_ttl_hours),
        )
        await activity_service.record(
            session,
            action="auth.verification_mail_sent",
            user_id=user.id,
            actor_name=user.username,
            resource_type="user",
            resource_id=user.id,
            origin=origin,
        )
    mail = mailer_templates.verification_mail(
        name=user.display_name or user.username,
        url=mailer_templates.link(settings.public_url, mailer_templates.VERIFY_EMAIL_PAGE, token),
        ttl_hours=settings.email_verification_ttl_hours,
    )
    await state.mailer.send(user.email, mail.subject, mail.text)


async def verify_email(
    session: AsyncSession, state: AppState, *, token: str, origin: Origin
) -> None:
    one_time, user = await _find_mail_token(session, token, OneTimeTokenPurpose.verify_email)
    await _use_mail_token(session, one_time)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    invalidate_user(session, state, user.id)
    await activity_service.record(
        session,
        action="auth.email_verified",
        user_id=user.id,
        actor_name=user.username,
        resource_type="user",
        resource_id=user.id,
        origin=origin,
        details={"email": user.email},
    )


# ---------------------------------------------------------------- mailed single-use tokens


async def _find_by_email(session: AsyncSession, email: str | None) -> User | None:
    if not email:
        return None
    return await session.scalar(select(User).where(User.email_key == user_service.email_key(email)))


async def _may_mail(state: AppState, kind: str, user: User) -> bool:
    """Per-account cap on mails of a kind, so nobody can flood an inbox by rotating addresses.
    Over the cap the request is dropped silently: the caller was already answered."""
    decision = await state.limiter.hit(state.settings.rate_limit_auth_sensitive, kind, str(user.id))
    if not decision.allowed:
        log.warning("mail_suppressed_rate_limited", kind=kind, user_id=str(user.id))
    return decision.allowed


async def _issue_mail_token(
    session: AsyncSession, user: User, purpose: OneTimeTokenPurpose, ttl: timedelta
) -> str:
    """A new link token for `user`; earlier unused ones of the same purpose stop working."""
    now = utcnow()
    await session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    token = new_token()
    session.add(
        OneTimeToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(token),
            email=user.email,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return token


async def _find_mail_token(
    session: AsyncSession, token: str, purpose: OneTimeTokenPurpose
) -> tuple[OneTimeToken, User]:
    """A usable link token and its account: it exists for this purpose, is unused and
    unexpired, and the account still has the address it was mailed to."""
    one_time = await session.scalar(
        select(OneTimeToken).where(
            OneTimeToken.token_hash == hash_token(token), OneTimeToken.purpose == purpose
        )
    )
    if one_time is None or one_time.used_at is not None or one_time.expires_at <= utcnow():
        raise InvalidMailToken()
    user = await session.get(User, one_time.user_id)
    if user is None or user_service.email_key(one_time.email or "") != user.email_key:
        raise InvalidMailToken()
    return one_time, user


async def _use_mail_token(session: AsyncSession, one_time: OneTimeToken) -> None:
    """Mark the token used, unless a concurrent request already did (then it is invalid)."""
    used = await session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.id == one_time.id, OneTimeToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidMailToken()
