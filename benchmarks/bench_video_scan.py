"""Video library scan benchmark (issue 6): first scan of a movie library without metadata.

    python -m benchmarks.bench_video_scan [--files 10000] [--kind movies|tvshows] [--nice -10]
                                          [--keep]

1. Makes three tiny real videos (PyAV, `tests/fixtures/video.py`: H.264 + AAC in Matroska and
   MP4, MPEG-4 Part 2 in Matroska) and hard-links them under `--files` names in the patterns
   the scanner reads: `Movie 00042 (1992)/Movie 00042 (1992) - 1080p.mkv`, release names
   (`Movie.00043.1993.1080p.BluRay.x264.mkv`), two versions in every tenth folder; with
   `--kind tvshows`, `Show 0001/Season 02/Show 0001 - S02E05 - Title.mkv` and multi-episode
   files.
2. Starts `cinesonic serve` (SQLite, its own data directory, default settings, as
   `bench_scan.py` does), creates the library through the API, scans it and reads the scan's
   own duration (`/libraries/{id}/scans`), then rescans the unchanged library.

Target: at least 200 files/s on the first scan of 10,000 files. Writes
`results/<time>-video-scan/results.json` and prints the table `benchmarks/README.md` records.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.bench_scan import NICENESS, RESULTS, ROOT, _cpu_seconds, _scan, cinesonic_server

TARGET_FILES_PER_SECOND = 200.0


def make_seeds(folder: Path) -> list[Path]:
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.video import KINDS, write_video

    folder.mkdir(parents=True, exist_ok=True)
    seeds = []
    for kind in ("mkv", "mp4", "mpeg4"):
        path = folder / f"seed-{kind}.{KINDS[kind][3]}"
        if not path.exists():
            write_video(path, kind)
        seeds.append(path)
    return seeds


def movie_names(count: int) -> list[str]:
    names: list[str] = []
    number = 0
    while len(names) < count:
        year = 1950 + number % 70
        if number % 3 == 2:
            names.append(f"Movie.{number:05}.{year}.1080p.BluRay.x264.mkv")
        else:
            folder = f"Movie {number:05} ({year})"
            names.append(f"{folder}/{folder} - 1080p.mkv")
            if number % 10 == 0:
                names.append(f"{folder}/{folder} - 2160p.mp4")
        number += 1
    return names[:count]


def show_names(count: int) -> list[str]:
    names: list[str] = []
    number = 0
    while len(names) < count:
        show, season, episode = divmod(number, 200)[0], number // 20 % 10 + 1, number % 20 + 1
        name = f"Show {show:04}"
        if episode % 7 == 0:
            names.append(
                f"{name}/Season {season:02}/{name}.S{season:02}E{episode:02}E{episode + 1:02}.mkv"
            )
        else:
            names.append(
                f"{name}/Season {season:02}/{name} - S{season:02}E{episode:02} - Title.mkv"
            )
        number += 1
    return names[:count]


def make_library(folder: Path, names: list[str], seeds: list[Path]) -> None:
    for index, relative in enumerate(names):
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        seed = seeds[1] if relative.endswith(".mp4") else seeds[0 if index % 5 else 2]
        os.link(seed, target.with_suffix(seed.suffix) if not relative.endswith(".mp4") else target)


def run(library: Path, kind: str, data_dir: Path, log: Path) -> dict[str, Any]:
    shutil.rmtree(data_dir, ignore_errors=True)
    with cinesonic_server(data_dir, log) as (client, pid):
        created = client.post(
            "/libraries", json={"name": "Bench", "kind": kind, "roots": [str(library)]}
        )
        created.raise_for_status()
        library_id = created.json()["id"]
        cpu = _cpu_seconds(pid)
        first = _scan(client, library_id)
        cpu_first = _cpu_seconds(pid) - cpu
        second = _scan(client, library_id)
        listing = "/movies" if kind == "movies" else "/tvshows"
        items = client.get(listing, params={"page_size": 1}).json()["pagination"]["total"]
    return {
        "first_scan_s": first["duration_seconds"],
        "first_added": first["added"],
        "first_failed": first["failed"],
        "first_scan_server_cpu_s": round(cpu_first, 2),
        "rescan_s": second["duration_seconds"],
        "rescan_unchanged": second["unchanged"],
        "items": items,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--kind", choices=("movies", "tvshows"), default="movies")
    parser.add_argument("--nice", type=int, default=0, help="niceness of the server (-20..19)")
    parser.add_argument("--keep", action="store_true", help="keep the generated library")
    options = parser.parse_args()
    NICENESS[0] = options.nice
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}-video-scan"
    out.mkdir(parents=True)
    media = RESULTS / "video-scan-media"
    shutil.rmtree(media / "library", ignore_errors=True)
    seeds = make_seeds(media / "seeds")
    names = movie_names(options.files) if options.kind == "movies" else show_names(options.files)
    print(f"linking {options.files} video files …", flush=True)
    make_library(media / "library", names, seeds)
    results: dict[str, Any] = {
        "run": stamp,
        "files": options.files,
        "kind": options.kind,
        "nice": options.nice,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    print("cinesonic …", flush=True)
    results["cinesonic"] = run(media / "library", options.kind, out / "data", out / "serve.log")
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    if not options.keep:
        shutil.rmtree(media / "library", ignore_errors=True)
        shutil.rmtree(out / "data", ignore_errors=True)


def table(results: dict[str, Any]) -> str:
    ours = results["cinesonic"]
    rate = results["files"] / ours["first_scan_s"]
    verdict = "meets" if rate >= TARGET_FILES_PER_SECOND else "misses"
    return "\n".join(
        [
            "| files | kind | first scan | files/s | target | rescan | items |",
            "|---:|---|---:|---:|---|---:|---:|",
            f"| {results['files']:,} | {results['kind']} | {ours['first_scan_s']:.1f} s | "
            f"{rate:,.0f} | {verdict} ≥ {TARGET_FILES_PER_SECOND:.0f} | "
            f"{ours['rescan_s']:.1f} s | {ours['items']:,} |",
        ]
    )


if __name__ == "__main__":
    main()
