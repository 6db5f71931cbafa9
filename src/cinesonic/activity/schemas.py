"""Response models of the audit log."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import Field

from cinesonic.kit.schemas import Schema


class ActivityActor(Schema):
    id: uuid.UUID
    username: str


class ActivityRead(Schema):
    id: uuid.UUID
    user: ActivityActor | None = Field(
        description="The acting account; None for anonymous events or deleted accounts."
    )
    actor_name: str | None = Field(
        description="The actor's name when it happened; kept after the account is deleted."
    )
    action: str = Field(examples=["auth.login"])
    resource_type: str | None = None
    resource_id: str | None = None
    success: bool
    ip_address: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    details: dict[str, Any]
    created_at: datetime


class ActionCount(Schema):
    action: str
    count: int
    failures: int
    last_at: datetime = Field(description="The newest entry with this action.")


class DayCount(Schema):
    day: date = Field(description="A UTC calendar day.")
    count: int
    failures: int


class ActivityStats(Schema):
    days: int = Field(description="Length of the window in UTC days, today included.")
    since: datetime = Field(description="Start of the window: midnight UTC, `days - 1` ago.")
    until: datetime = Field(description="End of the window: when the numbers were taken.")
    total: int
    failures: int
    by_action: list[ActionCount] = Field(description="Most frequent first.")
    by_day: list[DayCount] = Field(description="Every day of the window, oldest first.")
