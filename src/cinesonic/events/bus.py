"""The event bus: in-process by default, Redis pub/sub when `CINESONIC_REDIS_URL` is set.

`publish(channel, data)` delivers `data` (JSON-able) to every `subscribe(channel, handler)` in
every process sharing the bus — including the publishing one. Handlers must be quick and must
not raise; a failing handler is logged and skipped. This module knows no domain.
"""

from __future__ import annotations

import asyncio
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
    """Fans events out through Redis pub/sub so every replica's subscribers see them.

    All events of one prefix travel on one exact channel, `<prefix>:events`, as
    `{"channel", "data"}`: an exact SUBSCRIBE (not a pattern) keeps prefixes that extend one
    another (`cinesonic`, `cinesonic:staging`) or hold glob characters from hearing each other.
    """

    def __init__(self, url: str, prefix: str = "cinesonic") -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._topic = f"{prefix}:events"
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def publish(self, channel: str, data: Any) -> None:
        await self._redis.publish(self._topic, json.dumps({"channel": channel, "data": data}))

    async def start(self) -> None:
        """Return once Redis has confirmed the subscription (so no later event is missed);
        raise the connection error if it cannot."""
        self._task = asyncio.create_task(self._listen(), name="redis-event-bus")
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait({ready, self._task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if not self._ready.is_set():
            if self._task.done():
                self._task.result()
            raise TimeoutError(f"Redis did not confirm the subscription to {self._topic}")

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self._topic)
            async for message in pubsub.listen():
                kind = message.get("type")
                if kind == "subscribe":
                    self._ready.set()
                    continue
                if kind != "message":
                    continue
                try:
                    event = json.loads(message["data"])
                    channel, data = event["channel"], event["data"]
                except (ValueError, TypeError, KeyError):
                    # Someone else's traffic on our channel must not stop the bus.
                    log.warning("event_bus_message_ignored", topic=self._topic)
                    continue
                await self._deliver(channel, data)
        except Exception:
            if not self._ready.is_set():
                raise  # start() reports it
            log.exception("event_bus_listener_stopped", topic=self._topic)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # The listener logs its own failures; closing must not raise them again.
            await asyncio.gather(self._task, return_exceptions=True)
        await self._redis.aclose()


def create_bus(redis_url: str | None, prefix: str = "cinesonic") -> EventBus:
    return RedisEventBus(redis_url, prefix) if redis_url else EventBus()
