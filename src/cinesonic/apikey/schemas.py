"""Request and response models of API keys. The secret appears only in `ApiKeyCreated`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AliasChoices, Field, StringConstraints, model_validator

from cinesonic.kit.schemas import Schema

Permission = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ApiKeyCreate(Schema):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] = (
        Field(examples=["living-room player"])
    )
    scopes: list[Permission] | None = Field(
        None,
        min_length=1,
        max_length=100,
        examples=[["music.read", "music.stream"]],
        description="Permissions the key may use; each must be one you hold. Omit it and the "
        "key acts with all of your permissions, as they are whenever it is used (a key created "
        "with a scoped key inherits that key's permissions instead). An empty list is refused.",
    )
    expires_at: datetime | None = Field(
        None,
        validation_alias=AliasChoices("expires_at", "expiresAt"),
        description="When the key stops working (ISO 8601; UTC when no offset is given). "
        "Must be in the future.",
    )
    expires_in_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        validation_alias=AliasChoices("expires_in_days", "expiresInDays"),
        description="Alternative to `expires_at`. Neither: the key never expires.",
    )

    @model_validator(mode="after")
    def _one_expiry(self) -> ApiKeyCreate:
        if self.expires_at is not None and self.expires_in_days is not None:
            raise ValueError("give expires_at or expires_in_days, not both")
        return self


class ApiKeyRead(Schema):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str = Field(description="`csk_` and the key's id: recognises the key in lists.")
    scopes: list[str] | None = Field(
        description="None: the key acts with all of its owner's permissions."
    )
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = Field(
        None, description="Updated at most once a minute per key."
    )
    last_used_ip: str | None = None
    revoked_at: datetime | None = None
    is_active: bool = Field(description="Neither revoked nor expired.")


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(
        description="The whole key, for the `X-API-Key` header. Shown only in this answer; "
        "the server keeps just its SHA-256."
    )
