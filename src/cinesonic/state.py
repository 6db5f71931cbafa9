"""What one running app holds for its lifetime, reached from requests as `request.app.state`."""

from __future__ import annotations

import functools
import ssl
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import certifi
import httpx

from cinesonic import __version__
from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.events.bus import EventBus
from cinesonic.kit.cache import TaggedCache
from cinesonic.kit.mail import Mailer
from cinesonic.kit.ratelimit import RateLimiter
from cinesonic.metrics import AppMetrics


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's trusted certificates (certifi's), loaded once per process (~20 ms each time)."""
    return ssl.create_default_context(cafile=certifi.where())


def _http_client() -> httpx.AsyncClient:
    """The one outbound HTTP client (TMDb, later Plex, *arr, peers): pooled connections; each
    caller passes its own timeout per request."""
    return httpx.AsyncClient(
        verify=_tls_context(),
        timeout=httpx.Timeout(10.0),
        follow_redirects=True,
        headers={"User-Agent": f"cinesonic/{__version__}"},
    )


def new_http_client() -> httpx.AsyncClient:
    """An outbound client configured as the app's, for code without an `AppState` (job
    handlers); the caller closes it."""
    return _http_client()


if TYPE_CHECKING:
    from cinesonic.auth.principal import Principal
    from cinesonic.auth.security import Passwords
    from cinesonic.setting.runtime import SettingsRuntime
    from cinesonic.worker.runner import Worker


@dataclass
class AppState:
    settings: Settings
    db: Database
    limiter: RateLimiter
    bus: EventBus
    mailer: Mailer
    passwords: Passwords
    auth_cache: TaggedCache[Principal] = field(default_factory=lambda: TaggedCache(ttl=60.0))
    # Costly aggregates kept briefly (the accounts summary); each entry sets its own TTL.
    aggregates: TaggedCache[object] = field(default_factory=lambda: TaggedCache(ttl=60.0))
    # API key id → monotonic time its use was last written (throttles `apikey_service.touch`).
    api_key_touched: dict[uuid.UUID, float] = field(default_factory=dict)
    # The in-process job worker, when this process runs one (`worker_enabled`).
    worker: Worker | None = None
    # The server's own setting values and which the environment pins (`setting.runtime`).
    settings_runtime: SettingsRuntime | None = None
    # Prometheus metrics of this app (`/metrics`), in a registry of its own.
    metrics: AppMetrics = field(default_factory=AppMetrics)
    # Outbound HTTP to remote services; closed with the app (`app.running_state`).
    http: httpx.AsyncClient = field(default_factory=_http_client)
