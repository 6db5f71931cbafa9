"""Routes that exist only in the platform tests: they exercise pagination, the error envelope,
the body guard and the per-request transaction through the real app (middleware, handlers,
database), with nothing of a domain in the way. Mounted hidden from the OpenAPI schema."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from cinesonic.db import after_commit
from cinesonic.deps import ClientInfo, DbSession, State
from cinesonic.errors import Conflict
from cinesonic.kit.pagination import Page, PaginationDep, apply_sort, paginate_rows
from cinesonic.kit.schemas import Schema
from cinesonic.models.user import Role

PREFIX = "/api/v1/_probe"

router = APIRouter()


class RoleOut(Schema):
    id: uuid.UUID
    name: str
    description: str | None


class Echo(BaseModel):
    name: str = Field(min_length=1)
    count: int


ROLE_SORTABLE = {
    "name": Role.name,
    "description": Role.description,
    "created_at": Role.created_at,
}


@router.get("/roles", response_model=Page[RoleOut])
async def list_roles(session: DbSession, paging: PaginationDep) -> Page[RoleOut]:
    statement = apply_sort(select(Role), paging, ROLE_SORTABLE, [Role.name], Role.id)
    rows, total = await paginate_rows(session, statement, paging)
    return Page[RoleOut](
        data=[RoleOut.model_validate(row) for row in rows], pagination=paging.meta(total)
    )


@router.post("/echo")
async def echo(body: Echo) -> Echo:
    return body


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret-internal-detail /etc/cinesonic password=hunter2")


@router.get("/whoami")
async def whoami(origin: ClientInfo) -> dict[str, str | None]:
    return {"ip": origin.ip, "request_id": origin.request_id}


@router.get("/conflict")
async def conflict() -> None:
    raise Conflict(
        "Already there.",
        details={"existing_id": uuid.UUID(int=7), "since": datetime(2024, 1, 2, tzinfo=UTC)},
    )


def committed_log(request: Request) -> list[tuple[str, bool]]:
    """What the `after_commit` callbacks saw: (role name, row visible from a new session)."""
    log: list[tuple[str, bool]] | None = getattr(request.app.state, "probe_committed", None)
    if log is None:
        log = request.app.state.probe_committed = []
    return log


@router.post("/roles", status_code=status.HTTP_201_CREATED, response_model=RoleOut)
async def create_role(
    request: Request, session: DbSession, state: State, name: str, fail: bool = False
) -> RoleOut:
    role = Role(name=name, description="probe", is_builtin=False, grants_all=False)
    session.add(role)
    await session.flush()
    log = committed_log(request)

    async def record() -> None:
        async with state.db.session() as other:
            visible = await other.scalar(select(Role.id).where(Role.name == name))
        log.append((name, visible is not None))

    after_commit(session, record)
    if fail:
        raise Conflict("Refused after the flush, on purpose.")
    return RoleOut.model_validate(role)
