"""Stored images: one row per distinct blob, addressed by the SHA-256 of its bytes.

The bytes live on disk under `<data_dir>/images/` (see `cinesonic.image.store`); the row says
what they are. The same bytes uploaded again reuse the row, so `kind` and `owner_id` describe
the first upload.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.base import Base, IdMixin


class ImageKind(enum.StrEnum):
    avatar = "avatar"
    cover = "cover"


class Image(IdMixin, Base):
    __tablename__ = "image"

    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[ImageKind] = mapped_column(Enum(ImageKind, native_enum=False, length=16))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    # Who uploaded it first; the image outlives its uploader (an avatar may be shared bytes).
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
