"""Request and response models of roles and permissions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from cinesonic.kit.pagination import Page
from cinesonic.kit.schemas import DeletedResponse, Schema
from cinesonic.rbac.permissions import CATALOGUE

ROLE_NAME_PATTERN = r"^[a-z][a-z0-9_.\-]{1,63}$"


def _lower(value: str) -> str:
    return value.strip().lower()


def _known_permission(value: str) -> str:
    if value not in CATALOGUE:
        raise ValueError(f"'{value}' is not a permission; see GET /api/v1/rbac/permissions")
    return value


def _sorted_unique(values: list[str]) -> list[str]:
    return sorted(set(values))


RoleName = Annotated[
    str, AfterValidator(_lower), Field(min_length=2, max_length=64, pattern=ROLE_NAME_PATTERN)
]
Permission = Annotated[str, Field(max_length=64), AfterValidator(_known_permission)]
PermissionList = Annotated[list[Permission], Field(max_length=256), AfterValidator(_sorted_unique)]


class PermissionRead(Schema):
    name: str
    description: str


class PermissionCatalogue(Schema):
    """The catalogue is fixed by the server version and small, so it is answered whole."""

    data: list[PermissionRead]


class RoleRead(Schema):
    id: uuid.UUID
    name: str
    description: str | None
    is_builtin: bool
    grants_all: bool = Field(description="Holds every permission, present and future.")
    permissions: list[str] = Field(
        description="Effective permissions: the whole catalogue for a `grants_all` role."
    )
    user_count: int = Field(description="Accounts holding the role.")
    created_at: datetime
    updated_at: datetime


class RoleCreate(Schema):
    name: RoleName = Field(examples=["librarian"])
    description: str | None = Field(None, max_length=2000)
    permissions: PermissionList = Field(default_factory=list, examples=[["library.manage"]])


class RoleUpdate(Schema):
    """Fields left out stay; built-in roles keep their names, `grants_all` roles their
    permissions."""

    name: RoleName | None = None
    description: str | None = Field(None, max_length=2000)
    permissions: PermissionList | None = None


class RoleDeleted(DeletedResponse):
    users_affected: int = Field(
        description="Accounts that held the role (only with `force=true`); any left with no "
        "role were given the default role."
    )


class RolePermissions(Schema):
    role: str
    grants_all: bool
    permissions: list[str] = Field(description="Effective permissions of the role.")


class PermissionsReplace(Schema):
    permissions: PermissionList


class PermissionsAdd(Schema):
    """`{"permissions": [...]}`, or `{"permission": "..."}` for one."""

    permissions: Annotated[PermissionList, Field(min_length=1)]

    @model_validator(mode="before")
    @classmethod
    def _single(cls, data: Any) -> Any:
        if isinstance(data, dict) and "permissions" not in data and "permission" in data:
            return {**data, "permissions": [data["permission"]]}
        return data


class RoleAssign(Schema):
    role: RoleName


class RoleSummary(Schema):
    name: str
    description: str | None
    is_builtin: bool
    grants_all: bool


class UserRoles(Schema):
    user_id: uuid.UUID
    roles: list[RoleSummary]
    grants_all: bool
    permissions: list[str] = Field(description="Effective permissions from every role held.")


class PolicyRead(Schema):
    role: str
    permission: str


class PolicyPage(Page[PolicyRead]):
    grants_all_roles: list[str] = Field(
        description="Roles holding every permission; they have no rows of their own."
    )
