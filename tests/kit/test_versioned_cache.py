"""`VersionedCache`: a result answers only at the versions it was built at, for its TTL at most;
concurrent misses of one key share one build, and a build's failure or cancellation is
handled for its waiters."""

from __future__ import annotations

import asyncio
import time

import pytest

from cinesonic.kit.cache import VersionedCache


def test_result_answers_only_at_its_versions() -> None:
    cache: VersionedCache[str] = VersionedCache(ttl=60)
    cache.set("page", (1, 2), "old")
    assert cache.get("page", (1, 2)) == "old"
    assert cache.get("page", (1, 3)) is None


def test_result_expires_after_the_ttl_and_a_zero_ttl_keeps_nothing() -> None:
    short: VersionedCache[str] = VersionedCache(ttl=0.05)
    short.set("page", (1,), "value")
    time.sleep(0.06)
    assert short.get("page", (1,)) is None
    never: VersionedCache[str] = VersionedCache(ttl=0)
    never.set("page", (1,), "value")
    assert never.get("page", (1,)) is None


async def test_concurrent_misses_share_one_build() -> None:
    cache: VersionedCache[str] = VersionedCache(ttl=60)
    builds = 0

    async def build() -> str:
        nonlocal builds
        builds += 1
        await asyncio.sleep(0.02)
        return "built"

    results = await asyncio.gather(*(cache.get_or_build("k", (1,), build) for _ in range(8)))
    assert results == ["built"] * 8
    assert builds == 1
    assert cache.get("k", (1,)) == "built"


async def test_a_miss_at_newer_versions_builds_again() -> None:
    cache: VersionedCache[int] = VersionedCache(ttl=60)
    assert await cache.get_or_build("k", (1,), _returning(1)) == 1
    assert await cache.get_or_build("k", (1,), _returning(99)) == 1
    assert await cache.get_or_build("k", (2,), _returning(2)) == 2


async def test_a_failed_build_fails_its_waiters_and_keeps_nothing() -> None:
    cache: VersionedCache[str] = VersionedCache(ttl=60)

    async def failing() -> str:
        await asyncio.sleep(0.02)
        raise RuntimeError("database gone")

    results = await asyncio.gather(
        *(cache.get_or_build("k", (1,), failing) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(result, RuntimeError) for result in results)
    assert await cache.get_or_build("k", (1,), _returning("ok")) == "ok"


async def test_a_cancelled_builder_lets_a_waiter_build() -> None:
    cache: VersionedCache[str] = VersionedCache(ttl=60)
    started = asyncio.Event()

    async def slow() -> str:
        started.set()
        await asyncio.sleep(10)
        return "slow"

    builder = asyncio.create_task(cache.get_or_build("k", (1,), slow))
    await started.wait()
    waiter = asyncio.create_task(cache.get_or_build("k", (1,), _returning("waiter")))
    await asyncio.sleep(0)
    builder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await builder
    assert await waiter == "waiter"


async def test_a_cancelled_waiter_leaves_the_build_running() -> None:
    cache: VersionedCache[str] = VersionedCache(ttl=60)
    release = asyncio.Event()

    async def gated() -> str:
        await release.wait()
        return "built"

    builder = asyncio.create_task(cache.get_or_build("k", (1,), gated))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(cache.get_or_build("k", (1,), gated))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    assert await builder == "built"


def _returning(value: object):  # type: ignore[no-untyped-def]
    async def build() -> object:
        return value

    return build
