"""Job engine throughput and pick-up latency (issue 3: platform services).

    python -m benchmarks.bench_jobs sqlite [--jobs 5000] [--concurrency 16]
    python -m benchmarks.bench_jobs postgres [--server URL] [--processes 1,2,4] [--jobs 10000]
                                             [--concurrency 16] [--redis-url URL]

`sqlite`: ONE process, as `cinesonic serve` runs it: the server's running state (database, event
bus, stored settings) and its worker (`cinesonic.app.start_worker`) in this process, on a fresh
SQLite file.

`postgres`: real `cinesonic worker` processes (this module's `worker` subcommand is the CLI
command with the benchmark's two job types declared), 1, 2 and 4 of them by default, against a
database this script creates on `--server` (default 127.0.0.1:5432) and drops when it ends —
one fresh copy of a migrated template per process count, so no run inherits another's dead rows.
With `--redis-url` the workers publish their job events through Redis, as replicas do.

Each run: the workers start and settle; N no-op jobs are enqueued in one transaction; the clock
starts at its commit and stops when the last of them has succeeded (jobs/s). Then pick-up
latency: single jobs enqueued one at a time, from the commit to their handler starting
(p50/p95/p99 over `--latency-samples`). `worker_cpu_us_per_job` is the worker processes' user +
system CPU time during the drain divided by N: unlike jobs/s it does not depend on how busy the
rest of the machine is. Workers log JSON lines at `--log-level` (default info, as a server does)
into a file in the run's temporary directory. Prints one JSON object per run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from cinesonic.app import running_state, start_worker
from cinesonic.config import Settings
from cinesonic.db import Database, after_commit
from cinesonic.kit.timeutil import as_utc
from cinesonic.logs import configure_logging
from cinesonic.migrations.runner import upgrade
from cinesonic.models.job import ACTIVE_STATUSES, Job, JobStatus
from cinesonic.worker import queue
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import JobContext

ROOT = Path(__file__).resolve().parents[1]
NOOP = "bench.noop"
CLOCK = "bench.clock"
DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


@registry.job(NOOP)
async def noop(ctx: JobContext, payload: dict[str, Any]) -> None:
    return None


@registry.job(CLOCK)
async def clock(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """When the handler started (wall clock: the benchmark may be another process)."""
    return {"started": time.time()}


# ---------------------------------------------------------------- measuring


async def enqueue_batch(db: Database, count: int) -> float:
    """Enqueue `count` no-op jobs in one transaction; answer the wall time of its commit."""
    committed: list[float] = []
    async with db.session() as session:

        async def stamp() -> None:
            committed.append(time.time())

        after_commit(session, stamp)  # registered first: runs before enqueue's wake-up
        for _ in range(count):
            await queue.enqueue(session, NOOP)
    return committed[0]


async def wait_drained(db: Database, count: int, poll_seconds: float = 0.1) -> float:
    """Wait until no job is left to run; answer when the last one finished (its
    `finished_at`, so how often this polls does not change the figure)."""
    while True:
        async with db.sessionmaker() as session:
            left = await session.scalar(
                select(func.count()).select_from(Job).where(Job.status.in_(ACTIVE_STATUSES))
            )
        if not left:
            break
        await asyncio.sleep(poll_seconds)
    async with db.sessionmaker() as session:
        succeeded, last = (
            await session.execute(
                select(func.count(), func.max(Job.finished_at)).where(
                    Job.status == JobStatus.succeeded
                )
            )
        ).one()
    if succeeded != count:
        raise RuntimeError(f"{succeeded} of {count} jobs succeeded; the run is not valid")
    return float(as_utc(last).timestamp())


async def pickup_latencies(db: Database, samples: int) -> list[float]:
    """Milliseconds from each job's commit to its handler starting, one job at a time."""
    latencies: list[float] = []
    for _ in range(samples):
        committed: list[float] = []
        async with db.session() as session:

            async def stamp(into: list[float] = committed) -> None:
                into.append(time.time())

            after_commit(session, stamp)
            job = await queue.enqueue(session, CLOCK)
        while True:
            async with db.sessionmaker() as session:
                row = (
                    await session.execute(select(Job.status, Job.result).where(Job.id == job.id))
                ).one()
            if row.status == JobStatus.succeeded:
                break
            if row.status == JobStatus.dead:
                raise RuntimeError("a latency probe job died")
            await asyncio.sleep(0.002)
        latencies.append((float(row.result["started"]) - committed[0]) * 1000)
    return latencies


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": round(values[0], 2)} if values else {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 2), "p95": round(cuts[94], 2), "p99": round(cuts[98], 2)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def report(options: argparse.Namespace, **values: Any) -> None:
    print(json.dumps({"jobs": options.jobs, "concurrency": options.concurrency, **values}))
    sys.stdout.flush()


# ---------------------------------------------------------------- SQLite: one process


def run_sqlite(options: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="cinesonic-bench-jobs-"))
    try:
        # The server's log lines go to a file, as a server's would (not to this terminal).
        with open(workdir / "worker.log", "w") as log, contextlib.redirect_stderr(log):
            asyncio.run(measure_sqlite(options, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def measure_sqlite(options: argparse.Namespace, workdir: Path) -> None:
    url = f"sqlite+aiosqlite:///{workdir / 'cinesonic.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(  # type: ignore[call-arg]
        data_dir=workdir,
        database_url=url,
        secret_key="x" * 48,
        log_format="json",
        log_level=options.log_level,
        worker_concurrency=options.concurrency,
    )
    settings.prepare_data_dir()
    configure_logging(settings)
    async with running_state(settings) as state:
        worker = start_worker(state)
        await worker.start()
        try:
            await asyncio.sleep(0.5)  # settle: first claim round, cron loop
            load_before = load()
            cpu_before = time.process_time()
            begin = await enqueue_batch(state.db, options.jobs)
            # Enqueueing ran in this process too; its CPU is not the worker's.
            cpu_enqueue = time.process_time() - cpu_before
            end = await wait_drained(state.db, options.jobs)
            cpu = time.process_time() - cpu_before - cpu_enqueue
            latencies = await pickup_latencies(state.db, options.latency_samples)
        finally:
            await worker.stop()
    report(
        options,
        database="sqlite",
        processes=1,
        seconds=round(end - begin, 3),
        jobs_per_second=round(options.jobs / (end - begin), 1),
        process_cpu_us_per_job=round(cpu / options.jobs * 1e6),
        pickup_ms=percentiles(latencies),
        load_before=load_before,
        load_after=load(),
    )


# ---------------------------------------------------------------- PostgreSQL: worker processes


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def scratch_databases(server: str) -> AsyncIterator[tuple[str, list[str]]]:
    """A migrated template database; the caller makes copies of it (names go in the list).
    Every one of them is dropped at the end, whatever happened."""
    admin = await asyncpg.connect(_admin_dsn(server))
    prefix = f"cinesonic_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    template = f"{prefix}_template"
    created: list[str] = []
    try:
        await admin.execute(f'CREATE DATABASE "{template}"')
        created.append(template)
        url = make_url(server).set(database=template).render_as_string(hide_password=False)
        await asyncio.to_thread(upgrade, url)
        yield template, created
    finally:
        for name in reversed(created):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.contextmanager
def worker_processes(
    count: int, url: str, workdir: Path, options: argparse.Namespace
) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {
        **os.environ,
        "CINESONIC_DATABASE_URL": url,
        "CINESONIC_DATA_DIR": str(workdir),
        "CINESONIC_SECRET_KEY": "x" * 48,
        "CINESONIC_LOG_FORMAT": "json",
        "CINESONIC_LOG_LEVEL": options.log_level,
        "CINESONIC_WORKER_CONCURRENCY": str(options.concurrency),
    }
    env.pop("CINESONIC_REDIS_URL", None)
    if options.redis_url:
        env["CINESONIC_REDIS_URL"] = options.redis_url
        env["CINESONIC_REDIS_PREFIX"] = f"cinesonic-bench-{uuid.uuid4().hex[:8]}"
    processes: list[subprocess.Popen[bytes]] = []
    logs = [workdir / f"worker-{n}.log" for n in range(count)]
    try:
        for path in logs:
            with open(path, "wb") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "benchmarks.bench_jobs", "worker"],
                        cwd=ROOT,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                )
        deadline = time.monotonic() + 60
        for process, path in zip(processes, logs, strict=True):
            while b'"worker_started"' not in path.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start: {path.read_text()[-2000:]}")
                time.sleep(0.05)
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def run_postgres_once(
    options: argparse.Namespace, template: str, created: list[str], count: int
) -> None:
    name = f"{template.removesuffix('_template')}_{count}p"
    admin = await asyncpg.connect(_admin_dsn(options.server))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    created.append(name)
    url = make_url(options.server).set(database=name).render_as_string(hide_password=False)
    workdir = Path(tempfile.mkdtemp(prefix="cinesonic-bench-jobs-"))
    db = Database(Settings(database_url=url, secret_key="x" * 48))  # type: ignore[call-arg]
    try:
        with worker_processes(count, url, workdir, options) as processes:
            await asyncio.sleep(1.0)  # settle: every worker has run its first claim
            load_before = load()
            begin = await enqueue_batch(db, options.jobs)
            cpu_before = sum(cpu_seconds(p.pid) for p in processes)
            end = await wait_drained(db, options.jobs)
            cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu_before
            latencies = await pickup_latencies(db, options.latency_samples)
        report(
            options,
            database="postgresql",
            processes=count,
            redis=bool(options.redis_url),
            seconds=round(end - begin, 3),
            jobs_per_second=round(options.jobs / (end - begin), 1),
            worker_cpu_us_per_job=round(cpu / options.jobs * 1e6),
            pickup_ms=percentiles(latencies),
            load_before=load_before,
            load_after=load(),
        )
    finally:
        await db.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


async def run_postgres(options: argparse.Namespace) -> None:
    async with scratch_databases(options.server) as (template, created):
        for count in options.processes:
            await run_postgres_once(options, template, created, count)


# ---------------------------------------------------------------- entry points


def run_worker_command(arguments: list[str]) -> None:
    """`cinesonic worker`, with this module's job types declared (importing it did that)."""
    from cinesonic.cli import main as cli_main

    sys.argv = ["cinesonic", "worker", *arguments]
    cli_main()


def main() -> None:
    if sys.argv[1:2] == ["worker"]:
        run_worker_command(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("database", choices=["sqlite", "postgres"])
    parser.add_argument("--jobs", type=int, default=None, help="default 5000 (sqlite), 10000")
    parser.add_argument("--concurrency", type=int, default=16, help="jobs per worker at once")
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server (postgres)")
    parser.add_argument(
        "--processes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2, 4],
        help="worker process counts to run, e.g. 1,2,4 (postgres)",
    )
    parser.add_argument("--redis-url", default=None, help="event bus for the workers (postgres)")
    options = parser.parse_args()
    if options.database == "sqlite":
        options.jobs = options.jobs or 5000
        run_sqlite(options)
    else:
        options.jobs = options.jobs or 10000
        asyncio.run(run_postgres(options))


if __name__ == "__main__":
    main()
