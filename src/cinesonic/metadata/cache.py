"""Provider answers kept in the `metadata_cache` table, inside the caller's transaction.

A fresh entry is answered as it was fetched; an expired one counts as absent and the next fetch
replaces it in place (one upsert, safe against two first fetches racing). The table holds
provider payloads only — nothing a user wrote — so entries are written, never audited.

Writes wait in memory until `write_pending()`, which the caller runs once its provider calls
are over: on SQLite the first write takes the database's write lock until the transaction
commits, and it must not be held across further calls to a remote server.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from cinesonic.kit.ids import uuid7
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.metadata import MetadataCacheEntry

_REPLACED = ("payload", "fetched_at", "expires_at")


class DatabaseCache:
    """A `tmdb.ResponseCache` over the `metadata_cache` table."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._pending: dict[tuple[str, str], dict[str, Any]] = {}

    async def get(self, provider: str, key: str) -> Any | None:
        pending = self._pending.get((provider, key))
        if pending is not None:
            return pending["payload"]
        payload = await self._session.scalar(
            select(MetadataCacheEntry.payload).where(
                MetadataCacheEntry.provider == provider,
                MetadataCacheEntry.key == key,
                MetadataCacheEntry.expires_at > utcnow(),
            )
        )
        return payload

    async def put(self, provider: str, key: str, payload: Any, ttl: timedelta) -> None:
        now = utcnow()
        row = {
            "id": uuid7(),
            "provider": provider,
            "key": key,
            "payload": payload,
            "fetched_at": now,
            "expires_at": now + ttl,
        }
        self._pending[(provider, key)] = row

    async def write_pending(self) -> None:
        rows, self._pending = list(self._pending.values()), {}
        dialect = self._session.get_bind().dialect.name
        for row in rows:
            await self._session.execute(_upsert(dialect, row))


def _upsert(dialect: str, row: dict[str, Any]) -> Executable:
    if dialect == "postgresql":
        pg = postgresql.insert(MetadataCacheEntry).values(row)
        return pg.on_conflict_do_update(
            index_elements=["provider", "key"], set_={name: pg.excluded[name] for name in _REPLACED}
        )
    lite = sqlite.insert(MetadataCacheEntry).values(row)
    return lite.on_conflict_do_update(
        index_elements=["provider", "key"], set_={name: lite.excluded[name] for name in _REPLACED}
    )
