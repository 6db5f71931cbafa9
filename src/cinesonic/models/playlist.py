"""Playlists: ordered songs owned by a user, public or private.

Items are rows with a `position` (0-based, dense after every edit); the same song may appear more
than once. A song whose file disappeared stays in the playlist (`song.removed_at` says it is
unavailable). `song_count` and `duration` are kept up to date by the playlist service.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.base import Base, IdMixin, TimestampMixin


class Playlist(IdMixin, TimestampMixin, Base):
    __tablename__ = "playlist"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(default=False)
    song_count: Mapped[int] = mapped_column(default=0)
    duration: Mapped[float] = mapped_column(Float, default=0.0)


class PlaylistItem(IdMixin, Base):
    __tablename__ = "playlist_item"
    __table_args__ = (Index("ix_playlist_item_order", "playlist_id", "position"),)

    playlist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("playlist.id", ondelete="CASCADE"))
    song_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("song.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
