"""Who is making a request, and what they may do: the result of authentication."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property

from cinesonic.user.schemas import UserRead


@dataclass(frozen=True)
class Principal:
    user: UserRead
    permissions: frozenset[str]
    grants_all: bool = False
    session_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    via_cookie: bool = False
    tags: tuple[str, ...] = field(default=())

    @cached_property
    def user_json(self) -> bytes:
        """The user as the API answers it, serialized once per cached principal (a signed-in
        client's `/auth/me` then costs no model work)."""
        return self.user.__pydantic_serializer__.to_json(self.user)

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    def can(self, permission: str) -> bool:
        return self.grants_all or permission in self.permissions
