"""Metadata refresh against the fake TMDb: scanned movies and shows matched by title and year
(`/movies/{id}/refresh`, `/tvshows/{id}/refresh`), wrong matches fixed by `tmdb_id`, the
`metadata.refresh` job (after a scan, and from `/libraries/{id}/refresh-metadata`), and
deleting movies and shows with the `video.prune_people` job."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from cinesonic.models.activity import Activity
from cinesonic.models.job import Job, JobStatus
from cinesonic.models.library import LibraryKind
from cinesonic.models.video import (
    Episode,
    MediaFile,
    Movie,
    Person,
    Season,
    TvShow,
    VideoFile,
    WatchState,
)
from cinesonic.state import AppState
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import Worker
from tests.fixtures.music import create_library
from tests.fixtures.users import SignedIn, create_and_login
from tests.fixtures.video import VideoSeeds
from tests.metadata.fake_tmdb import API_KEY, POSTER_JPEG, POSTER_PNG, FakeTmdb
from tests.video.helpers import scan, video_library

API = "/api/v1"
NOBODY = "00000000-0000-0000-0000-000000000001"


@pytest.fixture(scope="session")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> VideoSeeds:
    return VideoSeeds(tmp_path_factory.mktemp("refresh-seeds"))


@pytest.fixture
def settings_overrides(tmdb: FakeTmdb) -> dict[str, object]:
    return {
        "tmdb_api_key": API_KEY,
        "tmdb_base_url": tmdb.api_url,
        "tmdb_retry_backoff_seconds": 0.0,
        "tmdb_retry_after_max_seconds": 0.0,
        "tmdb_timeout_seconds": 5.0,
        "scan_video_processes": 0,
        "scan_batch_size": 4,
    }


@pytest.fixture
async def admin(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "root", role="admin")


@pytest.fixture
async def user(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "ada")


@contextlib.asynccontextmanager
async def worker(state: AppState) -> AsyncIterator[None]:
    """A job worker, started once the test's scans (run in the test, not as jobs) are done."""
    running = Worker(
        state.db, state.bus, registry, state.settings, poll_interval=0.05, lease_seconds=5
    )
    await running.start()
    try:
        yield
    finally:
        await running.stop(grace_seconds=2)


async def movie_library(
    state: AppState, seeds: VideoSeeds, *names: str, scanned: bool = True
) -> tuple[uuid.UUID, Path, dict[str, uuid.UUID]]:
    """A movies library with one file per name (`Title (Year)`), scanned; movie ids by title."""
    library, root = await video_library(state, f"Movies-{uuid.uuid4().hex[:6]}", LibraryKind.movies)
    for name in names:
        seeds.place(root, f"{name}/{name}.mkv")
    await scan(state, library.id)
    async with state.db.session() as session:
        rows = await session.execute(
            select(Movie.title, Movie.year, Movie.id).where(Movie.library_id == library.id)
        )
        ids = {f"{title} ({year})" if year else title: movie_id for title, year, movie_id in rows}
    return library.id, root, ids


async def jobs_of(state: AppState, job_type: str) -> list[Job]:
    async with state.db.session() as session:
        return list(
            await session.scalars(select(Job).where(Job.type == job_type).order_by(Job.created_at))
        )


async def finished(state: AppState, job_id: uuid.UUID, within: float = 30.0) -> Job:
    """Run a worker until the job is over; answers its row."""
    deadline = asyncio.get_running_loop().time() + within
    async with worker(state):
        while True:
            async with state.db.session() as session:
                job = await session.get(Job, job_id)
                assert job is not None
                if job.status in (JobStatus.succeeded, JobStatus.dead, JobStatus.cancelled):
                    return job
            assert asyncio.get_running_loop().time() < deadline, job.status
            await asyncio.sleep(0.05)


async def count(state: AppState, model: Any, *where: Any) -> int:
    async with state.db.session() as session:
        statement = select(func.count()).select_from(model)
        for condition in where:
            statement = statement.where(condition)
        return int(await session.scalar(statement) or 0)


def code(response: httpx.Response) -> str:
    value: str = response.json()["error"]["code"]
    return value


# ---------------------------------------------------------------- one movie


async def test_movie_refresh_matches_by_title_and_year_or_asks_for_a_tmdb_id(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, seeds: VideoSeeds
) -> None:
    _library, _root, ids = await movie_library(state, seeds, "Inception (2010)", "Arrival (2005)")
    inception, arrival = ids["Inception (2010)"], ids["Arrival (2005)"]

    matched = await client.post(f"{API}/movies/{inception}/refresh", headers=admin.headers)

    assert matched.status_code == 200, matched.text
    body = matched.json()
    assert (body["tmdb_id"], body["title"], body["year"], body["match_confidence"]) == (
        27205,
        "Inception",
        2010,
        1.0,
    )
    assert (body["poster_path"], body["backdrop_path"]) == (POSTER_JPEG, "/backdrop27205.jpg")
    assert body["metadata_refreshed_at"] is not None and body["needs_review"] is False
    assert [c["name"] for c in body["cast"]][:1] == ["Leonardo DiCaprio"]
    assert body["genres"] == ["Action", "Adventure", "Science Fiction"]
    assert body["file_count"] == 1 and len(body["files"]) == 1
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "movie.refresh"))
        assert entry is not None and entry.resource_id == str(inception)
        stored = await session.get(Movie, inception)
        assert stored is not None and stored.similar_tmdb_ids == [603]

    # Two "Arrival"s at TMDb, neither of 2005: both score 0.7, under the 0.75 threshold.
    refused = await client.post(f"{API}/movies/{arrival}/refresh", headers=admin.headers)
    assert refused.status_code == 422, refused.text
    assert code(refused) == "no_confident_match"
    details = refused.json()["error"]["details"]
    assert (details["title"], details["year"], details["threshold"]) == ("Arrival", 2005, 0.75)
    assert [(c["tmdb_id"], c["confidence"]) for c in details["candidates"]] == [
        (329865, 0.7),
        (1278, 0.7),
    ]

    # A person picks one, then fixes the wrong pick: credits follow the title.
    wrong = await client.post(
        f"{API}/movies/{arrival}/refresh", json={"tmdb_id": 1278}, headers=admin.headers
    )
    assert wrong.status_code == 200, wrong.text
    assert (wrong.json()["year"], wrong.json()["match_confidence"]) == (1996, 1.0)
    assert [c["name"] for c in wrong.json()["cast"]] == ["Charlie Sheen"]
    fixed = await client.post(
        f"{API}/movies/{arrival}/refresh", json={"tmdb_id": 329865}, headers=admin.headers
    )
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["tmdb_id"], fixed.json()["year"]) == (329865, 2016)
    assert [c["name"] for c in fixed.json()["cast"]] == ["Amy Adams", "Jeremy Renner"]
    # Without a body, a matched movie is fetched again by its own TMDb id.
    again = await client.post(f"{API}/movies/{arrival}/refresh", json={}, headers=admin.headers)
    assert again.status_code == 200 and again.json()["tmdb_id"] == 329865

    in_use = await client.post(
        f"{API}/movies/{arrival}/refresh", json={"tmdb_id": 27205}, headers=admin.headers
    )
    assert in_use.status_code == 409 and code(in_use) == "tmdb_id_in_use"
    assert in_use.json()["error"]["details"]["id"] == str(inception)
    unknown = await client.post(
        f"{API}/movies/{arrival}/refresh", json={"tmdb_id": 999999}, headers=admin.headers
    )
    assert unknown.status_code == 404 and code(unknown) == "not_found"


async def test_movie_refresh_refusals(
    state: AppState,
    client: httpx.AsyncClient,
    admin: SignedIn,
    user: SignedIn,
    seeds: VideoSeeds,
    tmdb: FakeTmdb,
) -> None:
    _library, _root, ids = await movie_library(state, seeds, "The Matrix (1999)")
    matrix = ids["The Matrix (1999)"]
    url = f"{API}/movies/{matrix}/refresh"

    assert (await client.post(url)).status_code == 401
    forbidden = await client.post(url, headers=user.headers)
    assert forbidden.status_code == 403
    missing = await client.post(f"{API}/movies/{NOBODY}/refresh", headers=admin.headers)
    assert missing.status_code == 404
    bad_id = await client.post(f"{API}/movies/not-an-id/refresh", headers=admin.headers)
    assert bad_id.status_code == 422
    bad_body = await client.post(url, json={"tmdb_id": 0}, headers=admin.headers)
    assert bad_body.status_code == 422
    # TMDb failing on every retry, then no key at all: 503, and the movie is untouched.
    tmdb.script("/3/movie/603", 500, 500, 500, 500)
    down = await client.post(url, json={"tmdb_id": 603}, headers=admin.headers)
    assert down.status_code == 503 and code(down) == "provider_unavailable"
    state.settings.tmdb_api_key = None
    no_key = await client.post(url, headers=admin.headers)
    assert no_key.status_code == 503
    assert no_key.json()["error"]["details"]["reason"] == "no_api_key"
    async with state.db.session() as session:
        stored = await session.get(Movie, matrix)
        assert stored is not None and stored.tmdb_id is None


# ---------------------------------------------------------------- one show


async def test_show_refresh_fills_seasons_in_place_and_is_fixed_by_tmdb_id(
    state: AppState,
    client: httpx.AsyncClient,
    admin: SignedIn,
    user: SignedIn,
    seeds: VideoSeeds,
) -> None:
    library, root = await video_library(state, "TV", LibraryKind.tvshows)
    seeds.place(root, "Breaking Bad/Season 1/Breaking Bad - S01E02.mkv")
    seeds.place(root, "Other Show/Season 1/Other Show - S01E01.mkv")
    await scan(state, library.id)
    async with state.db.session() as session:
        shows = dict((await session.execute(select(TvShow.title, TvShow.id))).all())
    show, other = shows["Breaking Bad"], shows["Other Show"]
    url = f"{API}/tvshows/{show}/refresh"

    matched = await client.post(url, headers=admin.headers)

    assert matched.status_code == 200, matched.text
    body = matched.json()
    # No year in the name: an exact title scores 0.85.
    assert (body["tmdb_id"], body["title"], body["match_confidence"]) == (
        1396,
        "Breaking Bad",
        0.85,
    )
    assert (body["poster_path"], body["backdrop_path"]) == (POSTER_PNG, "/backdrop1396.jpg")
    assert [season["number"] for season in body["seasons"]] == [0, 1, 2]
    assert [network["name"] for network in body["networks"]] == ["AMC"]
    async with state.db.session() as session:
        episode = await session.scalar(
            select(Episode).where(
                Episode.show_id == show, Episode.season_number == 1, Episode.episode_number == 2
            )
        )
        assert episode is not None and episode.title == "Cat's in the Bag..."
        linked = await session.scalar(select(MediaFile).where(MediaFile.episode_id == episode.id))
        assert linked is not None  # the scanned file stays linked to the episode it was

    fixed = await client.post(url, json={"tmdb_id": 95396}, headers=admin.headers)
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["title"], fixed.json()["match_confidence"]) == ("Severance", 1.0)
    in_use = await client.post(
        f"{API}/tvshows/{other}/refresh", json={"tmdb_id": 95396}, headers=admin.headers
    )
    assert in_use.status_code == 409 and code(in_use) == "tmdb_id_in_use"
    nothing = await client.post(f"{API}/tvshows/{other}/refresh", headers=admin.headers)
    assert nothing.status_code == 422 and nothing.json()["error"]["details"]["candidates"] == []
    assert (await client.post(url)).status_code == 401
    assert (await client.post(url, headers=user.headers)).status_code == 403
    missing = await client.post(f"{API}/tvshows/{NOBODY}/refresh", headers=admin.headers)
    assert missing.status_code == 404
    unknown = await client.post(url, json={"tmdb_id": 424242}, headers=admin.headers)
    assert unknown.status_code == 404


# ---------------------------------------------------------------- the library job


async def test_a_scan_that_adds_items_enqueues_a_refresh_that_matches_flags_and_counts(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, seeds: VideoSeeds, tmdb: FakeTmdb
) -> None:
    # Inception's details fail on every retry: one item fails, the job does not.
    tmdb.script("/3/movie/27205", 500, 500, 500, 500)
    library_id, _root, ids = await movie_library(
        state,
        seeds,
        "The Matrix (1999)",
        "Inception (2010)",
        "Arrival (2005)",
        "Zzyzx Road (2006)",
    )

    (job,) = await jobs_of(state, "metadata.refresh")
    assert job.payload == {"library_id": str(library_id), "force": False}
    done = await finished(state, job.id)

    assert done.status == JobStatus.succeeded, done.last_error
    assert done.result is not None
    result = {key: done.result[key] for key in ("items", "matched", "needs_review", "failed")}
    assert result == {"items": 4, "matched": 1, "needs_review": 2, "failed": 1}
    assert [error["code"] for error in done.result["errors"]] == ["provider_unavailable"]
    assert done.progress["percent"] == 100.0
    async with state.db.session() as session:
        movies = {m.id: m for m in await session.scalars(select(Movie))}
    matrix = movies[ids["The Matrix (1999)"]]
    assert (matrix.tmdb_id, matrix.poster_path, matrix.needs_review) == (603, POSTER_JPEG, False)
    arrival = movies[ids["Arrival (2005)"]]
    assert arrival.tmdb_id is None and arrival.needs_review
    assert arrival.review_reason is not None
    assert "'Arrival' (2016, TMDb id 329865) at 0.70" in arrival.review_reason
    nowhere = movies[ids["Zzyzx Road (2006)"]]
    assert nowhere.review_reason == "TMDb found no movie titled 'Zzyzx Road' (2006)."
    assert movies[ids["Inception (2010)"]].tmdb_id is None
    shown = await client.get(f"{API}/movies/{arrival.id}", headers=admin.headers)
    assert shown.json()["needs_review"] is True

    # A rescan adds nothing: no second job.
    await scan(state, library_id)
    assert len(await jobs_of(state, "metadata.refresh")) == 1

    # The route: Inception (TMDb answers again now) is matched; the flagged stay flagged.
    url = f"{API}/libraries/{library_id}/refresh-metadata"
    started = await client.post(url, headers=admin.headers)
    assert started.status_code == 202, started.text
    assert (started.json()["type"], started.json()["status"]) == ("metadata.refresh", "queued")
    again = await finished(state, uuid.UUID(started.json()["id"]))
    assert again.result is not None
    assert (again.result["items"], again.result["matched"], again.result["needs_review"]) == (
        3,
        1,
        2,
    )
    async with state.db.session() as session:
        inception = await session.get(Movie, ids["Inception (2010)"])
        assert inception is not None and inception.tmdb_id == 27205
        entry = await session.scalar(
            select(Activity).where(Activity.action == "library.refresh_metadata")
        )
        assert entry is not None and entry.resource_id == str(library_id)


async def test_library_refresh_route_refusals(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, user: SignedIn
) -> None:
    movies, _root = await video_library(state, "Films", LibraryKind.movies)
    music = await create_library(state, "Songs", kind=LibraryKind.music)
    url = f"{API}/libraries/{movies.id}/refresh-metadata"

    first = await client.post(url, params={"force": "true"}, headers=admin.headers)
    assert first.status_code == 202, first.text
    assert first.json()["payload"] == {"library_id": str(movies.id), "force": True}
    busy = await client.post(url, headers=admin.headers)
    assert busy.status_code == 409 and code(busy) == "refresh_in_progress"
    assert busy.json()["error"]["details"]["job_id"] == first.json()["id"]
    assert (await client.post(url)).status_code == 401
    assert (await client.post(url, headers=user.headers)).status_code == 403
    unknown = await client.post(f"{API}/libraries/{NOBODY}/refresh-metadata", headers=admin.headers)
    assert unknown.status_code == 404
    bad = await client.post(f"{API}/libraries/nope/refresh-metadata", headers=admin.headers)
    assert bad.status_code == 422
    bad_force = await client.post(url, params={"force": "maybe"}, headers=admin.headers)
    assert bad_force.status_code == 422
    not_video = await client.post(
        f"{API}/libraries/{music.id}/refresh-metadata", headers=admin.headers
    )
    assert not_video.status_code == 409 and code(not_video) == "refresh_not_supported"
    state.settings.tmdb_api_key = None
    shows, _ = await video_library(state, "Series", LibraryKind.tvshows)
    no_key = await client.post(
        f"{API}/libraries/{shows.id}/refresh-metadata", headers=admin.headers
    )
    assert no_key.status_code == 503 and code(no_key) == "provider_unavailable"


async def test_without_a_key_a_scan_names_items_from_files_and_a_later_refresh_fills_them(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, seeds: VideoSeeds
) -> None:
    state.settings.tmdb_api_key = None
    _library, _root, ids = await movie_library(state, seeds, "The Matrix (1999)")
    matrix = ids["The Matrix (1999)"]

    assert await jobs_of(state, "metadata.refresh") == []
    listed = await client.get(f"{API}/movies", headers=admin.headers)
    assert [(m["title"], m["year"], m["tmdb_id"]) for m in listed.json()["data"]] == [
        ("The Matrix", 1999, None)
    ]
    state.settings.tmdb_api_key = SecretStr(API_KEY)
    refreshed = await client.post(f"{API}/movies/{matrix}/refresh", headers=admin.headers)
    assert refreshed.status_code == 200, refreshed.text
    assert (refreshed.json()["tmdb_id"], refreshed.json()["collection"]["name"]) == (
        603,
        "The Matrix Collection",
    )


# ---------------------------------------------------------------- deleting


async def test_deleting_a_movie_keeps_its_files_and_prunes_people_no_title_credits(
    state: AppState,
    client: httpx.AsyncClient,
    admin: SignedIn,
    user: SignedIn,
    seeds: VideoSeeds,
) -> None:
    _library, root, ids = await movie_library(
        state, seeds, "The Matrix (1999)", "The Matrix Reloaded (2003)"
    )
    matrix, reloaded = ids["The Matrix (1999)"], ids["The Matrix Reloaded (2003)"]
    for movie_id in (matrix, reloaded):
        response = await client.post(f"{API}/movies/{movie_id}/refresh", headers=admin.headers)
        assert response.status_code == 200, response.text
    progress = await client.put(
        f"{API}/movies/{matrix}/progress",
        json={"position_seconds": 0.2, "duration_seconds": 100},
        headers=admin.headers,
    )
    assert progress.status_code == 200, progress.text
    url = f"{API}/movies/{matrix}"
    assert (await client.delete(url)).status_code == 401
    assert (await client.delete(url, headers=user.headers)).status_code == 403
    assert (await client.delete(f"{API}/movies/nope", headers=admin.headers)).status_code == 422

    deleted = await client.delete(url, headers=admin.headers)

    assert deleted.status_code == 200 and deleted.json() == {"status": "deleted"}
    assert (await client.get(url, headers=admin.headers)).status_code == 404
    assert (await client.delete(url, headers=admin.headers)).status_code == 404
    assert (root / "The Matrix (1999)" / "The Matrix (1999).mkv").exists()
    assert await count(state, VideoFile) == 2
    assert await count(state, MediaFile, MediaFile.movie_id == matrix) == 0
    assert await count(state, WatchState) == 0
    (prune,) = await jobs_of(state, "video.prune_people")
    done = await finished(state, prune.id)
    assert done.status == JobStatus.succeeded and done.result == {"removed": 3}
    async with state.db.session() as session:
        people = set(await session.scalars(select(Person.name)))
        entry = await session.scalar(select(Activity).where(Activity.action == "movie.delete"))
    # Keanu Reeves and Lana Wachowski are credited on the sequel too.
    assert people == {"Keanu Reeves", "Lana Wachowski"}
    assert entry is not None and entry.resource_id == str(matrix)


async def test_deleting_a_show_removes_its_seasons_and_episodes_and_their_people(
    state: AppState,
    client: httpx.AsyncClient,
    admin: SignedIn,
    user: SignedIn,
    seeds: VideoSeeds,
) -> None:
    library, root = await video_library(state, "TV", LibraryKind.tvshows)
    seeds.place(root, "Breaking Bad/Season 1/Breaking Bad - S01E01.mkv")
    await scan(state, library.id)
    async with state.db.session() as session:
        show = await session.scalar(select(TvShow.id))
    response = await client.post(f"{API}/tvshows/{show}/refresh", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert await count(state, Person) == 2
    url = f"{API}/tvshows/{show}"
    assert (await client.delete(url)).status_code == 401
    assert (await client.delete(url, headers=user.headers)).status_code == 403
    missing = await client.delete(f"{API}/tvshows/{NOBODY}", headers=admin.headers)
    assert missing.status_code == 404

    deleted = await client.delete(url, headers=admin.headers)

    assert deleted.status_code == 200, deleted.text
    assert (await client.get(url, headers=admin.headers)).status_code == 404
    assert (await count(state, Season), await count(state, Episode)) == (0, 0)
    assert (await count(state, MediaFile), await count(state, VideoFile)) == (0, 1)
    (prune,) = await jobs_of(state, "video.prune_people")
    assert (await finished(state, prune.id)).result == {"removed": 2}
    assert await count(state, Person) == 0


async def test_the_job_flags_a_match_another_item_holds_and_force_fetches_matched_items_again(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, seeds: VideoSeeds
) -> None:
    library_id, _root, ids = await movie_library(state, seeds, "The Matrix (1999)", "Heat (1995)")
    matrix, heat = ids["The Matrix (1999)"], ids["Heat (1995)"]
    # A wrong pick by hand, before the scan's job runs: Heat now holds The Matrix's id.
    picked = await client.post(
        f"{API}/movies/{heat}/refresh", json={"tmdb_id": 603}, headers=admin.headers
    )
    assert picked.status_code == 200, picked.text

    (job,) = await jobs_of(state, "metadata.refresh")
    done = await finished(state, job.id)

    assert done.result is not None
    assert (done.result["items"], done.result["needs_review"]) == (1, 1)
    async with state.db.session() as session:
        flagged = await session.get(Movie, matrix)
    assert flagged is not None and flagged.needs_review and flagged.tmdb_id is None
    assert flagged.review_reason == (
        "TMDb's match of 'The Matrix' (1999), 'The Matrix' (TMDb id 603), is already item "
        f"{heat} of this library."
    )

    # With `force` and a TTL of 0, matched items are fetched again too.
    state.settings.metadata_cache_ttl_hours = 0
    started = await client.post(
        f"{API}/libraries/{library_id}/refresh-metadata",
        params={"force": "true"},
        headers=admin.headers,
    )
    assert started.status_code == 202, started.text
    forced = await finished(state, uuid.UUID(started.json()["id"]))
    assert forced.result is not None
    counted = {key: forced.result[key] for key in ("items", "refreshed", "needs_review")}
    assert counted == {"items": 2, "refreshed": 1, "needs_review": 1}
