"""Provider answers kept for a while: one row per provider and normalised request.

`key` is the request path with its parameters sorted and folded (`tmdb.cache_key`); the API
key is never part of it. A row past `expires_at` is not used and is replaced by the next fetch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cinesonic.models.base import Base, IdMixin


class MetadataCacheEntry(IdMixin, Base):
    __tablename__ = "metadata_cache"
    __table_args__ = (UniqueConstraint("provider", "key"),)

    provider: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(1024))
    payload: Mapped[Any] = mapped_column(JSON)
    fetched_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
