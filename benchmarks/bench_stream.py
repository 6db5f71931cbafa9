"""Concurrent ranged streams of original files on ONE `cinesonic serve` process.

    python -m benchmarks.bench_stream [--duration 15] [--connections 200] [--spans 1048576,65536]
                                      [--files 16] [--seconds 30] [--nice -15]

The server runs pinned to CPU 0 (`taskset -c 0`), wrk pinned to CPU 1 (the helpers of
`bench_auth`). In one run, on one fresh data directory (SQLite, full middleware stack, worker on,
rate limits raised out of the way):

1. a library of real audio files is made by ffmpeg: `--files` FLAC files of `--seconds` of
   pink noise each (noise barely compresses: ~5 MB for 30 s), every one different;
2. `cinesonic serve` starts; an admin is created (CLI) and a listener registers and signs in
   (the default role: its streams pass the library visibility rule); the songs are written into
   its database (`seed` sub-command: a library, its root, an artist, an album and one song row per
   file with its real size and mtime — the rows a scan would write);
3. every song is fetched once whole and once by a range, and compared byte for byte with its
   file;
4. for each span in `--spans`: wrk with `--connections` connections (default 200) runs a Lua
   script in which every request is `GET /api/v1/songs/{random song}/stream` with
   `Range: bytes=<random start>-<start + span - 1>` and the bearer token: a player's seeks and
   refills, 200 of them at once. Each measurement is preceded by a warm-up and refused unless
   every answer was 2xx with no socket error (timeouts included, at wrk's `--timeout 30s`);
5. the baseline: a bare Starlette app (`bare` sub-command) serving the same files by index with
   Starlette's own `FileResponse` (which reads in 64 KiB chunks through a thread) and the same
   uvicorn settings, under the same load.

`--profile` samples the server with py-spy (numbers then not comparable). Reported per
measurement: MB/s (bytes read by wrk ÷ duration, MB = 10⁶ bytes), req/s, p50/p99
latency, errors, the server's CPU share and µs of CPU per MB, and its RSS at the end.
Results: a Markdown table on stdout, JSON and logs in benchmarks/results/<time>-stream/.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
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
    UNLIMITED,
    WARMUP_SECONDS,
    Server,
    code_version,
    cpu_seconds,
    machine,
    parse_wrk,
    profiled,
    running,
    server_env,
    start,
    wait_until_quiet,
)

RESULTS = ROOT / "benchmarks" / "results"
TARGET_CONNECTIONS = 200
LISTENER = "listener"
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


@dataclass
class StreamMeasurement:
    name: str
    span: int
    connections: int
    seconds: float
    requests: int
    requests_per_second: float
    megabytes_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str | None
    server_cpu_share: float | None = None
    server_cpu_ms_per_mb: float | None = None
    server_rss_mb: float | None = None
    others_cpu_before: float | None = None

    @property
    def errors(self) -> int:
        socket = sum(int(n) for n in re.findall(r"\d+", self.socket_errors or ""))
        return self.non_2xx + socket


def ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    binary: str = imageio_ffmpeg.get_ffmpeg_exe()
    return binary


def make_library(media: Path, files: int, seconds: float) -> list[Path]:
    """`files` FLAC files of pink noise, each from its own seed (no two alike)."""
    media.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(files):
        path = media / f"{number + 1:02d} - Noise {number + 1}.flac"
        subprocess.run(
            [
                *(ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"),
                "-i",
                f"anoisesrc=d={seconds}:c=pink:r=44100:a=0.5:s={number + 1}",
                *("-ac", "2", "-c:a", "flac", "-metadata", f"title=Noise {number + 1}"),
                str(path),
            ],
            check=True,
        )
        paths.append(path)
    return paths


@dataclass(frozen=True)
class AudioFile:
    path: str
    size: int
    mtime_ns: int
    fingerprint: str


def read_media(media: Path) -> tuple[str, list[AudioFile]]:
    found = []
    for path in sorted(media.glob("*.flac")):
        stat = path.stat()
        with path.open("rb") as handle:
            fingerprint = hashlib.sha256(handle.read(1 << 20)).hexdigest()
        found.append(AudioFile(str(path.resolve()), stat.st_size, stat.st_mtime_ns, fingerprint))
    return str(media.resolve()), found


async def seed_songs(
    data_dir: Path, root: str, files: list[AudioFile], seconds: float
) -> list[dict[str, Any]]:
    """The rows a scan of `root` would write: library, root, artist, album, songs."""
    from cinesonic.config import Settings
    from cinesonic.db import Database
    from cinesonic.kit.text import fold, sort_key
    from cinesonic.models.library import Library, LibraryKind, LibraryRoot
    from cinesonic.models.music import Album, Artist, LibraryArtist, Song, SongArtist

    settings = Settings(data_dir=data_dir)
    db = Database(settings)
    songs: list[dict[str, Any]] = []
    try:
        async with db.session() as session:
            library = Library(name="Bench", kind=LibraryKind.music)
            session.add(library)
            await session.flush()
            session.add(LibraryRoot(library_id=library.id, path=root))
            artist = Artist(name="Noise", sort_name=sort_key("Noise"), name_key=fold("Noise"))
            session.add(artist)
            await session.flush()
            album = Album(
                library_id=library.id,
                title="Pink",
                sort_title=sort_key("Pink"),
                title_key=fold("Pink"),
                artist_id=artist.id,
            )
            session.add(album)
            await session.flush()
            for number, file in enumerate(files, start=1):
                song = Song(
                    library_id=library.id,
                    path=file.path,
                    size_bytes=file.size,
                    mtime_ns=file.mtime_ns,
                    fingerprint=file.fingerprint,
                    title=f"Noise {number}",
                    sort_title=sort_key(f"Noise {number}"),
                    album_id=album.id,
                    artist_display="Noise",
                    track_number=number,
                    duration=seconds,
                    format="flac",
                    codec="flac",
                    content_type="audio/flac",
                )
                session.add(song)
                await session.flush()
                session.add(SongArtist(song_id=song.id, artist_id=artist.id))
                songs.append({"id": str(song.id), "size": file.size, "path": file.path})
            album.song_count = len(songs)
            album.size_bytes = sum(s["size"] for s in songs)
            session.add(
                LibraryArtist(
                    library_id=library.id, artist_id=artist.id, album_count=1, song_count=len(songs)
                )
            )
    finally:
        await db.dispose()
    return songs


def lua_script(targets: list[tuple[str, int]], span: int, headers: dict[str, str]) -> str:
    """Each request: a random target, a random range of `span` bytes inside it."""
    entries = ",\n".join(f'  {{path = "{path}", size = {size}}}' for path, size in targets)
    header_lines = "\n".join(f'  ["{k}"] = "{v}",' for k, v in headers.items())
    return f"""-- generated by benchmarks/bench_stream.py
local targets = {{
{entries}
}}
local span = {span}
local headers = {{
{header_lines}
}}
local counter = 0

setup = function(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

init = function(args)
  math.randomseed(os.time() * 1000 + (seed or 0))
end

request = function()
  local target = targets[math.random(#targets)]
  local first = math.random(0, target.size - span)
  headers["Range"] = "bytes=" .. first .. "-" .. (first + span - 1)
  return wrk.format("GET", target.path, headers)
end
"""


def _bytes(amount: str, unit: str) -> float:
    return float(amount) * _UNITS[unit]


def run_wrk(
    name: str,
    base_url: str,
    script: Path,
    *,
    span: int,
    duration: int,
    connections: int,
) -> StreamMeasurement:
    command = ["taskset", "-c", CLIENT_CPU, "wrk", "-t2", f"-c{connections}", f"-d{duration}s"]
    command += ["--timeout", "30s", "--latency", "-s", str(script), base_url]
    client = start(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output, errors = client.communicate()
    if client.returncode != 0:
        raise RuntimeError(f"wrk failed ({client.returncode}): {errors}")
    basic = parse_wrk(name, base_url, output)
    read = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w?B) read", output)
    if read is None:
        raise RuntimeError(f"could not read wrk's transfer totals:\n{output}")
    seconds = float(read.group(2)) * {"s": 1, "m": 60, "ms": 0.001}[read.group(3)]
    transferred = _bytes(read.group(4), read.group(5))
    return StreamMeasurement(
        name=name,
        span=span,
        connections=connections,
        seconds=seconds,
        requests=basic.requests,
        requests_per_second=basic.requests_per_second,
        megabytes_per_second=round(transferred / seconds / 1e6, 1),
        p50_ms=basic.p50_ms,
        p99_ms=basic.p99_ms,
        non_2xx=basic.non_2xx,
        socket_errors=basic.socket_errors,
    )


def listener(server: Server) -> dict[str, str]:
    """A signed-in account with the default role (not the admin): its streams go through the
    library visibility rule as a player's would."""
    account = {"username": LISTENER, "email": f"{LISTENER}@example.com"}
    registered = httpx.post(
        server.base_url + "/api/v1/auth/register",
        json={**account, "password": ADMIN_PASSWORD},
        timeout=30,
    )
    registered.raise_for_status()
    response = httpx.post(
        server.base_url + "/api/v1/auth/login",
        json={"identifier": LISTENER, "password": ADMIN_PASSWORD},
        timeout=30,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def check_songs(server: Server, auth: dict[str, str], songs: list[dict[str, Any]]) -> None:
    """Whole file and one range of every song, byte for byte."""
    with httpx.Client(base_url=server.base_url, headers=auth, timeout=60) as http:
        for song in songs:
            data = Path(song["path"]).read_bytes()
            url = f"/api/v1/songs/{song['id']}/stream"
            whole = http.get(url)
            if whole.status_code != 200 or whole.content != data:
                raise RuntimeError(f"{url}: whole file wrong ({whole.status_code})")
            first = random.randrange(len(data) - 1000)
            part = http.get(url, headers={"Range": f"bytes={first}-{first + 999}"})
            if part.status_code != 206 or part.content != data[first : first + 1000]:
                raise RuntimeError(f"{url}: range wrong ({part.status_code})")


def run(options: argparse.Namespace) -> dict[str, Any]:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (apt-get install wrk util-linux)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}-stream"
    data_dir, media = out / "data", out / "media"
    out.mkdir(parents=True)
    source = out / "src"
    shutil.copytree(
        options.source, source / "cinesonic", ignore=shutil.ignore_patterns("__pycache__")
    )
    print(f"results in {out}; making {options.files} files", file=sys.stderr)
    paths = make_library(media, options.files, options.seconds)
    python = sys.executable
    env = {
        **server_env(data_dir, "warning", source),
        "CINESONIC_RATE_LIMIT_STREAM": UNLIMITED,
        "CINESONIC_ACCESS_TOKEN_TTL_SECONDS": "7200",
    }
    results: dict[str, Any] = {
        "code": code_version(),
        "machine": machine(),
        "duration": options.duration,
        "connections": options.connections,
        "spans": options.spans,
        "nice": options.nice,
        "files": {
            "count": len(paths),
            "seconds": options.seconds,
            "total_bytes": sum(p.stat().st_size for p in paths),
        },
        "measurements": {},
    }
    measured: dict[str, StreamMeasurement] = results["measurements"]

    def measure(
        name: str,
        server: Server,
        targets: list[tuple[str, int]],
        span: int,
        headers: dict[str, str],
    ) -> None:
        script = out / f"{name}.lua"
        script.write_text(lua_script(targets, span, headers))
        busy = wait_until_quiet(options.quiet_below, options.patience)
        load = {"span": span, "connections": options.connections}
        run_wrk(f"{name} warm-up", server.base_url, script, duration=WARMUP_SECONDS, **load)
        cpu_before, wall_before = cpu_seconds(server.process.pid), time.monotonic()
        with profiled(options.profile, server, out / f"{name}.pyspy.txt", options.duration):
            m = run_wrk(name, server.base_url, script, duration=options.duration, **load)
        cpu = cpu_seconds(server.process.pid) - cpu_before
        m.server_cpu_share = round(cpu / (time.monotonic() - wall_before), 3)
        megabytes = m.megabytes_per_second * m.seconds
        m.server_cpu_ms_per_mb = round(cpu * 1000 / megabytes, 2) if megabytes else None
        m.server_rss_mb = rss_mb(server.process.pid)
        m.others_cpu_before = round(busy, 3)
        measured[name] = m
        print(
            f"{name}: {m.megabytes_per_second} MB/s, {m.requests_per_second:.0f} req/s, "
            f"p50 {m.p50_ms} ms, p99 {m.p99_ms} ms, errors {m.errors}, "
            f"server had {m.server_cpu_share:.0%}",
            file=sys.stderr,
        )
        if m.errors:
            raise RuntimeError(f"{name}: {m.errors} errors (see {out})")

    serve = [python, "-m", "cinesonic", "serve", "--data-dir", str(data_dir)]
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
        seeded = subprocess.run(
            [
                python,
                "-m",
                "benchmarks.bench_stream",
                "seed",
                "--data-dir",
                str(data_dir),
                "--media",
                str(media),
                "--seconds",
                str(options.seconds),
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        songs: list[dict[str, Any]] = json.loads(seeded.stdout)
        auth = listener(server)
        check_songs(server, auth, songs)
        targets = [(f"/api/v1/songs/{s['id']}/stream", s["size"]) for s in songs]
        for span in options.spans:
            measure(f"cinesonic_span{span}", server, targets, span, auth)

    bare = [python, "-m", "benchmarks.bench_stream", "bare", "--media", str(media)]
    with running(bare, env, out / "bare.log", "/bare/0") as server:
        targets = [(f"/bare/{i}", path.stat().st_size) for i, path in enumerate(sorted(paths))]
        for span in options.spans:
            measure(f"bare_span{span}", server, targets, span, {})

    serializable = {**results, "measurements": {k: asdict(v) for k, v in measured.items()}}
    (out / "results.json").write_text(json.dumps(serializable, indent=2))
    if not options.keep_data:
        shutil.rmtree(data_dir)
        shutil.rmtree(media)
        shutil.rmtree(source)
    return results


def table(results: dict[str, Any]) -> str:
    measured: dict[str, StreamMeasurement] = results["measurements"]
    rows = [
        "| what | range | conn | MB/s | req/s | p50 ms | p99 ms | errors | server CPU share "
        "| server CPU ms/MB | server RSS MB | others' CPU before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in measured.items():
        what = (
            "`GET /songs/{id}/stream` + `Range`"
            if name.startswith("cinesonic")
            else "bare Starlette `FileResponse` + `Range`"
        )
        rows.append(
            f"| {what} | {m.span // 1024} KiB | {m.connections} | {m.megabytes_per_second:,.1f} "
            f"| {m.requests_per_second:,.0f} | {m.p50_ms:.1f} | {m.p99_ms:.1f} | {m.errors} "
            f"| {m.server_cpu_share:.0%} | {m.server_cpu_ms_per_mb} | {m.server_rss_mb} "
            f"| {m.others_cpu_before:.0%} |"
        )
    files = results["files"]
    rows.append(
        f"\n{files['count']} FLAC files of {files['seconds']:.0f} s, "
        f"{files['total_bytes'] / files['count'] / 1e6:.1f} MB each on average"
    )
    return "\n".join(rows)


def serve_bare(media: Path, port: int) -> None:
    """The baseline: the same files by index through Starlette's `FileResponse`."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, Response
    from starlette.routing import Route

    from cinesonic.cli import freeze_startup_objects, server_config

    files = sorted(media.glob("*.flac"))

    async def bare(request: Request) -> Response:
        return FileResponse(files[int(request.path_params["index"])], media_type="audio/flac")

    app = Starlette(routes=[Route("/bare/{index:int}", bare)])
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port))
    freeze_startup_objects()
    server.run()


def _integers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in ("bare", "seed"):
        parser = argparse.ArgumentParser(description=f"the {command} helper")
        parser.add_argument("command")
        parser.add_argument("--media", type=Path, required=True)
        parser.add_argument("--data-dir", type=Path)
        parser.add_argument("--port", type=int, default=8003)
        parser.add_argument("--seconds", type=float, default=30.0)
        helper = parser.parse_args()
        if command == "bare":
            serve_bare(helper.media, helper.port)
        else:
            root, files = read_media(helper.media)
            print(json.dumps(asyncio.run(seed_songs(helper.data_dir, root, files, helper.seconds))))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=TARGET_CONNECTIONS)
    parser.add_argument("--spans", type=_integers, default=[1 << 20, 64 << 10])
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each file")
    parser.add_argument("--keep-data", action="store_true", help="keep data and media")
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy")
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
