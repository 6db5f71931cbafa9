"""The ceiling: a bare FastAPI app with one route answering constant JSON, served by uvicorn
with exactly the settings `cinesonic serve` uses (`cinesonic.cli.server_config`).

    python -m benchmarks.bare_app --port 8001
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI

from cinesonic.cli import freeze_startup_objects, server_config

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    options = parser.parse_args()
    server = uvicorn.Server(server_config(app, host=options.host, port=options.port))
    freeze_startup_objects()  # as `cinesonic serve` does
    server.run()
