"""Throughput and latency of authenticated requests on ONE `cinesonic serve` process.

    benchmarks/run_auth.sh [--duration 15] [--connections 64] [--profile]

The server runs pinned to CPU 0 (`taskset -c 0`), wrk pinned to CPU 1. In one run, on one fresh
data directory (SQLite, full middleware stack, rate limits raised out of the way):

1. `GET /api/v1/auth/me` with a bearer token, access log off (log level warning);
2. the same with the access log on (log level info; JSON lines written to a file);
3. a bare FastAPI app (benchmarks/bare_app.py) under the same uvicorn settings and pinning;
4. 10,000 users seeded into the database, then `GET /api/v1/users?page=2&page_size=50` as admin.

Every measurement is preceded by a short warm-up and refused if any answer was not 2xx.
`--profile` also samples the server with py-spy during each measured cinesonic phase.
Results: a Markdown table on stdout, JSON and logs in benchmarks/results/<time>/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD = "bench", "bench@example.com", "Bench-Password-1"
UNLIMITED = "100000000/minute"
SERVER_CPU, CLIENT_CPU = "0", "1"
# `--nice N`: the niceness of the server and wrk, set on the process AND on its own autogroup
# (each is started in a new session): with autogroups, a process's nice only weighs against
# processes of the same session, so favouring the benchmark on a shared machine needs both.
NICENESS = [0]


def start(command: list[str], **popen: Any) -> subprocess.Popen[Any]:
    """Start `command` in a session of its own, at the benchmark's niceness."""
    nice = NICENESS[0]
    process = subprocess.Popen(
        ["nice", "-n", str(nice), *command] if nice else command,
        start_new_session=True,
        **popen,
    )
    if nice:
        try:
            Path(f"/proc/{process.pid}/autogroup").write_text(str(nice))
        except OSError as exc:
            print(f"cannot set the autogroup niceness: {exc}", file=sys.stderr)
    return process


WARMUP_SECONDS = 3

TARGETS = {
    "auth_me_rps": 2000.0,
    "auth_me_p99_ms": 30.0,
    "auth_me_vs_bare": 0.35,
    "users_list_rps": 800.0,
}


@dataclass
class Measurement:
    name: str
    url: str
    requests_per_second: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: str | None
    wrk_output: str = field(repr=False)
    # The server's own CPU time over the run: per request, and as a share of the wall time
    # (near 100% means the server had its core; far below, it was waiting or starved).
    server_cpu_us_per_request: float | None = None
    server_cpu_share: float | None = None


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_wrk(name: str, url: str, output: str) -> Measurement:
    percentiles = {
        int(p): _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.M)
    }
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s+(\d+) requests in", output, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.+)$", output, re.M)
    if rps is None or total is None or len(percentiles) != 4:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    return Measurement(
        name=name,
        url=url,
        requests_per_second=float(rps.group(1)),
        p50_ms=percentiles[50],
        p75_ms=percentiles[75],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors.group(1).strip() if errors else None,
        wrk_output=output,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise RuntimeError("the server did not stop within 30 s of SIGTERM") from None
        # `cinesonic serve` exits 0; a bare uvicorn re-raises SIGTERM after its graceful stop.
        if code not in (0, -signal.SIGTERM):
            raise RuntimeError(f"the server exited with {code}")


@contextmanager
def running(
    command: list[str], env: dict[str, str], log_path: Path, probe: str
) -> Iterator[Server]:
    """Start `command` pinned to the server CPU; yield once `probe` answers 200."""
    port = free_port()
    with log_path.open("wb") as log:
        process = start(
            ["taskset", "-c", SERVER_CPU, *command, "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited with {process.returncode}; see {log_path}")
            try:
                if httpx.get(server.base_url + probe, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command} did not answer {probe}; see {log_path}")
            time.sleep(0.1)
        yield server
        server.stop()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wrk(
    name: str,
    url: str,
    *,
    duration: int,
    connections: int,
    threads: int,
    headers: dict[str, str] | None = None,
) -> Measurement:
    header_args = [arg for k, v in (headers or {}).items() for arg in ("-H", f"{k}: {v}")]
    command = ["taskset", "-c", CLIENT_CPU, "wrk", f"-t{threads}", f"-c{connections}"]
    command += [f"-d{duration}s", "--latency", *header_args, url]
    client = start(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output, errors = client.communicate()
    if client.returncode != 0:
        raise RuntimeError(f"wrk failed ({client.returncode}): {errors}")
    measurement = parse_wrk(name, url, output)
    if measurement.non_2xx or measurement.requests == 0:
        raise RuntimeError(f"{name}: {measurement.non_2xx} answers were not 2xx:\n{output}")
    return measurement


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over `seconds` (/proc/stat): other work on the machine."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    total_1, idle_1 = sample()
    time.sleep(seconds)
    total_2, idle_2 = sample()
    return 1 - (idle_2 - idle_1) / max(1, total_2 - total_1)


def wait_until_quiet(limit: float, patience: float) -> float:
    """Wait (up to `patience` seconds) until other work uses less than `limit` of the CPUs;
    return the share last seen, which the results record."""
    deadline = time.monotonic() + patience
    busy = cpu_busy()
    while busy > limit and time.monotonic() < deadline:
        print(f"machine busy ({busy:.0%} of CPUs in use by others); waiting", file=sys.stderr)
        time.sleep(5)
        busy = cpu_busy()
    return busy


@contextmanager
def profiled(enabled: bool, server: Server, out: Path, seconds: int) -> Iterator[None]:
    """Sample the server with py-spy (raw collapsed stacks) while the block runs. Sampling
    pauses the server: numbers measured with --profile are not comparable to those without."""
    if not enabled:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    recorder = subprocess.Popen(
        [
            # --gil: sample only the thread holding the GIL, i.e. where CPU time goes (idle
            # threads blocked in C otherwise look busy, and --nonblocking truncates stacks).
            *(spy, "record", "--pid", str(server.process.pid), "--rate", "250", "--gil"),
            *("--duration", str(seconds), "--format", "raw", "--output", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield
    finally:
        _, errors = recorder.communicate(timeout=seconds + 60)
        if recorder.returncode != 0:
            print(f"py-spy failed: {errors.decode(errors='replace')}", file=sys.stderr)
        else:
            print(summarize_profile(out), file=sys.stderr)


# Where a sample's time goes, judged by the first matching frame from the leaf up.
_CATEGORIES = [
    ("json serialization", re.compile(r"json|jsonable_encoder|serialize_response|dump_json")),
    ("pydantic validation", re.compile(r"pydantic|validate_python|model_validate")),
    ("database (sqlalchemy/aiosqlite)", re.compile(r"sqlalchemy|aiosqlite|sqlite3|asyncpg")),
    ("jwt / auth", re.compile(r"jwt|auth/service|deps\.py|principal")),
    ("rate limiter", re.compile(r"limits/|ratelimit")),
    ("logging", re.compile(r"structlog|logging/")),
    ("middleware (ours)", re.compile(r"cinesonic/middleware")),
    ("fastapi routing/deps", re.compile(r"fastapi/")),
    ("starlette", re.compile(r"starlette/")),
    ("uvicorn http (httptools)", re.compile(r"uvicorn/|httptools")),
    ("event loop (uvloop)", re.compile(r"uvloop|asyncio/")),
]


_KEY_FRAMES = re.compile(
    r"cinesonic/(?!cli\.py|__main__)|run_in_threadpool|solve_dependencies|serialize_response"
    r"|Router\.__call__|PyJWT\.decode|greenlet_spawn|BaseModel\.__init__"
)


def summarize_profile(path: Path) -> str:
    """Share of samples by category (leafmost match), then the inclusive share of our own
    functions and of a few library entry points."""
    by_category: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        category = "other"
        for frame in reversed(frames):
            hit = next((name for name, pattern in _CATEGORIES if pattern.search(frame)), None)
            if hit is not None:
                category = hit
                break
        by_category[category] += count
        names = {re.sub(r":\d+\)$", ")", frame) for frame in frames}
        for name in names:
            if _KEY_FRAMES.search(name):
                inclusive[name] += count
    lines = [f"profile {path.name}: {total} samples of the thread holding the GIL"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in by_category.most_common()]
    lines += ["  inclusive:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(25)]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "uvicorn": version("uvicorn"),
        "fastapi": version("fastapi"),
        "uvloop": find_spec("uvloop") is not None,
        "httptools": find_spec("httptools") is not None,
        "wrk": subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split(
            "\n"
        )[0],
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and whether the working tree differed from it (read-only git)."""

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def server_env(data_dir: Path, log_level: str, source: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINESONIC_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(source), str(ROOT)]),
        CINESONIC_DATA_DIR=str(data_dir),
        CINESONIC_LOG_LEVEL=log_level,
        CINESONIC_LOG_FORMAT="json",
        CINESONIC_RATE_LIMIT_GLOBAL=UNLIMITED,
        CINESONIC_RATE_LIMIT_ADMIN=UNLIMITED,
        CINESONIC_RATE_LIMIT_LOGIN=UNLIMITED,
    )
    return env


def sign_in(server: Server) -> dict[str, str]:
    response = httpx.post(
        server.base_url + "/api/v1/auth/login",
        json={"identifier": ADMIN, "password": ADMIN_PASSWORD},
        timeout=30,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def run(options: argparse.Namespace) -> dict[str, Any]:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (benchmarks/run_auth.sh installs wrk)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / stamp
    data_dir = out / "data"
    out.mkdir(parents=True)
    # Every process of the run imports this copy of the code, whatever happens to the working
    # tree meanwhile.
    source = out / "src"
    shutil.copytree(
        options.source,
        source / "cinesonic",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    python = sys.executable
    serve = [python, "-m", "cinesonic", "serve", "--data-dir", str(data_dir)]
    load = {"duration": options.duration, "connections": options.connections, "threads": 2}
    results: dict[str, Any] = {
        "code": code_version(),
        "machine": machine(),
        "load": load,
        "nice": options.nice,
        "source": str(options.source),
        "measurements": {},
        "background_cpu_busy": {},
    }
    measured: dict[str, Measurement] = results["measurements"]
    quiet = server_env(data_dir, "warning", source)

    def measure(name: str, server: Server, path: str, headers: dict[str, str] | None) -> None:
        url = server.base_url + path
        busy = wait_until_quiet(options.quiet_below, options.patience)
        wrk(f"{name} warm-up", url, headers=headers, **{**load, "duration": WARMUP_SECONDS})
        cpu_before, wall_before = cpu_seconds(server.process.pid), time.monotonic()
        with profiled(options.profile, server, out / f"{name}.pyspy.txt", options.duration):
            measured[name] = m = wrk(name, url, headers=headers, **load)
        cpu = cpu_seconds(server.process.pid) - cpu_before
        m.server_cpu_share = round(cpu / (time.monotonic() - wall_before), 3)
        m.server_cpu_us_per_request = round(cpu / m.requests * 1e6, 1)
        results["background_cpu_busy"][name] = round(busy, 3)
        print(
            f"{name}: {m.requests_per_second:.0f} req/s, p50 {m.p50_ms} ms, p99 {m.p99_ms} ms, "
            f"{m.server_cpu_us_per_request} µs CPU/request, server had {m.server_cpu_share:.0%}"
        )

    print(f"results in {out}", file=sys.stderr)
    with running(serve, quiet, out / "serve-quiet.log", "/healthz") as server:
        subprocess.run(
            [
                *(python, "-m", "cinesonic", "user", "create-admin", "--password-stdin"),
                *("--username", ADMIN, "--email", ADMIN_EMAIL, "--data-dir", str(data_dir)),
            ],
            input=f"{ADMIN_PASSWORD}\n".encode(),
            env=quiet,
            check=True,
        )
        measure("auth_me", server, "/api/v1/auth/me", sign_in(server))

    with running(
        serve, server_env(data_dir, "info", source), out / "serve-access-log.log", "/healthz"
    ) as server:
        measure("auth_me_access_log", server, "/api/v1/auth/me", sign_in(server))

    bare = [python, "-m", "benchmarks.bare_app"]
    with running(bare, quiet, out / "bare.log", "/bare") as server:
        measure("bare_fastapi", server, "/bare", None)

    seeded = subprocess.run(
        [
            *(python, "-m", "benchmarks.seed_users"),
            *("--data-dir", str(data_dir), "--count", str(options.users)),
        ],
        env=quiet,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    took = re.search(r"in ([\d.]+) s", seeded)
    seconds = float(took.group(1)) if took else float("nan")
    results["seeded_users"] = {"count": options.users, "seconds": round(seconds, 2)}
    print(f"seeded {options.users} users in {seconds:.1f} s", file=sys.stderr)

    users_path = "/api/v1/users?page=2&page_size=50"
    with running(serve, quiet, out / "serve-users.log", "/healthz") as server:
        headers = sign_in(server)
        probe = httpx.get(server.base_url + users_path, headers=headers, timeout=30)
        if probe.status_code != 200:
            results["users_list_unavailable"] = f"{probe.status_code}: {probe.text[:300]}"
            print(f"users list not measured: {results['users_list_unavailable']}")
        else:
            total = probe.json()["pagination"]["total"]
            if total < options.users:
                raise RuntimeError(f"the users list counts {total} accounts, expected more")
            results["users_list_total"] = total
            measure("users_list", server, users_path, headers)

    results["ratio_auth_me_vs_bare"] = round(
        measured["auth_me"].requests_per_second / measured["bare_fastapi"].requests_per_second, 3
    )
    serializable = {**results, "measurements": {k: asdict(v) for k, v in measured.items()}}
    (out / "results.json").write_text(json.dumps(serializable, indent=2))
    if not options.keep_data:
        shutil.rmtree(data_dir)
        shutil.rmtree(source)
    return results


def table(results: dict[str, Any]) -> str:
    measured: dict[str, Measurement] = results["measurements"]
    labels = {
        "auth_me": "`GET /api/v1/auth/me` (bearer), access log off",
        "auth_me_access_log": "`GET /api/v1/auth/me` (bearer), access log on",
        "bare_fastapi": "bare FastAPI, constant JSON",
        "users_list": "`GET /api/v1/users?page=2&page_size=50` (admin, 10,000 users)",
    }
    rows = [
        "| endpoint | req/s | p50 ms | p99 ms | server CPU µs/req | server CPU share "
        "| others' CPU before |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in labels.items():
        m = measured.get(name)
        if m is not None:
            busy = results["background_cpu_busy"][name]
            rows.append(
                f"| {label} | {m.requests_per_second:,.0f} | {m.p50_ms:.2f} | "
                f"{m.p99_ms:.2f} | {m.server_cpu_us_per_request:.0f} | "
                f"{m.server_cpu_share:.0%} | {busy:.0%} |"
            )
    if "users_list_unavailable" in results:
        rows.append(f"\nusers list not measured: {results['users_list_unavailable']}")
    rows.append(f"\n/auth/me ÷ bare FastAPI: {results['ratio_auth_me_vs_bare']:.0%}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--users", type=int, default=10_000, help="accounts to seed")
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy")
    parser.add_argument("--keep-data", action="store_true", help="keep the data directory")
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.10,
        help="before each measurement, wait until other work uses less than this share of CPU",
    )
    parser.add_argument("--patience", type=float, default=300, help="seconds to wait for that")
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT / "src" / "cinesonic",
        help="the package to measure (default: this tree's); to try a change before making it",
    )
    parser.add_argument(
        "--nice", type=int, default=0, help="run the server and wrk at this niceness (-20..19)"
    )
    options = parser.parse_args()
    if options.nice:
        NICENESS[0] = options.nice
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs two CPUs: one for the server, one for wrk")
    print(table(run(options)))


if __name__ == "__main__":
    main()
