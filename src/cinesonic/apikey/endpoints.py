"""API key routes: any signed-in user manages their own keys; `apikeys.manage` reaches
everyone's. A key is used in the `X-API-Key` header (or `?api_key=` on stream and image URLs)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from cinesonic.apikey import service as apikey_service
from cinesonic.apikey.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from cinesonic.deps import ClientInfo, CurrentPrincipal, DbSession, State
from cinesonic.errors import AuthenticationRequired, InvalidToken, ValidationFailed, error_responses
from cinesonic.kit.pagination import Page, PaginationDep
from cinesonic.kit.schemas import DeletedResponse

router = APIRouter(tags=["apikey"])


@router.post(
    "/apikeys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    summary="Create an API key (the secret is shown once)",
    description="The answer's `key` is the only time the secret is shown. Scopes must be "
    "permissions you hold; without `scopes` the key acts with all of your permissions. "
    f"At most {apikey_service.MAX_ACTIVE_KEYS_PER_USER} active keys per user.",
    responses=error_responses(
        AuthenticationRequired,
        InvalidToken,
        apikey_service.TooManyApiKeys,
        apikey_service.UnknownPermission,
        apikey_service.ScopeNotHeld,
        ValidationFailed,
    ),
)
async def create_api_key(
    body: ApiKeyCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    origin: ClientInfo,
    response: Response,
) -> ApiKeyCreated:
    created = await apikey_service.create_key(
        session,
        principal,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        expires_in_days=body.expires_in_days,
        origin=origin,
    )
    response.headers["Location"] = f"/api/v1/apikeys/{created.api_key.id}"
    read = apikey_service.to_read(created.api_key)
    return ApiKeyCreated(**read.model_dump(), key=created.secret)


@router.get(
    "/apikeys",
    response_model=Page[ApiKeyRead],
    summary="List API keys (own; anyone's with apikeys.manage)",
    description="Sort by `created_at` (default, newest first), `name`, `last_used_at` or "
    "`expires_at`. Secrets are never listed.",
    responses=error_responses(
        AuthenticationRequired, InvalidToken, apikey_service.ApiKeyListForbidden, ValidationFailed
    ),
)
async def list_api_keys(
    principal: CurrentPrincipal,
    session: DbSession,
    params: PaginationDep,
    user_id: Annotated[
        uuid.UUID | None, Query(description="Another user's keys (needs apikeys.manage).")
    ] = None,
    include_all: Annotated[
        bool, Query(alias="all", description="Every user's keys (needs apikeys.manage).")
    ] = False,
    active: Annotated[
        bool | None, Query(description="true: usable keys only; false: revoked or expired.")
    ] = None,
) -> Page[ApiKeyRead]:
    keys, total = await apikey_service.list_keys(
        session, principal, params, user_id=user_id, include_all=include_all, active=active
    )
    return Page(data=[apikey_service.to_read(k) for k in keys], pagination=params.meta(total))


@router.get(
    "/apikeys/{key_id}",
    response_model=ApiKeyRead,
    summary="One API key (own; anyone's with apikeys.manage)",
    responses=error_responses(
        AuthenticationRequired, InvalidToken, apikey_service.ApiKeyNotFound, ValidationFailed
    ),
)
async def read_api_key(
    key_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> ApiKeyRead:
    return apikey_service.to_read(await apikey_service.get_key(session, principal, key_id))


@router.delete(
    "/apikeys/{key_id}",
    response_model=DeletedResponse,
    summary="Revoke an API key (own; anyone's with apikeys.manage)",
    description="The key stops working on the very next request. The record stays, with "
    "`revoked_at` set; revoking it again changes nothing.",
    responses=error_responses(
        AuthenticationRequired, InvalidToken, apikey_service.ApiKeyNotFound, ValidationFailed
    ),
)
async def revoke_api_key(
    key_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    state: State,
    origin: ClientInfo,
) -> DeletedResponse:
    await apikey_service.revoke_key(session, state, principal, key_id, origin=origin)
    return DeletedResponse()
