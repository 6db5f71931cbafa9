"""`cinesonic serve` as a real process: migrates, serves, logs, and stops cleanly on signals."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from cinesonic.config import Settings
from tests.cli.harness import PASSWORD, launched, serving

REGISTRATION = {"username": "ada", "email": "ada@example.com", "password": PASSWORD}


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_serve_registers_the_first_admin_and_exits_cleanly_on_sigterm(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            response = await client.post("/api/v1/auth/register", json=REGISTRATION)
        server.send(signal.SIGTERM)

        assert await server.exit_code() == 0
    assert response.status_code == 201, response.text
    assert response.json()["roles"] == ["admin"]


async def test_serve_writes_json_log_lines_when_not_on_a_terminal(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            await client.get("/api/v1/auth/me")
        server.send(signal.SIGTERM)
        await server.exit_code()

    events = json_lines(server.stderr)  # every line parses
    by_name = {event["event"]: event for event in events}
    assert "cinesonic user create-admin" in by_name["no_users_yet"]["hint"]
    assert by_name["no_users_yet"]["level"] == "warning"
    assert any(
        e["event"] == "request" and e["path"] == "/api/v1/auth/me" and e["status"] == 401
        for e in events
    )
    assert by_name["stopped"]["signal"] == "SIGTERM"


async def test_serve_logs_the_first_admin_hint_in_console_format(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings, tmp_path, CINESONIC_LOG_FORMAT="console") as server:
        server.send(signal.SIGTERM)
        await server.exit_code()

    assert "no_users_yet" in server.stderr
    assert "cinesonic user create-admin" in server.stderr
    assert not server.stderr.lstrip().startswith("{")


async def test_serve_exits_cleanly_on_sigint(settings: Settings, tmp_path: Path) -> None:
    async with serving(settings, tmp_path) as server:
        server.send(signal.SIGINT)

        assert await server.exit_code() == 0
    assert "KeyboardInterrupt" not in server.stderr


async def test_serve_finishes_a_request_in_flight_before_stopping(
    settings: Settings, tmp_path: Path
) -> None:
    body = json.dumps(REGISTRATION).encode()
    async with serving(settings, tmp_path) as server:
        address = urlsplit(server.base_url)
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        writer.write(
            b"POST /api/v1/auth/register HTTP/1.1\r\nHost: test\r\n"
            b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        await writer.drain()
        # The app is reading the body: the request is in flight.
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        server.send(signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert server.process.returncode is None  # still waiting for the request to finish
        writer.write(body)
        await writer.drain()
        response = await reader.read()  # the server closes the connection after answering
        writer.close()

        assert await server.exit_code() == 0
    assert response.startswith(b"HTTP/1.1 201 ")


async def test_serve_on_a_port_in_use_exits_with_the_startup_failure_code(
    settings: Settings, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        async with launched(settings, tmp_path, port=taken.getsockname()[1]) as server:
            assert await server.exit_code() == 3  # uvicorn's STARTUP_FAILURE
    assert any("address already in use" in e["event"] for e in json_lines(server.stderr))


async def test_serve_with_an_unreachable_database_logs_why_and_fails_to_start(
    settings: Settings, tmp_path: Path
) -> None:
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    async with launched(settings, tmp_path, CINESONIC_DATABASE_URL=unreachable) as server:
        assert await server.exit_code() == 3
    failure = next(e for e in json_lines(server.stderr) if e["event"] == "migration_failed")
    assert failure["error"].startswith("database error:")
    assert "Traceback" not in server.stderr
