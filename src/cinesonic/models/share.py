"""Shares: public links to songs (picked one by one, or an album's or a playlist's).

The link token is random and unguessable. Only its SHA-256 is looked up (`token_hash`); the
token itself is kept sealed with the server key (`token_sealed`) so its owner can see the link
again. The songs are copied into `share_item` when the share is made (a later change to the
playlist does not widen a link already given out). `streamed_seconds` counts what was actually
sent against `max_streaming_minutes`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.base import Base, IdMixin, TimestampMixin


class Share(IdMixin, TimestampMixin, Base):
    __tablename__ = "share"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_sealed: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    source_type: Mapped[str] = mapped_column(String(16))  # songs | album | playlist
    source_id: Mapped[uuid.UUID | None]
    expires_at: Mapped[datetime | None]
    max_streaming_minutes: Mapped[int | None]
    streamed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    allow_download: Mapped[bool] = mapped_column(default=False)
    access_count: Mapped[int] = mapped_column(default=0)
    last_accessed_at: Mapped[datetime | None]


class ShareItem(Base):
    __tablename__ = "share_item"

    share_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("share.id", ondelete="CASCADE"), primary_key=True
    )
    song_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("song.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)


class ShareAccess(IdMixin, Base):
    """One access to a share link: who (IP, user agent), when, what, and seconds streamed."""

    __tablename__ = "share_access"
    __table_args__ = (Index("ix_share_access_share_at", "share_id", "accessed_at"),)

    share_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("share.id", ondelete="CASCADE"))
    song_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("song.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16))  # view | stream | download
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    status_code: Mapped[int] = mapped_column(default=200)
    accessed_at: Mapped[datetime] = mapped_column(default=utcnow)
