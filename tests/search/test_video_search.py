"""Movies, TV shows, episodes and people in search: the unified `/search`, `/search/movies` and
`/search/tvshows` with filters, their facets, autocomplete (typos too) and `/search/multi`.
Rows are made directly through the models, as the scanner and metadata providers would."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import delete, select

from cinesonic.kit.text import sort_key
from cinesonic.models.library import LibraryKind
from cinesonic.models.search import SearchDocument
from cinesonic.models.video import (
    Credit,
    CreditKind,
    Episode,
    MediaFile,
    Movie,
    MovieGenre,
    Person,
    Season,
    TvShow,
    VideoFile,
    VideoGenre,
    WatchState,
)
from cinesonic.search import service as search_service
from cinesonic.state import AppState
from tests.fixtures.music import create_library
from tests.fixtures.users import SignedIn, create_and_login, create_user, login
from tests.music.browse_catalogue import create_role

API = "/api/v1"


async def _get(client: httpx.AsyncClient, who: SignedIn, path: str, **params: Any) -> Any:
    response = await client.get(f"{API}{path}", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _file(library_id: uuid.UUID, name: str, width: int, height: int) -> VideoFile:
    return VideoFile(
        library_id=library_id,
        path=f"/media/{name}",
        size_bytes=1,
        mtime_ns=1,
        fingerprint=name,
        width=width,
        height=height,
    )


async def _world(state: AppState, client: httpx.AsyncClient) -> dict[str, Any]:
    admin = await create_and_login(state, client, "root", role="admin")
    user = await create_and_login(state, client, "ada")
    movies = await create_library(state, "Movies", kind=LibraryKind.movies)
    tv = await create_library(state, "TV", kind=LibraryKind.tvshows)
    hidden = await create_library(state, "Hidden", kind=LibraryKind.movies, is_restricted=True)
    ids: dict[str, Any] = {"movies": movies.id, "tv": tv.id, "hidden": hidden.id}
    titles = [
        ("Alien", 1979, 8.4, ("Science Fiction", "Horror"), (720, 480)),
        ("Aliens", 1986, 8.0, ("Science Fiction",), (1920, 800)),
        ("Heat", 1995, 8.3, ("Crime",), (3840, 2160)),
        ("The Terminator", 1984, 7.9, ("Science Fiction",), (1280, 720)),
        ("Amélie", 2001, 7.8, ("Comedy",), None),
    ]
    async with state.db.session() as session:
        genres = {
            name: VideoGenre(name=name) for name in ("Science Fiction", "Horror", "Crime", "Comedy")
        }
        session.add_all(genres.values())
        await session.flush()
        ids.update({name: genre.id for name, genre in genres.items()})
        for title, year, rating, tagged, size in titles:
            movie = Movie(
                library_id=movies.id,
                title=title,
                sort_title=sort_key(title),
                year=year,
                rating=rating,
            )
            session.add(movie)
            await session.flush()
            ids[title] = movie.id
            session.add_all(MovieGenre(movie_id=movie.id, genre_id=genres[g].id) for g in tagged)
            if size is not None:
                file = _file(movies.id, title, *size)
                session.add(file)
                await session.flush()
                session.add(MediaFile(video_file_id=file.id, movie_id=movie.id))
        secret = Movie(
            library_id=hidden.id, title="Alien Secret", sort_title="alien secret", year=2000
        )
        show = TvShow(
            library_id=tv.id, title="Breaking Bad", sort_title="breaking bad", year=2008, rating=9.5
        )
        session.add_all([secret, show])
        await session.flush()
        ids["Alien Secret"], ids["Breaking Bad"] = secret.id, show.id
        season = Season(show_id=show.id, number=1)
        session.add(season)
        await session.flush()
        pilot = Episode(
            show_id=show.id, season_id=season.id, season_number=1, episode_number=1, title="Pilot"
        )
        fly = Episode(
            show_id=show.id, season_id=season.id, season_number=1, episode_number=2, title="Fly"
        )
        session.add_all([pilot, fly])
        sigourney = Person(name="Sigourney Weaver")
        bryan = Person(name="Bryan Cranston")
        ghost = Person(name="Sigmund Hidden")
        session.add_all([sigourney, bryan, ghost])
        await session.flush()
        ids.update(pilot=pilot.id, fly=fly.id, sigourney=sigourney.id, ghost=ghost.id)
        session.add_all(
            [
                Credit(person_id=sigourney.id, movie_id=ids["Alien"], kind=CreditKind.cast),
                Credit(person_id=bryan.id, show_id=show.id, kind=CreditKind.cast),
                Credit(person_id=ghost.id, movie_id=secret.id, kind=CreditKind.cast),
            ]
        )
        user_id = uuid.UUID(user.user_id)
        session.add(WatchState(user_id=user_id, movie_id=ids["Heat"], watched=True))
        session.add(WatchState(user_id=user_id, episode_id=pilot.id, watched=True))
    return {"admin": admin, "user": user, "ids": ids}


def tier(score: float) -> float:
    """The tier of a score: PostgreSQL adds a relevance fraction within a tier, and scores
    a typo by trigram similarity (below 1); 0.5 stands for every typo match."""
    return float(int(score)) if score >= 1 else 0.5


def _names(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(hit["type"], hit["name"]) for hit in body["data"]]


async def test_the_unified_search_finds_video_with_visibility(
    state: AppState, client: httpx.AsyncClient
) -> None:
    world = await _world(state, client)
    user, admin = world["user"], world["admin"]
    found = _names(await _get(client, user, "/search", q="alien"))
    assert found[:2] == [("movie", "Alien"), ("movie", "Aliens")]
    assert ("movie", "Alien Secret") not in found  # a restricted library
    assert ("movie", "Alien Secret") in _names(await _get(client, admin, "/search", q="alien"))
    assert _names(await _get(client, user, "/search", q="amelie"))[0] == ("movie", "Amélie")
    assert _names(await _get(client, user, "/search", q="terminator")) == [
        ("movie", "The Terminator")
    ]
    show = await _get(client, user, "/search", q="breaking", type="tvshow,episode")
    # Episodes are found by their show's title too, after it.
    assert _names(show)[0] == ("tvshow", "Breaking Bad")
    assert sorted(_names(show)[1:]) == [("episode", "Fly"), ("episode", "Pilot")]
    episode = (await _get(client, user, "/search", q="pilot"))["data"][0]
    assert episode["type"] == "episode" and episode["show"]["title"] == "Breaking Bad"
    assert episode["season_number"] == 1 and episode["episode_number"] == 1
    people = _names(await _get(client, user, "/search", q="sig", type="person"))
    assert people == [("person", "Sigourney Weaver")]  # Sigmund: credited on a hidden title
    assert ("person", "Sigmund Hidden") in _names(
        await _get(client, admin, "/search", q="sig", type="person")
    )
    # The index follows writes: a renamed movie, a removed credit.
    async with state.db.session() as session:
        alien = await session.get(Movie, world["ids"]["Alien"])
        assert alien is not None
        alien.title, alien.sort_title = "Alien Resurrection", "alien resurrection"
        await session.execute(delete(Credit).where(Credit.person_id == world["ids"]["sigourney"]))
    assert ("movie", "Alien Resurrection") in _names(await _get(client, user, "/search", q="resur"))
    assert _names(await _get(client, admin, "/search", q="sigourney")) == []
    # The rebuild writes what the triggers wrote.
    async with state.db.session() as session:
        before = sorted(
            tuple(row)
            for row in await session.execute(
                select(
                    SearchDocument.kind,
                    SearchDocument.ref,
                    SearchDocument.name,
                    SearchDocument.key,
                    SearchDocument.tags,
                )
            )
        )
        counts = await search_service.rebuild_index(session)
        after = sorted(
            tuple(row)
            for row in await session.execute(
                select(
                    SearchDocument.kind,
                    SearchDocument.ref,
                    SearchDocument.name,
                    SearchDocument.key,
                    SearchDocument.tags,
                )
            )
        )
    assert before == after
    assert counts["movie"] == 6 and counts["tvshow"] == 1 and counts["episode"] == 2


async def test_movie_search_filters_sorts_and_refusals(
    state: AppState, client: httpx.AsyncClient
) -> None:
    world = await _world(state, client)
    user, ids = world["user"], world["ids"]

    async def titles(**params: Any) -> list[str]:
        body = await _get(client, user, "/search/movies", **params)
        return [movie["title"] for movie in body["data"]]

    assert await titles() == ["Alien", "Aliens", "Amélie", "Heat", "The Terminator"]
    assert await titles(q="alien") == ["Alien", "Aliens"]
    assert await titles(genre="science fiction", sort="-year") == [
        "Aliens",
        "The Terminator",
        "Alien",
    ]
    assert await titles(genre=[str(ids["Crime"]), "Horror"]) == ["Alien", "Heat"]
    assert await titles(year_from=1980, year_to=1999, sort="year") == [
        "The Terminator",
        "Aliens",
        "Heat",
    ]
    assert await titles(min_rating=8.1, sort="-rating") == ["Alien", "Heat"]
    assert await titles(resolution="1080p") == ["Aliens"]
    assert await titles(resolution=["2160p", "sd"]) == ["Alien", "Heat"]
    assert await titles(watched="true") == ["Heat"]
    assert "Heat" not in await titles(watched="false")
    assert await titles(library_id=str(ids["movies"]), q="ali", sort="relevance") == [
        "Alien",
        "Aliens",
    ]
    page = await _get(client, user, "/search/movies", q="alien")
    assert tier(page["data"][0]["score"]) == 3.0 and tier(page["data"][1]["score"]) == 2.0
    assert page["data"][0]["resolution"] == "sd" and page["data"][0]["genres"] == [
        "Horror",
        "Science Fiction",
    ]
    assert page["pagination"]["total"] == 2
    shows = await _get(client, user, "/search/tvshows", q="bad", watched="false")
    assert [show["title"] for show in shows["data"]] == ["Breaking Bad"]
    # Refusals
    assert (await client.get(f"{API}/search/movies")).status_code == 401
    hidden = await client.get(
        f"{API}/search/movies", params={"library_id": str(ids["hidden"])}, headers=user.headers
    )
    assert hidden.status_code == 404
    for params in (
        {"resolution": "480i"},
        {"year_from": 1999, "year_to": 1990},
        {"min_rating": 11},
        {"sort": "relevance"},
        {"sort": "colour"},
        {"q": "   "},
        {"watched": "maybe"},
    ):
        response = await client.get(f"{API}/search/movies", params=params, headers=user.headers)
        assert response.status_code == 422, params
    admin = world["admin"]
    await create_role(client, admin, "lurker", ["library.read"])
    await create_user(state, "olga", role="lurker")
    outsider = await login(client, "olga")
    for path in ("/search/movies", "/search/tvshows/facets"):
        assert (await client.get(f"{API}{path}", headers=outsider.headers)).status_code == 403
    for path in ("/search/movies/autocomplete", "/search/multi"):
        response = await client.get(f"{API}{path}", params={"q": "a"}, headers=outsider.headers)
        assert response.status_code == 403


async def test_facets_ignore_their_own_filter(state: AppState, client: httpx.AsyncClient) -> None:
    world = await _world(state, client)
    user = world["user"]
    facets = await _get(client, user, "/search/movies/facets")
    assert facets["total"] == 5
    genres = {genre["name"]: genre["count"] for genre in facets["genres"]}
    assert genres == {"Science Fiction": 3, "Horror": 1, "Crime": 1, "Comedy": 1}
    decades = {decade["decade"]: decade["count"] for decade in facets["decades"]}
    assert decades == {1970: 1, 1980: 2, 1990: 1, 2000: 1}
    ratings = {bucket["bucket"]: bucket["count"] for bucket in facets["ratings"]}
    assert ratings == {"0-2": 0, "2-4": 0, "4-6": 0, "6-8": 2, "8-10": 3}
    resolutions = {row["resolution"]: row["count"] for row in facets["resolutions"]}
    assert resolutions == {"sd": 1, "720p": 1, "1080p": 1, "2160p": 1}
    narrowed = await _get(client, user, "/search/movies/facets", genre="Crime", year_from=1990)
    assert narrowed["total"] == 1
    # The genre facet ignores the genre filter, not the year filter.
    assert {g["name"]: g["count"] for g in narrowed["genres"]} == {"Crime": 1, "Comedy": 1}
    assert {d["decade"]: d["count"] for d in narrowed["decades"]} == {1990: 1}
    shows = await _get(client, user, "/search/tvshows/facets", q="breaking")
    assert shows["total"] == 1 and shows["ratings"][-1]["count"] == 1
    bad = await client.get(
        f"{API}/search/movies/facets", params={"min_rating": -1}, headers=user.headers
    )
    assert bad.status_code == 422


async def test_autocomplete_prefixes_and_typos(state: AppState, client: httpx.AsyncClient) -> None:
    world = await _world(state, client)
    user = world["user"]

    async def suggested(q: str, path: str = "/search/movies/autocomplete", **params: Any) -> Any:
        body = await _get(client, user, path, q=q, **params)
        return [(hit["title"], tier(hit["score"])) for hit in body["data"]]

    assert await suggested("al") == [("Alien", 2.0), ("Aliens", 2.0)]
    assert await suggested("alien") == [("Alien", 3.0), ("Aliens", 2.0)]
    assert await suggested("al", limit=1) == [("Alien", 2.0)]
    assert await suggested("termintor") == [("The Terminator", 0.5)]  # one letter left out
    assert await suggested("heta") == [("Heat", 0.5)]  # two letters swapped
    assert await suggested("hx") == []  # short words are not forgiven
    assert await suggested("braeking", "/search/tvshows/autocomplete") == [("Breaking Bad", 0.5)]
    assert ("Alien Secret", 2.0) not in await suggested("alien")
    for params in ({"q": "al", "limit": 11}, {"q": ""}, {"q": "  "}, {}):
        response = await client.get(
            f"{API}/search/movies/autocomplete", params=params, headers=user.headers
        )
        assert response.status_code == 422, params
    # Served by a `kit.fastquery` route when the query is fully understood; an extra
    # parameter sends it through FastAPI's route instead: both answer alike.
    for kind in ("movies", "tvshows"):
        for params in ({"q": "al"}, {"q": "braeking", "limit": 2}, {"q": "  "}, {"limit": 3}):
            answers = []
            for extra in ({}, {"unused": "1"}):
                response = await client.get(
                    f"{API}/search/{kind}/autocomplete",
                    params={**params, **extra},
                    headers=user.headers,
                )
                answers.append((response.status_code, {**response.json(), "request_id": None}))
            assert answers[0] == answers[1], (kind, params)
    assert (await client.get(f"{API}/search/movies/autocomplete?q=al")).status_code == 401


async def test_multi_groups_each_type(state: AppState, client: httpx.AsyncClient) -> None:
    world = await _world(state, client)
    user = world["user"]
    body = await _get(client, user, "/search/multi", q="b")
    assert [hit["name"] for hit in body["tvshows"]["data"]] == ["Breaking Bad"]
    assert [hit["name"] for hit in body["people"]["data"]] == ["Bryan Cranston"]
    assert body["movies"]["data"] == [] and body["episodes"]["total"] == 2  # by their show
    many = await _get(client, user, "/search/multi", q="a", limit=1)
    assert len(many["movies"]["data"]) == 1 and many["movies"]["total"] >= 3
    response = await client.get(
        f"{API}/search/multi", params={"q": "a", "limit": 21}, headers=user.headers
    )
    assert response.status_code == 422
