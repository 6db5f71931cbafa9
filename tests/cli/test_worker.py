"""`cinesonic worker`: a standalone job worker process on the PostgreSQL queue."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.migrations.runner import upgrade
from cinesonic.models.job import Job, JobStatus
from cinesonic.worker import queue
from tests.cli.harness import invoke, process_environment

ON_POSTGRES = bool(os.environ.get("CINESONIC_TEST_DATABASE_URL"))


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite refusal")
async def test_worker_refuses_sqlite(settings: Settings) -> None:
    result = await invoke(settings, "worker")
    assert result.exit_code == 1
    assert "needs PostgreSQL" in result.stderr


@pytest.mark.skipif(not ON_POSTGRES, reason="standalone workers serve a PostgreSQL queue")
async def test_worker_refuses_an_unmigrated_database(settings: Settings) -> None:
    result = await invoke(settings, "worker")
    assert result.exit_code == 1
    assert "cinesonic migrate" in result.stderr


@pytest.mark.skipif(not ON_POSTGRES, reason="standalone workers serve a PostgreSQL queue")
async def test_worker_process_runs_jobs_and_stops_cleanly_on_sigterm(
    settings: Settings, tmp_path: Path
) -> None:
    assert settings.database_url is not None
    await asyncio.to_thread(upgrade, settings.database_url)
    db = Database(settings)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cinesonic",
        "worker",
        "--queues",
        "maintenance",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=process_environment(settings),
    )
    try:
        async with db.session() as session:
            job = await queue.enqueue(session, "jobs.prune", queue="maintenance")
        for _ in range(600):
            async with db.sessionmaker() as session:
                row = await session.get(Job, job.id)
            if row is not None and row.status == JobStatus.succeeded:
                break
            await asyncio.sleep(0.1)
        assert row is not None and row.status == JobStatus.succeeded
        assert row.result == {"removed": 0}
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await db.dispose()
