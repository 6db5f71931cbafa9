"""Watch state: progress upserts with the watched threshold, watched marks, continue-watching
(movies; one entry per show at its next episode), history, next episode, per-show stats, and
the refusals (401, 404 for hidden or unknown items, 422 for bad positions). One user never
sees another's state."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select, update

from cinesonic.models.activity import Activity
from cinesonic.models.library import LibraryKind
from cinesonic.models.video import Episode, Movie, VideoFile, WatchState
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login
from tests.fixtures.video import VideoSeeds
from tests.video.helpers import scan, video_library

API = "/api/v1"


async def _world(state: AppState, client: httpx.AsyncClient, seeds: VideoSeeds) -> dict[str, Any]:
    admin = await create_and_login(state, client, "root", role="admin")
    ada = await create_and_login(state, client, "ada")
    bob = await create_and_login(state, client, "bob")
    movies, movie_root = await video_library(state, "Movies", LibraryKind.movies)
    seeds.place(movie_root, "Alien (1979)/Alien (1979).mkv")
    seeds.place(movie_root, "Heat (1995)/Heat (1995).mkv")
    tv, tv_root = await video_library(state, "TV", LibraryKind.tvshows)
    for name in ("S01E01", "S01E02", "S01E03", "S02E01"):
        seeds.place(tv_root, f"Show/Season {name[2]}/Show - {name}.mkv")
    seeds.place(tv_root, "Dark/Season 1/Dark - S01E01.mkv")
    hidden, hidden_root = await video_library(state, "Hidden", LibraryKind.movies, restricted=True)
    seeds.place(hidden_root, "Secret (2000)/Secret (2000).mkv")
    for library in (movies, tv, hidden):
        await scan(state, library.id)
    async with state.db.session() as session:
        # Durations the tests can reason about (the seeds last half a second).
        await session.execute(update(VideoFile).values(duration_seconds=1000.0))
        ids = {title: mid for title, mid in await session.execute(select(Movie.title, Movie.id))}
        episodes = {
            f"{show}-{season}x{number}": eid
            for eid, season, number, show in await session.execute(
                select(Episode.id, Episode.season_number, Episode.episode_number, Episode.show_id)
            )
        }
    return {"admin": admin, "ada": ada, "bob": bob, "movies": ids, "episodes": episodes}


def _episode(world: dict[str, Any], show_id: str, season: int, number: int) -> str:
    return str(world["episodes"][f"{uuid.UUID(show_id)}-{season}x{number}"])


async def _put(client: httpx.AsyncClient, who: SignedIn, path: str, **body: Any) -> httpx.Response:
    return await client.put(API + path, json=body, headers=who.headers)


async def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


async def test_movie_progress_threshold_plays_history_and_privacy(
    state: AppState, client: httpx.AsyncClient, seeds: VideoSeeds
) -> None:
    world = await _world(state, client, seeds)
    ada, bob = world["ada"], world["bob"]
    alien, heat = world["movies"]["Alien"], world["movies"]["Heat"]
    progress = f"/movies/{alien}/progress"

    first = await _ok(await _put(client, ada, progress, position_seconds=300))
    assert (first["position_seconds"], first["duration_seconds"]) == (300, 1000)  # the probe's
    assert (first["watched"], first["play_count"], first["percent"]) == (False, 0, 30.0)
    await _ok(await _put(client, ada, f"/movies/{heat}/progress", position_seconds=50))
    again = await _ok(await _put(client, ada, progress, position_seconds=400))
    assert again["position_seconds"] == 400 and again["updated_at"] >= first["updated_at"]

    resuming = await _ok(await client.get(f"{API}/movies/continue-watching", headers=ada.headers))
    assert [e["movie"]["title"] for e in resuming["data"]] == ["Alien", "Heat"]  # newest first
    assert resuming["data"][0]["watch_state"]["position_seconds"] == 400
    detail = await _ok(await client.get(f"{API}/movies/{alien}", headers=ada.headers))
    assert detail["watch_state"]["position_seconds"] == 400
    # Bob sees none of it.
    theirs = await _ok(await client.get(f"{API}/movies/continue-watching", headers=bob.headers))
    assert theirs["data"] == []
    assert (await _ok(await client.get(f"{API}/movies/{alien}", headers=bob.headers)))[
        "watch_state"
    ] is None

    # 90 % of the duration the player gives marks it watched: one play per crossing.
    done = await _ok(
        await _put(client, ada, progress, position_seconds=1800, duration_seconds=2000)
    )
    assert (done["watched"], done["play_count"], done["duration_seconds"]) == (True, 1, 2000)
    assert done["last_watched_at"] is not None
    later = await _ok(
        await _put(client, ada, progress, position_seconds=1900, duration_seconds=2000)
    )
    assert (later["watched"], later["play_count"]) == (True, 1)  # still the same viewing
    rewatch = await _ok(
        await _put(client, ada, progress, position_seconds=10, duration_seconds=2000)
    )
    assert (rewatch["watched"], rewatch["play_count"]) == (True, 1)
    second = await _ok(
        await _put(client, ada, progress, position_seconds=1850, duration_seconds=2000)
    )
    assert second["play_count"] == 2
    resuming = await _ok(await client.get(f"{API}/movies/continue-watching", headers=ada.headers))
    assert [e["movie"]["title"] for e in resuming["data"]] == ["Heat"]

    marked = await _ok(await client.post(f"{API}/movies/{heat}/watched", headers=ada.headers))
    assert (marked["watched"], marked["play_count"], marked["position_seconds"]) == (True, 1, 0)
    history = await _ok(await client.get(f"{API}/movies/watch-history", headers=ada.headers))
    assert [e["movie"]["title"] for e in history["data"]] == ["Heat", "Alien"]
    by_plays = await _ok(
        await client.get(
            f"{API}/movies/watch-history", headers=ada.headers, params={"sort": "-play_count"}
        )
    )
    assert [e["movie"]["title"] for e in by_plays["data"]] == ["Alien", "Heat"]
    assert (await client.get(f"{API}/movies/watch-history", headers=bob.headers)).json()[
        "data"
    ] == []
    stats = await _ok(await client.get(f"{API}/movies/stats", headers=ada.headers))
    assert (stats["watched_count"], stats["movie_count"]) == (2, 2)

    unmarked = await client.delete(f"{API}/movies/{heat}/watched", headers=ada.headers)
    assert (await _ok(unmarked))["watched"] is False and unmarked.json()["play_count"] == 0
    never = await _ok(await client.delete(f"{API}/movies/{heat}/watched", headers=bob.headers))
    assert (never["watched"], never["updated_at"]) == (False, None)  # nothing was written
    history = await _ok(await client.get(f"{API}/movies/watch-history", headers=ada.headers))
    assert [e["movie"]["title"] for e in history["data"]] == ["Alien"]

    # Refusals.
    assert (await _put(client, ada, progress, position_seconds=-1)).status_code == 422
    beyond = await _put(client, ada, progress, position_seconds=1200)  # the probe says 1000
    assert (beyond.status_code, beyond.json()["error"]["code"]) == (
        422,
        "progress_beyond_duration",
    )
    assert (
        await _put(client, ada, progress, position_seconds=50, duration_seconds=40)
    ).status_code == 422
    assert (await _put(client, ada, progress, position_seconds=0, duration_seconds=0)).status_code
    assert (await client.put(f"{API}{progress}", json={"position_seconds": 1})).status_code == 401
    secret = world["movies"]["Secret"]
    for method, path in (
        ("PUT", f"/movies/{secret}/progress"),
        ("POST", f"/movies/{secret}/watched"),
        ("DELETE", f"/movies/{secret}/watched"),
        ("PUT", f"/movies/{uuid.uuid4()}/progress"),
        ("POST", f"/movies/{uuid.uuid4()}/watched"),
    ):
        answer = await client.request(
            method, API + path, json={"position_seconds": 1}, headers=ada.headers
        )
        assert answer.status_code == 404, path
    assert (
        await client.get(
            f"{API}/movies/continue-watching", params={"sort": "x"}, headers=ada.headers
        )
    ).status_code == 422
    async with state.db.sessionmaker() as session:
        # Progress writes leave no activity-log rows (players send them every few seconds).
        logged = await session.scalar(
            select(func.count())
            .select_from(Activity)
            .where(Activity.action.like("%watch%") | Activity.action.like("%progress%"))
        )
        assert logged == 0
        assert await session.scalar(select(func.count()).select_from(WatchState)) == 2


async def test_tv_continue_watching_next_episode_and_watch_stats(
    state: AppState, client: httpx.AsyncClient, seeds: VideoSeeds
) -> None:
    world = await _world(state, client, seeds)
    ada, bob = world["ada"], world["bob"]
    shows = await _ok(await client.get(f"{API}/tvshows", headers=ada.headers))
    show = next(s["id"] for s in shows["data"] if s["title"] == "Show")
    other = next(s["id"] for s in shows["data"] if s["title"] == "Dark")

    start = await _ok(await client.get(f"{API}/tvshows/{show}/next-episode", headers=ada.headers))
    assert (start["reason"], start["episode"]["episode_number"]) == ("start", 1)
    continuing = f"{API}/tvshows/continue-watching"
    assert (await _ok(await client.get(continuing, headers=ada.headers)))["data"] == []

    e1, e2, e3 = (_episode(world, show, 1, n) for n in (1, 2, 3))
    await _ok(await client.post(f"{API}/tvshows/episodes/{e1}/watched", headers=ada.headers))
    nxt = await _ok(await client.get(f"{API}/tvshows/{show}/next-episode", headers=ada.headers))
    assert (nxt["reason"], nxt["episode"]["id"], nxt["watch_state"]) == ("next", e2, None)
    await _ok(await _put(client, ada, f"/tvshows/episodes/{e2}/progress", position_seconds=120))
    other_e1 = _episode(world, other, 1, 1)
    await _ok(
        await _put(client, ada, f"/tvshows/episodes/{other_e1}/progress", position_seconds=60)
    )
    entries = (await _ok(await client.get(continuing, headers=ada.headers)))["data"]
    assert [(e["show"]["title"], e["episode"]["episode_number"]) for e in entries] == [
        ("Dark", 1),
        ("Show", 2),
    ]
    assert entries[1]["watch_state"]["position_seconds"] == 120
    # Finishing episode 2 moves the show on to episode 3 and up the list.
    await _ok(await _put(client, ada, f"/tvshows/episodes/{e2}/progress", position_seconds=950))
    entries = (await _ok(await client.get(continuing, headers=ada.headers)))["data"]
    assert [(e["show"]["title"], e["episode"]["id"]) for e in entries] == [
        ("Show", e3),
        ("Dark", other_e1),
    ]
    assert entries[0]["watch_state"] is None
    assert (await _ok(await client.get(continuing, headers=bob.headers)))["data"] == []
    paged = await _ok(await client.get(continuing, headers=ada.headers, params={"page_size": 1}))
    assert (len(paged["data"]), paged["pagination"]["total"]) == (1, 2)

    stats = await _ok(await client.get(f"{API}/tvshows/{show}/watch-stats", headers=ada.headers))
    assert (stats["episode_count"], stats["watched_count"], stats["play_count"]) == (4, 2, 2)
    assert stats["percent_watched"] == 50.0 and stats["in_progress_count"] == 0
    assert stats["seasons"] == [
        {"season_number": 1, "episode_count": 3, "watched_count": 2},
        {"season_number": 2, "episode_count": 1, "watched_count": 0},
    ]
    assert stats["watched_runtime_minutes"] == 33  # 2 × 1000 s from the durations
    theirs = await _ok(await client.get(f"{API}/tvshows/{show}/watch-stats", headers=bob.headers))
    assert theirs["watched_count"] == 0

    # The whole show watched: nothing is next, and it leaves continue-watching.
    for season, number in ((1, 3), (2, 1)):
        episode = _episode(world, show, season, number)
        await _ok(
            await client.post(f"{API}/tvshows/episodes/{episode}/watched", headers=ada.headers)
        )
    done = await _ok(await client.get(f"{API}/tvshows/{show}/next-episode", headers=ada.headers))
    assert (done["reason"], done["episode"]) == (None, None)
    entries = (await _ok(await client.get(continuing, headers=ada.headers)))["data"]
    assert [e["show"]["title"] for e in entries] == ["Dark"]
    unmarked = await client.delete(f"{API}/tvshows/episodes/{e1}/watched", headers=ada.headers)
    assert (await _ok(unmarked))["watched"] is False

    missing = uuid.uuid4()
    for method, path in (
        ("PUT", f"/tvshows/episodes/{missing}/progress"),
        ("POST", f"/tvshows/episodes/{missing}/watched"),
        ("DELETE", f"/tvshows/episodes/{missing}/watched"),
        ("GET", f"/tvshows/{missing}/next-episode"),
        ("GET", f"/tvshows/{missing}/watch-stats"),
    ):
        answer = await client.request(
            method, API + path, json={"position_seconds": 1}, headers=ada.headers
        )
        assert answer.status_code == 404, path
    assert (
        await _put(client, ada, f"/tvshows/episodes/{e1}/progress", position_seconds=2000)
    ).status_code == 422
    assert (await client.get(continuing)).status_code == 401
    assert (await client.post(f"{API}/tvshows/episodes/{e1}/watched")).status_code == 401
