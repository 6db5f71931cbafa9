"""Logs are JSON lines with the request id bound. Logging is process-wide, so each scenario runs
the real app in a child process and reads what it wrote to stderr."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import httpx
    from asgi_lifespan import LifespanManager
    from cinesonic.app import create_app
    from cinesonic.config import Settings
    from cinesonic.logs import configure_logging
    from cinesonic.migrations.runner import upgrade
    from tests.platform import probe

    data_dir = sys.argv[1]
    url = f"sqlite+aiosqlite:///{data_dir}/cinesonic.db"
    upgrade(url)
    settings = Settings(
        data_dir=data_dir, database_url=url, log_format="json", log_level="info",
        secret_key="logs-test-secret-key-0123456789",
    )
    configure_logging(settings)

    async def main():
        app = create_app(settings)
        app.include_router(probe.router, prefix=probe.PREFIX)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                for path in sys.argv[2:]:
                    await client.get(path, headers={"X-Request-ID": "logged-" + path[-4:]})

    asyncio.run(main())
    """
)


def run_app(tmp_path: Path, *paths: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), *paths],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def test_every_log_line_is_a_json_object_with_level_and_utc_time(tmp_path: Path) -> None:
    records = run_app(tmp_path, "/health")
    assert records
    for record in records:
        assert record["level"]
        assert record["timestamp"].endswith("Z")


def test_access_log_line_carries_the_request_id(tmp_path: Path) -> None:
    records = run_app(tmp_path, "/api/v1/nope")
    access = [r for r in records if r["event"] == "request"]
    assert access == [
        {
            "event": "request",
            "method": "GET",
            "path": "/api/v1/nope",
            "status": 404,
            "duration_ms": access[0]["duration_ms"],
            "request_id": "logged-nope",
            "level": "info",
            "timestamp": access[0]["timestamp"],
        }
    ]


def test_unexpected_error_is_logged_with_its_trace_and_request_id(tmp_path: Path) -> None:
    records = run_app(tmp_path, "/api/v1/_probe/boom")
    errors = [r for r in records if r["event"] == "unhandled_error"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "logged-boom"
    assert errors[0]["level"] == "error"
    assert "secret-internal-detail" in errors[0]["exception"]
    access = [r for r in records if r["event"] == "request"]
    assert [(r["status"], r["request_id"]) for r in access] == [(500, "logged-boom")]
