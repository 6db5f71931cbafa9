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
    """One signed-in device."""

    id: uuid.UUID
    device_name: str | None
    ip_address: str | None
    user_agent: str | None
    created_at: datetime
    last_used_at: datetime = Field(description="When its refresh token was last used.")
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = Field(
        None, examples=["logout", "revoked_by_user", "password_changed", "refresh_token_reuse"]
    )
    is_current: bool = Field(False, description="The session making this request.")


class SessionInfo(Schema):
    user: UserRead
    session: SessionRead | None = Field(None, description="None when signed in with an API key.")


class CsrfTokenResponse(Schema):
    token: str
    expires_at: datetime


class ChangePasswordRequest(Schema):
    current_password: str = Field(
        min_length=1,
        max_length=1024,
        validation_alias=AliasChoices("current_password", "currentPassword"),
    )
    new_password: str = Field(
        min_length=1,
        max_length=1024,
        validation_alias=AliasChoices("new_password", "newPassword"),
        description="8–128 characters with upper- and lower-case letters, a digit and a "
        "special character; not the current password.",
    )


class ChangePasswordResponse(Schema):
    status: Literal["ok"] = "ok"
    sessions_revoked: int = Field(description="Other devices signed out.")


class ForgotPasswordRequest(Schema):
    # Not EmailStr: a malformed address must get the same answer as an unknown one.
    email: str = Field(min_length=1, max_length=320, examples=["ada@example.com"])


class ResetPasswordRequest(Schema):
    token: str = Field(min_length=1, max_length=256, description="The token from the mailed link.")
    password: str = Field(
        min_length=1,
        max_length=1024,
        validation_alias=AliasChoices("password", "new_password", "newPassword"),
    )


class VerifyEmailRequest(Schema):
    token: str = Field(min_length=1, max_length=256, description="The token from the mailed link.")


class ResendVerificationRequest(Schema):
    email: str | None = Field(
        None,
        max_length=320,
        description="Needed when not signed in; ignored when signed in.",
        examples=["ada@example.com"],
    )


class AcceptedResponse(Schema):
    status: Literal["accepted"] = "accepted"
