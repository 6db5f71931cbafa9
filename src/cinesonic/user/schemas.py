"""Request and response models of the user domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from cinesonic.kit.schemas import Schema
from cinesonic.models.user import UserStatus


class UserPublic(Schema):
    """What any signed-in user may see of another account."""

    id: uuid.UUID
    username: str
    display_name: str | None = None
    bio: str | None = None
    avatar_image_id: str | None = None
    created_at: datetime


class UserRead(UserPublic):
    """The account as its owner and admins see it."""

    email: str
    status: UserStatus
    roles: list[str]
    is_email_verified: bool
    requires_password_change: bool
    last_login_at: datetime | None = None
    updated_at: datetime
