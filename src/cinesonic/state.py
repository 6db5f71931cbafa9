"""What one running app holds for its lifetime, reached from requests as `request.app.state`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.events.bus import EventBus
from cinesonic.kit.cache import TaggedCache
from cinesonic.kit.mail import Mailer
from cinesonic.kit.ratelimit import RateLimiter

if TYPE_CHECKING:
    from cinesonic.auth.principal import Principal
    from cinesonic.auth.security import Passwords


@dataclass
class AppState:
    settings: Settings
    db: Database
    limiter: RateLimiter
    bus: EventBus
    mailer: Mailer
    passwords: Passwords
    auth_cache: TaggedCache[Principal] = field(default_factory=lambda: TaggedCache(ttl=60.0))
