"""Password hashing and policy, access JWTs and CSRF tokens. Pure functions, no database."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cinesonic.errors import AppError

PASSWORD_MIN, PASSWORD_MAX = 8, 128
JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "cinesonic"


class PasswordPolicyError(AppError):
    status_code, code = 422, "password_policy"
    message = (
        f"Passwords need {PASSWORD_MIN}–{PASSWORD_MAX} characters with an upper-case letter, "
        "a lower-case letter, a digit and a special character."
    )


def password_problems(password: str) -> list[str]:
    problems = []
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        problems.append(f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long")
    if not re.search(r"[A-Z]", password):
        problems.append("needs an upper-case letter")
    if not re.search(r"[a-z]", password):
        problems.append("needs a lower-case letter")
    if not re.search(r"\d", password):
        problems.append("needs a digit")
    if not re.search(r"[^A-Za-z0-9]", password):
        problems.append("needs a special character")
    return problems


def check_password_policy(password: str, field: str = "password") -> None:
    problems = password_problems(password)
    if problems:
        raise PasswordPolicyError(details=[{"field": field, "problems": problems}])


class Passwords:
    """argon2id hashing, run off the event loop (a hash takes tens of milliseconds)."""

    def __init__(self, time_cost: int, memory_cost_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib)
        # Verified against when the account does not exist, so both paths take the same time.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def _verify() -> bool:
            try:
                return self._hasher.verify(password_hash or self._decoy, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(_verify) and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: int


def issue_access_token(
    key: str, user_id: uuid.UUID, session_id: uuid.UUID, ttl_seconds: int
) -> tuple[str, int]:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "typ": "access",
        "aud": JWT_AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, key, algorithm=JWT_ALGORITHM), ttl_seconds


# Tokens already verified, so a client's repeated requests skip the HMAC and JSON work
# (about a fifth of an authenticated request's CPU). Expiry is checked on every use;
# revocation is the session check's business, not this memo's.
_VERIFIED: OrderedDict[tuple[str, str], AccessClaims] = OrderedDict()
_VERIFIED_MAX = 8192


def decode_access_token(key: str, token: str) -> AccessClaims | None:
    """The token's claims, or None when it is malformed, tampered, expired or not HS256."""
    cached = _VERIFIED.get((key, token))
    if cached is not None:
        if cached.expires_at > time.time():
            return cached
        del _VERIFIED[(key, token)]
        return None
    claims = _verify_access_token(key, token)
    if claims is not None:
        _VERIFIED[(key, token)] = claims
        if len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)
    return claims


def _verify_access_token(key: str, token: str) -> AccessClaims | None:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            options={"require": ["exp", "sub", "sid", "typ"]},
        )
        if claims.get("typ") != "access":
            return None
        return AccessClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), int(claims["exp"]))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None


def issue_csrf_token(key: str, ttl_seconds: int) -> tuple[str, datetime]:
    """A signed double-submit token: `nonce.expiry.signature`."""
    expires = int(time.time()) + ttl_seconds
    body = f"{secrets.token_urlsafe(18)}.{expires}"
    signature = hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{body}.{signature}", datetime.fromtimestamp(expires, UTC)


def csrf_token_valid(key: str, token: str | None) -> bool:
    if not token or token.count(".") != 2:
        return False
    nonce, expires, signature = token.split(".")
    body = f"{nonce}.{expires}"
    expected = hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(expected, signature):
        return False
    return expires.isdigit() and int(expires) >= time.time()
