"""The ASGI middleware every request passes: request id, client address, body-size guard,
global per-IP rate limit, access log, request metrics and security headers — one pure-ASGI
layer, because each `BaseHTTPMiddleware` adds a task hop per request."""

from __future__ import annotations

import json
import re
import time
import uuid
from ipaddress import ip_address, ip_network
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cinesonic.config import Settings
from cinesonic.errors import render_error
from cinesonic.kit.ratelimit import RateLimiter
from cinesonic.metrics import AppMetrics
from cinesonic.ratelimits import ROUTE_HEADERS_KEY

log = structlog.get_logger("cinesonic.access")

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# Probes, also where the health router is mounted again under the API prefix.
_PROBES = ("/health", "/healthz", "/readyz")
_UNLIMITED_PATHS = frozenset({*_PROBES, *(f"/api/v1{p}" for p in _PROBES), "/metrics"})
# Media bytes are outside the global per-IP budget: one album page loads dozens of covers and a
# player sends many range requests per song. Their routes carry their own classes (`stream`,
# `share`); images are answered from memory.
_MEDIA_PATH = re.compile(
    r"^(?:/api/v1)?(?:/songs/[^/]+/(?:stream|download)|/images/.+|/s/[^/]+/(?:stream|download)/[^/]+)$"
)
# Uploads and media carry their own, larger limits in their routes.
_STREAMED_TYPES = (b"multipart/form-data", b"application/octet-stream")
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    request_id: str,
    extra_headers: dict[str, str] | None = None,
) -> None:
    body = json.dumps(
        {"error": {"code": code, "message": message, "details": None}, "request_id": request_id}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in (extra_headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        limiter: RateLimiter,
        metrics: AppMetrics | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.limiter = limiter
        self.metrics = metrics
        self.trusted = [ip_network(p, strict=False) for p in settings.trusted_proxies]

    def _is_trusted(self, address: str) -> bool:
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        return any(parsed in net for net in self.trusted)

    def client_ip(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        forwarded = _header(scope, b"x-forwarded-for")
        if not (forwarded and self._is_trusted(peer)):
            return peer
        # Right to left: each trusted proxy appended the address it saw; the first one that is
        # not a trusted proxy is the client. Whatever lies left of it, the client wrote.
        for entry in reversed(forwarded.decode("latin-1").split(",")):
            address = entry.strip()
            if not self._is_trusted(address):
                try:
                    return str(ip_address(address))
                except ValueError:
                    return peer
        return peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        given_text = given.decode("latin-1") if given else ""
        # fullmatch: `$` would let a trailing newline through into our response headers.
        request_id = given_text if _VALID_REQUEST_ID.fullmatch(given_text) else uuid.uuid4().hex
        ip = self.client_ip(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_ip"] = ip
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
                return
            await self._http(scope, receive, send, request_id, ip)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")

    async def _http(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, ip: str
    ) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        status_holder = [500]
        rate_headers: list[tuple[bytes, bytes]] = []

        if (
            self.limiter.enabled
            and path not in _UNLIMITED_PATHS
            and not (scope["method"] in ("GET", "HEAD") and _MEDIA_PATH.match(path))
        ):
            decision = await self.limiter.hit(self.settings.rate_limit_global, "global", ip)
            if not decision.allowed:
                await send_error(
                    send,
                    429,
                    "rate_limited",
                    "Too many requests; try again later.",
                    request_id,
                    decision.headers(),
                )
                self._finish(scope, 429, started)
                return
            rate_headers = [(k.lower().encode(), v.encode()) for k, v in decision.headers().items()]

        content_type = _header(scope, b"content-type") or b""
        limit = self.settings.max_json_body_bytes
        guarded = not content_type.startswith(_STREAMED_TYPES)
        if guarded:
            length = _header(scope, b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                await send_error(
                    send,
                    413,
                    "payload_too_large",
                    f"The request body is larger than {limit} bytes.",
                    request_id,
                )
                self._finish(scope, 413, started)
                return

        received = 0
        response_started = False

        async def guarded_receive() -> Message:
            nonlocal received
            message = await receive()
            if guarded and message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises HTTPExceptions met while reading the body; the error
                    # handler renders it as `payload_too_large`.
                    raise HTTPException(413, f"The request body is larger than {limit} bytes.")
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(_SECURITY_HEADERS)
                # A route's own limit wins over the global one: its refusal already carries its
                # headers, a counted hit left them in the request state.
                if not any(name == b"ratelimit-limit" for name, _ in headers):
                    headers.extend(scope["state"].get(ROUTE_HEADERS_KEY) or rate_headers)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, guarded_receive, send_with_headers)
        except Exception as exc:
            # Answered here rather than by Starlette's outer ServerErrorMiddleware, so the 500
            # carries the request id and security headers too, and the access log records it.
            if response_started:
                raise
            log.exception("unhandled_error", error=repr(exc))
            response = render_error(Request(scope), 500, "internal_error", "Internal server error.")
            await response(scope, receive, send_with_headers)
        self._finish(scope, status_holder[0], started)

    def _finish(self, scope: Scope, status: int, started: float) -> None:
        """Log the request and count it in the metrics (by the route that served it)."""
        seconds = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.observe_request(scope, status, seconds)
        log.info(
            "request",
            method=scope["method"],
            path=scope["path"],
            status=status,
            duration_ms=round(seconds * 1000, 2),
        )
