from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from cinesonic.app import create_app
from cinesonic.auth import service as auth_service
from cinesonic.config import Settings
from cinesonic.events.bus import EventBus
from cinesonic.events.websocket import OUTBOX_SIZE, Connection, Hub
from cinesonic.state import AppState
from tests.fixtures.live import serve
from tests.fixtures.users import SignedIn, create_and_login


@pytest.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


def ws_url(base_url: str, token: str | None = None) -> str:
    url = base_url.replace("http://", "ws://") + "/api/v1/ws"
    return f"{url}?access_token={token}" if token else url


async def receive(socket: Any, within: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), within))
    return message


async def subscribe(socket: Any, *topics: str) -> None:
    await socket.send(json.dumps({"type": "subscribe", "topics": list(topics)}))
    assert (await receive(socket))["type"] == "subscribed"


def job_event(owner: SignedIn | None, job_id: str = "j1") -> dict[str, Any]:
    return {
        "event": "job.progress",
        "owner_id": owner.user_id if owner else None,
        "job": {"id": job_id, "progress": {"percent": 50}},
    }


async def test_bad_token_is_closed_with_policy_violation(base_url: str) -> None:
    async with websockets.connect(ws_url(base_url, "not-a-token")) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_missing_token_is_closed_with_policy_violation(base_url: str) -> None:
    async with websockets.connect(ws_url(base_url)) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_bearer_header_works_and_own_job_events_arrive(
    base_url: str, client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    async with websockets.connect(ws_url(base_url), additional_headers=ada.headers) as socket:
        await subscribe(socket, "jobs")
        await state.bus.publish("jobs", job_event(ada))
        message = await receive(socket)
    assert message["topic"] == "jobs"
    assert message["event"] == "job.progress"
    assert message["data"]["job"]["progress"] == {"percent": 50}
    assert "ts" in message


async def test_other_users_job_events_are_not_delivered(
    base_url: str, client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    bob = await create_and_login(state, client, "bob")
    async with websockets.connect(ws_url(base_url, ada.access_token)) as socket:
        await subscribe(socket, "jobs")
        await state.bus.publish("jobs", job_event(bob, "bobs"))
        await state.bus.publish("jobs", job_event(ada, "adas"))
        message = await receive(socket)
    assert message["data"]["job"]["id"] == "adas"


async def test_admins_see_everyones_job_events(
    base_url: str, client: httpx.AsyncClient, state: AppState
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    bob = await create_and_login(state, client, "bob")
    async with websockets.connect(ws_url(base_url, admin.access_token)) as socket:
        await subscribe(socket, "jobs")
        await state.bus.publish("jobs", job_event(bob, "bobs"))
        assert (await receive(socket))["data"]["job"]["id"] == "bobs"


async def test_unsubscribed_topics_are_not_delivered(
    base_url: str, client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    async with websockets.connect(ws_url(base_url, ada.access_token)) as socket:
        await subscribe(socket, "jobs", "downloads")
        await socket.send(json.dumps({"type": "unsubscribe", "topics": ["jobs"]}))
        assert (await receive(socket))["topics"] == ["downloads"]
        await state.bus.publish("jobs", job_event(ada, "ignored"))
        await state.bus.publish("downloads", {"event": "download.done", "owner_id": ada.user_id})
        assert (await receive(socket))["topic"] == "downloads"


async def test_unknown_topics_and_junk_get_errors(
    base_url: str, client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    async with websockets.connect(ws_url(base_url, ada.access_token)) as socket:
        await socket.send(json.dumps({"type": "subscribe", "topics": ["secrets"]}))
        error = await receive(socket)
        assert error["type"] == "error" and "secrets" in error["message"]
        await socket.send("not json")
        assert (await receive(socket))["type"] == "error"
        await socket.send(json.dumps({"type": "ping"}))
        assert (await receive(socket))["type"] == "pong"


async def test_revoked_session_cannot_connect(
    base_url: str, client: httpx.AsyncClient, state: AppState
) -> None:
    ada = await create_and_login(state, client, "ada")
    await client.post("/api/v1/auth/logout", headers=ada.headers)
    async with websockets.connect(ws_url(base_url, ada.access_token)) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


class StuckSocket:
    """A client that never reads: every send blocks."""

    def __init__(self) -> None:
        self.closed_with: tuple[int, str] | None = None

    async def send_text(self, _text: str) -> None:
        await asyncio.Event().wait()

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)


async def test_slow_client_is_dropped_with_try_again_later(
    state: AppState, client: httpx.AsyncClient
) -> None:
    ada = await create_and_login(state, client, "ada")
    hub: Hub = client._transport.app.state.hub  # type: ignore[attr-defined]
    who = await auth_service.authenticate(
        state, auth_service.Credentials(method="GET", bearer=ada.access_token)
    )
    stuck = StuckSocket()
    connection = Connection(stuck, who, topics={"jobs"})  # type: ignore[arg-type]
    hub.connections.add(connection)
    healthy = Connection(StuckSocket(), who, topics={"jobs"})  # type: ignore[arg-type]
    hub.connections.add(healthy)
    for n in range(OUTBOX_SIZE + 1):
        await state.bus.publish("jobs", job_event(ada, f"job-{n}"))
        if n == OUTBOX_SIZE // 2:
            while not healthy.outbox.empty():
                healthy.outbox.get_nowait()  # this client keeps up
    await asyncio.sleep(0.05)
    assert stuck.closed_with == (1013, "client too slow")
    assert connection.closed_for_lag and not healthy.closed_for_lag
    hub.connections.clear()


@pytest.mark.skipif(not os.environ.get("CINESONIC_TEST_REDIS_URL"), reason="needs Redis")
async def test_event_on_one_replica_reaches_a_client_of_another(
    base_url: str, client: httpx.AsyncClient, state: AppState, settings: Settings
) -> None:
    ada = await create_and_login(state, client, "ada")
    other = create_app(settings.model_copy(update={"data_dir": settings.data_dir / "replica"}))
    async with LifespanManager(other):
        replica_state: AppState = other.state.cinesonic
        async with websockets.connect(ws_url(base_url, ada.access_token)) as socket:
            await subscribe(socket, "jobs")
            await replica_state.bus.publish("jobs", job_event(ada, str(uuid.uuid4())))
            assert (await receive(socket))["topic"] == "jobs"


class RecordingSocket:
    """A client that reads everything at once and never speaks."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.accepted = False

    async def accept(self) -> None:
        self.accepted = True

    async def receive_text(self) -> str:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        raise AssertionError(f"closed with {code} {reason}")


async def test_event_is_serialized_once_and_judged_once_per_principal() -> None:
    bus = EventBus()
    asked: list[tuple[object, str]] = []

    def may_see(principal: object, topic: str, data: dict[str, Any]) -> bool:
        asked.append((principal, topic))
        return principal == "ada"

    hub = Hub(bus, lambda _socket: asyncio.sleep(0, "ada"), may_see)
    adas = [Connection(RecordingSocket(), "ada", topics={"jobs"}) for _ in range(3)]  # type: ignore[arg-type]
    bobs = [Connection(RecordingSocket(), "bob", topics={"jobs"}) for _ in range(2)]  # type: ignore[arg-type]
    hub.connections.update(adas + bobs)
    await bus.publish("jobs", {"event": "job.progress", "job": {"id": "j1"}})
    assert sorted(asked) == [("ada", "jobs"), ("bob", "jobs")]
    messages = [connection.outbox.get_nowait() for connection in adas]
    assert all(message is messages[0] for message in messages)  # one string for everyone
    assert json.loads(messages[0])["data"] == {"job": {"id": "j1"}}
    assert all(connection.outbox.empty() for connection in bobs)


async def test_silent_connection_gets_heartbeat_pings() -> None:
    async def authenticate(_socket: object) -> str:
        return "ada"

    hub = Hub(EventBus(), authenticate, lambda *_: True, heartbeat_seconds=0.05)
    socket = RecordingSocket()
    serving = asyncio.create_task(hub.serve(socket))  # type: ignore[arg-type]
    try:
        for _ in range(200):
            if sum(json.loads(text)["type"] == "ping" for text in socket.sent) >= 2:
                break
            await asyncio.sleep(0.05)
        pings = [json.loads(text) for text in socket.sent]
        assert len(pings) >= 2 and all(p["type"] == "ping" and "ts" in p for p in pings)
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    assert not hub.connections
