"""The base every request and response model stands on."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    """Read from ORM objects. In requests, unknown fields are ignored — everywhere, by design."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class DeletedResponse(Schema):
    status: Literal["deleted"] = "deleted"


class StatusResponse(Schema):
    status: str = "ok"
