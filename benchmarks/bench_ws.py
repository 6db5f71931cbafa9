"""WebSocket fan-out: how long an event takes to reach 1,000 connected clients.

    benchmarks/run.sh ws [--connections 1000] [--events 50] [--bystanders 100] [--nice -15]

One `cinesonic serve` (SQLite, in-process worker, full middleware stack, rate limits raised out
of the way) runs pinned to CPU 0; ONE client process, pinned to CPU 1, holds every socket and
triggers the events, so send and receipt times come from one clock:

1. an admin is created; it creates two users, `owner` and `other`; `owner` gets queued jobs
   (seeded straight into the database, due in a year so no worker takes them);
2. the clients connect to `/api/v1/ws` (`Authorization: Bearer`) and subscribe to `jobs`: 90%
   of `--connections` as `owner`, 10% as the admin (who sees everyone's jobs), plus
   `--bystanders` sockets of `other`, who must receive nothing;
3. each event is real: `DELETE /api/v1/jobs/{id}` by `owner` cancels a queued job, whose
   `job.cancelled` event the job service publishes after the commit, through the event bus and
   the hub, to every socket allowed to see it. The next event is sent once every socket has
   its copy (or after `--timeout`);
4. latency = receipt time − the time the DELETE was sent, for every (event, socket); also
   receipt − the event's `ts` (set by the hub as it serializes the event, i.e. fan-out alone).

It runs with the in-memory bus, then again with `CINESONIC_REDIS_URL` (the event travels
through Redis pub/sub), then against the bare baseline: a minimal Starlette app that keeps its
sockets in a set and sends one pre-serialized message to each in turn (`bare` sub-command,
triggered by `POST /publish`), under the uvicorn settings `cinesonic serve` uses.

The clients are a minimal WebSocket protocol on asyncio (uvloop when installed): each chunk the
kernel hands over is stamped on arrival, before any parsing, and a message costs the client a
few microseconds; its CPU time per event is reported, to show it is not the bottleneck.
Results: a Markdown table on stdout, JSON and logs in benchmarks/results/<time>-ws/.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_auth import (
    ADMIN,
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CLIENT_CPU,
    NICENESS,
    ROOT,
    Server,
    code_version,
    machine,
    profiled,
    running,
    server_env,
    sign_in,
    start,
    wait_until_quiet,
)

RESULTS = ROOT / "benchmarks" / "results"
TARGET_P99_MS = 250.0
PASSWORD = "Bench-Password-1"
WARMUP_EVENTS = 3

# ---------------------------------------------------------------- the client side


@dataclass
class Tally:
    """What the sockets of one process received: events are kept raw, with their arrival
    time, and parsed after the run, so that a message costs the client next to nothing while
    the others are still arriving."""

    expected: int = 0  # receiving sockets: copies of each event
    count: int = 0  # copies of the current event so far
    done: asyncio.Event = field(default_factory=asyncio.Event)
    received: list[tuple[float, bytes]] = field(default_factory=list)
    stray: int = 0  # events delivered to a socket that must not see them
    closed: list[int] = field(default_factory=list)

    def arrived(self, at: float, payload: bytes) -> None:
        self.received.append((at, payload))
        self.count += 1
        if self.count == self.expected:
            self.done.set()


class Socket(asyncio.Protocol):
    """A client WebSocket (RFC 6455), just enough of it: handshake, masked text frames out,
    unmasked text/ping/close frames in."""

    def __init__(self, path: str, host: str, token: str | None, tally: Tally, receives: bool):
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token else "")
            + "\r\n"
        ).encode()
        self.tally = tally
        self.receives = receives
        self.buffer = b""
        self.upgraded = False
        self.open = asyncio.get_running_loop().create_future()  # set by the 101 answer
        self.replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        self.transport.write(self.request)

    def send(self, payload: bytes, opcode: int = 0x1) -> None:
        assert self.transport is not None and len(payload) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def data_received(self, data: bytes) -> None:
        arrived = time.time()  # first thing: parsing must not count as latency
        buffer = self.buffer + data
        if not self.upgraded:
            head, found, rest = buffer.partition(b"\r\n\r\n")
            if not found:
                self.buffer = buffer
                return
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self.open.set_exception(ConnectionError(head.decode("latin-1")))
                return
            self.upgraded, buffer = True, rest
            self.open.set_result(None)
        while len(buffer) >= 2:
            opcode, length, start = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    break
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    break
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + length:
                break
            payload, buffer = buffer[start : start + length], buffer[start + length :]
            if opcode == 0x1:
                # The hub serializes events with "topic" first; anything else is a reply.
                if not payload.startswith(b'{"topic"'):
                    self.on_reply(json.loads(payload))
                elif self.receives:
                    self.tally.arrived(arrived, payload)
                else:
                    self.tally.stray += 1
            elif opcode == 0x9:
                self.send(payload, opcode=0xA)  # pong
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.tally.closed.append(code)
                self.replies.put_nowait({"type": "closed", "code": code, "reason": payload[2:]})
        self.buffer = buffer

    def on_reply(self, message: dict[str, Any]) -> None:
        if message.get("type") != "ping":  # the server's heartbeat needs no answer
            self.replies.put_nowait(message)


async def open_socket(url: httpx.URL, token: str | None, tally: Tally, receives: bool) -> Socket:
    loop = asyncio.get_running_loop()
    host = f"{url.host}:{url.port}"
    _, socket = await loop.create_connection(
        lambda: Socket(url.raw_path.decode(), host, token, tally, receives),
        url.host,
        url.port,
    )
    # Nothing before the 101: a server may drop bytes that came with the handshake request.
    await asyncio.wait_for(socket.open, 30)
    socket.send(json.dumps({"type": "subscribe", "topics": ["jobs"]}).encode())
    reply = await asyncio.wait_for(socket.replies.get(), 30)
    if reply.get("type") != "subscribed":
        raise RuntimeError(f"subscribe answered {reply}")
    return socket


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50_ms": round(percentile(values, 0.50), 2),
        "p95_ms": round(percentile(values, 0.95), 2),
        "p99_ms": round(percentile(values, 0.99), 2),
        "max_ms": round(max(values), 2),
    }


async def clients(spec: dict[str, Any]) -> dict[str, Any]:
    """Connect every socket of `spec`, trigger its events one by one, answer the latencies."""
    tally = Tally()
    url = httpx.URL(spec["ws_url"])
    sockets: list[Socket] = []
    began = time.monotonic()
    for group in spec["groups"]:
        for first in range(0, group["count"], 50):  # a burst of handshakes, not a flood
            batch = range(first, min(group["count"], first + 50))
            sockets += await asyncio.gather(
                *(open_socket(url, group["token"], tally, group["receives"]) for _ in batch)
            )
    receivers = sum(g["count"] for g in spec["groups"] if g["receives"])
    tally.expected = receivers
    connect_seconds = time.monotonic() - began

    trigger = spec["trigger"]
    markers: list[str] = trigger["markers"]
    sent_at: dict[str, float] = {}
    incomplete = 0
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    async with httpx.AsyncClient(base_url=trigger["base_url"], timeout=30) as http:
        for marker in markers:
            tally.count = 0
            tally.done.clear()
            sent_at[marker] = time.time()
            if trigger["kind"] == "cinesonic":
                response = await http.delete(
                    f"/api/v1/jobs/{marker}",
                    headers={"Authorization": f"Bearer {trigger['token']}"},
                )
            else:
                response = await http.post("/publish", params={"marker": marker})
            response.raise_for_status()
            try:
                await asyncio.wait_for(tally.done.wait(), spec["timeout"])
            except TimeoutError:
                incomplete += 1
            await asyncio.sleep(spec["interval"])
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.sleep(0.2)  # late strays still count
    for socket in sockets:
        if socket.transport is not None:
            socket.transport.close()

    measured = set(markers[spec["warmup"] :])
    arrivals: dict[str, list[tuple[float, float]]] = {marker: [] for marker in measured}
    for at, payload in tally.received:
        message = json.loads(payload)
        marker = str(message["data"]["job"]["id"])
        if marker in measured:
            arrivals[marker].append((at, datetime.fromisoformat(message["ts"]).timestamp()))
    end_to_end = [
        (at - sent_at[marker]) * 1000 for marker, got in arrivals.items() for at, _ in got
    ]
    fan_out = [(at - ts) * 1000 for got in arrivals.values() for at, ts in got]
    last = [max(at for at, _ in got) - sent_at[m] for m, got in arrivals.items() if got]
    client_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (
        cpu_before.ru_utime + cpu_before.ru_stime
    )
    return {
        "sockets": len(sockets),
        "receivers": receivers,
        "connect_seconds": round(connect_seconds, 2),
        "events": len(measured),
        "samples": len(end_to_end),
        "missing": receivers * len(measured) - len(end_to_end),
        "incomplete_events": incomplete,
        "stray": tally.stray,
        "closed": tally.closed,
        "end_to_end": summary(end_to_end),
        "fan_out": summary(fan_out),
        "last_socket_per_event": summary([seconds * 1000 for seconds in last]),
        # includes each trigger request: an upper bound of what receiving costs
        "client_cpu_ms_per_event": round(client_cpu * 1000 / max(1, len(markers)), 2),
    }


def run_clients(spec_path: Path) -> None:
    spec = json.loads(spec_path.read_text())
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    print(json.dumps(runner(clients(spec))))


# ---------------------------------------------------------------- the server side


def seed_jobs(data_dir: Path, owner_id: str, count: int) -> None:
    """Queued jobs of `owner_id`, due in a year (no worker takes them); prints their ids."""
    import uuid

    from cinesonic.config import Settings
    from cinesonic.db import Database
    from cinesonic.kit.timeutil import utcnow
    from cinesonic.worker import queue

    async def seed() -> list[str]:
        db = Database(Settings(data_dir=data_dir))
        later = utcnow() + timedelta(days=365)
        async with db.session() as session:
            jobs = [
                await queue.enqueue(
                    session, "bench.idle", queue="bench", run_at=later, owner_id=uuid.UUID(owner_id)
                )
                for _ in range(count)
            ]
        await db.dispose()
        return [str(job.id) for job in jobs]

    print(json.dumps(asyncio.run(seed())))


def serve_bare(port: int) -> None:
    """The baseline: sockets in a set, one message serialized once and sent to each in turn."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    from cinesonic.cli import freeze_startup_objects, server_config

    sockets: set[WebSocket] = set()

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def publish(request: Request) -> JSONResponse:
        marker = request.query_params["marker"]
        message = json.dumps(
            {
                "topic": "jobs",
                "event": "job.cancelled",
                "data": {"owner_id": None, "job": {"id": marker, "status": "cancelled"}},
                "ts": datetime.now(UTC).isoformat(),
            }
        )
        for socket in list(sockets):
            try:
                await socket.send_text(message)
            except Exception:
                sockets.discard(socket)
        return JSONResponse({"sent": len(sockets)})

    async def endpoint(socket: WebSocket) -> None:
        await socket.accept()
        try:
            await socket.receive_text()  # the subscription
            await socket.send_text(json.dumps({"type": "subscribed", "topics": ["jobs"]}))
            sockets.add(socket)
            while True:
                await socket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            sockets.discard(socket)

    app = Starlette(
        routes=[
            Route("/healthz", health),
            Route("/publish", publish, methods=["POST"]),
            WebSocketRoute("/api/v1/ws", endpoint),
        ]
    )
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port))
    freeze_startup_objects()
    server.run()


# ---------------------------------------------------------------- the driver


def create_user(server: Server, admin: dict[str, str], username: str) -> tuple[str, str]:
    """Create a user as the admin and sign in as them: (user id, access token)."""
    response = httpx.post(
        server.base_url + "/api/v1/users",
        json={
            "username": username,
            "email": f"{username}@example.com",
            "password": PASSWORD,
            "role": "user",
        },
        headers=admin,
        timeout=30,
    )
    response.raise_for_status()
    login = httpx.post(
        server.base_url + "/api/v1/auth/login",
        json={"identifier": username, "password": PASSWORD},
        timeout=30,
    )
    login.raise_for_status()
    return str(response.json()["id"]), str(login.json()["access_token"])


def measure(
    name: str, server: Server, spec: dict[str, Any], out: Path, options: argparse.Namespace
) -> dict[str, Any]:
    busy = wait_until_quiet(options.quiet_below, options.patience)
    load_average = os.getloadavg()[0]
    spec_path = out / f"{name}.spec.json"
    spec_path.write_text(json.dumps(spec))
    command = ["taskset", "-c", CLIENT_CPU, sys.executable, "-m", "benchmarks.bench_ws"]
    # The profile covers the connections being opened too; the events dominate it.
    seconds = round(5 + len(spec["trigger"]["markers"]) * (options.interval + 0.3))
    with profiled(options.profile, server, out / f"{name}.pyspy.txt", seconds):
        process = start(
            [*command, "clients", "--spec", str(spec_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        output, errors = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{name}: the clients failed ({process.returncode}):\n{errors}")
    result: dict[str, Any] = json.loads(output)
    result.update(others_cpu_before=round(busy, 3), load_average=load_average)
    if result["missing"] or result["stray"] or result["closed"]:
        raise RuntimeError(f"{name}: deliveries went wrong: {result}")
    print(f"{name}: {json.dumps(result)}", file=sys.stderr)
    return result


def run(options: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("taskset") is None:
        raise SystemExit("taskset is missing")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}-ws"
    out.mkdir(parents=True)
    source = out / "src"
    shutil.copytree(
        options.source, source / "cinesonic", ignore=shutil.ignore_patterns("__pycache__")
    )
    python = sys.executable
    results: dict[str, Any] = {
        "code": code_version(),
        "machine": machine(),
        "nice": options.nice,
        "connections": options.connections,
        "bystanders": options.bystanders,
        "events": options.events,
        "measurements": {},
    }
    per_run = options.events + WARMUP_EVENTS
    admins = max(1, options.connections // 10)
    backends = {"memory": None, "redis": options.redis_url}
    print(f"results in {out}", file=sys.stderr)
    for backend, redis_url in backends.items():
        if redis_url == "":
            continue
        data_dir = out / f"data-{backend}"
        env = server_env(data_dir, "warning", source)
        if redis_url:
            env.update(CINESONIC_REDIS_URL=redis_url, CINESONIC_REDIS_PREFIX=f"bench-ws-{stamp}")
        serve = [python, "-m", "cinesonic", "serve", "--data-dir", str(data_dir)]
        with running(serve, env, out / f"serve-{backend}.log", "/healthz") as server:
            subprocess.run(
                [
                    *(python, "-m", "cinesonic", "user", "create-admin", "--password-stdin"),
                    *("--username", ADMIN, "--email", ADMIN_EMAIL, "--data-dir", str(data_dir)),
                ],
                input=f"{ADMIN_PASSWORD}\n".encode(),
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            admin = sign_in(server)
            owner_id, owner_token = create_user(server, admin, "owner")
            _, other_token = create_user(server, admin, "other")
            seeded = subprocess.run(
                [
                    *(python, "-m", "benchmarks.bench_ws", "seed", "--data-dir", str(data_dir)),
                    *("--owner", owner_id, "--count", str(per_run)),
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            spec = {
                "ws_url": server.base_url.replace("http://", "ws://") + "/api/v1/ws",
                "groups": [
                    {"token": owner_token, "count": options.connections - admins, "receives": True},
                    {"token": admin["Authorization"][7:], "count": admins, "receives": True},
                    {"token": other_token, "count": options.bystanders, "receives": False},
                ],
                "trigger": {
                    "kind": "cinesonic",
                    "base_url": server.base_url,
                    "token": owner_token,
                    "markers": json.loads(seeded.stdout),
                },
                "warmup": WARMUP_EVENTS,
                "interval": options.interval,
                "timeout": options.timeout,
            }
            results["measurements"][backend] = measure(backend, server, spec, out, options)
        if not options.keep_data:
            shutil.rmtree(data_dir)

    bare = [python, "-m", "benchmarks.bench_ws", "bare"]
    with running(bare, server_env(out, "warning", source), out / "bare.log", "/healthz") as server:
        spec = {
            "ws_url": server.base_url.replace("http://", "ws://") + "/api/v1/ws",
            "groups": [{"token": None, "count": options.connections, "receives": True}],
            "trigger": {
                "kind": "bare",
                "base_url": server.base_url,
                "markers": [f"bare-{n}" for n in range(per_run)],
            },
            "warmup": WARMUP_EVENTS,
            "interval": options.interval,
            "timeout": options.timeout,
        }
        results["measurements"]["bare"] = measure("bare", server, spec, out, options)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    if not options.keep_data:
        shutil.rmtree(source)
    return results


def table(results: dict[str, Any]) -> str:
    labels = {
        "memory": "cinesonic, in-memory bus",
        "redis": "cinesonic, Redis bus (127.0.0.1)",
        "bare": "bare Starlette broadcast",
    }
    rows = [
        "| server | sockets | events | p50 ms | p95 ms | p99 ms | max ms | fan-out p99 ms "
        "| client CPU ms/event | others' CPU before | load avg (1 min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in results["measurements"].items():
        e2e = m["end_to_end"]
        rows.append(
            f"| {labels[name]} | {m['receivers']:,} | {m['events']} | {e2e['p50_ms']:.1f} | "
            f"{e2e['p95_ms']:.1f} | {e2e['p99_ms']:.1f} | {e2e['max_ms']:.1f} | "
            f"{m['fan_out'].get('p99_ms', float('nan')):.1f} | "
            f"{m['client_cpu_ms_per_event']:.1f} | {m['others_cpu_before']:.0%} | "
            f"{m['load_average']:.2f} |"
        )
    rows.append(
        f"\nlatency: from sending the triggering request to receipt, over every (event, socket); "
        f"target p99 < {TARGET_P99_MS:.0f} ms"
    )
    return "\n".join(rows)


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in ("clients", "seed", "bare"):
        parser = argparse.ArgumentParser(description=f"bench_ws {command}")
        parser.add_argument("command")
        parser.add_argument("--spec", type=Path)
        parser.add_argument("--data-dir", type=Path)
        parser.add_argument("--owner")
        parser.add_argument("--count", type=int)
        parser.add_argument("--port", type=int, default=8003)
        sub = parser.parse_args()
        if command == "clients":
            run_clients(sub.spec)
        elif command == "seed":
            seed_jobs(sub.data_dir, sub.owner, sub.count)
        else:
            serve_bare(sub.port)
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=1000, help="sockets that receive")
    parser.add_argument("--bystanders", type=int, default=100, help="sockets that must not")
    parser.add_argument("--events", type=int, default=50, help="measured events per server")
    parser.add_argument("--interval", type=float, default=0.1, help="pause between events (s)")
    parser.add_argument("--timeout", type=float, default=10.0, help="wait per event (s)")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/0", help="'' skips the Redis run"
    )
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy")
    parser.add_argument("--keep-data", action="store_true", help="keep the data directories")
    parser.add_argument("--quiet-below", type=float, default=0.10)
    parser.add_argument("--patience", type=float, default=300)
    parser.add_argument("--source", type=Path, default=ROOT / "src" / "cinesonic")
    parser.add_argument("--nice", type=int, default=0)
    options = parser.parse_args()
    if options.nice:
        NICENESS[0] = options.nice
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs two CPUs: one for the server, one for the clients")
    print(table(run(options)))


if __name__ == "__main__":
    main()
