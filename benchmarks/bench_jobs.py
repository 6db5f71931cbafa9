"""Job engine throughput and pick-up latency (issue: platform services).

    python -m benchmarks.bench_jobs [--jobs 5000] [--database-url URL] [--workers 1]

Throughput: N no-op jobs are enqueued in one transaction, then in-process workers (one per
`--workers`, each with `--concurrency`) run them; the figure is jobs finished per second.
Pick-up latency: one job at a time is enqueued; the time from its commit to its handler
starting is recorded (p50/p99 over `--latency-samples`). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from typing import Any

from sqlalchemy import func, select

from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.events.bus import EventBus
from cinesonic.migrations.runner import upgrade
from cinesonic.models.job import Job, JobStatus
from cinesonic.worker import queue
from cinesonic.worker.registry import Registry
from cinesonic.worker.runner import JobContext, Worker


async def run(options: argparse.Namespace) -> dict[str, Any]:
    url = options.database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/jobs.db"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, secret_key="x" * 32)  # type: ignore[arg-type]
    db = Database(settings)
    started: dict[str, float] = {}
    arrived = asyncio.Event()
    registry = Registry()

    @registry.job("bench.noop")
    async def noop(ctx: JobContext, payload: dict[str, Any]) -> None:
        started[str(ctx.job_id)] = time.perf_counter()
        arrived.set()

    async with db.session() as session:
        for _ in range(options.jobs):
            await queue.enqueue(session, "bench.noop")
    bus = EventBus()
    workers = [
        Worker(db, bus, registry, settings, concurrency=options.concurrency, poll_interval=0.05)
        for _ in range(options.workers)
    ]
    begin = time.perf_counter()
    for worker in workers:
        await worker.start()
    while True:
        async with db.sessionmaker() as session:
            left = await session.scalar(
                select(func.count()).select_from(Job).where(Job.status != JobStatus.succeeded)
            )
        if not left:
            break
        await asyncio.sleep(0.05)
    throughput = options.jobs / (time.perf_counter() - begin)

    latencies = []
    for _ in range(options.latency_samples):
        async with db.session() as session:
            job = await queue.enqueue(session, "bench.noop")
        committed = time.perf_counter()
        while str(job.id) not in started:
            arrived.clear()
            await arrived.wait()
        latencies.append((started[str(job.id)] - committed) * 1000)
    for worker in workers:
        await worker.stop()
    await db.dispose()
    latencies.sort()
    return {
        "database": "postgresql" if "postgresql" in url else "sqlite",
        "workers": options.workers,
        "concurrency": options.concurrency,
        "jobs": options.jobs,
        "jobs_per_second": round(throughput, 1),
        "pickup_ms_p50": round(statistics.median(latencies), 2),
        "pickup_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
