"""Response models of the image domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from cinesonic.kit.schemas import Schema
from cinesonic.models.image import ImageKind


class ImageRead(Schema):
    """A stored image [000]: `{id, etag}` and what the bytes are."""

    id: uuid.UUID
    etag: str = Field(
        description="The SHA-256 of the bytes: the `ETag` header's value without its quotes."
    )
    kind: ImageKind
    content_type: str
    width: int
    height: int
    size_bytes: int
    created_at: datetime
