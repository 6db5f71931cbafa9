"""What image requests resolved to, kept in memory: for an image id and a requested size, the
file with its validators and — for small files, thumbnails above all — the bytes themselves, so
a repeated `GET /images/{id}?size=` needs neither the database nor the disk.

Keeping them is safe because an image never changes: its id names one row, which names one
content-addressed blob, and the store never rewrites a name with other bytes. Nothing in the app
deletes images; entries still expire after `ttl` seconds, so a row or file removed by hand stops
being served within that time. Only bodies of at most `max_body_bytes` are kept (larger files
are streamed from disk, resolved afresh each time), and never more than `max_bytes` in all:
least recently used entries go first. It must never hold anything a caller may not see — every
route reaching it authorizes before asking.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cinesonic.image.service import ImageFile

Key = tuple[uuid.UUID, int | None]


class ImageCache:
    def __init__(
        self,
        *,
        ttl: float = 300.0,
        max_bytes: int = 64 * 1024 * 1024,
        max_body_bytes: int = 512 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_bytes = max_bytes
        self.max_body_bytes = max_body_bytes
        self._entries: OrderedDict[Key, tuple[float, ImageFile]] = OrderedDict()
        self._bytes = 0

    def get(self, image_id: uuid.UUID, size: int | None) -> ImageFile | None:
        key = (image_id, size)
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, found = entry
        if expires <= self.clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return found

    @property
    def largest_body(self) -> int:
        """The largest file, in bytes, worth reading into memory for this cache (-1: none)."""
        return min(self.max_body_bytes, self.max_bytes) if self.ttl > 0 else -1

    def put(self, image_id: uuid.UUID, size: int | None, found: ImageFile) -> None:
        """Keep `found` for requests of `(image_id, size)` if it carries its (small) body."""
        if found.body is None or len(found.body) > self.largest_body:
            return
        key = (image_id, size)
        self._drop(key)
        self._entries[key] = (self.clock() + self.ttl, found)
        self._bytes += len(found.body)
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and entry[1].body is not None:
            self._bytes -= len(entry[1].body)

    @property
    def size_bytes(self) -> int:
        """The bytes of bodies held."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
