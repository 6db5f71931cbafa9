"""A small in-process cache whose entries carry tags, so one write can drop every entry it
made stale (`invalidate_tag("user:…")`). Entries also expire after `ttl` seconds as a safety net.
Cross-process invalidation is the caller's business (see `cinesonic.events`)."""

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

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value, _tags = entry
        if expires < time.monotonic():
            self._drop(key)
            return None
        return value

    def set(self, key: str, value: V, tags: Iterable[str] = ()) -> None:
        self._drop(key)
        frozen = frozenset(tags)
        self._entries[key] = (time.monotonic() + self.ttl, value, frozen)
        for tag in frozen:
            self._by_tag.setdefault(tag, set()).add(key)
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))

    def invalidate(self, key: str) -> None:
        self._drop(key)

    def invalidate_tag(self, tag: str) -> None:
        for key in list(self._by_tag.pop(tag, ())):
            self._drop(key)

    def clear(self) -> None:
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
