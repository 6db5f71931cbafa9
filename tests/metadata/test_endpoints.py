"""The `/metadata` routes against the fake TMDb server: answers, refusals, the database cache and
what provider failures become."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.metadata import MetadataCacheEntry
from cinesonic.models.setting import ServerSetting
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login
from tests.metadata.fake_tmdb import API_KEY, FakeTmdb

API = "/api/v1/metadata"


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert "request_id" in body


async def test_movie_search_answers_a_page_of_tmdb_results(
    client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb
) -> None:
    response = await client.get(f"{API}/search/movie", params={"q": "matrix"}, headers=ada.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert [(m["tmdb_id"], m["title"], m["year"]) for m in body["data"]] == [
        (603, "The Matrix", 1999),
        (604, "The Matrix Reloaded", 2003),
    ]
    assert body["pagination"] == {
        "page": 1,
        "page_size": 20,
        "offset": 0,
        "total": 2,
        "total_pages": 1,
    }
    first = body["data"][0]
    assert first["release_date"] == "1999-03-31"
    assert first["genre_ids"] == [28, 878]

    by_year = await client.get(
        f"{API}/search/movie", params={"q": "Arrival", "year": 1996}, headers=ada.headers
    )
    assert [m["tmdb_id"] for m in by_year.json()["data"]] == [1278]


async def test_tv_search_filters_by_first_air_year(
    client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb
) -> None:
    found = await client.get(
        f"{API}/search/tv", params={"q": "severance", "year": 2022}, headers=ada.headers
    )
    none = await client.get(
        f"{API}/search/tv", params={"q": "severance", "year": 2010}, headers=ada.headers
    )

    assert found.status_code == 200, found.text
    assert [(s["tmdb_id"], s["name"], s["year"]) for s in found.json()["data"]] == [
        (95396, "Severance", 2022)
    ]
    assert none.json()["data"] == [] and none.json()["pagination"]["total"] == 0


async def test_movie_details_with_collection_credits_and_similar(
    client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb
) -> None:
    response = await client.get(f"{API}/movie/603", headers=ada.headers)

    assert response.status_code == 200, response.text
    movie = response.json()
    assert (movie["tmdb_id"], movie["title"], movie["year"], movie["runtime"]) == (
        603,
        "The Matrix",
        1999,
        136,
    )
    assert movie["collection"] == {
        "tmdb_id": 2344,
        "name": "The Matrix Collection",
        "poster_path": "/lh4aGpd3U9rm9B8Oqr6CUgQLtZL.jpg",
        "backdrop_path": "/bRm2DEgUiYciDw3myHuYFInD7la.jpg",
    }
    assert [g["name"] for g in movie["genres"]] == ["Action", "Science Fiction"]
    assert movie["credits"]["cast"][1]["name"] == "Laurence Fishburne"
    assert movie["credits"]["crew"][0]["job"] == "Director"
    assert movie["release_dates"][0]["release_dates"][0]["certification"] == "R"
    assert [s["tmdb_id"] for s in movie["similar"]] == [604, 27205]
    assert movie["imdb_id"] == "tt0133093"


async def test_show_season_and_episode_details(
    client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb
) -> None:
    show = await client.get(f"{API}/tv/1396", headers=ada.headers)
    season = await client.get(f"{API}/tv/1396/season/1", headers=ada.headers)
    specials = await client.get(f"{API}/tv/1396/season/0", headers=ada.headers)
    episode = await client.get(f"{API}/tv/95396/season/1/episode/2", headers=ada.headers)

    assert show.status_code == 200, show.text
    assert show.json()["networks"] == [
        {"tmdb_id": 174, "name": "AMC", "logo_path": "/network174.png", "origin_country": "US"}
    ]
    assert [(s["season_number"], s["episode_count"]) for s in show.json()["seasons"]] == [
        (0, 1),
        (1, 3),
        (2, 2),
    ]
    assert season.status_code == 200, season.text
    assert [e["episode_number"] for e in season.json()["episodes"]] == [1, 2, 3]
    assert season.json()["episodes"][0]["runtime"] == 58
    assert specials.json()["name"] == "Specials"
    assert episode.status_code == 200, episode.text
    assert (episode.json()["name"], episode.json()["air_date"]) == ("Half Loop", "2022-02-18")


async def test_unknown_ids_are_not_found(
    client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb
) -> None:
    for path in (
        "/movie/999999",
        "/tv/999999",
        "/tv/1396/season/9",
        "/tv/1396/season/1/episode/99",
    ):
        response = await client.get(f"{API}{path}", headers=ada.headers)
        assert_error(response, 404, "not_found")
        assert response.json()["error"]["details"] == {"provider": "tmdb"}


async def test_refusals_before_the_provider_is_asked(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb
) -> None:
    guest = await create_and_login(state, client, "gus", role="guest")

    assert_error(
        await client.get(f"{API}/search/movie", params={"q": "x"}), 401, "authentication_required"
    )
    assert_error(await client.get(f"{API}/movie/603"), 401, "authentication_required")
    forbidden = await client.get(f"{API}/movie/603", headers=guest.headers)
    assert_error(forbidden, 403, "forbidden")
    for path, params in (
        ("/search/movie", {}),
        ("/search/movie", {"q": ""}),
        ("/search/movie", {"q": "x" * 201}),
        ("/search/movie", {"q": "matrix", "page": 0}),
        ("/search/movie", {"q": "matrix", "page": 501}),
        ("/search/tv", {"q": "bad", "year": "soon"}),
        ("/movie/0", {}),
        ("/movie/abc", {}),
        ("/tv/1396/season/-1", {}),
        ("/tv/1396/season/1/episode/x", {}),
    ):
        response = await client.get(f"{API}{path}", params=params, headers=ada.headers)
        assert_error(response, 422, "validation_error")
    assert sum(tmdb.hits.values()) == 0


async def test_answers_are_cached_in_the_database(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb
) -> None:
    for _ in range(2):
        assert (await client.get(f"{API}/movie/27205", headers=ada.headers)).status_code == 200
        search = await client.get(
            f"{API}/search/movie", params={"q": "Inception"}, headers=ada.headers
        )
        assert search.status_code == 200

    assert tmdb.hits["/3/movie/27205"] == 1
    assert tmdb.hits["/3/search/movie"] == 1
    async with state.db.session() as session:
        rows = {row.key: row for row in await session.scalars(select(MetadataCacheEntry))}
    details = rows[
        "/movie/27205?append_to_response=credits,keywords,release_dates,similar&language=en-US"
    ]
    found = rows["/search/movie?include_adult=false&language=en-US&page=1&query=inception"]
    assert details.provider == found.provider == "tmdb"
    assert details.payload["title"] == "Inception"
    assert details.expires_at - details.fetched_at == timedelta(days=7)
    assert found.expires_at - found.fetched_at == timedelta(days=1)


async def test_an_expired_entry_is_fetched_again_and_replaced(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb
) -> None:
    assert (await client.get(f"{API}/tv/95396", headers=ada.headers)).status_code == 200
    async with state.db.session() as session:
        await session.execute(
            update(MetadataCacheEntry).values(expires_at=utcnow() - timedelta(seconds=1))
        )

    again = await client.get(f"{API}/tv/95396", headers=ada.headers)
    cached = await client.get(f"{API}/tv/95396", headers=ada.headers)

    assert again.status_code == cached.status_code == 200
    assert tmdb.hits["/3/tv/95396"] == 2
    async with state.db.session() as session:
        rows = list(await session.scalars(select(MetadataCacheEntry)))
    assert len(rows) == 1 and rows[0].expires_at > utcnow() + timedelta(days=6)


async def test_rate_limited_and_failing_requests_are_retried(
    client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb
) -> None:
    tmdb.script("/3/movie/329865", 429)
    tmdb.script("/3/search/tv", 500, 502)

    movie = await client.get(f"{API}/movie/329865", headers=ada.headers)
    shows = await client.get(f"{API}/search/tv", params={"q": "breaking"}, headers=ada.headers)

    assert movie.status_code == 200 and movie.json()["title"] == "Arrival"
    assert tmdb.hits["/3/movie/329865"] == 2
    assert shows.status_code == 200 and shows.json()["data"][0]["tmdb_id"] == 1396
    assert tmdb.hits["/3/search/tv"] == 3


async def test_provider_failures_answer_503_and_garbage_502(
    client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb
) -> None:
    tmdb.script("/3/movie/603", 500, 500, 500, 500)

    failing = await client.get(f"{API}/movie/603", headers=ada.headers)
    garbage = await client.get(f"{API}/search/movie", params={"q": "garbage"}, headers=ada.headers)

    assert_error(failing, 503, "provider_unavailable")
    assert failing.json()["error"]["details"] == {"provider": "tmdb", "reason": "failing"}
    assert tmdb.hits["/3/movie/603"] == 4
    assert_error(garbage, 502, "provider_error")
    # Nothing unreadable was cached: the next look-up asks again.
    recovered = await client.get(f"{API}/movie/603", headers=ada.headers)
    assert recovered.status_code == 200


async def test_without_a_key_lookups_are_unavailable_until_an_admin_sets_one(
    state: AppState, client: httpx.AsyncClient, tmdb: FakeTmdb
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    setting = "/api/v1/settings/server/tmdb_api_key"

    cleared = await client.put(setting, json={"value": None}, headers=admin.headers)
    assert cleared.status_code == 200, cleared.text
    unavailable = await client.get(f"{API}/movie/603", headers=admin.headers)
    assert_error(unavailable, 503, "provider_unavailable")
    assert unavailable.json()["error"]["details"] == {"provider": "tmdb", "reason": "no_api_key"}
    assert sum(tmdb.hits.values()) == 0

    stored = await client.put(setting, json={"value": API_KEY}, headers=admin.headers)
    assert stored.status_code == 200, stored.text
    assert API_KEY not in stored.text  # a secret is never answered
    async with state.db.session() as session:
        sealed = await session.scalar(
            select(ServerSetting.value).where(ServerSetting.key == "tmdb_api_key")
        )
    assert isinstance(sealed, str) and API_KEY not in sealed  # stored sealed (`kit.secretbox`)
    config = await client.get("/api/v1/admin/config", headers=admin.headers)
    assert config.json()["metadata"]["tmdb_api_key"] == "********"
    assert (await client.get(f"{API}/movie/603", headers=admin.headers)).status_code == 200
