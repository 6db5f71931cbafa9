"""Sign-in routes: register, login, refresh, logout, me, session, CSRF token.

Every token answer also sets the browser cookies of [002]'s cookie mode: the httpOnly
`refresh_token` (path `/api/v1/auth`), an httpOnly `access_token` for media elements, and a
readable `csrf_token` to echo in `X-CSRF-Token`. Scripts may ignore them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from cinesonic.auth import service as auth_service
from cinesonic.auth.schemas import (
    CsrfTokenResponse,
    LoginRequest,
    LogoutRequest,
    LogoutResponse,
    RefreshRequest,
    RegisterRequest,
    SessionInfo,
    SessionRead,
    TokenResponse,
)
from cinesonic.auth.security import PasswordPolicyError
from cinesonic.deps import ClientInfo, CurrentPrincipal, DbSession, State
from cinesonic.errors import (
    AuthenticationRequired,
    InvalidCredentials,
    InvalidToken,
    RateLimited,
    ValidationFailed,
    error_responses,
)
from cinesonic.models.auth import AuthSession
from cinesonic.state import AppState
from cinesonic.user import service as user_service
from cinesonic.user.schemas import UserRead
from cinesonic.user.service import EmailTaken, UsernameTaken

router = APIRouter(tags=["auth"])

REFRESH_COOKIE, ACCESS_COOKIE, CSRF_COOKIE = "refresh_token", "access_token", "csrf_token"
AUTH_COOKIE_PATH = "/api/v1/auth"


def set_auth_cookies(
    response: Response, state: AppState, issued: auth_service.IssuedTokens
) -> None:
    settings = state.settings
    common = {"secure": settings.cookie_secure, "samesite": settings.cookie_samesite}
    response.set_cookie(
        REFRESH_COOKIE,
        issued.refresh_token,
        httponly=True,
        path=AUTH_COOKIE_PATH,
        max_age=settings.refresh_token_ttl_days * 86400,
        **common,  # type: ignore[arg-type]
    )
    response.set_cookie(
        ACCESS_COOKIE,
        issued.access_token,
        httponly=True,
        path="/",
        max_age=issued.expires_in,
        **common,  # type: ignore[arg-type]
    )
    response.set_cookie(CSRF_COOKIE, issued.csrf_token, httponly=False, path="/", **common)  # type: ignore[arg-type]


def clear_auth_cookies(response: Response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=AUTH_COOKIE_PATH)
    response.delete_cookie(ACCESS_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def token_response(issued: auth_service.IssuedTokens) -> TokenResponse:
    return TokenResponse(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
        csrf_token=issued.csrf_token,
        user=user_service.to_read(issued.user),
    )


def session_read(auth_session: AuthSession, current: object = None) -> SessionRead:
    read = SessionRead.model_validate(auth_session)
    read.is_current = auth_session.id == current
    return read


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Create an account",
    description="Open registration is a server setting. The first account ever created becomes "
    "the administrator (even when registration is closed).",
    responses=error_responses(
        auth_service.RegistrationClosed,
        UsernameTaken,
        EmailTaken,
        PasswordPolicyError,
        ValidationFailed,
        RateLimited,
    ),
)
async def register_account(
    body: RegisterRequest, session: DbSession, state: State, origin: ClientInfo, response: Response
) -> UserRead:
    await state.limiter.check(state.settings.rate_limit_auth_sensitive, "register", origin.ip)
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
    responses=error_responses(
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
        InvalidToken, auth_service.CsrfFailed, auth_service.AccountSuspended, ValidationFailed
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
    responses=error_responses(AuthenticationRequired, InvalidToken, auth_service.CsrfFailed),
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
    clear_auth_cookies(response)
    return LogoutResponse(tokens_revoked=revoked)


@router.get(
    "/auth/me",
    response_model=UserRead,
    summary="The signed-in user",
    responses=error_responses(AuthenticationRequired, InvalidToken),
)
async def read_me(principal: CurrentPrincipal) -> UserRead:
    return principal.user


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
)
async def issue_csrf(state: State, origin: ClientInfo, response: Response) -> CsrfTokenResponse:
    await state.limiter.check(state.settings.rate_limit_csrf, "csrf", origin.ip)
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
