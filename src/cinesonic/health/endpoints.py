"""`/health`, `/healthz` (alive), `/readyz` (database reachable and migrated; this process's
worker live) and `/api/v1/health` (every dependency, [003]). The checks are in `service`.

Probes answer their document with 200 or 503; only the status code tells the two apart. They
never need a signed-in caller; `/api/v1/health` shows its details to administrators only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from cinesonic.auth.principal import Principal
from cinesonic.deps import State, get_optional_principal
from cinesonic.errors import AppError, InvalidToken, error_responses
from cinesonic.health import service as health_service
from cinesonic.health.schemas import Alive, Ready, SystemHealth
from cinesonic.kit.timeutil import utcnow

router = APIRouter(tags=["health"])
# Mounted under the API prefix only (the probes above are mounted at the root and again there).
system_router = APIRouter(tags=["health"])

# Who may see the report's details (backend, queue counts, disk space and path).
DETAILS_PERMISSION = "settings.manage"


async def health_viewer(request: Request, state: State) -> Principal | None:
    """The caller when signed in. Health must answer while its dependencies are down: when
    credentials cannot be checked for that reason, the caller gets the public summary."""
    try:
        return await get_optional_principal(request, state)
    except AppError:
        raise
    except Exception:
        return None


HealthViewer = Annotated[Principal | None, Depends(health_viewer)]


@router.get("/health", response_model=Alive, summary="Liveness probe")
@router.get("/healthz", response_model=Alive, summary="Liveness probe (Kubernetes spelling)")
async def alive() -> Alive:
    return Alive(timestamp=utcnow())


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Readiness: database reachable and migrated, this process's worker live",
    description="Ready when the database answers at the latest migration and — in a process "
    "that runs a job worker — that worker's heartbeat is fresh. API-only replicas "
    "(`--no-worker`) report the workers they see in `workers` without depending on them; "
    "`CINESONIC_READINESS_REQUIRES_WORKER` changes that.",
    responses={
        503: {"model": Ready, "description": "Not ready: see `database`, `migration`, `workers`."}
    },
)
async def ready(state: State) -> JSONResponse:
    body = await health_service.readiness(state)
    status_code = 200 if body.status == "ready" else 503
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code)


@system_router.get(
    "/health",
    response_model=SystemHealth,
    response_model_exclude_none=True,
    summary="System health with dependencies",
    description="The database, Redis, the job workers and the data disk, checked concurrently "
    "(each within `CINESONIC_HEALTH_CHECK_TIMEOUT_SECONDS`; one report serves "
    "`CINESONIC_HEALTH_CACHE_SECONDS`). Anyone sees each dependency's status and response "
    "time; holders of `settings.manage` also see the details (database backend, worker "
    "heartbeats and queue counts, free disk space).",
    responses={
        503: {"model": SystemHealth, "description": "Down: a required dependency is unusable."},
        **error_responses(InvalidToken),
    },
)
async def system_health(state: State, viewer: HealthViewer) -> JSONResponse:
    report = await health_service.system_health(state)
    if viewer is None or not viewer.can(DETAILS_PERMISSION):
        report = health_service.summary(report)
    status_code = 503 if report.status == "down" else 200
    return JSONResponse(report.model_dump(mode="json", exclude_none=True), status_code=status_code)
