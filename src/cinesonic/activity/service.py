"""Recording and querying the audit log.

`record` adds the entry to the caller's transaction, so an audited write and its entry land
together or not at all. Failed sign-ins are recorded by the auth service in a unit of work of
their own, since the request that carries them is rolled back.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.models.activity import Activity


class Origin(Protocol):
    """Where a request came from (`deps.RequestInfo` satisfies this)."""

    @property
    def ip(self) -> str: ...
    @property
    def user_agent(self) -> str | None: ...
    @property
    def request_id(self) -> str | None: ...


async def record(
    session: AsyncSession,
    *,
    action: str,
    user_id: uuid.UUID | None,
    actor_name: str | None = None,
    resource_type: str | None = None,
    resource_id: str | uuid.UUID | None = None,
    origin: Origin | None = None,
    success: bool = True,
    details: dict[str, Any] | None = None,
) -> Activity:
    entry = Activity(
        user_id=user_id,
        actor_name=actor_name,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else None,
        success=success,
        ip_address=origin.ip if origin else None,
        user_agent=origin.user_agent if origin else None,
        request_id=origin.request_id if origin else None,
        details=details or {},
    )
    session.add(entry)
    await session.flush()
    return entry
