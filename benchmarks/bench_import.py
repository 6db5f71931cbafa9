"""Import pipeline benchmark (issue 5): inbound → staging → library, against beets, one run.

    python -m benchmarks.bench_import [--files 10000] [--nice -10] [--skip-beets] [--keep]

1. Generates `--files` tagged files (the scan benchmark's generator, `bench_scan.make_library`:
   MP3, FLAC, Ogg Vorbis and AAC/M4A copies retagged per track, 11 tracks per album, covers
   beside half of the albums) once into `results/import-template`, then gives each tool its own
   hard-linked copy (`cp -al`): same bytes, same filesystem, no copying cost in the figures.
2. cinesonic: `cinesonic serve` (SQLite, embedded worker, default settings) with inbound,
   staging and quarantine folders in its data directory and one music library to promote into;
   `POST /libraries/process` moves every file into staging (checks, SHA-256, organised path),
   then `POST /libraries/move-ok` promotes every `ok` album into the library (checksum
   re-verified, moved, indexed). Each figure is its job's own duration
   (`finished_at − started_at`), and files/s is files ÷ that.
3. beets: `beet import -A -q` with `move: yes` (its own config and database, no autotagging, no
   plugins) on its own copy of the same inbound folder: it reads the tags, moves every file into
   its library under its path format and records it — the closest counterpart of processing and
   promoting in one step. Wall time of the command.

Every tool runs at the same niceness (`--nice`, on its session's autogroup too). Writes
`results/<time>-import/results.json` and prints the table `benchmarks/README.md` records.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks import bench_scan
from benchmarks.bench_scan import RESULTS, TOOLS_VENV, make_library, make_seeds, timed

TARGETS = {"process_files_per_second": 200.0, "vs_beets": 3.0, "promote_files_per_second": 300.0}


def _job(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    started = client.post(path, json=body)
    started.raise_for_status()
    job_id = started.json()["job_id"]
    while True:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "dead", "cancelled"):
            break
        time.sleep(0.2)
    if job["status"] != "succeeded":
        raise RuntimeError(f"job {job_id} ended {job['status']}: {job.get('last_error')}")
    began = datetime.fromisoformat(job["started_at"])
    ended = datetime.fromisoformat(job["finished_at"])
    job["seconds"] = (ended - began).total_seconds()
    return job


def run_cinesonic(template: Path, work: Path, log: Path, files: int) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    data_dir, library_root = work / "data", work / "library"
    inbound = work / "inbound"
    work.mkdir(parents=True)
    library_root.mkdir()
    subprocess.run(["cp", "-al", str(template), str(inbound)], check=True)
    folders = {
        "CINESONIC_IMPORT_INBOUND_DIR": str(inbound),
        "CINESONIC_IMPORT_STAGING_DIR": str(work / "staging"),
        "CINESONIC_IMPORT_QUARANTINE_DIR": str(work / "quarantine"),
    }
    with bench_scan.cinesonic_server(data_dir, log, extra_env=folders) as (client, pid):
        created = client.post("/libraries", json={"name": "Bench", "roots": [str(library_root)]})
        created.raise_for_status()
        # Imports go only to libraries with an import rule: this one takes every artist.
        client.put(f"/libraries/{created.json()['id']}/import-rule", json={}).raise_for_status()
        cpu = bench_scan._cpu_seconds(pid)
        processed = _job(client, "/libraries/process", {})
        cpu_process, cpu = bench_scan._cpu_seconds(pid) - cpu, bench_scan._cpu_seconds(pid)
        staged = client.get("/libraries/staging", params={"page_size": 1}).json()
        promoted = _job(client, "/libraries/move-ok", {})
        cpu_promote = bench_scan._cpu_seconds(pid) - cpu
        detail = client.get(f"/libraries/{created.json()['id']}").json()
        rss = bench_scan._rss_mb(pid)
    in_library = sum(1 for path in library_root.rglob("*") if path.is_file())
    return {
        "process_s": round(processed["seconds"], 2),
        "process_files_per_second": round(files / processed["seconds"], 1),
        "process_cpu_s": round(cpu_process, 2),
        "process_result": processed.get("result"),
        "staged_albums": staged["pagination"]["total"],
        "promote_s": round(promoted["seconds"], 2),
        "promote_files_per_second": round(in_library / promoted["seconds"], 1),
        "promote_cpu_s": round(cpu_promote, 2),
        "promote_result": promoted.get("result"),
        "files_in_library": in_library,
        "songs": detail["song_count"],
        "rss_mb": round(rss, 1),
    }


def run_beets(template: Path, work: Path) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    inbound = work / "inbound"
    subprocess.run(["cp", "-al", str(template), str(inbound)], check=True)
    config = work / "config.yaml"
    config.write_text(
        f"directory: {work / 'music'}\nlibrary: {work / 'library.db'}\nplugins: []\n"
        "import:\n  copy: no\n  move: yes\n  write: no\n  autotag: no\n  resume: no\n"
        "  incremental: no\n  log: null\n"
    )
    beet = str(TOOLS_VENV / "bin" / "beet")
    seconds, cpu = timed(
        [beet, "-c", str(config), "import", "-A", "-q", str(inbound)],
        work / "beet.log",
        env={**bench_scan.os.environ, "BEETSDIR": str(work)},
    )
    with sqlite3.connect(work / "library.db") as db:
        items = db.execute("SELECT count(*) FROM items").fetchone()[0]
    moved = sum(1 for path in (work / "music").rglob("*") if path.is_file())
    return {"seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "items": items, "moved": moved}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--nice", type=int, default=0, help="niceness of every measured tool")
    parser.add_argument("--skip-beets", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    args = parser.parse_args()
    bench_scan.NICENESS[0] = args.nice
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}-import"
    out.mkdir(parents=True, exist_ok=True)
    template = RESULTS / f"import-template-{args.files}"
    seeds = make_seeds(RESULTS / "seeds")
    generated = make_library("tagged", template, args.files, seeds)
    files = sum(1 for path in template.rglob("*") if path.suffix != ".jpg" and path.is_file())
    results: dict[str, Any] = {"files": files, "generated_s": round(generated, 1)}
    print(f"{files} audio files in {template}", file=sys.stderr)
    results["cinesonic"] = run_cinesonic(template, out / "cinesonic", out / "server.log", files)
    print(json.dumps(results["cinesonic"]), file=sys.stderr)
    if not args.skip_beets:
        results["tools"] = bench_scan.tools_venv(out / "pip.log")
        if results["tools"].get("installed"):
            results["beets"] = run_beets(template, out / "beets")
    results["targets"] = TARGETS
    (out / "results.json").write_text(json.dumps(results, indent=2))
    if not args.keep:
        for name in ("cinesonic", "beets"):
            shutil.rmtree(out / name, ignore_errors=True)
    print(table(results))
    print(f"results: {out / 'results.json'}", file=sys.stderr)


def table(results: dict[str, Any]) -> str:
    ours = results["cinesonic"]
    rows = [
        "| what | files | seconds | files/s | CPU s | target |",
        "|---|---:|---:|---:|---:|---|",
        f"| cinesonic: process inbound → staging | {results['files']} | {ours['process_s']} | "
        f"**{ours['process_files_per_second']}** | {ours['process_cpu_s']} | ≥ 200 files/s |",
        f"| cinesonic: promote staging → library | {ours['files_in_library']} | "
        f"{ours['promote_s']} | **{ours['promote_files_per_second']}** | "
        f"{ours['promote_cpu_s']} | ≥ 300 files/s |",
    ]
    beets = results.get("beets")
    if beets:
        rate = results["files"] / beets["seconds"]
        both = ours["process_s"] + ours["promote_s"]
        rows.append(
            f"| beets `import -A` (move) | {beets['items']} | {beets['seconds']} | "
            f"{rate:.1f} | {beets['cpu_s']} | — |"
        )
        rows.append(
            f"| cinesonic process ÷ beets (files/s) | | | "
            f"**{ours['process_files_per_second'] / rate:.1f}×** | | ≥ 3× |"
        )
        rows.append(
            f"| cinesonic process + promote ÷ beets | | {both:.2f} | "
            f"{results['files'] / both:.1f} ({results['files'] / both / rate:.1f}×) | | |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
