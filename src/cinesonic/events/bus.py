"""The event bus: in-process by default, Redis pub/sub when `CINESONIC_REDIS_URL` is set.

`publish(channel, data)` delivers `data` (JSON-able) to every `subscribe(channel, handler)` in
every process sharing the bus — including the publishing one. Handlers must be quick and must
not raise; a failing handler is logged and skipped. This module knows no domain.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

log = structlog.get_logger("cinesonic.events")

Handler = Callable[[Any], Awaitable[None]]


class EventBus:
    """In-process bus; the base for the Redis one."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    def subscribe(self, channel: str, handler: Handler) -> None:
        self._handlers.setdefault(channel, []).append(handler)

    async def publish(self, channel: str, data: Any) -> None:
        await self._deliver(channel, data)

    async def _deliver(self, channel: str, data: Any) -> None:
        for handler in list(self._handlers.get(channel, ())):
            try:
                await handler(data)
            except Exception:
                log.exception("event_handler_failed", channel=channel)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisEventBus(EventBus):
    """Fans events out through Redis pub/sub so every replica's subscribers see them."""

    def __init__(self, url: str, prefix: str = "cinesonic") -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._prefix = prefix
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def _channel(self, channel: str) -> str:
        return f"{self._prefix}:{channel}"

    async def publish(self, channel: str, data: Any) -> None:
        await self._redis.publish(self._channel(channel), json.dumps(data))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="redis-event-bus")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub()
        await pubsub.psubscribe(f"{self._prefix}:*")
        self._ready.set()
        skip = len(self._prefix) + 1
        try:
            async for message in pubsub.listen():
                if message.get("type") != "pmessage":
                    continue
                channel = message["channel"].decode()[skip:]
                await self._deliver(channel, json.loads(message["data"]))
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._redis.aclose()


def create_bus(redis_url: str | None, prefix: str = "cinesonic") -> EventBus:
    return RedisEventBus(redis_url, prefix) if redis_url else EventBus()
