"""The named dependencies every endpoint uses: `DbSession`, `State`, `ClientInfo`,
`CurrentPrincipal`, `OptionalPrincipal`, `MediaPrincipal`, `require(permission)` and
`rate_limited(class)`.

An endpoint without a principal dependency is public on purpose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic import ratelimits
from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.errors import AuthenticationRequired, Forbidden, InvalidToken
from cinesonic.ratelimits import LimitScope, RateLimitClass
from cinesonic.state import AppState


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.cinesonic
    return state


State = Annotated[AppState, Depends(get_state)]


async def get_db_session(state: State) -> AsyncIterator[AsyncSession]:
    async with state.db.session() as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is the answer.
DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]


@dataclass(frozen=True)
class RequestInfo:
    ip: str
    user_agent: str | None
    request_id: str | None


async def get_request_info(request: Request) -> RequestInfo:
    return RequestInfo(
        ip=getattr(request.state, "client_ip", None) or "unknown",
        user_agent=(request.headers.get("user-agent") or "")[:512] or None,
        request_id=getattr(request.state, "request_id", None),
    )


ClientInfo = Annotated[RequestInfo, Depends(get_request_info)]


ADMIN_PATH_PREFIX = "/api/v1/admin/"
_ADMIN_LIMIT = ratelimits.limit_class("admin")


def _client_ip(request: Request) -> str:
    return getattr(request.state, "client_ip", None) or "unknown"


async def _resolve(request: Request, state: AppState, *, allow_query_key: bool) -> Principal | None:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    headers = request.headers
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    api_key = headers.get("x-api-key")
    if api_key is None and allow_query_key:
        api_key = request.query_params.get("api_key")
    credentials = auth_service.Credentials(
        method=request.method,
        bearer=value.strip() if scheme.lower() == "bearer" and value.strip() else None,
        api_key=api_key,
        access_cookie=request.cookies.get("access_token"),
        csrf_header=headers.get("x-csrf-token"),
        csrf_cookie=request.cookies.get("csrf_token"),
        ip=getattr(request.state, "client_ip", None) or "unknown",
    )
    if authorization and credentials.bearer is None and not api_key:
        raise InvalidToken("Use 'Authorization: Bearer <token>' or the X-API-Key header.")
    principal = await auth_service.authenticate(state, credentials)
    if principal is not None and request.scope["path"].startswith(ADMIN_PATH_PREFIX):
        # [003]: admin routes are limited per user, from wherever the requests come.
        await ratelimits.spend(
            state.limiter,
            state.settings,
            _ADMIN_LIMIT,
            f"user:{principal.id}",
            request_state=request.scope.setdefault("state", {}),
        )
    request.state.principal = principal
    return principal


async def get_optional_principal(request: Request, state: State) -> Principal | None:
    return await _resolve(request, state, allow_query_key=False)


async def get_principal(request: Request, state: State) -> Principal:
    principal = await _resolve(request, state, allow_query_key=False)
    if principal is None:
        raise AuthenticationRequired()
    return principal


async def get_media_principal(request: Request, state: State) -> Principal:
    """Stream and image GETs also accept `?api_key=` (media players cannot send headers)."""
    principal = await _resolve(request, state, allow_query_key=True)
    if principal is None:
        raise AuthenticationRequired()
    return principal


async def get_optional_media_principal(request: Request, state: State) -> Principal | None:
    return await _resolve(request, state, allow_query_key=True)


OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
MediaPrincipal = Annotated[Principal, Depends(get_media_principal)]
# Who a per-user rate limit counts on a media route, before the route itself asks.
_OptionalMediaPrincipal = Annotated[Principal | None, Depends(get_optional_media_principal)]


async def require_permission(principal: Principal, permission: str) -> Principal:
    """`principal` if it holds `permission`; 403 otherwise (what `require` checks)."""
    if not principal.can(permission):
        raise Forbidden(f"This needs the '{permission}' permission.")
    return principal


def require(permission: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits principals holding `permission` (403 otherwise)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        return await require_permission(principal, permission)

    dependency.__name__ = f"require_{permission.replace('.', '_')}"
    return dependency


RateLimitDependency = Callable[..., Coroutine[Any, Any, None]]


def _user_or_address(request: Request, principal: Principal | None) -> str:
    # Per-user classes count anonymous callers by their address.
    return f"user:{principal.id}" if principal else f"ip:{_client_ip(request)}"


# Each `rate_limited(...)` dependency and its class, for the OpenAPI document.
RATE_LIMIT_DEPENDENCIES: dict[RateLimitDependency, RateLimitClass] = {}


def rate_limited(
    name: str, *, bucket: str | None = None, query_key: bool = False
) -> RateLimitDependency:
    """A dependency that spends one hit of the rate-limit class `name` (see `ratelimits`):
    `dependencies=[Depends(rate_limited("media_search"))]`. A refused hit answers 429 with
    `Retry-After`; a counted one sets the response's `RateLimit-*` headers.

    `bucket` gives a route its own count under a shared class setting (`auth_sensitive`).
    `query_key=True` keys per-user classes by a `?api_key=` too — only on routes that accept
    one (`MediaPrincipal`), since the principal found is the route's.
    """
    limit = ratelimits.limit_class(name)

    async def spend(request: Request, state: AppState, subject: str) -> None:
        await ratelimits.spend(
            state.limiter,
            state.settings,
            limit,
            subject,
            bucket=bucket,
            request_state=request.scope.setdefault("state", {}),
        )

    dependency: RateLimitDependency
    if limit.scope is LimitScope.ip:

        async def per_address(request: Request, state: State) -> None:
            await spend(request, state, f"ip:{_client_ip(request)}")

        dependency = per_address
    elif query_key:

        async def per_media_user(
            request: Request, state: State, principal: _OptionalMediaPrincipal
        ) -> None:
            await spend(request, state, _user_or_address(request, principal))

        dependency = per_media_user
    else:

        async def per_user(request: Request, state: State, principal: OptionalPrincipal) -> None:
            await spend(request, state, _user_or_address(request, principal))

        dependency = per_user
    dependency.__name__ = f"rate_limited_{name}"
    RATE_LIMIT_DEPENDENCIES[dependency] = limit
    return dependency
