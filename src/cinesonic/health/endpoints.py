"""`/health`, `/healthz` (alive) and `/readyz` (database reachable, migrations current)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from cinesonic import __version__
from cinesonic.deps import State
from cinesonic.kit.schemas import Schema
from cinesonic.kit.timeutil import utcnow
from cinesonic.migrations.runner import current_revision, head_revision

router = APIRouter(tags=["health"])


class Alive(Schema):
    status: Literal["ok"] = "ok"
    timestamp: datetime
    version: str = __version__


class Ready(Schema):
    status: Literal["ready", "not_ready"]
    database: str
    migration: str | None
    expected_migration: str | None


@router.get("/health", response_model=Alive, summary="Liveness probe")
@router.get("/healthz", response_model=Alive, summary="Liveness probe (Kubernetes spelling)")
async def alive() -> Alive:
    return Alive(timestamp=utcnow())


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Readiness: database reachable and migrated",
    # A probe answers its status document either way; only the code tells the two apart.
    responses={503: {"model": Ready, "description": "Not ready: see `database` and `migration`."}},
)
async def ready(state: State) -> JSONResponse:
    expected = head_revision()
    try:
        async with state.db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        revision = await current_revision(state.db.engine)
        database = "ok"
    except Exception as exc:  # the probe reports, it does not fail
        revision, database = None, f"unreachable: {type(exc).__name__}"
    is_ready = database == "ok" and revision == expected
    body = Ready(
        status="ready" if is_ready else "not_ready",
        database=database,
        migration=revision,
        expected_migration=expected,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if is_ready else 503)
