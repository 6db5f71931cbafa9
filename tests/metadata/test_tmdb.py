"""The TMDb client against the fake TMDb server: typed results, cache keys, how it waits and
retries, and what each provider failure becomes. No database: the cache is a dict."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from cinesonic.metadata.errors import MetadataNotFound, ProviderError, ProviderUnavailable
from cinesonic.metadata.tmdb import TmdbClient, TmdbConfig, cache_key
from tests.metadata.fake_tmdb import API_KEY, BEARER_TOKEN, FakeTmdb


class MemoryCache:
    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], tuple[Any, timedelta]] = {}

    async def get(self, provider: str, key: str) -> Any | None:
        entry = self.entries.get((provider, key))
        return None if entry is None else entry[0]

    async def put(self, provider: str, key: str, payload: Any, ttl: timedelta) -> None:
        self.entries[(provider, key)] = (payload, ttl)


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def config(tmdb: FakeTmdb) -> TmdbConfig:
    return TmdbConfig(
        api_key=API_KEY,
        language="en-US",
        base_url=tmdb.api_url,
        timeout=5.0,
        retries=3,
        backoff=0.25,
        retry_after_max=10.0,
        ttl=timedelta(days=7),
        search_ttl=timedelta(days=1),
    )


async def test_movie_details_are_typed_with_appended_blocks(
    http: httpx.AsyncClient, config: TmdbConfig, tmdb: FakeTmdb
) -> None:
    movie = await TmdbClient(http, config).movie(603)

    assert (movie.tmdb_id, movie.title, movie.year) == (603, "The Matrix", 1999)
    assert movie.release_date == date(1999, 3, 31)
    assert movie.collection is not None and movie.collection.tmdb_id == 2344
    assert [genre.name for genre in movie.genres] == ["Action", "Science Fiction"]
    assert movie.credits.cast[0].name == "Keanu Reeves"
    assert movie.credits.cast[0].character == "Thomas A. Anderson / Neo"
    assert {crew.job for crew in movie.credits.crew} == {"Director"}
    assert [keyword.name for keyword in movie.keywords] == ["dream", "heist"]
    assert movie.release_dates[0].country == "US"
    assert movie.release_dates[0].release_dates[0].certification == "R"
    assert [similar.tmdb_id for similar in movie.similar] == [604, 27205]
    assert movie.homepage is None  # TMDb's "" reads as unknown
    request = tmdb.requests[-1]
    assert request.query_params["append_to_response"] == "credits,keywords,release_dates,similar"
    assert request.query_params["language"] == "en-US"
    assert request.query_params["api_key"] == API_KEY


async def test_show_season_and_episode_are_typed(
    http: httpx.AsyncClient, config: TmdbConfig, tmdb: FakeTmdb
) -> None:
    client = TmdbClient(http, config)
    show = await client.tv(1396)
    season = await client.season(1396, 1)
    episode = await client.episode(1396, 2, 2)

    assert (show.name, show.year, show.number_of_seasons) == ("Breaking Bad", 2008, 2)
    assert [network.name for network in show.networks] == ["AMC"]
    assert [s.season_number for s in show.seasons] == [0, 1, 2]
    assert [keyword.name for keyword in show.keywords] == ["drug dealer"]  # `results` block
    assert show.created_by[0].name == "Vince Gilligan"
    assert tmdb.requests[0].query_params["append_to_response"] == "credits,keywords,similar"
    assert [e.name for e in season.episodes] == [
        "Pilot",
        "Cat's in the Bag...",
        "...And the Bag's in the River",
    ]
    assert (episode.season_number, episode.episode_number, episode.name) == (2, 2, "Grilled")
    assert episode.guest_stars[0].character == "Emilio Koyama"


async def test_search_pages_carry_tmdb_totals(
    http: httpx.AsyncClient, config: TmdbConfig, tmdb: FakeTmdb
) -> None:
    client = TmdbClient(http, config)
    movies = await client.search_movies("matrix")
    arrival_2016 = await client.search_movies("Arrival", year=2016)
    shows = await client.search_tv("severance", year=2022)

    assert [m.tmdb_id for m in movies.data] == [603, 604]
    assert movies.pagination.model_dump() == {
        "page": 1,
        "page_size": 20,
        "offset": 0,
        "total": 2,
        "total_pages": 1,
    }
    assert [m.tmdb_id for m in arrival_2016.data] == [329865]
    assert [s.tmdb_id for s in shows.data] == [95396]
    assert tmdb.requests[-1].query_params["first_air_date_year"] == "2022"


async def test_a_bearer_token_is_sent_as_authorization(
    http: httpx.AsyncClient, config: TmdbConfig, tmdb: FakeTmdb
) -> None:
    client = TmdbClient(http, replace(config, api_key=BEARER_TOKEN))

    assert (await client.movie(27205)).title == "Inception"
    request = tmdb.requests[-1]
    assert request.headers["authorization"] == f"Bearer {BEARER_TOKEN}"
    assert "api_key" not in request.query_params


async def test_cached_answers_do_not_reach_the_provider(
    http: httpx.AsyncClient, config: TmdbConfig, tmdb: FakeTmdb
) -> None:
    cache = MemoryCache()
    client = TmdbClient(http, config, cache)

    await client.movie(27205)
    await client.movie(27205)
    await client.search_movies("Inception")
    await client.search_movies("  inception ")  # the same question, spelled differently

    assert tmdb.hits["/3/movie/27205"] == 1
    assert tmdb.hits["/3/search/movie"] == 1
    ttls = {key: ttl for (_provider, key), (_payload, ttl) in cache.entries.items()}
    assert ttls == {
        "/movie/27205?append_to_response=credits,keywords,release_dates,similar&language=en-US": (
            timedelta(days=7)
        ),
        "/search/movie?include_adult=false&language=en-US&page=1&query=inception": timedelta(
            days=1
        ),
    }
    assert all(API_KEY not in key for _provider, key in cache.entries)


def test_cache_keys_sort_parameters_and_fold_queries() -> None:
    one = cache_key("/search/movie", {"query": "The  Matrix", "page": 1, "year": None})
    other = cache_key("/search/movie", {"year": None, "page": 1, "query": "the matrix"})

    assert one == other == "/search/movie?page=1&query=the matrix"


async def test_429_waits_the_retry_after_it_names_within_the_bound(
    http: httpx.AsyncClient, config: TmdbConfig, tmdb: FakeTmdb
) -> None:
    sleeps = Sleeps()
    tmdb.script("/3/movie/603", 429)
    tmdb.retry_after = "2"

    movie = await TmdbClient(http, config, sleep=sleeps).movie(603)

    assert movie.title == "The Matrix"
    assert sleeps == [2.0]
    assert tmdb.hits["/3/movie/603"] == 2

    tmdb.script("/3/movie/604", 429)
    tmdb.retry_after = "3600"
    await TmdbClient(http, config, sleep=sleeps).movie(604)
    assert sleeps == [2.0, 10.0]  # an hour asked, the bound waited


async def test_5xx_is_retried_with_doubling_backoff(
    http: httpx.AsyncClient, config: TmdbConfig, tmdb: FakeTmdb
) -> None:
    sleeps = Sleeps()
    tmdb.script("/3/tv/1396", 500, 503)

    show = await TmdbClient(http, config, sleep=sleeps).tv(1396)

    assert show.name == "Breaking Bad"
    assert sleeps == [0.25, 0.5]
    assert tmdb.hits["/3/tv/1396"] == 3


async def test_retries_exhausted_are_provider_unavailable(
    http: httpx.AsyncClient, config: TmdbConfig, tmdb: FakeTmdb
) -> None:
    sleeps = Sleeps()
    tmdb.script("/3/movie/603", 500, 500, 500, 500)

    with pytest.raises(ProviderUnavailable) as raised:
        await TmdbClient(http, config, sleep=sleeps).movie(603)

    assert raised.value.details == {"provider": "tmdb", "reason": "failing"}
    assert tmdb.hits["/3/movie/603"] == 4  # one try and three retries
    assert sleeps == [0.25, 0.5, 1.0]


async def test_an_unreachable_provider_is_retried_then_unavailable(
    http: httpx.AsyncClient, config: TmdbConfig
) -> None:
    sleeps = Sleeps()
    closed = replace(config, base_url="http://127.0.0.1:9/3")  # discard port: refused

    with pytest.raises(ProviderUnavailable) as raised:
        await TmdbClient(http, closed, sleep=sleeps).movie(603)

    assert raised.value.details == {"provider": "tmdb", "reason": "unreachable"}
    assert len(sleeps) == 3


async def test_provider_refusals_and_garbage(
    http: httpx.AsyncClient, config: TmdbConfig, tmdb: FakeTmdb
) -> None:
    client = TmdbClient(http, config, sleep=Sleeps())

    with pytest.raises(MetadataNotFound) as not_found:
        await client.movie(999999)
    assert not_found.value.message == "The resource you requested could not be found."

    with pytest.raises(ProviderError):
        await client.search_movies("garbage")
    assert tmdb.hits["/3/search/movie"] == 1  # garbage is not retried

    with pytest.raises(ProviderUnavailable) as refused:
        await TmdbClient(http, replace(config, api_key="wrong")).movie(603)
    assert refused.value.details == {"provider": "tmdb", "reason": "api_key_refused"}

    before = sum(tmdb.hits.values())
    with pytest.raises(ProviderUnavailable) as no_key:
        await TmdbClient(http, replace(config, api_key=None)).movie(603)
    assert no_key.value.details == {"provider": "tmdb", "reason": "no_api_key"}
    assert sum(tmdb.hits.values()) == before  # nothing sent without a key


async def test_configuration_names_the_image_server(
    http: httpx.AsyncClient, config: TmdbConfig, tmdb: FakeTmdb
) -> None:
    configuration = await TmdbClient(http, config).configuration()

    assert configuration.images.secure_base_url == f"{tmdb.base_url}/t/p/"
    assert "w500" in configuration.images.poster_sizes
    assert "language" not in tmdb.requests[-1].query_params


async def test_an_unreadable_cached_payload_is_fetched_afresh(
    http: httpx.AsyncClient, config: TmdbConfig, tmdb: FakeTmdb
) -> None:
    cache = MemoryCache()
    client = TmdbClient(http, config, cache)
    key = "/movie/27205?append_to_response=credits,keywords,release_dates,similar&language=en-US"
    cache.entries[("tmdb", key)] = ({"id": "not a number"}, timedelta(days=7))

    movie = await client.movie(27205)

    assert movie.title == "Inception"
    assert tmdb.hits["/3/movie/27205"] == 1
    assert cache.entries[("tmdb", key)][0]["title"] == "Inception"
