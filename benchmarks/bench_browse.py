"""Browsing and search on a 100,000-song library, on ONE `cinesonic serve` process.

    python -m benchmarks.bench_browse [--songs 100000] [--duration 15] [--connections 32]
                                      [--nice -15] [--reuse DIR] [--only albums search …]
    python -m benchmarks.bench_browse seed --data-dir DIR [--songs 100000]   # only seed

In one run, on one fresh data directory (SQLite, full middleware stack, rate limits raised out
of the way):

1. the library is seeded straight into the database with SQLAlchemy core bulk inserts: realistic
   names (some with accents, "The …" bands, featured artists), ~10 songs per album, ~8 albums per
   artist, genres, formats, years, play counts. The search index fills itself through the
   triggers of migration 0008, as it does when the scanner writes. No `ANALYZE`, no FTS
   `optimize`: the database is measured as a scan leaves it;
2. `cinesonic serve` starts pinned to CPU 0; a plain user (`user` role: the visibility filter
   applies) signs in;
3. wrk (pinned to CPU 1, 2 threads, 32 connections by default) measures, each after a warm-up:
   `/auth/me` (the floor: no database), `GET /api/v1/albums?page_size=50`, deeper album pages,
   albums by year, `/songs`, `/songs/latest`, `/artists`,
   and `/search` with prefix queries as a user types them (a Lua script cycles through 2,000
   queries cut from the library's own names: one to three words, the last one cut short,
   accents dropped from a third of them).

Each measurement is refused if any answer was not 2xx; the search queries are checked first
(how many find something). Results: a Markdown table on stdout; JSON, the Lua scripts and logs in
benchmarks/results/<time>-browse/.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
import time
import unicodedata
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import insert

from benchmarks.bench_auth import (
    CLIENT_CPU,
    NICENESS,
    ROOT,
    WARMUP_SECONDS,
    Measurement,
    Server,
    code_version,
    cpu_seconds,
    machine,
    parse_wrk,
    running,
    server_env,
    start,
    wait_until_quiet,
)
from benchmarks.seed_users import PASSWORD as USER_PASSWORD
from benchmarks.seed_users import seed_users
from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.kit.ids import uuid7
from cinesonic.kit.text import fold, sort_key
from cinesonic.migrations.runner import upgrade
from cinesonic.models.library import Library, LibraryKind, LibraryRoot
from cinesonic.models.music import (
    Album,
    Artist,
    Genre,
    LibraryArtist,
    Song,
    SongArtist,
    SongGenre,
)

RESULTS = ROOT / "benchmarks" / "results"
BATCH = 2000
TARGETS = {"albums_p99_ms": 30.0, "search_p95_ms": 15.0}

# ---------------------------------------------------------------- names


def _words(text: str, separator: str | None = None) -> list[str]:
    return [word.strip() for word in text.split(separator)]


FIRST = _words(
    "Ada Ágnes Aksel Amélie Anaïs Anders Björn Camille Chloé Dagný Dmitri Éloïse Emil Enzo "
    "Fatou Freya Gaël Håkon Hélène Ingrid Ines Jonas Jürgen Kai Karin Léa Leif Lucía Malin "
    "Marcus Maëlle Mateo Mika Nadia Noé Olga Óscar Paulo Pia Rafael Renée Rúna Sami Søren "
    "Stellan Sun Tomás Ulla Vera Wilma Yara Zoë"
)
LAST = _words(
    "Andersen Bergström Castillo Dubois Eklund Fernández Fournier Gómez Haugen Ibáñez "
    "Jóhannsdóttir Kowalski Lindqvist Moreau Müller Nakamura Novák Ødegaard Okafor Petrović "
    "Quintero Rossi Sánchez Schäfer Sørensen Takahashi Underwood Valdés Weiß Xu Yılmaz Zhou "
    "Berg Costa Dahl Esposito Holm Iversen Janssen Keller Lund Martín Nyström Olsen Pérez"
)
ADJECTIVES = _words(
    "Silent Golden Electric Broken Velvet Hidden Wild Burning Frozen Crimson Hollow Endless "
    "Lonely Midnight Paper Neon Quiet Restless Secret Silver Wandering Blue Bitter Bright "
    "Careless Dark Distant Early Empty Fading Gentle Glass Heavy Honest Lucky Northern Open "
    "Pale Perfect Rainy Sacred Slow Small Southern Strange Sweet Tender Violet Young Açaí "
    "Ébène Fröhlich Mañana Søt Ångström"
)
NOUNS = _words(
    "River Hour Heart Mirror Garden Harbour Signal Window Ocean Machine Forest Letter Highway "
    "Shadow Satellite Island Echo Fire Winter Summer Mountain Dream City Storm Light Road "
    "Engine Feather Thunder Horizon Orchard Lantern Canyon Desert Valley Meadow Tide Compass "
    "Ember Glacier Halo Ivory Jasmine Kingdom Labyrinth Monsoon Nebula Oasis Paradox Quarry "
    "Riddle Sparrow Tempest Umbrella Voyage Whisper Zenith Café Façade Fjörd Smörgås"
)
VERBS = _words("Running Falling Dancing Waiting Calling Dreaming Burning Chasing Holding Leaving")
BAND_NOUNS = _words("Owls Lions Ghosts Strangers Wolves Tigers Pilots Sisters Brothers Machines")
GENRES = _words(
    "Rock, Pop, Jazz, Blues, Electronic, Hip-Hop, R&B, Soul, Funk, Folk, Country, Classical, "
    "Metal, Punk, Indie, Ambient, Techno, House, Reggae, Latin, Bossa Nova, Post-Rock, "
    "Shoegaze, Synthpop, Trip-Hop, Drum & Bass, Dubstep, Gospel, Disco, K-Pop, J-Pop, Chanson, "
    "Fado, Flamenco, Afrobeat, Grunge, Emo, Ska, Soundtrack",
    ",",
)
FORMATS = [("mp3", "audio/mpeg", 0.7), ("flac", "audio/flac", 0.2), ("m4a", "audio/mp4", 0.05)]
FORMATS.append(("ogg", "audio/ogg", 0.05))


def artist_name(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    if roll < 0.65:
        return f"The {rng.choice(ADJECTIVES)} {rng.choice(BAND_NOUNS)}"
    if roll < 0.85:
        return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    return f"{rng.choice(NOUNS)}{rng.choice(['', 's', 'ia', 'ö'])}"


def album_title(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    if roll < 0.7:
        return f"{rng.choice(NOUNS)} of {rng.choice(NOUNS)}"
    if roll < 0.85:
        return f"{rng.choice(VERBS)} {rng.choice(NOUNS)}"
    return rng.choice(NOUNS)


def song_title(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    if roll < 0.5:
        return f"The {rng.choice(NOUNS)}"
    if roll < 0.7:
        return (
            f"{rng.choice(VERBS)} {rng.choice(['for', 'in', 'to', 'on'])} the {rng.choice(NOUNS)}"
        )
    if roll < 0.85:
        return f"{rng.choice(NOUNS)} {rng.choice(NOUNS)}"
    return rng.choice(NOUNS)


def strip_accents(value: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))


# ---------------------------------------------------------------- seeding


@dataclass
class Seeded:
    songs: int
    albums: int
    artists: int
    seconds: float
    database_bytes: int


def _unique(rng: random.Random, make: Any, taken: set[str]) -> str:
    for _ in range(50):
        name = make(rng)
        if fold(name) not in taken:
            taken.add(fold(name))
            return str(name)
    name = f"{make(rng)} {len(taken)}"
    taken.add(fold(name))
    return name


async def seed_library(settings: Settings, songs: int, seed: int = 7) -> Seeded:
    """Insert a music library of about `songs` songs (10 per album, 8 albums per artist)."""
    started = time.perf_counter()
    settings.prepare_data_dir()
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    rng = random.Random(seed)
    db = Database(settings)
    album_count = max(1, songs // 10)
    artist_count = max(1, album_count // 8)
    now = datetime.now(UTC)
    try:
        async with db.session() as session:
            library_id = uuid7()
            await session.execute(
                insert(Library),
                [
                    {
                        "id": library_id,
                        "name": "Bench",
                        "kind": LibraryKind.music,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
            await session.execute(
                insert(LibraryRoot),
                [
                    {
                        "id": uuid7(),
                        "library_id": library_id,
                        "path": "/bench/music",
                        "created_at": now,
                    }
                ],
            )
            genre_ids = [uuid7() for _ in GENRES]
            await session.execute(
                insert(Genre),
                [
                    {"id": gid, "name": name, "name_key": fold(name)}
                    for gid, name in zip(genre_ids, GENRES, strict=True)
                ],
            )
            taken: set[str] = set()
            artists = []
            for _ in range(artist_count):
                name = _unique(rng, artist_name, taken)
                artists.append(
                    {
                        "id": uuid7(),
                        "name": name,
                        "sort_name": sort_key(name),
                        "name_key": fold(name),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            for first in range(0, len(artists), BATCH):
                await session.execute(insert(Artist), artists[first : first + BATCH])
            counts: dict[uuid.UUID, list[int]] = {a["id"]: [0, 0] for a in artists}
            albums, song_rows, song_artists, song_genres = [], [], [], []
            position = 0
            for number in range(album_count):
                owner = artists[number % artist_count]
                title = album_title(rng)
                year = rng.randint(1960, 2024)
                album_id = uuid7()
                genre = rng.randrange(len(GENRES))
                fmt, content_type, _ = rng.choices(FORMATS, [f[2] for f in FORMATS])[0]
                added = now - timedelta(days=album_count - number)
                tracks = 10 if number < album_count - 1 else songs - 10 * (album_count - 1)
                durations = [rng.uniform(120, 420) for _ in range(tracks)]
                albums.append(
                    {
                        "id": album_id,
                        "library_id": library_id,
                        "title": title,
                        "sort_title": sort_key(title),
                        "title_key": fold(title),
                        "artist_id": owner["id"],
                        "year": year,
                        "song_count": tracks,
                        "duration": sum(durations),
                        "size_bytes": tracks * 8_000_000,
                        "play_count": int(rng.paretovariate(1.5)) - 1,
                        "created_at": added,
                        "updated_at": added,
                    }
                )
                counts[owner["id"]][0] += 1
                for track in range(tracks):
                    song_id = uuid7()
                    title = song_title(rng)
                    featured = rng.choice(artists) if rng.random() < 0.1 else None
                    names = [owner["name"]] + ([featured["name"]] if featured else [])
                    folder = f"/bench/music/{owner['name']}/{albums[-1]['title']}"
                    path = f"{folder}/{track + 1:02} {title}.{fmt}"
                    song_rows.append(
                        {
                            "id": song_id,
                            "library_id": library_id,
                            "path": path,
                            "size_bytes": 8_000_000,
                            "mtime_ns": 0,
                            "fingerprint": hashlib.sha256(path.encode()).hexdigest(),
                            "title": title,
                            "sort_title": sort_key(title),
                            "album_id": album_id,
                            "artist_display": " feat. ".join(names),
                            "track_number": track + 1,
                            "track_total": tracks,
                            "disc_number": 1,
                            "year": year,
                            "duration": durations[track],
                            "bit_rate": 320_000 if fmt == "mp3" else 900_000,
                            "sample_rate": 44100,
                            "channels": 2,
                            "format": fmt,
                            "content_type": content_type,
                            "play_count": int(rng.paretovariate(1.2)) - 1,
                            "created_at": added + timedelta(seconds=position),
                            "updated_at": added,
                        }
                    )
                    position += 1
                    song_artists.append(
                        {"song_id": song_id, "artist_id": owner["id"], "position": 0}
                    )
                    counts[owner["id"]][1] += 1
                    if featured and featured["id"] != owner["id"]:
                        song_artists.append(
                            {"song_id": song_id, "artist_id": featured["id"], "position": 1}
                        )
                        counts[featured["id"]][1] += 1
                    song_genres.append({"song_id": song_id, "genre_id": genre_ids[genre]})
                    if rng.random() < 0.2:
                        other = genre_ids[rng.randrange(len(GENRES))]
                        if other != genre_ids[genre]:
                            song_genres.append({"song_id": song_id, "genre_id": other})
                if len(song_rows) >= BATCH:
                    await _flush(session, albums, song_rows, song_artists, song_genres)
            await _flush(session, albums, song_rows, song_artists, song_genres)
            await session.execute(
                insert(LibraryArtist),
                [
                    {
                        "library_id": library_id,
                        "artist_id": artist_id,
                        "album_count": album_total,
                        "song_count": song_total,
                    }
                    for artist_id, (album_total, song_total) in counts.items()
                ],
            )
    finally:
        await db.dispose()
    size = 0
    if settings.resolved_database_url.startswith("sqlite"):
        database = Path(settings.resolved_database_url.split("///", 1)[1])
        size = sum(p.stat().st_size for p in database.parent.glob(database.name + "*"))
    return Seeded(songs, album_count, artist_count, time.perf_counter() - started, size)


async def _flush(session: Any, *batches: list[dict[str, Any]]) -> None:
    albums, song_rows, song_artists, song_genres = batches
    for model, rows in (
        (Album, albums),
        (Song, song_rows),
        (SongArtist, song_artists),
        (SongGenre, song_genres),
    ):
        if rows:
            await session.execute(insert(model), rows)
            rows.clear()


# ---------------------------------------------------------------- queries


def search_queries(names: list[str], count: int, seed: int = 11) -> list[str]:
    """What people type: a name's first one to three words, the last cut short (2+ letters),
    without accents a third of the time."""
    rng = random.Random(seed)
    queries = []
    while len(queries) < count:
        words = rng.choice(names).split()
        if words[0].lower() == "the" and len(words) > 1 and rng.random() < 0.7:
            words = words[1:]
        taken = words[: rng.choice([1, 1, 2, 2, 3])]
        last = taken[-1]
        taken[-1] = last[: rng.randint(min(2, len(last)), len(last))]
        query = " ".join(taken)
        if rng.random() < 0.33:
            query = strip_accents(query)
        if rng.random() < 0.2:
            query = query.lower()
        queries.append(query)
    return queries


def lua_script(paths: list[str], out: Path) -> Path:
    body = ",\n".join(json.dumps(path) for path in paths)
    out.write_text(
        f"""-- generated by bench_browse.py
local paths = {{
{body}
}}
local index = 0
request = function()
  index = index + 1
  return wrk.format("GET", paths[(index % #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("PERCENTILES p50=%d p95=%d p99=%d max=%d\\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""
    )
    return out


@dataclass
class Result:
    measurement: Measurement
    p95_ms: float
    server_cpu_us_per_request: float
    server_cpu_share: float
    others_cpu_before: float


def run_wrk(
    name: str,
    server: Server,
    script: Path,
    headers: dict[str, str],
    *,
    duration: int,
    connections: int,
    warm_up: bool = False,
) -> tuple[Measurement, float]:
    header_args = [arg for k, v in headers.items() for arg in ("-H", f"{k}: {v}")]
    command = ["taskset", "-c", CLIENT_CPU, "wrk", "-t2", f"-c{connections}", f"-d{duration}s"]
    command += ["--latency", "-s", str(script), *header_args, server.base_url]
    client = start(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output, errors = client.communicate()
    if client.returncode != 0:
        raise RuntimeError(f"wrk failed ({client.returncode}): {errors}")
    measurement = parse_wrk(name, server.base_url, output)
    if warm_up:  # a slow route may not finish a request in a short warm-up
        return measurement, float("nan")
    if measurement.non_2xx or measurement.requests == 0:
        raise RuntimeError(f"{name}: {measurement.non_2xx} answers were not 2xx:\n{output}")
    found = re.search(r"PERCENTILES p50=(\d+) p95=(\d+) p99=(\d+)", output)
    if found is None:
        raise RuntimeError(f"{name}: the script printed no percentiles:\n{output}")
    return measurement, int(found.group(2)) / 1000


def sign_in_user(server: Server, username: str) -> dict[str, str]:
    response = httpx.post(
        server.base_url + "/api/v1/auth/login",
        json={"identifier": username, "password": USER_PASSWORD},
        timeout=30,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def check_search(server: Server, headers: dict[str, str], queries: list[str]) -> dict[str, Any]:
    """Every query answers 200; how many find something, and how many in total."""
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as http:
        totals = []
        for query in queries[:300]:
            response = http.get("/api/v1/search", params={"q": query, "limit": 20})
            response.raise_for_status()
            totals.append(response.json()["pagination"]["total"])
    totals.sort()
    return {
        "checked": len(totals),
        "with_hits": round(sum(1 for t in totals if t) / len(totals), 3),
        "median_total": totals[len(totals) // 2],
        "max_total": totals[-1],
    }


def run(options: argparse.Namespace) -> dict[str, Any]:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (apt-get install wrk util-linux)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}-browse"
    data_dir = out / "data"
    out.mkdir(parents=True)
    if options.reuse:
        # A library seeded by an earlier run (`seed`, or `--keep-data`): measure again on it.
        shutil.copytree(options.reuse, data_dir)
    source = out / "src"
    shutil.copytree(
        ROOT / "src" / "cinesonic",
        source / "cinesonic",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    python = sys.executable
    env = server_env(data_dir, "warning", source)
    if options.reuse:
        seeded = _describe(data_dir)
    else:
        seeded = asyncio.run(seed_library(Settings(data_dir=data_dir), options.songs))
        asyncio.run(seed_users(Settings(data_dir=data_dir), 1, prefix="listener"))
    print(
        f"seeded {seeded.songs} songs, {seeded.albums} albums, {seeded.artists} artists in "
        f"{seeded.seconds:.1f} s ({seeded.database_bytes / 1e6:.0f} MB)",
        file=sys.stderr,
    )
    results: dict[str, Any] = {
        "code": code_version(),
        "machine": machine(),
        "load": {"duration": options.duration, "connections": options.connections, "threads": 2},
        "nice": options.nice,
        "seeded": asdict(seeded),
        "measurements": {},
    }
    serve = [python, "-m", "cinesonic", "serve", "--data-dir", str(data_dir)]
    with running(serve, env, out / "serve.log", "/healthz") as server:
        headers = sign_in_user(server, "listener000000")
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as http:
            names = [a["name"] for a in _all(http, "/api/v1/artists", 400)]
            names += [a["title"] for a in _all(http, "/api/v1/albums", 400)]
            names += [s["title"] for s in _all(http, "/api/v1/songs", 400)]
            albums_total = http.get("/api/v1/albums", params={"limit": 1}).json()["pagination"][
                "total"
            ]
        queries = search_queries(names, 2000)
        results["search_check"] = check_search(server, headers, queries)
        middle = albums_total // 100
        scenarios = {
            # The floor: an authenticated route that touches no database (calibrates the run).
            "auth_me": ["/api/v1/auth/me"],
            "albums": ["/api/v1/albums?page_size=50"],
            "albums_deep_pages": [
                f"/api/v1/albums?page={page}&page_size=50" for page in range(2, middle, 7)
            ],
            "albums_by_year": ["/api/v1/albums?page_size=50&sort=-year"],
            "songs": ["/api/v1/songs?page_size=50"],
            "songs_latest": ["/api/v1/songs/latest?page_size=50"],
            "artists": ["/api/v1/artists?page_size=50"],
            "search": [f"/api/v1/search?q={quote(q)}&limit=20" for q in queries],
        }
        measure_all(options, out, server, headers, scenarios, results)
        results["server_rss_mb"] = _rss_mb(server.process.pid)
    # The same pages with the result cache off: what a page costs the first time it is asked
    # for (every search query as typed for the first time, a page after a scan).
    uncached = {f"{name}_uncached": scenarios[name] for name in UNCACHED if name in scenarios}
    if uncached and not options.skip_uncached:
        env_off = {**env, "CINESONIC_RESULT_CACHE_SECONDS": "0"}
        with running(serve, env_off, out / "serve-uncached.log", "/healthz") as server:
            headers = sign_in_user(server, "listener000000")
            measure_all(options, out, server, headers, uncached, results)
    serializable = {
        **results,
        "measurements": {
            k: {
                **asdict(v),
                "measurement": {**asdict(v.measurement), "wrk_output": v.measurement.wrk_output},
            }
            for k, v in results["measurements"].items()
        },
    }
    (out / "results.json").write_text(json.dumps(serializable, indent=2, default=str))
    if not options.keep_data:
        shutil.rmtree(data_dir)
        shutil.rmtree(source)
    print(f"results in {out}", file=sys.stderr)
    return results


UNCACHED = ("albums", "albums_deep_pages", "search")


def measure_all(
    options: argparse.Namespace,
    out: Path,
    server: Server,
    headers: dict[str, str],
    scenarios: dict[str, list[str]],
    results: dict[str, Any],
) -> None:
    for name, paths in scenarios.items():
        if options.only and name.removesuffix("_uncached") not in options.only:
            continue
        script = lua_script(paths, out / f"{name}.lua")
        busy = wait_until_quiet(options.quiet_below, options.patience)
        run_wrk(
            f"{name} warm-up",
            server,
            script,
            headers,
            duration=WARMUP_SECONDS,
            connections=options.connections,
            warm_up=True,
        )
        cpu_before, wall_before = cpu_seconds(server.process.pid), time.monotonic()
        measurement, p95 = run_wrk(
            name,
            server,
            script,
            headers,
            duration=options.duration,
            connections=options.connections,
        )
        cpu = cpu_seconds(server.process.pid) - cpu_before
        result = Result(
            measurement=measurement,
            p95_ms=p95,
            server_cpu_us_per_request=round(cpu / measurement.requests * 1e6, 1),
            server_cpu_share=round(cpu / (time.monotonic() - wall_before), 3),
            others_cpu_before=round(busy, 3),
        )
        results["measurements"][name] = result
        print(
            f"{name}: {measurement.requests_per_second:.0f} req/s, "
            f"p50 {measurement.p50_ms} ms, "
            f"p95 {p95} ms, p99 {measurement.p99_ms} ms, "
            f"{result.server_cpu_us_per_request} µs CPU/request",
            file=sys.stderr,
        )


def _describe(data_dir: Path) -> Seeded:
    import sqlite3

    database = data_dir / "cinesonic.db"
    with sqlite3.connect(database) as connection:
        songs, albums, artists = (
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("song", "album", "artist")
        )
    size = sum(p.stat().st_size for p in data_dir.glob("cinesonic.db*"))
    return Seeded(songs, albums, artists, float("nan"), size)


def _all(http: httpx.Client, path: str, count: int) -> list[dict[str, Any]]:
    response = http.get(path, params={"limit": 200, "sort": "added"})
    response.raise_for_status()
    total = response.json()["pagination"]["total"]
    rng = random.Random(3)
    items: list[dict[str, Any]] = []
    while len(items) < count:
        page = http.get(path, params={"limit": 200, "offset": rng.randrange(max(1, total - 200))})
        page.raise_for_status()
        items.extend(page.json()["data"])
    return items[:count]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


LABELS = {
    "auth_me": "`GET /auth/me` (no database; the floor)",
    "albums": "`GET /albums?page_size=50`",
    "albums_deep_pages": "`GET /albums?page=N&page_size=50` (pages 2 to 100)",
    "albums_by_year": "`GET /albums?page_size=50&sort=-year`",
    "songs": "`GET /songs?page_size=50`",
    "songs_latest": "`GET /songs/latest?page_size=50`",
    "artists": "`GET /artists?page_size=50`",
    "search": "`GET /search?q=…&limit=20` (2,000 prefix queries)",
    "albums_uncached": "`GET /albums?page_size=50`, result cache off",
    "albums_deep_pages_uncached": "`GET /albums?page=N&page_size=50`, result cache off",
    "search_uncached": "`GET /search?q=…&limit=20`, result cache off",
}


def table(results: dict[str, Any]) -> str:
    rows = [
        "| endpoint | req/s | p50 ms | p95 ms | p99 ms | server CPU µs/req | server CPU share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in LABELS.items():
        result: Result | None = results["measurements"].get(name)
        if result is None:
            continue
        m = result.measurement
        rows.append(
            f"| {label} | {m.requests_per_second:,.0f} | {m.p50_ms:.2f} | {result.p95_ms:.2f} | "
            f"{m.p99_ms:.2f} | {result.server_cpu_us_per_request:,.0f} | "
            f"{result.server_cpu_share:.0%} |"
        )
    seeded = results["seeded"]
    rows.append(
        f"\nlibrary: {seeded['songs']:,} songs, {seeded['albums']:,} albums, "
        f"{seeded['artists']:,} artists; seeded in {seeded['seconds']:.1f} s (index triggers "
        f"included), database {seeded['database_bytes'] / 1e6:.0f} MB; server RSS after the "
        f"run {results.get('server_rss_mb')} MB"
    )
    check = results.get("search_check")
    if check:
        rows.append(
            f"search queries: {check['with_hits']:.0%} find something; median total "
            f"{check['median_total']}, max {check['max_total']}"
        )
    return "\n".join(rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "seed":
        parser = argparse.ArgumentParser(description="Only seed a library.")
        parser.add_argument("seed")
        parser.add_argument("--data-dir", type=Path, required=True)
        parser.add_argument("--songs", type=int, default=100_000)
        options = parser.parse_args()
        seeded = asyncio.run(seed_library(Settings(data_dir=options.data_dir), options.songs))
        asyncio.run(seed_users(Settings(data_dir=options.data_dir), 1, prefix="listener"))
        print(json.dumps(asdict(seeded)))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--songs", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", nargs="*", help="measure only these scenarios")
    parser.add_argument(
        "--skip-uncached",
        action="store_true",
        help="do not measure albums and search again with the result cache off",
    )
    parser.add_argument("--keep-data", action="store_true")
    parser.add_argument(
        "--reuse", type=Path, help="a data directory seeded earlier (`seed`): skip seeding"
    )
    parser.add_argument("--quiet-below", type=float, default=0.10)
    parser.add_argument("--patience", type=float, default=120)
    parser.add_argument("--nice", type=int, default=0)
    options = parser.parse_args()
    if options.nice:
        NICENESS[0] = options.nice
    print(table(run(options)))


if __name__ == "__main__":
    main()
