"""Wires the WebSocket hub to our accounts: who a socket is, and which events they may see.

An event is visible to its owner (`owner_id`), to anyone named in its `audience`, and to
holders of the topic's oversight permission; events with neither owner nor audience are
broadcast to everyone holding the topic's read permission.
"""

from __future__ import annotations

from typing import Any

from starlette.websockets import WebSocket

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.errors import AppError
from cinesonic.state import AppState

# topic → (permission to see everyone's events, permission to see broadcast events)
TOPIC_PERMISSIONS: dict[str, tuple[str, str | None]] = {
    "jobs": ("jobs.manage", None),
    "library": ("library.manage", "library.read"),
    "import": ("library.manage", None),
    "service.status": ("integrations.manage", None),
    "media.requests": ("requests.manage", None),
    "downloads": ("downloads.manage", None),
    "torrents": ("downloads.manage", None),
    "encodings": ("encodings.manage", None),
    "files": ("files.manage", None),
    "notifications": ("users.manage", None),
}


def ws_authenticator(state: AppState) -> Any:
    async def authenticate(websocket: WebSocket) -> Principal | None:
        authorization = websocket.headers.get("authorization", "")
        scheme, _, value = authorization.partition(" ")
        bearer = value.strip() if scheme.lower() == "bearer" else None
        credentials = auth_service.Credentials(
            method="GET",
            bearer=bearer or websocket.query_params.get("access_token"),
            api_key=websocket.headers.get("x-api-key"),
        )
        try:
            return await auth_service.authenticate(state, credentials)
        except AppError:
            return None

    return authenticate


def may_see(principal: Principal, topic: str, data: dict[str, Any]) -> bool:
    oversight, broadcast = TOPIC_PERMISSIONS.get(topic, ("users.manage", None))
    if principal.can(oversight):
        return True
    user_id = str(principal.id)
    owner = data.get("owner_id")
    audience = data.get("audience")
    if owner is not None or audience is not None:
        return owner == user_id or (isinstance(audience, list) and user_id in audience)
    return broadcast is not None and principal.can(broadcast)
