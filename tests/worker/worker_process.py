"""A worker process for tests: the real `Worker`, with one test job type.

    python -m tests.worker.worker_process <database_url> <marker_file> <lease_seconds>

`test.sleepy` sleeps `payload["seconds"]`, then appends this process's id to the marker
file: the file shows which process completed the job, and how many times.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.events.bus import EventBus
from cinesonic.logs import configure_logging
from cinesonic.worker.registry import Registry
from cinesonic.worker.runner import JobContext, Worker


def _append(path: str, line: str) -> None:
    with open(path, "a") as handle:
        handle.write(line)


async def main(database_url: str, marker: str, lease_seconds: float) -> None:
    registry = Registry()

    @registry.job("test.sleepy")
    async def sleepy(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(float(payload["seconds"]))
        await asyncio.to_thread(_append, marker, f"{os.getpid()}\n")
        return {"pid": os.getpid()}

    settings = Settings(database_url=database_url, secret_key="x" * 32)  # type: ignore[arg-type]
    configure_logging(settings.model_copy(update={"log_format": "json", "log_level": "warning"}))
    db = Database(settings)
    worker = Worker(
        db, EventBus(), registry, settings, lease_seconds=lease_seconds, poll_interval=0.1
    )
    await worker.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await worker.stop(grace_seconds=1)
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
