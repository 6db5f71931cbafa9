"""Server settings changed at runtime: one row per key that differs from the server's
configuration. Keys and value types are defined by `cinesonic.setting.registry`; secret values
are stored encrypted (see `cinesonic.kit.secretbox`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.base import Base


class ServerSetting(Base):
    __tablename__ = "server_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # JSON `null` is a value (e.g. "no SMTP host"), so the column itself is never SQL NULL.
    value: Mapped[Any] = mapped_column(JSON(none_as_null=False))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # No index: the table holds a few dozen rows at most.
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
