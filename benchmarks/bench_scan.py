"""Library scan benchmark (issue 4): cinesonic against beets and supysonic, same files, one run.

    python -m benchmarks.bench_scan [--files 20000] [--rescan-files 100000] [--nice -10]
                                    [--skip-beets] [--skip-supysonic] [--keep]

1. Generates a library of `--files` tagged files by copy + retag of four short encoded seeds
   (MP3, FLAC, Ogg Vorbis, AAC/M4A; PyAV + mutagen, `tests/fixtures/audio.py`): 11 tracks per
   album, 4 albums per artist, every tenth album a compilation of differing artists, a distinct
   500×500 `cover.jpg` in every other album folder.
2. cinesonic: starts `cinesonic serve` (SQLite, its own data directory, default settings), creates
   an admin with the CLI, a library through the API, starts a scan and waits for its job; the
   figure is the scan's own duration (`/libraries/{id}/scans`). Then a rescan of the unchanged
   files, and the server's resident memory (`VmRSS`).
3. beets (`beet import -A -q`, copy/move/write off, its own database) and supysonic
   (`supysonic-cli folder scan --foreground`, its own SQLite database), installed from PyPI into
   `benchmarks/results/scan-tools-venv`, on the same folder; wall time of each command.
4. Generates `--rescan-files` small files (untagged copies of a 1 s MP3 with a unique tail:
   names come from the folders), scans them once through the server, then measures a rescan of
   the unchanged library and the server's memory after it.

Every tool runs at the same niceness (`--nice`, also on its session's autogroup: on a shared
machine that is what gives a benchmark its share). Writes `results/<time>-scan/results.json` and
prints the table `benchmarks/README.md` records.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TOOLS_VENV = RESULTS / "scan-tools-venv"
ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD = "bench", "bench@example.com", "Bench-Password-1"
TRACKS_PER_ALBUM, ALBUMS_PER_ARTIST = 11, 4
SEEDS = (("mp3", 10.0), ("flac", 5.0), ("ogg", 10.0), ("m4a", 10.0))
TARGETS = {"files_per_second": 400.0, "vs_beets": 5.0, "vs_supysonic": 3.0, "rescan_s": 5.0}
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], log: Path, **popen: Any) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a command run to its end."""
    began, cpu = time.perf_counter(), _children_cpu()
    with log.open("w") as output:
        process = start(command, stdout=output, stderr=subprocess.STDOUT, **popen)
        code = process.wait()
    seconds = time.perf_counter() - began
    if code != 0:
        raise RuntimeError(f"{command[0]} exited {code}; see {log}")
    return seconds, _children_cpu() - cpu


# ---------------------------------------------------------------- the libraries


def make_seeds(folder: Path) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.audio import FORMATS, write_audio

    folder.mkdir(parents=True, exist_ok=True)
    seeds = {}
    for fmt, seconds in (*SEEDS, ("tiny", 1.0)):
        codec = "mp3" if fmt == "tiny" else fmt
        path = folder / f"{fmt}.{FORMATS[codec][2]}"
        if not path.exists():
            write_audio(path, codec, seconds=seconds, frequency=330.0)
        seeds[fmt] = path
    return seeds


def _cover(number: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.effect_noise((500, 500), 40 + number % 60).convert("RGB")
    ImageDraw.Draw(image).rectangle((50, 50, 450, 450), outline=(number % 256, 90, 160), width=9)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _make_tagged(job: tuple[int, str, dict[str, str]]) -> None:
    import mutagen

    number, target_root, seeds = job
    album, track = divmod(number, TRACKS_PER_ALBUM)
    artist = album // ALBUMS_PER_ARTIST
    compilation = album % 10 == 9
    fmt = ("mp3", "flac", "ogg", "m4a")[album % 4]
    seed = Path(seeds[fmt])
    folder = Path(target_root) / f"Artist {artist:05}" / f"Album {album:05}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{track + 1:02} - Song {number}{seed.suffix}"
    shutil.copyfile(seed, path)
    audio = mutagen.File(path, easy=True)
    if audio.tags is None:
        audio.add_tags()
    audio["title"] = f"Song {number}"
    audio["artist"] = f"Guest {number % 997:04}" if compilation else f"Artist {artist:05}"
    audio["album"] = f"Album {album:05}"
    audio["tracknumber"] = f"{track + 1}/{TRACKS_PER_ALBUM}"
    audio["date"] = str(1960 + album % 60)
    audio["genre"] = ["Rock", "Jazz", "Electronic", "Folk", "Classical"][album % 5]
    audio.save()
    if track == 0 and album % 2 == 0:
        (folder / "cover.jpg").write_bytes(_cover(album))


def _make_plain(job: tuple[int, str, str]) -> None:
    number, target_root, seed = job
    album, track = divmod(number, TRACKS_PER_ALBUM)
    folder = Path(target_root) / f"Artist {album // ALBUMS_PER_ARTIST:05}" / f"Album {album:05}"
    folder.mkdir(parents=True, exist_ok=True)
    data = Path(seed).read_bytes() + number.to_bytes(8, "big") * 4  # a distinct tail
    (folder / f"{track + 1:02} - Song {number}.mp3").write_bytes(data)


def make_library(kind: str, folder: Path, files: int, seeds: dict[str, Path]) -> float:
    if folder.exists() and sum(1 for _ in folder.rglob("*.*")) >= files:
        return 0.0
    shutil.rmtree(folder, ignore_errors=True)
    began = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        if kind == "tagged":
            paths = {fmt: str(path) for fmt, path in seeds.items()}
            jobs: list[Any] = [(n, str(folder), paths) for n in range(files)]
            pool.map(_make_tagged, jobs, chunksize=250)
        else:
            jobs = [(n, str(folder), str(seeds["tiny"])) for n in range(files)]
            pool.map(_make_plain, jobs, chunksize=1000)
    return time.perf_counter() - began


# ---------------------------------------------------------------- cinesonic


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def cinesonic_server(
    data_dir: Path, log: Path, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[httpx.Client, int]]:
    port = _free_port()
    env = {
        **os.environ,
        **(extra_env or {}),
        "CINESONIC_DATA_DIR": str(data_dir),
        "CINESONIC_PORT": str(port),
        "CINESONIC_LOG_LEVEL": "warning",
        "CINESONIC_LOG_FORMAT": "json",
    }
    python = sys.executable
    subprocess.run(
        [python, "-m", "cinesonic", "user", "create-admin", "--username", ADMIN,
         "--email", ADMIN_EMAIL, "--password-stdin"],
        input=ADMIN_PASSWORD + "\n", text=True, env=env, check=True, capture_output=True,
    )  # fmt: skip
    with log.open("w") as output:
        server = start([python, "-m", "cinesonic", "serve"], env=env, stdout=output, stderr=output)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"cinesonic serve did not start; see {log}")
                time.sleep(0.2)
            with httpx.Client(base_url=f"{base}/api/v1", timeout=60) as client:
                token = client.post(
                    "/auth/login", json={"identifier": ADMIN, "password": ADMIN_PASSWORD}
                ).json()["access_token"]
                client.headers["Authorization"] = f"Bearer {token}"
                yield client, server.pid
        finally:
            server.terminate()
            server.wait(30)


def _scan(client: httpx.Client, library_id: str) -> dict[str, Any]:
    started = client.post(f"/libraries/{library_id}/scan")
    started.raise_for_status()
    job_id = started.json()["job_id"]
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "dead", "cancelled"):
            break
        time.sleep(0.2)
    if job["status"] != "succeeded":
        raise RuntimeError(f"scan job {job_id} ended {job['status']}: {job.get('last_error')}")
    scans = client.get(f"/libraries/{library_id}/scans?page_size=1").json()["data"]
    scan: dict[str, Any] = scans[0]
    return scan


def run_cinesonic(library: Path, data_dir: Path, log: Path) -> dict[str, Any]:
    shutil.rmtree(data_dir, ignore_errors=True)
    with cinesonic_server(data_dir, log) as (client, pid):
        created = client.post("/libraries", json={"name": "Bench", "roots": [str(library)]})
        created.raise_for_status()
        library_id = created.json()["id"]
        cpu = _cpu_seconds(pid)
        first = _scan(client, library_id)
        cpu_first, cpu = _cpu_seconds(pid) - cpu, _cpu_seconds(pid)
        rss_first = _rss_mb(pid)
        second = _scan(client, library_id)
        cpu_second = _cpu_seconds(pid) - cpu
        rss_second = _rss_mb(pid)
        detail = client.get(f"/libraries/{library_id}").json()
    return {
        "first_scan_s": first["duration_seconds"],
        "first_added": first["added"],
        "first_failed": first["failed"],
        "first_scan_cpu_s": round(cpu_first, 2),
        "rescan_cpu_s": round(cpu_second, 2),
        "rescan_s": second["duration_seconds"],
        "rescan_unchanged": second["unchanged"],
        "rss_mb_after_first": round(rss_first, 1),
        "rss_mb_after_rescan": round(rss_second, 1),
        "songs": detail["song_count"],
        "albums": detail["album_count"],
        "artists": detail["artist_count"],
    }


# ---------------------------------------------------------------- beets and supysonic


def tools_venv(log: Path) -> dict[str, Any]:
    """beets and supysonic from PyPI into a virtualenv of their own (kept between runs)."""
    python = TOOLS_VENV / "bin" / "python"
    if not python.exists():
        venv.create(TOOLS_VENV, with_pip=True)
    with log.open("w") as output:
        code = subprocess.call(
            [str(python), "-m", "pip", "install", "-q", "beets", "supysonic"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    if code != 0:
        return {"installed": False, "pip_exit": code, "pip_output": log.read_text()[-3000:]}
    versions = subprocess.run(
        [str(python), "-c", "import beets, supysonic; print(beets.__version__, supysonic.VERSION)"],
        capture_output=True,
        text=True,
    ).stdout.split()
    return {"installed": True, "beets": versions[0], "supysonic": versions[1]}


def run_beets(library: Path, work: Path) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = work / "config.yaml"
    config.write_text(
        f"directory: {work / 'music'}\nlibrary: {work / 'library.db'}\nplugins: []\n"
        "import:\n  copy: no\n  move: no\n  write: no\n  autotag: no\n  resume: no\n"
        "  incremental: no\n  log: null\n"
    )
    beet = str(TOOLS_VENV / "bin" / "beet")
    env = {**os.environ, "BEETSDIR": str(work)}
    seconds, cpu = timed(
        [beet, "-c", str(config), "import", "-A", "-q", str(library)], work / "beet.log", env=env
    )
    with sqlite3.connect(work / "library.db") as db:
        items = db.execute("SELECT count(*) FROM items").fetchone()[0]
    return {"seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "items": items}


def run_supysonic(library: Path, work: Path) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "supysonic.conf").write_text(
        f"[base]\ndatabase_uri = sqlite:///{work / 'supysonic.db'}\n"
        f"[webapp]\ncache_dir = {work / 'cache'}\n[daemon]\nsocket = {work / 'daemon.sock'}\n"
    )
    cli = str(TOOLS_VENV / "bin" / "supysonic-cli")
    subprocess.run([cli, "folder", "add", "bench", str(library)], cwd=work, check=True)
    seconds, cpu = timed(
        [cli, "folder", "scan", "--foreground", "bench"], work / "scan.log", cwd=work
    )
    with sqlite3.connect(work / "supysonic.db") as db:
        tracks = db.execute("SELECT count(*) FROM track").fetchone()[0]
    return {"seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "tracks": tracks}


# ---------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--rescan-files", type=int, default=100_000)
    parser.add_argument("--nice", type=int, default=0, help="niceness of every tool (-20..19)")
    parser.add_argument("--skip-beets", action="store_true")
    parser.add_argument("--skip-supysonic", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the generated libraries")
    options = parser.parse_args()
    NICENESS[0] = options.nice
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}-scan"
    out.mkdir(parents=True)
    media = RESULTS / "scan-media"
    results: dict[str, Any] = {
        "run": stamp,
        "files": options.files,
        "rescan_files": options.rescan_files,
        "nice": options.nice,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    seeds = make_seeds(media / "seeds")
    tagged, plain = media / f"tagged-{options.files}", media / f"plain-{options.rescan_files}"
    print(f"generating {options.files} tagged files …", flush=True)
    results["generate_tagged_s"] = round(make_library("tagged", tagged, options.files, seeds), 1)
    print("cinesonic …", flush=True)
    results["cinesonic"] = run_cinesonic(tagged, out / "data-tagged", out / "serve-tagged.log")
    print(json.dumps(results["cinesonic"]), flush=True)
    if not (options.skip_beets and options.skip_supysonic):
        results["tools"] = tools_venv(out / "pip.log")
    if results.get("tools", {}).get("installed"):
        if not options.skip_beets:
            print("beets …", flush=True)
            results["beets"] = run_beets(tagged, out / "beets")
            print(json.dumps(results["beets"]), flush=True)
        if not options.skip_supysonic:
            print("supysonic …", flush=True)
            results["supysonic"] = run_supysonic(tagged, out / "supysonic")
            print(json.dumps(results["supysonic"]), flush=True)
    if options.rescan_files:
        print(f"generating {options.rescan_files} small files …", flush=True)
        results["generate_plain_s"] = round(
            make_library("plain", plain, options.rescan_files, seeds), 1
        )
        print("cinesonic, large library …", flush=True)
        results["cinesonic_large"] = run_cinesonic(
            plain, out / "data-plain", out / "serve-plain.log"
        )
        print(json.dumps(results["cinesonic_large"]), flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    if not options.keep:
        shutil.rmtree(media, ignore_errors=True)
        for data in out.glob("data-*"):
            shutil.rmtree(data, ignore_errors=True)


def table(results: dict[str, Any]) -> str:
    files = results["files"]
    ours = results["cinesonic"]
    rate = files / ours["first_scan_s"]
    rows = [
        "| tool | first scan (wall) | files/s | cinesonic is | CPU s | files per CPU s |",
        "|---|---:|---:|---:|---:|---:|",
        f"| cinesonic | {ours['first_scan_s']:.1f} s | {rate:,.0f} | | "
        f"{ours.get('first_scan_cpu_s', 0):.1f} | "
        f"{files / max(ours.get('first_scan_cpu_s', 0), 0.01):,.0f} |",
    ]
    for name, key in (("beets `import -A`", "beets"), ("supysonic scanner", "supysonic")):
        if key in results:
            seconds, cpu = results[key]["seconds"], results[key].get("cpu_s", 0.0)
            rows.append(
                f"| {name} | {seconds:.1f} s | {files / seconds:,.0f} | "
                f"{seconds / ours['first_scan_s']:.1f}× faster | {cpu:.1f} | "
                f"{files / max(cpu, 0.01):,.0f} |"
            )
    lines = ["\n".join(rows), ""]
    lines.append(
        f"cinesonic, {files} files: rescan unchanged {ours['rescan_s']:.2f} s; server RSS "
        f"{ours['rss_mb_after_first']:.0f} MB after the scan"
    )
    large = results.get("cinesonic_large")
    if large:
        lines.append(
            f"cinesonic, {results['rescan_files']} files: first scan {large['first_scan_s']:.1f} s "
            f"({results['rescan_files'] / large['first_scan_s']:,.0f} files/s); rescan unchanged "
            f"{large['rescan_s']:.2f} s; server RSS {large['rss_mb_after_first']:.0f} MB after "
            f"the scan, {large['rss_mb_after_rescan']:.0f} MB after the rescan"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
