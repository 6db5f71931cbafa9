"""Roles, their permissions, and what a user may do."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from cinesonic.errors import NotFound
from cinesonic.models.user import Role


class RoleNotFound(NotFound):
    message = "No such role."


async def get_role_by_name(session: AsyncSession, name: str) -> Role:
    role = await session.scalar(
        select(Role).where(Role.name == name).options(selectinload(Role.permissions))
    )
    if role is None:
        raise RoleNotFound(f"No role named '{name}'.")
    return role


def effective_permissions(roles: Iterable[Role]) -> tuple[frozenset[str], bool]:
    """(permissions, grants_all) of a set of roles whose `permissions` are loaded."""
    permissions: set[str] = set()
    grants_all = False
    for role in roles:
        grants_all = grants_all or role.grants_all
        permissions.update(p.permission for p in role.permissions)
    return frozenset(permissions), grants_all
