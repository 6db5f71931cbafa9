"""Request and response models of sign-in."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AliasChoices, EmailStr, Field

from cinesonic.kit.schemas import Schema
from cinesonic.user.schemas import UserRead

USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]{3,32}$"


class RegisterRequest(Schema):
    username: str = Field(
        pattern=USERNAME_PATTERN,
        examples=["ada"],
        description="3–32 letters, digits, `_`, `.` or `-`.",
    )
    email: EmailStr = Field(examples=["ada@example.com"])
    password: str = Field(min_length=1, max_length=1024, examples=["Correct-Horse-9"])
    display_name: str | None = Field(
        None, max_length=128, validation_alias=AliasChoices("display_name", "displayName")
    )


class LoginRequest(Schema):
    identifier: str = Field(
        min_length=1,
        max_length=320,
        examples=["ada"],
        validation_alias=AliasChoices("identifier", "username", "email"),
        description="Username or email address.",
    )
    password: str = Field(min_length=1, max_length=1024)
    device_name: str | None = Field(
        None, max_length=128, validation_alias=AliasChoices("device_name", "deviceName")
    )
    totp_code: str | None = Field(None, max_length=16, description="Reserved for MFA.")


class RefreshRequest(Schema):
    refresh_token: str | None = Field(
        None,
        max_length=512,
        validation_alias=AliasChoices("refresh_token", "refreshToken"),
        description="Or the `X-Refresh-Token` header, or the `refresh_token` cookie.",
    )


class LogoutRequest(Schema):
    all_devices: bool = Field(False, validation_alias=AliasChoices("all_devices", "allDevices"))


class TokenResponse(Schema):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    csrf_token: str = Field(description="Echo in `X-CSRF-Token` when using cookies.")
    user: UserRead


class LogoutResponse(Schema):
    status: Literal["ok"] = "ok"
    tokens_revoked: int


class SessionRead(Schema):
    id: uuid.UUID
    device_name: str | None
    ip_address: str | None
    user_agent: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    is_current: bool = False


class SessionInfo(Schema):
    user: UserRead
    session: SessionRead | None = Field(None, description="None when signed in with an API key.")


class CsrfTokenResponse(Schema):
    token: str
    expires_at: datetime
