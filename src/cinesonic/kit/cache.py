"""A small in-process cache whose entries carry tags, so one write can drop every entry it
made stale (`invalidate_tag("user:…")`). Entries also expire after `ttl` seconds as a safety net,
or sooner when `set` is given a shorter per-entry `ttl` (a credential that expires in ten seconds
must not outlive its expiry in the cache). Cross-process invalidation is the caller's business
(see `cinesonic.events`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

V = TypeVar("V")


class TaggedCache(Generic[V]):
    def __init__(self, *, ttl: float = 60.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, V, frozenset[str]]] = OrderedDict()
        self._by_tag: dict[str, set[str]] = {}
        self._generation = 0

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value, _tags = entry
        if expires < time.monotonic():
            self._drop(key)
            return None
        return value

    @property
    def generation(self) -> int:
        """Bumped by every invalidation. Read it before loading a value and pass it to `set`:
        a value loaded while something was invalidated may already be stale, so it is not kept."""
        return self._generation

    def set(
        self,
        key: str,
        value: V,
        tags: Iterable[str] = (),
        *,
        ttl: float | None = None,
        loaded_at_generation: int | None = None,
    ) -> None:
        """Store `value` under `key` for `ttl` seconds (the cache's default when None; never
        longer than the default)."""
        if loaded_at_generation is not None and loaded_at_generation != self._generation:
            return
        self._drop(key)
        lifetime = self.ttl if ttl is None else min(ttl, self.ttl)
        if lifetime <= 0:
            return
        frozen = frozenset(tags)
        self._entries[key] = (time.monotonic() + lifetime, value, frozen)
        for tag in frozen:
            self._by_tag.setdefault(tag, set()).add(key)
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))

    def invalidate(self, key: str) -> None:
        self._generation += 1
        self._drop(key)

    def invalidate_tag(self, tag: str) -> None:
        self._generation += 1
        for key in list(self._by_tag.pop(tag, ())):
            self._drop(key)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._by_tag.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for tag in entry[2]:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]


class VersionedCache(Generic[V]):
    """Results kept while the versions they were computed at are still current.

    The caller reads the versions of what a result depends on (for the database, the write
    counts of its tables) *before* computing it, and asks again with the versions of the
    moment: a result is answered only while they are equal, and for `ttl` seconds at most (the
    bound for changes the versions cannot see). Least recently stored results go first past
    `max_entries`; a `ttl` of 0 keeps nothing."""

    def __init__(self, *, ttl: float, max_entries: int = 4096) -> None:
        self._entries: TaggedCache[tuple[tuple[int, ...], V]] = TaggedCache(
            ttl=ttl, max_entries=max_entries
        )
        self._flights: dict[str, tuple[tuple[int, ...], asyncio.Future[V]]] = {}

    async def get_or_build(
        self, key: str, versions: tuple[int, ...], build: Callable[[], Awaitable[V]]
    ) -> V:
        """The result for `key`, built by `build` when it is missing or stale. Concurrent
        callers missing the same key at the same versions share one build (when an entry
        expires under load, one request rebuilds it while the others wait, instead of every
        request in flight doing the same work at once). A failed build fails its waiters
        too; a cancelled one (its client went away) lets a waiter build in its place."""
        while True:
            value = self.get(key, versions)
            if value is not None:
                return value
            flight = self._flights.get(key)
            if flight is None or flight[0] != versions:
                break
            with contextlib.suppress(asyncio.CancelledError):
                # shield: a waiter that is cancelled itself does not cancel the build.
                return await asyncio.shield(flight[1])
            if not flight[1].cancelled():
                raise asyncio.CancelledError  # this waiter's own cancellation
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        # Retrieved here so that a failure nobody waited for is not logged as unretrieved.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._flights[key] = (versions, future)
        try:
            value = await build()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            raise
        finally:
            if self._flights.get(key, (None, None))[1] is future:
                del self._flights[key]
        self.set(key, versions, value)
        future.set_result(value)
        return value

    def get(self, key: str, versions: tuple[int, ...]) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != versions:
            return None
        return entry[1]

    def set(self, key: str, versions: tuple[int, ...], value: V) -> None:
        self._entries.set(key, (versions, value))

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
