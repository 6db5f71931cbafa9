"""`/api/v1/ws`: live events for clients, fed by the event bus.

A client authenticates (bearer header or `?access_token=`), then sends
`{"type": "subscribe", "topics": [...]}` / `{"type": "unsubscribe", ...}` and receives
`{"topic", "event", "data", "ts"}` for the topics it holds — only events its principal may see.
Who may see what is the app's business: `Hub` is given an `authenticate` and a `may_see`
callable, so this module stays free of any domain.

Every connection has a bounded outbox, emptied by a sender task of its own; a client that
falls that far behind is closed with 1013 (try again later) instead of slowing everyone else.
An event is serialized once for all its recipients, and visibility is asked once per principal
per event. A connection that has been sent nothing for `heartbeat_seconds` gets
`{"type": "ping"}` (one hub-wide timer, not one per connection); clients may send
`{"type": "ping"}` and get a pong.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect

from cinesonic.events.bus import EventBus
from cinesonic.kit.timeutil import utcnow

log = structlog.get_logger("cinesonic.ws")

TOPICS = (
    "jobs",
    "library",
    "import",
    "service.status",
    "media.requests",
    "downloads",
    "torrents",
    "encodings",
    "files",
    "notifications",
)
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TRY_AGAIN_LATER = 1013
OUTBOX_SIZE = 256


@dataclass(eq=False)  # hashed by identity: connections live in a set
class Connection:
    websocket: WebSocket
    principal: Any
    topics: set[str] = field(default_factory=set)
    outbox: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(OUTBOX_SIZE))
    closed_for_lag: bool = False
    # Event-loop time of the last message handed to the socket (the heartbeat reads it).
    last_sent: float = field(default_factory=lambda: asyncio.get_running_loop().time())


Authenticate = Callable[[WebSocket], Awaitable[Any | None]]
MaySee = Callable[[Any, str, dict[str, Any]], bool]


class Hub:
    def __init__(
        self,
        bus: EventBus,
        authenticate: Authenticate,
        may_see: MaySee,
        *,
        heartbeat_seconds: float = 25.0,
    ) -> None:
        self.authenticate = authenticate
        self.may_see = may_see
        self.heartbeat_seconds = heartbeat_seconds
        self.connections: set[Connection] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        for topic in TOPICS:
            bus.subscribe(topic, self._fan_out(topic))

    def _fan_out(self, topic: str) -> Callable[[Any], Awaitable[None]]:
        async def deliver(data: Any) -> None:
            if not isinstance(data, dict) or not self.connections:
                return
            message: str | None = None
            # A principal's sockets (often many: tabs, devices) share one verdict per event.
            verdicts: dict[int, bool] = {}
            for connection in list(self.connections):
                if topic not in connection.topics or connection.closed_for_lag:
                    continue
                principal = connection.principal
                visible = verdicts.get(id(principal))
                if visible is None:
                    visible = verdicts[id(principal)] = self.may_see(principal, topic, data)
                if not visible:
                    continue
                if message is None:
                    message = json.dumps(
                        {
                            "topic": topic,
                            "event": data.get("event", topic),
                            "data": {k: v for k, v in data.items() if k != "event"},
                            "ts": utcnow().isoformat(),
                        }
                    )
                self._enqueue(connection, message)

        return deliver

    def _enqueue(self, connection: Connection, message: str) -> None:
        try:
            connection.outbox.put_nowait(message)
        except asyncio.QueueFull:
            connection.closed_for_lag = True
            asyncio.get_running_loop().create_task(self._drop_slow(connection))

    async def _drop_slow(self, connection: Connection) -> None:
        log.warning("ws_client_too_slow", topics=sorted(connection.topics))
        with contextlib.suppress(Exception):
            await connection.websocket.close(CLOSE_TRY_AGAIN_LATER, "client too slow")

    async def serve(self, websocket: WebSocket) -> None:
        try:
            principal = await self.authenticate(websocket)
        except Exception:
            principal = None
        # Accept first so the client gets a close code it can read, not a bare HTTP 403.
        await websocket.accept()
        if principal is None:
            await websocket.close(CLOSE_POLICY_VIOLATION, "authentication required")
            return
        connection = Connection(websocket, principal)
        self.connections.add(connection)
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._beat(), name="ws-heartbeat")
        sender = asyncio.create_task(self._send_loop(connection))
        try:
            await self._receive_loop(connection)
        except WebSocketDisconnect:
            pass
        finally:
            self.connections.discard(connection)
            if not self.connections and self._heartbeat is not None:
                self._heartbeat.cancel()
                self._heartbeat = None
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _send_loop(self, connection: Connection) -> None:
        # A plain `get()`: a `wait_for` timeout here would cost a task and a timer per message,
        # as much as the send itself; idle connections are the heartbeat's business.
        send, outbox = connection.websocket.send_text, connection.outbox
        loop = asyncio.get_running_loop()
        while True:
            message = await outbox.get()
            await send(message)
            connection.last_sent = loop.time()

    async def _beat(self) -> None:
        """Ping every connection that has been sent nothing for `heartbeat_seconds`, checking
        five times per period (so no connection stays silent much longer)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.heartbeat_seconds / 5)
            due = loop.time() - self.heartbeat_seconds
            message: str | None = None
            for connection in list(self.connections):
                if connection.last_sent > due or connection.closed_for_lag:
                    continue
                message = message or json.dumps({"type": "ping", "ts": utcnow().isoformat()})
                connection.last_sent = loop.time()  # one ping per silent period, not per check
                self._enqueue(connection, message)

    async def _receive_loop(self, connection: Connection) -> None:
        websocket = connection.websocket
        while True:
            raw = await websocket.receive_text()
            try:
                message = json.loads(raw)
                kind = message.get("type")
                topics = message.get("topics", [])
                if not isinstance(topics, list):
                    raise ValueError("topics must be a list")
            except (ValueError, AttributeError):
                await self._reply(connection, {"type": "error", "message": "Send JSON objects."})
                continue
            if kind == "ping":
                await self._reply(connection, {"type": "pong"})
            elif kind in ("subscribe", "unsubscribe"):
                unknown = [t for t in topics if t not in TOPICS]
                if unknown:
                    await self._reply(
                        connection,
                        {
                            "type": "error",
                            "message": f"Unknown topics: {unknown}",
                            "topics": list(TOPICS),
                        },
                    )
                    continue
                if kind == "subscribe":
                    connection.topics.update(topics)
                else:
                    connection.topics.difference_update(topics)
                await self._reply(
                    connection, {"type": "subscribed", "topics": sorted(connection.topics)}
                )
            else:
                await self._reply(
                    connection, {"type": "error", "message": f"Unknown type {kind!r}."}
                )

    async def _reply(self, connection: Connection, message: dict[str, Any]) -> None:
        try:
            connection.outbox.put_nowait(json.dumps(message))
        except asyncio.QueueFull:
            connection.closed_for_lag = True
            await self._drop_slow(connection)
