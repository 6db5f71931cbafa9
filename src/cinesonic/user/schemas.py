"""Request and response models of the user domain.

Request bodies ignore unknown fields (the `Schema` base) — except `PreferencesUpdate`, which
refuses them: a mistyped preference silently doing nothing is the bug that validation prevents.
"""

from __future__ import annotations

import enum
import uuid
import zoneinfo
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from cinesonic.kit.pagination import Page
from cinesonic.kit.schemas import DeletedResponse, Schema
from cinesonic.models.user import UserStatus

USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]{3,32}$"
# BCP 47 in practice: a 2–3 letter language, then optional script/region/variant subtags.
LANGUAGE_TAG_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$"
MAX_ROLES_PER_USER = 16


# ---------------------------------------------------------------- read models


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


class UserActivityCounts(Schema):
    """How much an account has: counts other domains add to as they arrive."""

    sessions_active: int = Field(0, description="Signed-in devices (not revoked, not expired).")
    api_keys: int = Field(0, description="API keys not revoked and not expired.")
    activity_events: int = Field(0, description="Audit-log entries the user is the actor of.")


class UserListItem(UserRead):
    activities: UserActivityCounts


class UserSummary(Schema):
    """Counts over every account, whatever the list's filters [003]."""

    total_users: int
    active_users: int
    suspended_users: int
    inactive_users: int
    by_role: dict[str, int] = Field(description="Accounts holding each role (every role listed).")


class UserPage(Page[UserListItem]):
    summary: UserSummary


class SessionsSummary(Schema):
    active: int = Field(description="Sessions not revoked and not expired.")
    total: int = Field(description="Every session kept, revoked ones included.")
    last_used_at: datetime | None = None


class ActivityEntry(Schema):
    id: uuid.UUID
    action: str
    resource_type: str | None
    resource_id: str | None
    success: bool
    ip_address: str | None
    details: dict[str, Any]
    created_at: datetime


class UserFull(UserRead):
    activities: UserActivityCounts
    sessions: SessionsSummary
    recent_activity: list[ActivityEntry] = Field(description="The user's last 10 audit entries.")


class DeletedRecords(Schema):
    sessions: int
    refresh_tokens: int
    api_keys: int
    one_time_tokens: int


class UserDeleted(DeletedResponse):
    """[003]'s answer: what went with the account. Its audit entries are kept."""

    id: uuid.UUID
    deleted_records: DeletedRecords
    deleted_at: datetime


# ---------------------------------------------------------------- requests


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _role_name(value: str) -> str:
    return value.strip().lower()


DisplayName = Annotated[str | None, Field(max_length=128), AfterValidator(_blank_to_none)]
Bio = Annotated[str | None, Field(max_length=2000), AfterValidator(_blank_to_none)]
RoleName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_role_name)]


class _RoleChoice(Schema):
    """`role` (one name, [003]) or `roles` (several); names are case-insensitive."""

    role: RoleName | None = None
    roles: list[RoleName] | None = Field(None, min_length=1, max_length=MAX_ROLES_PER_USER)

    @model_validator(mode="after")
    def _one_way(self) -> _RoleChoice:
        if self.role is not None and self.roles is not None:
            raise ValueError("give either 'role' or 'roles', not both")
        return self

    @property
    def role_names(self) -> list[str] | None:
        """The requested roles, deduplicated; None when the request names none."""
        if self.roles is not None:
            return list(dict.fromkeys(self.roles))
        return [self.role] if self.role is not None else None


class UserCreate(_RoleChoice):
    username: str = Field(pattern=USERNAME_PATTERN, examples=["ada"])
    email: EmailStr = Field(examples=["ada@example.com"])
    password: str = Field(min_length=1, max_length=1024, examples=["Correct-Horse-9"])
    display_name: DisplayName = Field(
        None, validation_alias=AliasChoices("display_name", "displayName")
    )
    bio: Bio = None
    status: UserStatus = UserStatus.active
    requires_password_change: bool = Field(
        False, validation_alias=AliasChoices("requires_password_change", "requiresPasswordChange")
    )


class UserUpdate(_RoleChoice):
    """An admin's change to an account [003]; fields left out stay as they are."""

    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    email: EmailStr | None = None
    display_name: DisplayName = Field(
        None, validation_alias=AliasChoices("display_name", "displayName")
    )
    bio: Bio = None
    status: UserStatus | None = None
    requires_password_change: bool | None = Field(
        None, validation_alias=AliasChoices("requires_password_change", "requiresPasswordChange")
    )

    @field_validator("username", "email", "status", "requires_password_change")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


class ProfileUpdate(Schema):
    """The owner's change to their own profile; fields left out stay as they are."""

    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    email: EmailStr | None = Field(None, description="Changing it marks it unverified.")
    display_name: DisplayName = Field(
        None, validation_alias=AliasChoices("display_name", "displayName")
    )
    bio: Bio = None

    @field_validator("username", "email")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


# ---------------------------------------------------------------- preferences


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"'{value}' is not an IANA time zone (e.g. 'Europe/Paris')") from exc
    return value


class Theme(enum.StrEnum):
    light = "light"
    dark = "dark"
    system = "system"


class AudioQuality(enum.StrEnum):
    """`original` streams files as they are; the others transcode to the default bitrate."""

    original = "original"
    high = "high"
    medium = "medium"
    low = "low"


LanguageTag = Annotated[str, Field(pattern=LANGUAGE_TAG_PATTERN, max_length=35)]
TimeZoneName = Annotated[str, Field(max_length=64), AfterValidator(_time_zone)]
Bitrate = Annotated[int, Field(ge=32, le=320, description="Kilobits per second.")]
ItemsPerPage = Annotated[int, Field(ge=10, le=200)]


class Preferences(Schema):
    """A user's preferences, defaults filled in."""

    language: LanguageTag = Field("en", description="Interface language, a BCP 47 tag.")
    theme: Theme = Theme.system
    time_zone: TimeZoneName = Field("UTC", description="IANA time zone for displayed times.")
    audio_quality: AudioQuality = AudioQuality.original
    transcode_bitrate_kbps: Bitrate = 192
    subtitle_language: LanguageTag | None = Field(None, description="None: no subtitles.")
    autoplay_next: bool = True
    items_per_page: ItemsPerPage = 50


class PreferencesUpdate(Schema):
    """A partial update: keys sent are set, `null` resets a key to its default, keys left out
    stay. Unknown keys are refused (422), unlike other request bodies."""

    model_config = ConfigDict(extra="forbid")

    language: LanguageTag | None = None
    theme: Theme | None = None
    time_zone: TimeZoneName | None = None
    audio_quality: AudioQuality | None = None
    transcode_bitrate_kbps: Bitrate | None = None
    subtitle_language: LanguageTag | None = None
    autoplay_next: bool | None = None
    items_per_page: ItemsPerPage | None = None
