"""Cached thumbnails: `GET /api/v1/images/{id}?size=` on ONE `cinesonic serve` process.

    benchmarks/run.sh images [--duration 10] [--connections 16,64,256] [--size 256] [--nice -15]

The server runs pinned to CPU 0 (`taskset -c 0`), wrk pinned to CPU 1 (the helpers of
`bench_auth`). In one run, on one fresh data directory (SQLite, full middleware stack, rate
limits raised out of the way):

1. an admin is created and signs in; a 1024×768 JPEG is uploaded as the admin's avatar
   (`POST /api/v1/images/avatar`), and its thumbnail is requested once, which renders it;
2. wrk measures the thumbnail with the bearer token at each connection count, without
   `If-None-Match` (200 with the bytes) and with the thumbnail's own tag (304, no body);
3. the bare baseline: a minimal Starlette app (this module, `bare` sub-command) serving the same
   file with `FileResponse` and the same validators, no authentication, no database, under the
   uvicorn settings `cinesonic serve` uses.

Every measurement is preceded by a short warm-up and refused unless every answer was the
expected status. `--profile` samples the server with py-spy (numbers then not comparable).
Results: a Markdown table on stdout, JSON and logs in benchmarks/results/<time>-images/.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_auth import (
    ADMIN,
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    NICENESS,
    ROOT,
    WARMUP_SECONDS,
    Measurement,
    Server,
    code_version,
    cpu_seconds,
    machine,
    profiled,
    running,
    server_env,
    sign_in,
    wait_until_quiet,
    wrk,
)

RESULTS = ROOT / "benchmarks" / "results"
TARGET_RPS = 2000.0


def sample_jpeg() -> bytes:
    """A photo-like 1024×768 JPEG (smooth gradients plus noise, so it compresses as a photo
    would): the largest avatar the server keeps unscaled."""
    from PIL import Image, ImageFilter

    rng = random.Random(7)
    noise = Image.frombytes("L", (256, 192), bytes(rng.randrange(256) for _ in range(256 * 192)))
    noise = noise.filter(ImageFilter.GaussianBlur(2)).resize((1024, 768))
    image = Image.merge(
        "RGB", (noise, noise.rotate(180), noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    )
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def check_status(name: str, url: str, headers: dict[str, str]) -> None:
    """wrk counts any 2xx or 3xx as fine; make sure the answer was the one meant."""
    expected = 304 if "If-None-Match" in headers else 200
    status = httpx.get(url, headers=headers, timeout=30).status_code
    if status != expected:
        raise RuntimeError(f"{name}: answered {status}, expected {expected}")


def run(options: argparse.Namespace) -> dict[str, Any]:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (benchmarks/run.sh installs wrk)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}-images"
    data_dir = out / "data"
    out.mkdir(parents=True)
    source = out / "src"
    shutil.copytree(
        options.source, source / "cinesonic", ignore=shutil.ignore_patterns("__pycache__")
    )
    python = sys.executable
    serve = [python, "-m", "cinesonic", "serve", "--data-dir", str(data_dir)]
    env = server_env(data_dir, "warning", source)
    results: dict[str, Any] = {
        "code": code_version(),
        "machine": machine(),
        "load": {"duration": options.duration, "connections": options.connections, "threads": 2},
        "nice": options.nice,
        "size": options.size,
        "measurements": {},
        "background_cpu_busy": {},
        "load_average": {},
    }
    measured: dict[str, Measurement] = results["measurements"]

    def measure(name: str, server: Server, url: str, headers: dict[str, str], c: int) -> None:
        busy = wait_until_quiet(options.quiet_below, options.patience)
        load = {"connections": c, "threads": 2}
        check_status(name, url, headers)
        wrk(f"{name} warm-up", url, headers=headers, duration=WARMUP_SECONDS, **load)
        cpu_before, wall_before = cpu_seconds(server.process.pid), time.monotonic()
        with profiled(options.profile, server, out / f"{name}.pyspy.txt", options.duration):
            measured[name] = m = wrk(name, url, headers=headers, duration=options.duration, **load)
        cpu = cpu_seconds(server.process.pid) - cpu_before
        m.server_cpu_share = round(cpu / (time.monotonic() - wall_before), 3)
        m.server_cpu_us_per_request = round(cpu / m.requests * 1e6, 1)
        results["background_cpu_busy"][name] = round(busy, 3)
        results["load_average"][name] = os.getloadavg()[0]
        print(
            f"{name}: {m.requests_per_second:.0f} req/s, p50 {m.p50_ms} ms, p99 {m.p99_ms} ms, "
            f"{m.server_cpu_us_per_request} µs CPU/request, server had {m.server_cpu_share:.0%}",
            file=sys.stderr,
        )

    print(f"results in {out}", file=sys.stderr)
    with running(serve, env, out / "serve.log", "/healthz") as server:
        subprocess.run(
            [
                *(python, "-m", "cinesonic", "user", "create-admin", "--password-stdin"),
                *("--username", ADMIN, "--email", ADMIN_EMAIL, "--data-dir", str(data_dir)),
            ],
            input=f"{ADMIN_PASSWORD}\n".encode(),
            env=env,
            check=True,
        )
        auth = sign_in(server)
        uploaded = httpx.post(
            server.base_url + "/api/v1/images/avatar",
            files={"file": ("photo.jpg", sample_jpeg(), "image/jpeg")},
            headers=auth,
            timeout=30,
        )
        uploaded.raise_for_status()
        image = uploaded.json()
        url = f"{server.base_url}/api/v1/images/{image['id']}?size={options.size}"
        first = httpx.get(url, headers=auth, timeout=30)  # renders the thumbnail
        first.raise_for_status()
        etag = first.headers["etag"]
        sha256 = image["etag"]
        thumbnail = data_dir / "images" / "thumbs" / str(options.size) / sha256[:2]
        thumbnail = thumbnail / f"{sha256}.jpg"
        results["image"] = {"id": image["id"], "bytes": image["size_bytes"]}
        results["thumbnail"] = {"etag": etag, "bytes": len(first.content)}
        # The floor of any signed-in request through the full stack, for comparison.
        measure("auth_me_c64", server, f"{server.base_url}/api/v1/auth/me", auth, 64)
        for c in options.connections:
            measure(f"thumbnail_200_c{c}", server, url, auth, c)
            measure(f"thumbnail_304_c{c}", server, url, {**auth, "If-None-Match": etag}, c)

    bare = [python, "-m", "benchmarks.bench_images", "bare", "--file", str(thumbnail)]
    bare += ["--etag", etag]
    with running(bare, env, out / "bare.log", "/bare") as server:
        url = server.base_url + "/bare"
        for c in options.bare_connections:
            measure(f"bare_200_c{c}", server, url, {}, c)
            measure(f"bare_304_c{c}", server, url, {"If-None-Match": etag}, c)

    serializable = {**results, "measurements": {k: asdict(v) for k, v in measured.items()}}
    (out / "results.json").write_text(json.dumps(serializable, indent=2))
    if not options.keep_data:
        shutil.rmtree(data_dir)
        shutil.rmtree(source)
    return results


def table(results: dict[str, Any]) -> str:
    measured: dict[str, Measurement] = results["measurements"]
    size = results["size"]
    rows = [
        "| what | conn | req/s | p50 ms | p99 ms | server CPU µs/req | server CPU share "
        "| others' CPU before | load avg (1 min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "thumbnail_200": f"`GET /images/{{id}}?size={size}` → 200",
        "thumbnail_304": f"`GET /images/{{id}}?size={size}` + `If-None-Match` → 304",
        "auth_me": "`GET /auth/me` (reference: a signed-in request, no image)",
        "bare_200": "bare Starlette `FileResponse` → 200",
        "bare_304": "bare Starlette, `If-None-Match` → 304",
    }
    for name, m in measured.items():
        prefix, _, connections = name.rpartition("_c")
        rows.append(
            f"| {labels[prefix]} | {connections} | {m.requests_per_second:,.0f} | "
            f"{m.p50_ms:.2f} | {m.p99_ms:.2f} | {m.server_cpu_us_per_request:.0f} | "
            f"{m.server_cpu_share:.0%} | {results['background_cpu_busy'][name]:.0%} | "
            f"{results['load_average'][name]:.2f} |"
        )
    rows.append(
        f"\nthumbnail: {results['thumbnail']['bytes']:,} bytes; original "
        f"{results['image']['bytes']:,} bytes; target ≥ {TARGET_RPS:,.0f} req/s"
    )
    return "\n".join(rows)


def serve_bare(file: Path, etag: str, port: int) -> None:
    """The baseline: the same file, the same validators, nothing else."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, Response
    from starlette.routing import Route

    from cinesonic.cli import freeze_startup_objects, server_config

    headers = {"ETag": etag, "Cache-Control": "private, max-age=31536000, immutable"}

    async def bare(request: Request) -> Response:
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return FileResponse(file, headers=headers, media_type="image/jpeg")

    app = Starlette(routes=[Route("/bare", bare)])
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port))
    freeze_startup_objects()
    server.run()


def _counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "bare":
        parser = argparse.ArgumentParser(description="the bare file server")
        parser.add_argument("command")
        parser.add_argument("--file", type=Path, required=True)
        parser.add_argument("--etag", required=True, help="the quoted entity tag")
        parser.add_argument("--port", type=int, default=8002)
        bare = parser.parse_args()
        serve_bare(bare.file, bare.etag, bare.port)
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=_counts, default=[16, 64, 256])
    parser.add_argument("--bare-connections", type=_counts, default=[64])
    parser.add_argument("--size", type=int, default=256, help="thumbnail size (pixels)")
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy")
    parser.add_argument("--keep-data", action="store_true", help="keep the data directory")
    parser.add_argument("--quiet-below", type=float, default=0.10)
    parser.add_argument("--patience", type=float, default=300)
    parser.add_argument("--source", type=Path, default=ROOT / "src" / "cinesonic")
    parser.add_argument("--nice", type=int, default=0)
    options = parser.parse_args()
    if options.nice:
        NICENESS[0] = options.nice
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs two CPUs: one for the server, one for wrk")
    print(table(run(options)))


if __name__ == "__main__":
    main()
