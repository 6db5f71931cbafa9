"""Prometheus metrics of one running app: HTTP requests, jobs, the database pool, WebSockets,
the process and the build.

Every app holds its own `AppMetrics` with its own `CollectorRegistry` (never the library's
global one: a process may run several apps, as the tests do). The request middleware observes
each request, the worker observes each job attempt (`timed_job`), and `/metrics` calls
`scrape`, which counts the jobs in the database and reads the pool just before encoding.

This module knows no domain: its labels are route templates, job queues and types, never ids
or paths, so the number of series stays bounded however the API is used. The one exception is
the disk capacity of library roots, read from the database at scrape time like the job counts
and labelled by library name and root path: administrators configure those roots, so their
number is bounded too.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import time
from collections.abc import Awaitable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from fastapi.routing import iter_route_contexts
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.pool import QueuePool
from starlette.types import Scope

from cinesonic import __version__
from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.errors import AuthenticationRequired, NotFound
from cinesonic.models.capacity import CapacityStatus, LibraryRootCapacity
from cinesonic.models.job import Job, JobStatus
from cinesonic.models.library import Library, LibraryRoot

T = TypeVar("T")

UNMATCHED_ROUTE = "<unmatched>"
# Clients may send any token as a method; anything else is one label, not a new series each.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0)
# Scrapes closer together than this share one count of the job table.
JOB_COUNTS_MAX_AGE_SECONDS = 1.0
DEFAULT_QUEUE = "default"

# A route (or endpoint), kept alive while its id is a key, and its (pattern, template) pairs.
_Entry = tuple[object, list[tuple[re.Pattern[str] | None, str]]]


class RouteTemplates:
    """The path template (`/api/v1/users/{user_id}`) of the route that served a request.

    FastAPI keeps included routers nested: `scope["route"]` is the route as its router declared
    it (`/users/{user_id}`, without the prefix it was included under, and one object however
    often the router was included). The app's effective routes give the full templates; a
    route included twice (the probes, at the root and under `/api/v1`) is told apart by its
    pattern. Looked up by identity and cached, so a request pays a dict look-up.
    """

    def __init__(self) -> None:
        # Keyed by id(): routes compare by value, so they cannot be dict keys themselves.
        self._by_route: dict[int, _Entry] = {}
        self._by_endpoint: dict[int, _Entry] = {}
        self._unknown: dict[int, _Entry] = {}

    def _index(self, routes: Iterable[Any]) -> None:
        by_route: dict[int, _Entry] = {}
        by_endpoint: dict[int, _Entry] = {}
        for context in iter_route_contexts(list(routes)):
            template = context.path_format
            if not template:
                continue
            candidate = (getattr(context, "path_regex", None), template)
            original = context.original_route
            by_route.setdefault(id(original), (original, []))[1].append(candidate)
            endpoint = context.endpoint
            if endpoint is not None:
                by_endpoint.setdefault(id(endpoint), (endpoint, []))[1].append(candidate)
        self._by_route, self._by_endpoint = by_route, by_endpoint

    def resolve(self, scope: Scope) -> str:
        key = scope.get("route")
        by_route = key is not None
        if not by_route:
            # Routes the app declares itself (the OpenAPI document, the docs) leave only their
            # endpoint in the scope.
            key = scope.get("endpoint")
            if key is None:
                return UNMATCHED_ROUTE
        entry = (self._by_route if by_route else self._by_endpoint).get(id(key))
        if entry is None:
            entry = self._unknown.get(id(key))
        if entry is None:
            # Routes may be added after the first request (tests mount their own).
            self._index(getattr(scope.get("app"), "routes", ()))
            entry = (self._by_route if by_route else self._by_endpoint).get(id(key))
            if entry is None:  # not one of the app's own routes (a mounted app's, say)
                fallback = getattr(key, "path_format", None) or UNMATCHED_ROUTE
                entry = self._unknown[id(key)] = (key, [(None, fallback)])
        candidates = entry[1]
        if len(candidates) == 1:
            return candidates[0][1]
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        for pattern, template in candidates:
            if pattern is not None and pattern.match(path):
                return template
        return candidates[0][1]


class RunningJob(Protocol):
    """What `timed_job` needs to know of a job attempt (the worker's `JobContext`)."""

    @property
    def job_type(self) -> str: ...

    @property
    def cancelled(self) -> bool: ...


class JobObserver(Protocol):
    def observe_job(self, queue: str, job_type: str, outcome: str, seconds: float) -> None: ...


async def timed_job(
    observer: JobObserver | None, queue: str, job: RunningJob, work: Awaitable[T]
) -> T:
    """Await a job handler and tell `observer` how long the attempt took and how it ended:
    `succeeded`, `failed` (raised; retried or dead, as the job's status says), `cancelled`, or
    `interrupted` (the worker stopped and hands the job back)."""
    if observer is None:
        return await work
    started = time.perf_counter()
    outcome = "interrupted"
    try:
        result = await work
        outcome = "succeeded"
        return result
    except asyncio.CancelledError:
        outcome = "cancelled" if job.cancelled else "interrupted"
        raise
    except Exception:
        outcome = "cancelled" if job.cancelled else "failed"
        raise
    finally:
        observer.observe_job(queue, job.job_type, outcome, time.perf_counter() - started)


class _StateCollector(Collector):
    """Gauges read when scraped: jobs by status (from `AppMetrics.scrape`'s count), the
    database pool, open WebSocket connections."""

    def __init__(self, metrics: AppMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        jobs = GaugeMetricFamily(
            "cinesonic_jobs",
            "Jobs in the database by status and queue.",
            labels=["status", "queue"],
        )
        queues = {queue for queue, _status in metrics.job_counts} | {DEFAULT_QUEUE}
        for queue in sorted(queues):
            for status in JobStatus:
                count = metrics.job_counts.get((queue, status.value), 0)
                jobs.add_metric([status.value, queue], count)
        yield jobs
        pool = metrics.pool
        if isinstance(pool, QueuePool):
            for name, documentation, value in (
                ("size", "Connections the pool keeps open.", pool.size()),
                ("checked_out", "Connections in use.", pool.checkedout()),
                ("checked_in", "Idle connections in the pool.", pool.checkedin()),
                # QueuePool counts overflow from -size; above zero it has opened extra ones.
                ("overflow", "Connections opened beyond the pool size.", max(0, pool.overflow())),
            ):
                yield GaugeMetricFamily(f"cinesonic_db_pool_{name}", documentation, value=value)
        if metrics.websocket_connections is not None:
            yield GaugeMetricFamily(
                "cinesonic_websocket_connections",
                "Open WebSocket connections (`/api/v1/ws`).",
                value=metrics.websocket_connections,
            )
        yield from _root_capacity_gauges(metrics.root_capacity)


def _root_capacity_gauges(samples: list[RootCapacitySample]) -> Iterator[Metric]:
    used = GaugeMetricFamily(
        "cinesonic_library_root_used_ratio",
        "Share of a library root's disk in use (0-1) at its last successful probe; absent "
        "while its latest probe failed or before the first one.",
        labels=["library", "path"],
    )
    status = GaugeMetricFamily(
        "cinesonic_library_root_status",
        "Capacity status of a library root: 1 for its current status, 0 for the others.",
        labels=["library", "path", "status"],
    )
    for sample in samples:
        if sample.used_ratio is not None and sample.status != CapacityStatus.unknown:
            used.add_metric([sample.library, sample.path], sample.used_ratio)
        for value in CapacityStatus:
            status.add_metric(
                [sample.library, sample.path, value.value], float(sample.status == value)
            )
    yield used
    yield status


@dataclass(frozen=True)
class RootCapacitySample:
    library: str
    path: str
    status: CapacityStatus
    used_ratio: float | None


class AppMetrics:
    """The metrics of one app, in their own registry."""

    def __init__(
        self, version: str = __version__, *, job_counts_max_age: float = JOB_COUNTS_MAX_AGE_SECONDS
    ) -> None:
        # `*_created` samples would double the series for a timestamp Prometheus does not use
        # (a switch of the library, for the whole process).
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "cinesonic_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "cinesonic_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.job_duration = Histogram(
            "cinesonic_job_duration_seconds",
            "Time a job attempt ran in this process's worker, by queue, type and outcome.",
            ["queue", "type", "outcome"],
            buckets=JOB_BUCKETS,
            registry=registry,
        )
        Info("cinesonic_build", "The running cinesonic.", registry=registry).info(
            {"version": version}
        )
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        registry.register(_StateCollector(self))
        self.routes = RouteTemplates()
        self._request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.job_counts: dict[tuple[str, str], int] = {}
        self.pool: object = None
        self.websocket_connections: int | None = None
        self._job_counts_max_age = job_counts_max_age
        self._job_counts_at = -float("inf")
        self._job_counts_lock = asyncio.Lock()
        self.root_capacity: list[RootCapacitySample] = []
        self._root_capacity_at = -float("inf")
        self._root_capacity_lock = asyncio.Lock()

    def observe_request(self, scope: Scope, status: int, seconds: float) -> None:
        method: str = scope["method"]
        if method not in _METHODS:
            method = "OTHER"
        route = self.routes.resolve(scope)
        key = (method, route, status)
        series = self._request_series.get(key)
        if series is None:
            series = self._request_series[key] = (
                self.requests.labels(method, route, str(status)),
                self.request_duration.labels(method, route),
            )
        series[0].inc()
        series[1].observe(seconds)

    def observe_job(self, queue: str, job_type: str, outcome: str, seconds: float) -> None:
        self.job_duration.labels(queue, job_type, outcome).observe(seconds)

    async def _count_jobs(self, db: Database) -> None:
        async with self._job_counts_lock:
            if time.monotonic() - self._job_counts_at < self._job_counts_max_age:
                return  # a scrape a moment ago (or the one we waited for) just counted
            async with db.sessionmaker() as session:
                rows = await session.execute(
                    select(Job.queue, Job.status, func.count()).group_by(Job.queue, Job.status)
                )
                self.job_counts = {
                    (queue, JobStatus(status).value): count for queue, status, count in rows
                }
            self._job_counts_at = time.monotonic()

    async def _read_root_capacity(self, db: Database) -> None:
        """Every library root's latest capacity probe, as stored by whichever process ran it."""
        async with self._root_capacity_lock:
            if time.monotonic() - self._root_capacity_at < self._job_counts_max_age:
                return
            async with db.sessionmaker() as session:
                rows = await session.execute(
                    select(
                        Library.name,
                        LibraryRoot.path,
                        LibraryRootCapacity.status,
                        LibraryRootCapacity.used_bytes,
                        LibraryRootCapacity.free_bytes,
                    )
                    .join(Library, Library.id == LibraryRoot.library_id)
                    .outerjoin(LibraryRootCapacity, LibraryRootCapacity.root_id == LibraryRoot.id)
                    .order_by(Library.name, LibraryRoot.path)
                )
                self.root_capacity = [
                    RootCapacitySample(
                        library=library,
                        path=path,
                        status=CapacityStatus(status or CapacityStatus.unknown),
                        used_ratio=(
                            used / (used + free)
                            if used is not None and free is not None and used + free
                            else None
                        ),
                    )
                    for library, path, status, used, free in rows
                ]
            self._root_capacity_at = time.monotonic()

    async def scrape(
        self, db: Database, *, websocket_connections: int | None, accept: str = ""
    ) -> tuple[bytes, str]:
        """The exposition (Prometheus text, or OpenMetrics when `accept` asks for it) and its
        content type, with the job counts, root capacity, pool and connection gauges read
        now."""
        await self._count_jobs(db)
        await self._read_root_capacity(db)
        self.pool = db.engine.pool
        self.websocket_connections = websocket_connections
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


class MetricsDisabled(NotFound):
    message = "Metrics are turned off on this server (`metrics_enabled`)."


class MetricsTokenRequired(AuthenticationRequired):
    message = "Send the metrics token as 'Authorization: Bearer <token>'."


def authorize_scrape(settings: Settings, authorization: str | None) -> None:
    """`/metrics` answers 404 when turned off and, with `metrics_token` set, 401 unless the
    request presents it as a bearer token."""
    if not settings.metrics_enabled:
        raise MetricsDisabled()
    if settings.metrics_token is None:
        return
    scheme, _, presented = (authorization or "").partition(" ")
    expected = settings.metrics_token.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        raise MetricsTokenRequired()
