"""`create_app(settings)`: the FastAPI application with its middleware, error handlers,
routers and lifespan (database, rate limiter, event bus, mailer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI

from cinesonic import __version__
from cinesonic.auth import service as auth_service
from cinesonic.auth.security import Passwords
from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.errors import install_error_handlers
from cinesonic.events.bus import create_bus
from cinesonic.kit.mail import Mailer, SmtpConfig
from cinesonic.kit.ratelimit import RateLimiter
from cinesonic.middleware import RequestContextMiddleware
from cinesonic.state import AppState
from cinesonic.user import service as user_service

log = structlog.get_logger("cinesonic")

API_PREFIX = "/api/v1"


def _routers() -> list[APIRouter]:
    from cinesonic.activity.endpoints import router as activity
    from cinesonic.apikey.endpoints import router as apikey
    from cinesonic.auth.endpoints import router as auth
    from cinesonic.rbac.endpoints import router as rbac
    from cinesonic.user.endpoints import router as user

    return [auth, user, rbac, apikey, activity]


def _mailer(settings: Settings) -> Mailer:
    smtp = None
    if settings.smtp_host:
        smtp = SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        )
    return Mailer(settings.mail_from, settings.outbox_dir, smtp)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.prepare_data_dir()
    limiter = RateLimiter(
        settings.redis_url, enabled=settings.rate_limit_enabled, prefix=settings.redis_prefix
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        db = Database(settings)
        bus = create_bus(settings.redis_url, settings.redis_prefix)
        state = AppState(
            settings=settings,
            db=db,
            limiter=limiter,
            bus=bus,
            mailer=_mailer(settings),
            passwords=Passwords(settings.argon2_time_cost, settings.argon2_memory_cost_kib),
        )

        async def on_invalidation(data: Any) -> None:
            await auth_service.on_invalidation(state, data)

        bus.subscribe(auth_service.INVALIDATION_CHANNEL, on_invalidation)
        await bus.start()
        app.state.cinesonic = state
        async with db.sessionmaker() as session:
            if await user_service.count_users(session) == 0:
                log.warning(
                    "no_users_yet",
                    hint="Create the first admin with `cinesonic user create-admin`, or register: "
                    "the first account to register becomes the administrator.",
                )
        try:
            yield {}
        finally:
            await bus.close()
            await db.dispose()

    app = FastAPI(
        title="cinesonic",
        version=__version__,
        summary="One self-hosted server for music, movies and TV, lyrics, requests and downloads.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, settings=settings, limiter=limiter)

    from cinesonic.health.endpoints import router as health

    app.include_router(health)
    app.include_router(health, prefix=API_PREFIX, include_in_schema=False)
    for router in _routers():
        app.include_router(router, prefix=API_PREFIX)
    return app
