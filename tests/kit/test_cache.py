"""`TaggedCache`: tags drop related entries; per-entry TTLs shorten, never lengthen, a life."""

from __future__ import annotations

import time

from cinesonic.kit.cache import TaggedCache


def test_entry_with_a_shorter_ttl_expires_first() -> None:
    cache: TaggedCache[str] = TaggedCache(ttl=60.0)
    cache.set("short", "a", ttl=0.05)
    cache.set("default", "b")
    time.sleep(0.06)
    assert cache.get("short") is None
    assert cache.get("default") == "b"


def test_per_entry_ttl_never_exceeds_the_default() -> None:
    cache: TaggedCache[str] = TaggedCache(ttl=0.05)
    cache.set("key", "a", ttl=3600.0)
    time.sleep(0.06)
    assert cache.get("key") is None


def test_entry_with_no_time_left_is_not_stored() -> None:
    cache: TaggedCache[str] = TaggedCache(ttl=60.0)
    cache.set("key", "a", tags=["t"], ttl=-1.0)
    assert cache.get("key") is None
    assert len(cache) == 0


def test_invalidating_a_tag_drops_its_entries_only() -> None:
    cache: TaggedCache[str] = TaggedCache()
    cache.set("a", "1", tags=["user:1", "apikey:9"])
    cache.set("b", "2", tags=["user:1"])
    cache.set("c", "3", tags=["user:2"])
    cache.invalidate_tag("apikey:9")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, "2", "3")


def test_value_loaded_across_an_invalidation_is_not_kept() -> None:
    cache: TaggedCache[str] = TaggedCache(ttl=60)
    generation = cache.generation
    cache.invalidate_tag("user:1")  # a revocation commits while the value was being loaded
    cache.set("session:1", "stale", tags=["user:1"], loaded_at_generation=generation)
    assert cache.get("session:1") is None
    cache.set("session:1", "fresh", tags=["user:1"], loaded_at_generation=cache.generation)
    assert cache.get("session:1") == "fresh"
