"""`create_app(settings)`: the FastAPI application with its middleware, error handlers,
routers and lifespan (database, rate limiter, event bus, mailer)."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, WebSocket
from starlette.routing import BaseRoute

from cinesonic import __version__, realtime
from cinesonic.auth import service as auth_service
from cinesonic.auth.security import Passwords
from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.errors import install_error_handlers
from cinesonic.events.bus import EventBus, create_bus
from cinesonic.events.websocket import Hub
from cinesonic.kit.mail import Mailer
from cinesonic.kit.ratelimit import RateLimiter
from cinesonic.library.service import SCAN_QUEUE
from cinesonic.library.watcher import LibraryEngines
from cinesonic.metrics import AppMetrics
from cinesonic.middleware import RequestContextMiddleware
from cinesonic.openapi import install_openapi
from cinesonic.setting import runtime as setting_runtime
from cinesonic.state import AppState
from cinesonic.user import service as user_service
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import Worker

log = structlog.get_logger("cinesonic")

API_PREFIX = "/api/v1"


@functools.cache
def _api_routes() -> tuple[BaseRoute, ...]:
    """Every route of the app, in matching order, built once per process.

    FastAPI (0.165) builds an included router's routes lazily, on the first request an app
    serves: the dependency analysis of every route, ~0.4 s. Nothing in them belongs to one app
    (there are no dependency overrides), so the apps of a process — one per test in the test
    suite — share them and that work is done once."""
    from cinesonic.health.endpoints import router as health
    from cinesonic.health.endpoints import system_router as system_health
    from cinesonic.health.metrics_endpoint import router as metrics_endpoint
    from cinesonic.image.endpoints import ImageFastRoute
    from cinesonic.music.endpoints import fast_routes as music_fast_routes
    from cinesonic.search.endpoints import fast_routes as search_fast_routes
    from cinesonic.search.video_endpoints import fast_routes as video_search_fast_routes
    from cinesonic.share.endpoints import public_router as share_links

    holder = APIRouter()
    # First of all routes: the hottest GETs, answered without FastAPI's dependency solving
    # when they are fully understood (see `ImageFastRoute` and `cinesonic.kit.fastquery`).
    holder.routes.extend(
        [
            ImageFastRoute(API_PREFIX),
            *music_fast_routes(API_PREFIX),
            *search_fast_routes(API_PREFIX),
            *video_search_fast_routes(API_PREFIX),
        ]
    )
    holder.include_router(health)
    holder.include_router(metrics_endpoint)
    # Ahead of the probes' second mount: `/api/v1/health` is the dependency report [003].
    holder.include_router(system_health, prefix=API_PREFIX)
    holder.include_router(health, prefix=API_PREFIX, include_in_schema=False)
    for router in _routers():
        holder.include_router(router, prefix=API_PREFIX)
    # Share links also at the root, so the link handed out stays short: `/s/{token}`.
    holder.include_router(share_links, include_in_schema=False)
    return tuple(holder.routes)


def warm_routes(app: FastAPI) -> None:
    """Build now what FastAPI (0.165) builds on an app's first request: the effective routes
    of every included router (their dependency analysis). `cinesonic serve` calls this before
    `gc.freeze()`, so those ~50,000 long-lived objects are frozen with the rest of start-up
    and the collector's full passes under load stay short. Uses FastAPI's
    `effective_candidates()` where a route has it; a FastAPI without it builds lazily, as
    before."""
    pending: list[object] = list(app.router.routes)
    while pending:
        build = getattr(pending.pop(), "effective_candidates", None)
        if callable(build):
            pending.extend(build())


def _routers() -> list[APIRouter]:
    from cinesonic.activity.endpoints import router as activity
    from cinesonic.apikey.endpoints import router as apikey
    from cinesonic.auth.endpoints import router as auth
    from cinesonic.image.endpoints import router as image
    from cinesonic.importer.capacity_endpoints import router as capacity
    from cinesonic.importer.endpoints import router as importer
    from cinesonic.job.endpoints import router as job
    from cinesonic.library.endpoints import router as library
    from cinesonic.metadata.endpoints import images_router as provider_images
    from cinesonic.metadata.endpoints import router as metadata
    from cinesonic.music.endpoints import router as music
    from cinesonic.music.stream_endpoints import router as music_streaming
    from cinesonic.playlist.endpoints import router as playlist
    from cinesonic.rbac.endpoints import router as rbac
    from cinesonic.search.endpoints import router as search
    from cinesonic.search.video_endpoints import router as video_search
    from cinesonic.setting.endpoints import router as setting
    from cinesonic.share.endpoints import public_router as share_links
    from cinesonic.share.endpoints import router as share
    from cinesonic.user.endpoints import router as user
    from cinesonic.video.endpoints import router as video
    from cinesonic.video.watch_endpoints import router as video_watch

    # FastAPI tries routes in order: the hottest (signed-in checks, streams, images, browsing)
    # come first. No two routers here claim the same path.
    return [
        auth,
        music_streaming,
        image,
        music,
        video_watch,  # before `video`: its literal `/movies/recently-added` must win
        video,
        search,
        video_search,
        playlist,
        user,
        rbac,
        apikey,
        activity,
        job,
        setting,
        importer,  # before `library`: its literal `/libraries/staging` must win
        library,
        capacity,
        share,
        share_links,
        metadata,
        provider_images,
    ]


TABLES_CHANNEL = "db.tables"


def _share_table_versions(db: Database, bus: EventBus) -> None:
    """Tell the other processes which tables this one committed writes to, and hear theirs,
    so caches keyed by `Database.table_versions` go stale on every replica at once."""
    origin = uuid.uuid4().hex
    pending: set[asyncio.Task[None]] = set()

    def announce(tables: frozenset[str]) -> None:
        task = asyncio.get_running_loop().create_task(
            bus.publish(TABLES_CHANNEL, {"origin": origin, "tables": sorted(tables)})
        )
        pending.add(task)
        task.add_done_callback(announced)

    def announced(task: asyncio.Task[None]) -> None:
        pending.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # Other replicas' caches then expire by their TTL instead; nothing else is at stake.
            log.warning("table_versions_not_announced", error=repr(error))

    async def heard(data: Any) -> None:
        if isinstance(data, dict) and data.get("origin") != origin:
            db.bump_tables(frozenset(str(name) for name in data.get("tables", ())))

    db.on_tables_committed = announce
    bus.subscribe(TABLES_CHANNEL, heard)


def _declare_jobs() -> None:
    """Import every domain's `tasks` module, so its job types and schedules are registered in
    API-only processes too (the admin's schedule list) and in standalone workers."""
    import cinesonic.importer.capacity_tasks
    import cinesonic.importer.tasks
    import cinesonic.job.tasks
    import cinesonic.library.tasks
    import cinesonic.metadata.tasks
    import cinesonic.search.tasks
    import cinesonic.video.tasks  # noqa: F401


def start_worker(state: AppState) -> Worker:
    """A worker over every job type the domains declare (see `_declare_jobs`)."""
    settings = state.settings
    return Worker(
        state.db,
        state.bus,
        registry,
        settings,
        queues=settings.worker_queues or None,
        concurrency=settings.worker_concurrency,
        lease_seconds=settings.job_lease_seconds,
        heartbeat_seconds=settings.worker_heartbeat_seconds,
        observer=state.metrics if settings.metrics_enabled else None,
    )


def _mailer(settings: Settings) -> Mailer:
    return Mailer(settings.mail_from, settings.outbox_dir, setting_runtime.smtp_config(settings))


@asynccontextmanager
async def running_state(
    settings: Settings, limiter: RateLimiter | None = None, metrics: AppMetrics | None = None
) -> AsyncIterator[AppState]:
    """What a server process (API or standalone worker) runs on: database, event bus with its
    cache-invalidation and settings subscriptions, mailer, and the stored settings applied."""
    _declare_jobs()
    db = Database(settings)
    bus = create_bus(settings.redis_url, settings.redis_prefix)
    state = AppState(
        settings=settings,
        db=db,
        limiter=limiter
        or RateLimiter(
            settings.redis_url, enabled=settings.rate_limit_enabled, prefix=settings.redis_prefix
        ),
        bus=bus,
        mailer=_mailer(settings),
        passwords=Passwords(settings.argon2_time_cost, settings.argon2_memory_cost_kib),
        metrics=metrics or AppMetrics(),
    )

    async def on_invalidation(data: Any) -> None:
        await auth_service.on_invalidation(state, data)

    async def on_settings_changed(data: Any) -> None:
        await setting_runtime.on_changed(state, data)

    bus.subscribe(auth_service.INVALIDATION_CHANNEL, on_invalidation)
    bus.subscribe(setting_runtime.CHANGED_CHANNEL, on_settings_changed)
    if settings.redis_url:
        _share_table_versions(db, bus)
    await bus.start()
    try:
        # Stored settings apply before anything is built from them (the worker, for one).
        await setting_runtime.load(state)
        yield state
    finally:
        await state.mailer.drain()  # deferred mail work still needs the database
        await state.http.aclose()
        await bus.close()
        await db.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.prepare_data_dir()
    limiter = RateLimiter(
        settings.redis_url, enabled=settings.rate_limit_enabled, prefix=settings.redis_prefix
    )
    metrics = AppMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with running_state(settings, limiter, metrics) as state:
            app.state.cinesonic = state
            app.state.hub = Hub(state.bus, realtime.ws_authenticator(state), realtime.may_see)
            engines: LibraryEngines | None = None
            if settings.worker_enabled:
                state.worker = start_worker(state)
                await state.worker.start()
                if not settings.worker_queues or SCAN_QUEUE in settings.worker_queues:
                    # Scan-on-start and the folder watcher live where scans run.
                    engines = LibraryEngines(state.db, state.bus, settings)
                    await engines.start()
            async with state.db.sessionmaker() as session:
                if await user_service.count_users(session) == 0:
                    log.warning(
                        "no_users_yet",
                        hint="Create the first admin with `cinesonic user create-admin`, or "
                        "register: the first account to register becomes the administrator.",
                    )
            try:
                yield {}
            finally:
                if engines is not None:
                    await engines.stop()
                if state.worker is not None:
                    await state.worker.stop()

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
    install_openapi(app)
    app.add_middleware(
        RequestContextMiddleware,
        settings=settings,
        limiter=limiter,
        metrics=metrics if settings.metrics_enabled else None,
    )

    app.router.routes.extend(_api_routes())
    app.router._mark_routes_changed()

    @app.websocket(f"{API_PREFIX}/ws")
    async def events_socket(websocket: WebSocket) -> None:
        """Live events; see `cinesonic.events.websocket`."""
        await websocket.app.state.hub.serve(websocket)

    return app
