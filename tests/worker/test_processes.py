"""Workers as real processes sharing one PostgreSQL queue."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cinesonic.models.job import Job, JobStatus
from cinesonic.state import AppState
from cinesonic.worker import queue

pytestmark = pytest.mark.skipif(
    not os.environ.get("CINESONIC_TEST_DATABASE_URL"),
    reason="several worker processes share a queue on PostgreSQL only",
)
ROOT = Path(__file__).resolve().parents[2]


def start_worker(database_url: str, marker: Path, lease_seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.worker.worker_process",
            database_url,
            str(marker),
            str(lease_seconds),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


async def job_row(state: AppState, job_id: uuid.UUID) -> Job:
    async with state.db.sessionmaker() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def test_job_of_a_killed_worker_completes_exactly_once_elsewhere(
    state: AppState, database_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "completions"
    first = start_worker(database_url, marker, lease_seconds=1.5)
    second: subprocess.Popen[str] | None = None
    try:
        async with state.db.session() as session:
            job = await queue.enqueue(session, "test.sleepy", {"seconds": 2.5})
        for _ in range(200):
            row = await job_row(state, job.id)
            if row.status == JobStatus.running:
                break
            await asyncio.sleep(0.05)
        assert row.status == JobStatus.running
        os.kill(first.pid, signal.SIGKILL)  # mid-job, no goodbye
        first.wait(5)
        second = start_worker(database_url, marker, lease_seconds=1.5)
        for _ in range(300):
            row = await job_row(state, job.id)
            if row.status == JobStatus.succeeded:
                break
            await asyncio.sleep(0.05)
        assert row.status == JobStatus.succeeded
        assert row.attempts == 2
        assert marker.read_text().split() == [str(second.pid)]
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(10)


async def test_two_worker_processes_share_the_queue_without_doubles(
    state: AppState, database_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "completions"
    workers = [start_worker(database_url, marker, lease_seconds=5) for _ in range(2)]
    try:
        async with state.db.session() as session:
            ids = [
                (await queue.enqueue(session, "test.sleepy", {"seconds": 0.05})).id
                for _ in range(40)
            ]
        for _ in range(400):
            rows = [await job_row(state, job_id) for job_id in ids]
            if all(row.status == JobStatus.succeeded for row in rows):
                break
            await asyncio.sleep(0.05)
        assert all(row.status == JobStatus.succeeded for row in rows)
        completions = marker.read_text().split()
        assert len(completions) == 40  # each job exactly once
        assert {str(w.pid) for w in workers} == set(completions)  # both took work
    finally:
        for process in workers:
            process.terminate()
            process.wait(10)
