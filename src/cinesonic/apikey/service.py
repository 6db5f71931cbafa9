"""API keys: creation (the secret is returned once), listing, revocation, and authentication.

A key reads `csk_<8-char id>_<secret>`; the `csk_<id>` prefix is stored to recognise a key in
lists and logs, the whole key only as SHA-256. Use is recorded (`last_used_at`, `last_used_ip`)
at most once a minute per key, so busy players do not turn every request into a write.
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy import select, update

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.errors import InvalidToken
from cinesonic.kit.timeutil import utcnow
from cinesonic.kit.tokens import hash_token
from cinesonic.models.apikey import ApiKey
from cinesonic.state import AppState
from cinesonic.user import service as user_service

KEY_PREFIX = "csk_"
TOUCH_INTERVAL_SECONDS = 60.0
_last_touch: dict[uuid.UUID, float] = {}


async def authenticate_key(state: AppState, presented: str) -> Principal:
    key_hash = hash_token(presented)
    cache_key = f"apikey:{key_hash}"
    principal = state.auth_cache.get(cache_key)
    if principal is None:
        async with state.db.sessionmaker() as session:
            api_key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
            if api_key is None or api_key.revoked_at is not None:
                raise InvalidToken("The API key is not valid.")
            if api_key.expires_at is not None and api_key.expires_at <= utcnow():
                raise InvalidToken("The API key has expired.")
            user = await user_service.get_user(session, api_key.user_id)
            auth_service.check_status(user)
            principal = auth_service.principal_for(
                user, api_key_id=api_key.id, scopes=api_key.scopes or None
            )
        state.auth_cache.set(
            cache_key, principal, tags=[f"user:{principal.id}", f"apikey:{principal.api_key_id}"]
        )
    return principal


async def touch(state: AppState, key_id: uuid.UUID, ip: str) -> None:
    """Record a use of the key, at most once per interval."""
    now = time.monotonic()
    if now - _last_touch.get(key_id, 0.0) < TOUCH_INTERVAL_SECONDS:
        return
    _last_touch[key_id] = now
    async with state.db.session() as session:
        await session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow(), last_used_ip=ip)
        )
