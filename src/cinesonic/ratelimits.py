"""The API's named rate-limit classes and how a hit on one is counted.

Each class is a budget: a setting `rate_limit_<name>` in the `limits` notation, counted per
client address (`ip`) or per signed-in user (`user`; anonymous callers count per address).
Routes attach a class with `deps.rate_limited(name)`; the global per-address limit runs in the
middleware for every request. A counted hit leaves its `RateLimit-*` headers in the request
state, where the middleware finds them and sends them instead of the global ones; a refused hit
raises `RateLimited` with `Retry-After`.

This module decides nothing about who may do what and knows no domain: the table below only
names budgets and the routes that spend them (for the README and the OpenAPI document).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from cinesonic.config import Settings
from cinesonic.errors import RateLimited
from cinesonic.kit.ratelimit import RateDecision, RateLimiter

# Where a counted hit leaves its headers for the middleware (`request.state`).
ROUTE_HEADERS_KEY = "rate_limit_headers"


class LimitScope(enum.StrEnum):
    ip = "ip"
    user = "user"


@dataclass(frozen=True)
class RateLimitClass:
    name: str
    scope: LimitScope
    routes: str  # who spends this budget, in words (README and OpenAPI)

    @property
    def setting(self) -> str:
        return f"rate_limit_{self.name}"

    def rule(self, settings: Settings) -> str:
        rule: str = getattr(settings, self.setting)
        return rule


_IP, _USER = LimitScope.ip, LimitScope.user

# In the README's order: [003]'s table, sign-in, then the expensive work of other domains.
RATE_LIMIT_CLASSES: dict[str, RateLimitClass] = {
    limit.name: limit
    for limit in (
        RateLimitClass("global", _IP, "every request, in the middleware (probes exempt)"),
        RateLimitClass("admin", _USER, "`/api/v1/admin/*`"),
        RateLimitClass("plex_pin", _IP, "`POST /auth/plex/pin`"),
        RateLimitClass("plex_status", _IP, "`GET /auth/plex/status/{pin_id}`"),
        RateLimitClass("media_search", _USER, "`GET /media/search`"),
        RateLimitClass("media_request", _USER, "`POST /media/request`"),
        RateLimitClass("youtube_download", _USER, "`POST /youtube/download`"),
        RateLimitClass("plex_collections", _USER, "`POST /plex/collections`"),
        RateLimitClass("csrf", _IP, "`POST /csrf/token`"),
        RateLimitClass("login", _IP, "`POST /auth/login`"),
        RateLimitClass(
            "auth_sensitive",
            _IP,
            "`POST /auth/register`, `/auth/forgot-password`, `/auth/resend-verification` "
            "(a budget each)",
        ),
        RateLimitClass("scan", _USER, "starting library scans (`POST /libraries/…/scan`)"),
        RateLimitClass("stream", _USER, "song and video streams (`…/stream`, `…/download`)"),
        RateLimitClass("search", _USER, "library search (`GET /search`, `/search/…`)"),
        RateLimitClass(
            "share", _IP, "public share links (`/s/{token}`, `…/stream/…`, `…/download/…`)"
        ),
    )
}


def limit_class(name: str) -> RateLimitClass:
    try:
        return RATE_LIMIT_CLASSES[name]
    except KeyError:
        raise ValueError(f"no rate-limit class {name!r}") from None


def _refusal(limit: RateLimitClass, decision: RateDecision) -> RateLimited:
    retry_after = max(1, decision.reset_after)
    return RateLimited(
        f"Too many requests of this kind; try again in {retry_after} seconds.",
        details={
            "limit_class": limit.name,
            "limit": decision.limit,
            "window_seconds": decision.window_seconds,
            "retry_after": retry_after,
        },
        headers=decision.headers(),
    )


async def spend(
    limiter: RateLimiter,
    settings: Settings,
    limit: RateLimitClass,
    subject: str,
    *,
    bucket: str | None = None,
    request_state: dict[str, Any] | None = None,
) -> RateDecision:
    """Count one hit of `subject` (`ip:…` or `user:…`) against the class's budget (or its
    `bucket`, for classes that give each route its own count); raise `RateLimited` when spent."""
    decision = await limiter.hit(limit.rule(settings), bucket or limit.name, subject)
    if not limiter.enabled:
        return decision
    if not decision.allowed:
        raise _refusal(limit, decision)
    if request_state is not None:
        request_state[ROUTE_HEADERS_KEY] = [
            (name.lower().encode(), value.encode()) for name, value in decision.headers().items()
        ]
    return decision
