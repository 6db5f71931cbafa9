"""Sign-in routes: register, login, refresh, logout, me, session, CSRF token; the caller's
sessions (devices); password change and reset; email verification.

Every token answer also sets the browser cookies of [002]'s cookie mode: the httpOnly
`refresh_token` (path `/api/v1`, so both `/auth/refresh` and `/sessions/refresh` receive it),
an httpOnly `access_token` for media elements, and a readable `csrf_token` to echo in
`X-CSRF-Token`. Scripts may ignore them.

Mailed-link tokens that are unknown, used or expired answer `400 invalid_token` (the token is
the link's payload, not a credential of the request, so not 401). A wrong current password on
password change answers `403 wrong_password` (the caller is signed in; a 401 would read as "the
session ended").
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from cinesonic.auth import service as auth_service
from cinesonic.auth.schemas import (
    AcceptedResponse,
    ChangePasswordRequest,
    ChangePasswordResponse,
    CsrfTokenResponse,
    ForgotPasswordRequest,
    LoginRequest,
    LogoutRequest,
    LogoutResponse,
    RefreshRequest,
    RegisterRequest,
    ResendVerificationRequest,
    ResetPasswordRequest,
    SessionInfo,
    SessionRead,
    TokenResponse,
    VerifyEmailRequest,
)
from cinesonic.auth.security import PasswordPolicyError
from cinesonic.deps import (
    ClientInfo,
    CurrentPrincipal,
    DbSession,
    OptionalPrincipal,
    State,
    rate_limited,
)
from cinesonic.errors import (
    AuthenticationRequired,
    BadRequest,
    InvalidCredentials,
    InvalidToken,
    RateLimited,
    ValidationFailed,
    error_responses,
)
from cinesonic.kit.pagination import Page, PaginationDep
from cinesonic.kit.schemas import DeletedResponse, StatusResponse
from cinesonic.models.auth import AuthSession
from cinesonic.state import AppState
from cinesonic.user import service as user_service
from cinesonic.user.schemas import UserRead
from cinesonic.user.service import EmailTaken, UsernameTaken

router = APIRouter(tags=["auth"])

REFRESH_COOKIE, ACCESS_COOKIE, CSRF_COOKIE = "refresh_token", "access_token", "csrf_token"
REFRESH_COOKIE_PATH = "/api/v1"


def set_auth_cookies(
    response: Response, state: AppState, issued: auth_service.IssuedTokens
) -> None:
    settings = state.settings
    secure, samesite = settings.cookie_secure, settings.cookie_samesite
    response.set_cookie(
        REFRESH_COOKIE,
        issued.refresh_token,
        httponly=True,
        path=REFRESH_COOKIE_PATH,
        max_age=settings.refresh_token_ttl_days * 86400,
        secure=secure,
        samesite=samesite,
    )
    response.set_cookie(
        ACCESS_COOKIE,
        issued.access_token,
        httponly=True,
        path="/",
        max_age=issued.expires_in,
        secure=secure,
        samesite=samesite,
    )
    response.set_cookie(
        CSRF_COOKIE, issued.csrf_token, httponly=False, path="/", secure=secure, samesite=samesite
    )


def clear_auth_cookies(response: Response, state: AppState) -> None:
    # Same attributes as when set: browsers ignore a SameSite=None deletion without Secure.
    secure, samesite = state.settings.cookie_secure, state.settings.cookie_samesite
    for name, path, httponly in (
        (REFRESH_COOKIE, REFRESH_COOKIE_PATH, True),
        (ACCESS_COOKIE, "/", True),
        (CSRF_COOKIE, "/", False),
    ):
        response.delete_cookie(name, path=path, secure=secure, httponly=httponly, samesite=samesite)


def token_response(issued: auth_service.IssuedTokens) -> TokenResponse:
    return TokenResponse(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
        csrf_token=issued.csrf_token,
        user=user_service.to_read(issued.user),
    )


def session_read(auth_session: AuthSession, current: uuid.UUID | None) -> SessionRead:
    read = SessionRead.model_validate(auth_session)
    read.is_current = auth_session.id == current
    return read


# ---------------------------------------------------------------- register, login, tokens


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Create an account",
    description="Open registration is a server setting. The first account ever created becomes "
    "the administrator (even when registration is closed); every later account is mailed a "
    "link to verify its address.",
    responses=error_responses(
        BadRequest,
        auth_service.RegistrationClosed,
        UsernameTaken,
        EmailTaken,
        PasswordPolicyError,
        ValidationFailed,
        RateLimited,
    ),
    dependencies=[Depends(rate_limited("auth_sensitive", bucket="register"))],
)
async def register_account(
    body: RegisterRequest, session: DbSession, state: State, origin: ClientInfo, response: Response
) -> UserRead:
    user = await auth_service.register(
        session,
        state,
        username=body.username,
        email=str(body.email),
        password=body.password,
        display_name=body.display_name,
        origin=origin,
    )
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return user_service.to_read(user)


@router.post(
    "/auth/login",
    response_model=TokenResponse,
    summary="Sign in with username or email and password",
    description="Five wrong passwords in a row lock the account (403 `account_locked` with "
    "`Retry-After`) for 15 minutes, doubling with each further lock up to a day.",
    responses=error_responses(
        BadRequest,
        InvalidCredentials,
        auth_service.AccountLocked,
        auth_service.AccountSuspended,
        auth_service.AccountInactive,
        auth_service.EmailNotVerified,
        ValidationFailed,
        RateLimited,
    ),
)
async def login(
    body: LoginRequest, session: DbSession, state: State, origin: ClientInfo, response: Response
) -> TokenResponse:
    issued = await auth_service.login(
        session,
        state,
        identifier=body.identifier,
        password=body.password,
        device_name=body.device_name,
        origin=origin,
    )
    set_auth_cookies(response, state, issued)
    return token_response(issued)


@router.post(
    "/auth/refresh",
    response_model=TokenResponse,
    summary="Exchange a refresh token for new tokens (rotation)",
    description="The token comes from the body, the `X-Refresh-Token` header or the "
    "`refresh_token` cookie (which then needs `X-CSRF-Token`). Presenting an already-rotated "
    "token revokes the whole session.",
    responses=error_responses(
        BadRequest,
        InvalidToken,
        auth_service.CsrfFailed,
        auth_service.AccountSuspended,
        auth_service.AccountInactive,
        ValidationFailed,
    ),
)
@router.post(
    "/sessions/refresh",
    response_model=TokenResponse,
    tags=["sessions"],
    summary="Exchange a refresh token for new tokens (same as /auth/refresh)",
    description="The token comes from the body, the `X-Refresh-Token` header or the "
    "`refresh_token` cookie (which then needs `X-CSRF-Token`). Presenting an already-rotated "
    "token revokes the whole session.",
    responses=error_responses(
        BadRequest,
        InvalidToken,
        auth_service.CsrfFailed,
        auth_service.AccountSuspended,
        auth_service.AccountInactive,
        ValidationFailed,
    ),
)
async def refresh_tokens(
    request: Request,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    response: Response,
    body: RefreshRequest | None = None,
) -> TokenResponse:
    token = (body.refresh_token if body else None) or request.headers.get("x-refresh-token")
    if not token:
        token = request.cookies.get(REFRESH_COOKIE)
        if not token:
            raise InvalidToken("No refresh token was presented.")
        auth_service.require_csrf(
            state, request.headers.get("x-csrf-token"), request.cookies.get(CSRF_COOKIE)
        )
    issued = await auth_service.refresh(session, state, refresh_token=token, origin=origin)
    set_auth_cookies(response, state, issued)
    return token_response(issued)


@router.post(
    "/auth/logout",
    response_model=LogoutResponse,
    summary="Sign out of this session, or of every device",
    responses=error_responses(
        BadRequest, AuthenticationRequired, InvalidToken, auth_service.CsrfFailed
    ),
)
async def logout(
    principal: CurrentPrincipal,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    response: Response,
    body: LogoutRequest | None = None,
) -> LogoutResponse:
    revoked = await auth_service.logout(
        session, state, principal, all_devices=bool(body and body.all_devices), origin=origin
    )
    clear_auth_cookies(response, state)
    return LogoutResponse(tokens_revoked=revoked)


@router.get(
    "/auth/me",
    response_model=UserRead,
    summary="The signed-in user",
    responses=error_responses(AuthenticationRequired, InvalidToken),
)
async def read_me(principal: CurrentPrincipal) -> Response:
    return Response(principal.user_json, media_type="application/json")


@router.get(
    "/auth/session",
    response_model=SessionInfo,
    summary="The signed-in user with the current session",
    responses=error_responses(AuthenticationRequired, InvalidToken),
)
async def read_session(principal: CurrentPrincipal, session: DbSession) -> SessionInfo:
    current = None
    if principal.session_id is not None:
        auth_session = await auth_service.get_session(session, principal.id, principal.session_id)
        current = session_read(auth_session, principal.session_id)
    return SessionInfo(user=principal.user, session=current)


@router.post(
    "/csrf/token",
    response_model=CsrfTokenResponse,
    summary="Issue a CSRF token (also set as the `csrf_token` cookie)",
    responses=error_responses(RateLimited),
    dependencies=[Depends(rate_limited("csrf"))],
)
async def issue_csrf(state: State, response: Response) -> CsrfTokenResponse:
    token, expires_at = auth_service.new_csrf_token(state)
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=False,
        path="/",
        secure=state.settings.cookie_secure,
        samesite=state.settings.cookie_samesite,
    )
    return CsrfTokenResponse(token=token, expires_at=expires_at)


# ---------------------------------------------------------------- the caller's sessions


@router.get(
    "/sessions",
    response_model=Page[SessionRead],
    tags=["sessions"],
    summary="Devices signed in to your account",
    description="Newest first (also `sort=created_at|last_used_at|expires_at`, `-` for "
    "descending). Revoked and expired sessions are left out unless `include_revoked=true`.",
    responses=error_responses(AuthenticationRequired, InvalidToken, ValidationFailed),
)
async def list_my_sessions(
    principal: CurrentPrincipal,
    session: DbSession,
    params: PaginationDep,
    include_revoked: Annotated[
        bool, Query(description="Also list revoked and expired sessions.")
    ] = False,
) -> Page[SessionRead]:
    rows, total = await auth_service.list_sessions(
        session, principal.id, params, include_ended=include_revoked
    )
    return Page(
        data=[session_read(row, principal.session_id) for row in rows],
        pagination=params.meta(total),
    )


@router.get(
    "/sessions/current",
    response_model=SessionRead,
    tags=["sessions"],
    summary="The session making this request",
    description="404 when signed in with an API key, which has no session.",
    responses=error_responses(AuthenticationRequired, InvalidToken, auth_service.SessionNotFound),
)
async def read_current_session(principal: CurrentPrincipal, session: DbSession) -> SessionRead:
    auth_session = await auth_service.get_current_session(session, principal)
    return session_read(auth_session, principal.session_id)


@router.delete(
    "/sessions/{session_id}",
    response_model=DeletedResponse,
    tags=["sessions"],
    summary="Sign one of your devices out",
    description="Its tokens stop working on their next request. Other users' sessions are "
    "`404`. Revoking the current session also clears the auth cookies.",
    responses=error_responses(
        AuthenticationRequired,
        InvalidToken,
        auth_service.CsrfFailed,
        auth_service.SessionNotFound,
        ValidationFailed,
    ),
)
async def revoke_session(
    session_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    state: State,
    origin: ClientInfo,
    response: Response,
) -> DeletedResponse:
    await auth_service.revoke_own_session(session, state, principal, session_id, origin=origin)
    if session_id == principal.session_id:
        clear_auth_cookies(response, state)
    return DeletedResponse()


# ---------------------------------------------------------------- passwords


@router.post(
    "/auth/change-password",
    response_model=ChangePasswordResponse,
    summary="Change your password (signs every other device out)",
    description="A wrong `current_password` answers `403 wrong_password` and counts toward the "
    "account lock like a failed sign-in. The new password must meet the policy and differ "
    "from the current one (`422 password_policy`). The session making the request stays "
    "signed in.",
    responses=error_responses(
        BadRequest,
        AuthenticationRequired,
        InvalidToken,
        auth_service.CsrfFailed,
        auth_service.WrongPassword,
        auth_service.AccountLocked,
        PasswordPolicyError,
        ValidationFailed,
    ),
)
async def change_password(
    body: ChangePasswordRequest,
    principal: CurrentPrincipal,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> ChangePasswordResponse:
    revoked = await auth_service.change_password(
        session,
        state,
        principal,
        current_password=body.current_password,
        new_password=body.new_password,
        origin=origin,
    )
    return ChangePasswordResponse(sessions_revoked=revoked)


@router.post(
    "/auth/forgot-password",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedResponse,
    summary="Mail a password reset link",
    description='Always `202 {"status": "accepted"}`, in the same time, whether or not the '
    "address has an account; the link (`{public_url}/reset-password?token=…`) is mailed in the "
    "background to active accounts only. Rate limited per address.",
    responses=error_responses(BadRequest, ValidationFailed, RateLimited),
)
@router.post(
    "/auth/request-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedResponse,
    include_in_schema=False,
)
async def forgot_password(
    body: ForgotPasswordRequest, state: State, origin: ClientInfo
) -> AcceptedResponse:
    await auth_service.request_password_reset(state, email=body.email, origin=origin)
    return AcceptedResponse()


@router.post(
    "/auth/reset-password",
    response_model=StatusResponse,
    summary="Set a new password with a mailed reset token",
    description="The token works once and expires (`400 invalid_token`). Success signs every "
    "device out, lifts an account lock and marks the address verified.",
    responses=error_responses(
        BadRequest, auth_service.InvalidMailToken, PasswordPolicyError, ValidationFailed
    ),
)
@router.post("/auth/reset", response_model=StatusResponse, include_in_schema=False)
async def reset_password(
    body: ResetPasswordRequest, session: DbSession, state: State, origin: ClientInfo
) -> StatusResponse:
    await auth_service.reset_password(
        session, state, token=body.token, password=body.password, origin=origin
    )
    return StatusResponse(status="ok")


# ---------------------------------------------------------------- email verification


@router.post(
    "/auth/verify-email",
    response_model=StatusResponse,
    summary="Verify your email address with a mailed token",
    description="The token works once, expires, and only for the address it was mailed to "
    "(`400 invalid_token`).",
    responses=error_responses(BadRequest, auth_service.InvalidMailToken, ValidationFailed),
)
async def verify_email(
    body: VerifyEmailRequest, session: DbSession, state: State, origin: ClientInfo
) -> StatusResponse:
    await auth_service.verify_email(session, state, token=body.token, origin=origin)
    return StatusResponse(status="ok")


@router.post(
    "/auth/resend-verification",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedResponse,
    summary="Mail a new verification link",
    description="Signed in: to your own address (`409 email_already_verified` when it is). "
    "Not signed in: give `email`; the answer is `202` whether or not it belongs to an "
    "unverified account. Earlier links stop working. Rate limited per address.",
    responses=error_responses(
        BadRequest,
        InvalidToken,
        auth_service.CsrfFailed,
        auth_service.EmailAlreadyVerified,
        ValidationFailed,
        RateLimited,
    ),
)
async def resend_verification(
    principal: OptionalPrincipal,
    state: State,
    origin: ClientInfo,
    body: ResendVerificationRequest | None = None,
) -> AcceptedResponse:
    await auth_service.resend_verification(
        state, principal, email=body.email if body else None, origin=origin
    )
    return AcceptedResponse()
