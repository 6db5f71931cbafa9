"""Routes that exist only in the API key tests: a stream-like route on `MediaPrincipal` (the
only kind that takes `?api_key=`) and a route that needs `users.read`, since no domain route of
either kind exists yet. Mounted hidden from the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cinesonic.auth.principal import Principal
from cinesonic.deps import MediaPrincipal, require

PREFIX = "/api/v1/_apikey_probe"

router = APIRouter()


@router.get("/media")
async def media(principal: MediaPrincipal) -> dict[str, str]:
    return {"user_id": str(principal.id)}


@router.get("/users-read")
async def users_read(
    principal: Annotated[Principal, Depends(require("users.read"))],
) -> dict[str, str]:
    return {"user_id": str(principal.id)}
