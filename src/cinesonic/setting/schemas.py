"""Request and response models of settings: server settings one by one, the grouped admin
configuration [003], and each user's own settings."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, JsonValue

from cinesonic.kit.pagination import Page
from cinesonic.kit.schemas import Schema
from cinesonic.setting.registry import SettingGroup


class SettingSource(enum.StrEnum):
    """Where a server setting's value comes from, strongest first."""

    environment = "environment"
    database = "database"
    default = "default"


class _SettingDescription(Schema):
    key: str
    type: str = Field(description="`boolean`, `integer`, `number`, `string` or `enum`.")
    description: str
    rule: str = Field(description="What a value must be, in words.")
    value_schema: dict[str, Any] = Field(description="The JSON schema a value must match.")


class ServerSettingRead(_SettingDescription):
    group: SettingGroup
    value: JsonValue = Field(
        description="The value in force (after a restart, for `restart_required` settings); "
        "always null for secrets."
    )
    is_set: bool = Field(description="The value is not null (for secrets: a secret is set).")
    default: JsonValue = Field(
        description="The value when nothing is stored: the built-in default or the config "
        "file's; null for secrets."
    )
    source: SettingSource = Field(
        description="`environment`: pinned by its environment variable (cannot be changed "
        "here); `database`: changed at runtime; `default`: neither."
    )
    environment_variable: str = Field(description="The variable that would pin this setting.")
    is_secret: bool
    restart_required: bool = Field(description="A change applies when the server restarts.")
    pending_restart: bool = Field(
        description="This process still runs with another value, until it restarts."
    )
    updated_at: datetime | None = Field(None, description="When it was last changed here.")
    updated_by: uuid.UUID | None = Field(None, description="Who changed it last.")


class ServerSettingPage(Page[ServerSettingRead]):
    pass


class SettingValue(Schema):
    """A new value, as JSON of the setting's type (`true`, not `"true"`)."""

    value: JsonValue = Field(examples=[False])


class AdminConfig(Schema):
    """Every server setting by group, `{key: value}`; a set secret reads `"********"`."""

    features: dict[str, JsonValue]
    limits: dict[str, JsonValue]
    security: dict[str, JsonValue]
    mail: dict[str, JsonValue]
    jobs: dict[str, JsonValue]
    server: dict[str, JsonValue]
    metadata: dict[str, JsonValue]
    imports: dict[str, JsonValue]


class AdminConfigUpdated(Schema):
    updated: list[str] = Field(description="Keys whose value changed.")
    unchanged: list[str] = Field(description="Keys sent with the value they already had.")
    restart_required: list[str] = Field(
        description="Updated keys that apply when the server restarts."
    )
    updated_at: datetime
    updated_by: uuid.UUID


class UserSettingRead(_SettingDescription):
    value: JsonValue = Field(description="Your value, or the default.")
    default: JsonValue
    source: Literal["user", "default"] = Field(
        description="`user`: you set it; `default`: you did not."
    )


class UserSettingPage(Page[UserSettingRead]):
    pass
