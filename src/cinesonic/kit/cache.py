"""A small in-process cache whose entries carry tags, so one write can drop every entry it
made stale (`invalidate_tag("user:…")`). Entries also expire after `ttl` seconds as a safety net,
or sooner when `set` is given a shorter per-entry `ttl` (a credential that expires in ten seconds
must not outlive its expiry in the cache). Cross-process invalidation is the caller's business
(see `cinesonic.events`)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
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
