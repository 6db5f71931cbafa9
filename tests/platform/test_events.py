"""The event bus: in-process delivery, and Redis fan-out between replicas sharing a prefix."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from cinesonic.events.bus import EventBus, RedisEventBus, create_bus
from tests.conftest import REDIS_URL

needs_redis = pytest.mark.skipif(REDIS_URL is None, reason="CINESONIC_TEST_REDIS_URL is unset")


class Inbox:
    """Collects what a handler receives and lets a test wait for it."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._arrived = asyncio.Condition()

    async def handler(self, data: Any) -> None:
        async with self._arrived:
            self.items.append(data)
            self._arrived.notify_all()

    async def wait_for(self, count: int) -> list[Any]:
        async with asyncio.timeout(5), self._arrived:
            await self._arrived.wait_for(lambda: len(self.items) >= count)
        return self.items


def new_prefix() -> str:
    return f"cinesonic-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_buses() -> AsyncIterator[Callable[[str], Any]]:
    """Starts Redis buses on demand and closes them all at the end of the test."""
    async with AsyncExitStack() as stack:

        async def start(prefix: str) -> RedisEventBus:
            assert REDIS_URL is not None
            bus = RedisEventBus(REDIS_URL, prefix)
            await bus.start()
            stack.push_async_callback(bus.close)
            return bus

        yield start


async def test_in_memory_bus_delivers_to_every_subscriber() -> None:
    bus = EventBus()
    first, second = Inbox(), Inbox()
    bus.subscribe("library", first.handler)
    bus.subscribe("library", second.handler)
    await bus.publish("library", {"scan": 1})
    assert first.items == [{"scan": 1}]
    assert second.items == [{"scan": 1}]


async def test_in_memory_bus_keeps_channels_apart() -> None:
    bus = EventBus()
    jobs = Inbox()
    bus.subscribe("jobs", jobs.handler)
    await bus.publish("library", {"scan": 1})
    await bus.publish("jobs", {"job": 2})
    assert jobs.items == [{"job": 2}]


async def test_publish_without_subscribers_is_quiet() -> None:
    await EventBus().publish("nobody-listens", {"x": 1})


async def test_failing_handler_does_not_stop_the_others() -> None:
    bus = EventBus()
    inbox = Inbox()

    async def broken(_data: Any) -> None:
        raise RuntimeError("handler bug")

    bus.subscribe("jobs", broken)
    bus.subscribe("jobs", inbox.handler)
    await bus.publish("jobs", {"job": 1})
    assert inbox.items == [{"job": 1}]


def test_without_redis_the_bus_is_in_process() -> None:
    assert type(create_bus(None)) is EventBus


@needs_redis
async def test_with_redis_the_bus_fans_out_through_redis() -> None:
    assert REDIS_URL is not None
    bus = create_bus(REDIS_URL, new_prefix())
    try:
        assert isinstance(bus, RedisEventBus)
    finally:
        await bus.close()


@needs_redis
async def test_redis_bus_delivers_to_its_own_subscribers(
    redis_buses: Callable[[str], Any],
) -> None:
    bus = await redis_buses(new_prefix())
    inbox = Inbox()
    bus.subscribe("jobs", inbox.handler)
    await bus.publish("jobs", {"job": 1, "state": "done"})
    assert await inbox.wait_for(1) == [{"job": 1, "state": "done"}]


@needs_redis
async def test_event_reaches_every_replica_sharing_the_prefix(
    redis_buses: Callable[[str], Any],
) -> None:
    prefix = new_prefix()
    publisher, replica = await redis_buses(prefix), await redis_buses(prefix)
    here, there = Inbox(), Inbox()
    publisher.subscribe("library", here.handler)
    replica.subscribe("library", there.handler)
    await publisher.publish("library", {"library_id": "a1"})
    assert await here.wait_for(1) == [{"library_id": "a1"}]
    assert await there.wait_for(1) == [{"library_id": "a1"}]


@needs_redis
async def test_replicas_receive_events_in_publish_order(
    redis_buses: Callable[[str], Any],
) -> None:
    prefix = new_prefix()
    publisher, replica = await redis_buses(prefix), await redis_buses(prefix)
    inbox = Inbox()
    replica.subscribe("jobs", inbox.handler)
    for number in range(20):
        await publisher.publish("jobs", number)
    assert await inbox.wait_for(20) == list(range(20))


@needs_redis
async def test_buses_with_different_prefixes_are_isolated(
    redis_buses: Callable[[str], Any],
) -> None:
    mine, theirs = await redis_buses(new_prefix()), await redis_buses(new_prefix())
    mine_inbox, their_inbox = Inbox(), Inbox()
    mine.subscribe("jobs", mine_inbox.handler)
    theirs.subscribe("jobs", their_inbox.handler)
    await theirs.publish("jobs", {"from": "theirs"})
    await mine.publish("jobs", {"from": "mine"})
    # Each bus sees its own event; had the other's leaked, it would have arrived first.
    assert await mine_inbox.wait_for(1) == [{"from": "mine"}]
    assert await their_inbox.wait_for(1) == [{"from": "theirs"}]


@needs_redis
async def test_prefix_that_extends_another_is_still_isolated(
    redis_buses: Callable[[str], Any],
) -> None:
    base = new_prefix()
    outer, inner = await redis_buses(base), await redis_buses(f"{base}:nested")
    outer_inbox, inner_inbox = Inbox(), Inbox()
    outer.subscribe("nested:jobs", outer_inbox.handler)
    inner.subscribe("jobs", inner_inbox.handler)
    await inner.publish("jobs", {"from": "inner"})
    await outer.publish("nested:jobs", {"from": "outer"})
    assert await inner_inbox.wait_for(1) == [{"from": "inner"}]
    assert await outer_inbox.wait_for(1) == [{"from": "outer"}]


@needs_redis
async def test_message_that_is_not_json_does_not_stop_the_bus(
    redis_buses: Callable[[str], Any],
) -> None:
    assert REDIS_URL is not None
    prefix = new_prefix()
    bus = await redis_buses(prefix)
    inbox = Inbox()
    bus.subscribe("jobs", inbox.handler)
    raw = aioredis.from_url(REDIS_URL)
    try:
        await raw.publish(f"{prefix}:jobs", b"\xff not json")
    finally:
        await raw.aclose()
    await bus.publish("jobs", {"after": "garbage"})
    assert await inbox.wait_for(1) == [{"after": "garbage"}]


@needs_redis
async def test_prefix_with_glob_characters_matches_only_itself(
    redis_buses: Callable[[str], Any],
) -> None:
    unique = uuid.uuid4().hex[:12]
    wildcard, literal = await redis_buses(f"t?{unique}"), await redis_buses(f"tX{unique}")
    wildcard_inbox, literal_inbox = Inbox(), Inbox()
    wildcard.subscribe("jobs", wildcard_inbox.handler)
    literal.subscribe("jobs", literal_inbox.handler)
    await literal.publish("jobs", {"from": "literal"})
    await wildcard.publish("jobs", {"from": "wildcard"})
    assert await wildcard_inbox.wait_for(1) == [{"from": "wildcard"}]
    assert await literal_inbox.wait_for(1) == [{"from": "literal"}]


async def test_redis_bus_that_cannot_connect_fails_to_start() -> None:
    bus = RedisEventBus("redis://127.0.0.1:1/0", new_prefix())  # nothing listens on port 1
    try:
        with pytest.raises(RedisConnectionError):
            await bus.start()
    finally:
        await bus.close()
