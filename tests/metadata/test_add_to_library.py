"""`POST /metadata/add-to-library`: movie and show rows (with seasons, episodes, genres, credits,
collection, networks) made from TMDb's details, and the refusals."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select

from cinesonic.metadata import service as metadata_service
from cinesonic.models.activity import Activity
from cinesonic.models.library import Library, LibraryKind
from cinesonic.models.video import (
    Collection,
    Credit,
    Episode,
    Movie,
    Network,
    Person,
    Season,
    TvShow,
    VideoGenre,
)
from cinesonic.state import AppState
from tests.fixtures.music import create_library
from tests.fixtures.users import create_and_login
from tests.metadata.fake_tmdb import FakeTmdb

ADD = "/api/v1/metadata/add-to-library"


async def libraries(state: AppState) -> tuple[Library, Library]:
    movies = await create_library(state, "Movies", kind=LibraryKind.movies)
    shows = await create_library(state, "Shows", kind=LibraryKind.tvshows)
    return movies, shows


async def count(state: AppState, model: type[object]) -> int:
    async with state.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_movie_is_added_with_its_collection_genres_and_credits(
    state: AppState, client: httpx.AsyncClient, tmdb: FakeTmdb
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    movies, _shows = await libraries(state)

    response = await client.post(
        ADD,
        json={"kind": "movie", "library_id": str(movies.id), "tmdb_id": 603},
        headers=admin.headers,
    )
    sequel = await client.post(
        ADD,
        json={"kind": "movie", "library_id": str(movies.id), "tmdb_id": 604},
        headers=admin.headers,
    )

    assert response.status_code == 201, response.text
    added = response.json()
    assert response.headers["location"] == f"/api/v1/movies/{added['id']}"
    assert {k: added[k] for k in ("kind", "tmdb_id", "title", "year", "collection")} == {
        "kind": "movie",
        "tmdb_id": 603,
        "title": "The Matrix",
        "year": 1999,
        "collection": "The Matrix Collection",
    }
    assert added["genres"] == ["Action", "Science Fiction"]
    assert (added["cast_count"], added["crew_count"]) == (3, 2)
    assert sequel.status_code == 201, sequel.text
    async with state.db.session() as session:
        movie = await session.get(Movie, uuid.UUID(added["id"]))
        assert movie is not None
        assert (movie.library_id, movie.sort_title, movie.runtime_minutes) == (
            movies.id,
            "matrix",
            136,
        )
        assert movie.imdb_id == "tt0133093" and movie.metadata_refreshed_at is not None
        assert movie.similar_tmdb_ids == [604, 27205]
        collections = list(await session.scalars(select(Collection)))
        assert [(c.tmdb_id, c.name) for c in collections] == [(2344, "The Matrix Collection")]
        assert movie.collection_id == collections[0].id
        neo = await session.scalar(select(Person).where(Person.tmdb_id == 6384))
        assert neo is not None and neo.name == "Keanu Reeves"
        roles = await session.scalars(
            select(Credit.character).where(Credit.person_id == neo.id).order_by(Credit.character)
        )
        assert list(roles) == ["Neo", "Thomas A. Anderson / Neo"]  # one person, two films
    assert await count(state, VideoGenre) == 2  # shared by both films
    entry = await _last_activity(state)
    assert (entry.action, entry.resource_id) == ("movie.add", sequel.json()["id"])
    assert entry.details == {
        "library_id": str(movies.id),
        "tmdb_id": 604,
        "title": "The Matrix Reloaded",
    }


async def test_a_show_is_added_with_seasons_episodes_and_networks(
    state: AppState, client: httpx.AsyncClient, tmdb: FakeTmdb
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    _movies, shows = await libraries(state)

    response = await client.post(
        ADD,
        json={"kind": "tv", "library_id": str(shows.id), "tmdb_id": 1396},
        headers=admin.headers,
    )

    assert response.status_code == 201, response.text
    added = response.json()
    assert response.headers["location"] == f"/api/v1/tvshows/{added['id']}"
    assert (added["title"], added["year"], added["networks"]) == ("Breaking Bad", 2008, ["AMC"])
    assert (added["season_count"], added["episode_count"]) == (3, 6)
    assert added["genres"] == ["Crime", "Drama"]
    async with state.db.session() as session:
        show_id = uuid.UUID(added["id"])
        seasons = list(
            await session.scalars(
                select(Season).where(Season.show_id == show_id).order_by(Season.number)
            )
        )
        assert [(s.number, s.title) for s in seasons] == [
            (0, "Specials"),
            (1, "Season 1"),
            (2, "Season 2"),
        ]
        pilot = await session.scalar(
            select(Episode).where(
                Episode.show_id == show_id, Episode.season_number == 1, Episode.episode_number == 1
            )
        )
        assert pilot is not None and (pilot.title, pilot.runtime_minutes) == ("Pilot", 58)
        assert pilot.season_id == seasons[1].id
        networks = await session.scalars(select(Network.tmdb_id))
        assert list(networks) == [174]
    assert tmdb.hits["/3/tv/1396/season/2"] == 1


async def test_applying_details_again_updates_in_place(
    state: AppState, client: httpx.AsyncClient, tmdb: FakeTmdb
) -> None:
    """What the scanner's refresh does: the same rows, updated, nothing duplicated."""
    admin = await create_and_login(state, client, "root", role="admin")
    _movies, shows = await libraries(state)
    response = await client.post(
        ADD,
        json={"kind": "tv", "library_id": str(shows.id), "tmdb_id": 95396},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    episodes_before = await count(state, Episode)

    async with state.db.session() as session:
        show = await session.get(TvShow, uuid.UUID(response.json()["id"]))
        assert show is not None
        async with metadata_service.tmdb_lookups(session, state) as tmdb_client:
            details = await tmdb_client.tv(95396)
            season = await tmdb_client.season(95396, 1)
        show.title = "Renamed by hand"
        await metadata_service.apply_show_details(session, show, details, [season])

    async with state.db.session() as session:
        refreshed = await session.get(TvShow, show.id)
        assert refreshed is not None and refreshed.title == "Severance"
    assert await count(state, Episode) == episodes_before == 2
    assert await count(state, TvShow) == 1
    assert await count(state, Credit) == 1


async def test_refusals(state: AppState, client: httpx.AsyncClient, tmdb: FakeTmdb) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    user = await create_and_login(state, client, "ada")
    movies, shows = await libraries(state)
    movie = {"kind": "movie", "library_id": str(movies.id), "tmdb_id": 27205}

    assert (await client.post(ADD, json=movie)).status_code == 401
    forbidden = await client.post(ADD, json=movie, headers=user.headers)
    assert forbidden.status_code == 403
    wrong_kind = await client.post(
        ADD, json={**movie, "library_id": str(shows.id)}, headers=admin.headers
    )
    assert wrong_kind.status_code == 422
    assert wrong_kind.json()["error"]["code"] == "library_kind_mismatch"
    for body in (
        {**movie, "tmdb_id": 0},
        {**movie, "kind": "episode"},
        {**movie, "library_id": "not-an-id"},
        {"kind": "movie", "tmdb_id": 27205},
    ):
        invalid = await client.post(ADD, json=body, headers=admin.headers)
        assert invalid.status_code == 422, body
    assert sum(tmdb.hits.values()) == 0

    no_library = await client.post(
        ADD, json={**movie, "library_id": str(uuid.uuid4())}, headers=admin.headers
    )
    assert no_library.status_code == 404
    unknown = await client.post(ADD, json={**movie, "tmdb_id": 999999}, headers=admin.headers)
    assert unknown.status_code == 404

    first = await client.post(ADD, json=movie, headers=admin.headers)
    again = await client.post(ADD, json=movie, headers=admin.headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 409
    assert again.json()["error"]["details"]["id"] == first.json()["id"]
    other_library = await create_library(state, "More movies", kind=LibraryKind.movies)
    elsewhere = await client.post(
        ADD, json={**movie, "library_id": str(other_library.id)}, headers=admin.headers
    )
    assert elsewhere.status_code == 201  # the same title in another library is fine
    assert await count(state, Movie) == 2

    tmdb.script("/3/movie/329865", 500, 500, 500, 500)
    failing = await client.post(ADD, json={**movie, "tmdb_id": 329865}, headers=admin.headers)
    assert failing.status_code == 503
    assert await count(state, Movie) == 2


async def _last_activity(state: AppState) -> Activity:
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).order_by(Activity.created_at.desc()))
    assert entry is not None
    return entry
