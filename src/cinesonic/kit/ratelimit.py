"""Rate limits on the `limits` library: memory counters in one process, Redis across replicas.

Limits use its notation ("5/15minutes"). A hit answers whether it may pass and the numbers the
`RateLimit-*` headers need; `RateLimited` carries them to the client with `Retry-After`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from cinesonic.errors import RateLimited


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window frees a slot
    window_seconds: int = 0  # the rule's period ("100/hour": 3600)

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset_after))
        return headers


class RateLimiter:
    def __init__(
        self, redis_url: str | None = None, *, enabled: bool = True, prefix: str = "cinesonic"
    ) -> None:
        self.enabled = enabled
        storage: Storage
        if redis_url:
            storage = RedisStorage(
                redis_url.replace("redis://", "async+redis://", 1)
                if redis_url.startswith("redis://")
                else redis_url,
                implementation="redispy",
                key_prefix=f"{prefix}:ratelimit",
            )
        else:
            storage = MemoryStorage()
        self.storage = storage
        self._strategy = SlidingWindowCounterRateLimiter(storage)
        self._parsed: dict[str, RateLimitItem] = {}

    def _item(self, rule: str) -> RateLimitItem:
        item = self._parsed.get(rule)
        if item is None:
            item = self._parsed[rule] = parse(rule)
        return item

    async def hit(self, rule: str, *key: str, cost: int = 1) -> RateDecision:
        item = self._item(rule)
        if not self.enabled:
            return RateDecision(True, item.amount, item.amount, 0, item.get_expiry())
        allowed = await self._strategy.hit(item, *key, cost=cost)
        stats = await self._strategy.get_window_stats(item, *key)
        reset_after = max(0, math.ceil(stats.reset_time - time.time()))
        return RateDecision(
            allowed, item.amount, max(0, stats.remaining), reset_after, item.get_expiry()
        )

    async def check(self, rule: str, *key: str, message: str | None = None) -> RateDecision:
        """Count a hit; raise `RateLimited` (with its headers) when over the limit."""
        decision = await self.hit(rule, *key)
        if not decision.allowed:
            raise RateLimited(message, headers=decision.headers())
        return decision

    async def reset(self, rule: str, *key: str) -> None:
        await self._strategy.clear(self._item(rule), *key)
