"""People, credits, genres, collections, networks, similar movies, recently added, top rated,
air dates and statistics, with rows the metadata providers would fill made directly here;
people and collections only through titles the user may see."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.library import LibraryKind
from cinesonic.models.video import (
    Collection,
    Credit,
    CreditKind,
    Episode,
    Movie,
    MovieGenre,
    Network,
    Person,
    ShowGenre,
    ShowNetwork,
    TvShow,
    VideoGenre,
)
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login
from tests.fixtures.video import VideoSeeds
from tests.video.helpers import scan, video_library

API = "/api/v1"


async def _world(state: AppState, client: httpx.AsyncClient, seeds: VideoSeeds) -> dict[str, Any]:
    admin = await create_and_login(state, client, "root", role="admin")
    user = await create_and_login(state, client, "ada")
    movies, movie_root = await video_library(state, "Movies", LibraryKind.movies)
    for name in ("Alien (1979)", "Aliens (1986)", "Heat (1995)", "Up (2009)"):
        seeds.place(movie_root, f"{name}/{name}.mkv")
    tv, tv_root = await video_library(state, "TV", LibraryKind.tvshows)
    for name in ("S01E01", "S01E02"):
        seeds.place(tv_root, f"Show/Season 1/Show - {name}.mkv")
    hidden, hidden_root = await video_library(state, "Hidden", LibraryKind.movies, restricted=True)
    seeds.place(hidden_root, "Secret (2000)/Secret (2000).mkv")
    for library in (movies, tv, hidden):
        await scan(state, library.id)
    ids: dict[str, uuid.UUID] = {}
    async with state.db.session() as session:
        ids.update({t: i for t, i in await session.execute(select(Movie.title, Movie.id))})
        ids["Show"] = await session.scalar(select(TvShow.id))  # type: ignore[assignment]
        for name in ("Science Fiction", "Horror", "Crime", "Drama"):
            ids[name] = uuid.uuid4()
            await session.execute(insert(VideoGenre).values(id=ids[name], name=name))
        tagged = {
            "Alien": ("Science Fiction", "Horror"),
            "Aliens": ("Science Fiction",),
            "Heat": ("Crime",),
            "Secret": ("Science Fiction",),
        }
        for title, genres in tagged.items():
            for genre in genres:
                await session.execute(
                    insert(MovieGenre).values(movie_id=ids[title], genre_id=ids[genre])
                )
        await session.execute(insert(ShowGenre).values(show_id=ids["Show"], genre_id=ids["Drama"]))
        ids["Saga"] = uuid.uuid4()
        await session.execute(insert(Collection).values(id=ids["Saga"], name="Alien Collection"))
        ids["Lonely"] = uuid.uuid4()
        await session.execute(insert(Collection).values(id=ids["Lonely"], name="Hidden Set"))
        await session.execute(
            update(Movie)
            .where(Movie.id.in_([ids["Alien"], ids["Aliens"]]))
            .values(collection_id=ids["Saga"])
        )
        await session.execute(
            update(Movie).where(Movie.id == ids["Secret"]).values(collection_id=ids["Lonely"])
        )
        ratings = {"Alien": (8.5, 9000), "Aliens": (8.4, 8000), "Heat": (8.3, 5), "Up": (None, 0)}
        for title, (rating, votes) in ratings.items():
            await session.execute(
                update(Movie)
                .where(Movie.id == ids[title])
                .values(rating=rating, vote_count=votes, runtime_minutes=100, tmdb_id=len(title))
            )
        await session.execute(
            update(Movie).where(Movie.id == ids["Up"]).values(similar_tmdb_ids=[4, 999])
        )  # Heat's tmdb_id is 4; 999 is not in the library
        for name in ("Sigourney", "Ridley", "Ghost"):
            ids[name] = uuid.uuid4()
            await session.execute(insert(Person).values(id=ids[name], name=name, tmdb_id=None))
        credits = [
            ("Sigourney", "Alien", None, CreditKind.cast, "Ripley", None, 0),
            ("Sigourney", "Aliens", None, CreditKind.cast, "Ripley", None, 0),
            ("Sigourney", None, "Show", CreditKind.cast, "Herself", None, 1),
            ("Ridley", "Alien", None, CreditKind.crew, None, "Director", None),
            ("Ghost", "Secret", None, CreditKind.cast, "Shadow", None, 0),
        ]
        for person, movie, show, kind, character, job, order in credits:
            await session.execute(
                insert(Credit).values(
                    id=uuid.uuid4(),
                    person_id=ids[person],
                    movie_id=ids[movie] if movie else None,
                    show_id=ids[show] if show else None,
                    kind=kind,
                    character=character,
                    job=job,
                    department="Directing" if job else None,
                    order=order,
                )
            )
        ids["HBO"] = uuid.uuid4()
        await session.execute(insert(Network).values(id=ids["HBO"], name="HBO"))
        await session.execute(
            insert(ShowNetwork).values(show_id=ids["Show"], network_id=ids["HBO"])
        )
        today = utcnow().date()
        episodes = list(await session.scalars(select(Episode).order_by(Episode.episode_number)))
        aired_on = (today - timedelta(days=3), today + timedelta(days=5))
        for episode, aired in zip(episodes, aired_on, strict=True):
            episode.air_date = aired
    return {"admin": admin, "user": user, "ids": ids}


async def _get(client: httpx.AsyncClient, who: SignedIn, path: str, **params: Any) -> Any:
    response = await client.get(API + path, headers=who.headers, params=params)
    assert response.status_code == 200, f"{path}: {response.text}"
    return response.json()


def _titles(page: dict[str, Any]) -> list[str]:
    return [item["title"] for item in page["data"]]


async def test_credits_genres_collections_people_and_similar(
    state: AppState, client: httpx.AsyncClient, seeds: VideoSeeds
) -> None:
    world = await _world(state, client, seeds)
    user, admin, ids = world["user"], world["admin"], world["ids"]
    alien, show = ids["Alien"], ids["Show"]

    cast = await _get(client, user, f"/movies/{alien}/cast")
    assert [(c["name"], c["character"]) for c in cast["data"]] == [("Sigourney", "Ripley")]
    crew = await _get(client, user, f"/movies/{alien}/crew")
    assert [(c["name"], c["job"]) for c in crew["data"]] == [("Ridley", "Director")]
    genres = await _get(client, user, f"/movies/{alien}/genres")
    assert [g["name"] for g in genres["data"]] == ["Horror", "Science Fiction"]
    collection = await _get(client, user, f"/movies/{alien}/collection")
    assert (collection["name"], collection["movie_count"]) == ("Alien Collection", 2)
    detail = await _get(client, user, f"/movies/{alien}")
    assert [c["name"] for c in detail["cast"]] == ["Sigourney"]
    assert detail["crew"][0]["job"] == "Director"
    assert detail["collection"]["id"] == str(ids["Saga"]) and len(detail["files"]) == 1
    no_collection = await client.get(f"{API}/movies/{ids['Heat']}/collection", headers=user.headers)
    assert (no_collection.status_code, no_collection.json()["error"]["code"]) == (
        404,
        "no_collection",
    )

    saga = await _get(client, user, f"/collections/{ids['Saga']}")
    assert saga["movie_count"] == 2
    assert _titles(await _get(client, user, f"/collections/{ids['Saga']}/movies")) == [
        "Alien",
        "Aliens",
    ]
    for path in (f"/collections/{ids['Lonely']}", f"/collections/{uuid.uuid4()}/movies"):
        assert (await client.get(API + path, headers=user.headers)).status_code == 404
    assert (await _get(client, admin, f"/collections/{ids['Lonely']}"))["movie_count"] == 1

    # Similar: the provider's titles in the library first; else shared genres and collection.
    assert _titles(await _get(client, user, f"/movies/{ids['Up']}/similar")) == ["Heat"]
    assert _titles(await _get(client, user, f"/movies/{alien}/similar")) == ["Aliens"]
    assert _titles(await _get(client, admin, f"/movies/{alien}/similar")) == ["Aliens", "Secret"]
    assert (await _get(client, user, f"/movies/{ids['Heat']}/similar"))["data"] == []

    person = await _get(client, user, f"/people/{ids['Sigourney']}")
    assert person["name"] == "Sigourney"
    assert [(e["movie"] or e["show"])["title"] for e in person["filmography"]] == [
        "Aliens",
        "Alien",
        "Show",
    ]  # newest first; the show has no year
    assert person["filmography"][2]["character"] == "Herself"
    hidden_person = await client.get(f"{API}/people/{ids['Ghost']}", headers=user.headers)
    assert hidden_person.status_code == 404  # credited only in a library Ada may not read
    assert (await _get(client, admin, f"/people/{ids['Ghost']}"))["filmography"][0]["movie"][
        "title"
    ] == "Secret"
    assert (
        await client.get(f"{API}/people/{uuid.uuid4()}", headers=user.headers)
    ).status_code == 404

    show_cast = await _get(client, user, f"/tvshows/{show}/cast")
    assert [c["character"] for c in show_cast["data"]] == ["Herself"]
    assert (await _get(client, user, f"/tvshows/{show}/crew"))["data"] == []
    assert [g["name"] for g in (await _get(client, user, f"/tvshows/{show}/genres"))["data"]] == [
        "Drama"
    ]
    assert [n["name"] for n in (await _get(client, user, f"/tvshows/{show}/networks"))["data"]] == [
        "HBO"
    ]
    show_detail = await _get(client, user, f"/tvshows/{show}")
    assert [n["name"] for n in show_detail["networks"]] == ["HBO"]
    assert show_detail["cast"][0]["name"] == "Sigourney"

    secret, missing = ids["Secret"], uuid.uuid4()
    for path in ("cast", "crew", "genres", "collection", "similar"):
        for movie in (secret, missing):
            answer = await client.get(f"{API}/movies/{movie}/{path}", headers=user.headers)
            assert answer.status_code == 404, path
    for path in ("cast", "crew", "genres", "networks"):
        answer = await client.get(f"{API}/tvshows/{missing}/{path}", headers=user.headers)
        assert answer.status_code == 404, path
    bad_sort = await client.get(
        f"{API}/movies/{alien}/cast", params={"sort": "x"}, headers=user.headers
    )
    assert bad_sort.status_code == 422
    assert (await client.get(f"{API}/people/{ids['Sigourney']}")).status_code == 401
    assert (await client.get(f"{API}/people/not-a-uuid", headers=user.headers)).status_code == 422


async def test_recent_top_rated_air_dates_and_statistics(
    state: AppState, client: httpx.AsyncClient, seeds: VideoSeeds
) -> None:
    world = await _world(state, client, seeds)
    user, admin, ids = world["user"], world["admin"], world["ids"]
    async with state.db.session() as session:
        base = utcnow()
        for offset, title in enumerate(("Up", "Heat", "Aliens", "Alien")):
            await session.execute(
                update(Movie)
                .where(Movie.id == ids[title])
                .values(added_at=base - timedelta(days=offset))
            )
    assert _titles(await _get(client, user, "/movies/recently-added")) == [
        "Up",
        "Heat",
        "Aliens",
        "Alien",
    ]
    # Heat has too few votes; Up no rating.
    assert _titles(await _get(client, user, "/movies/top-rated")) == ["Alien", "Aliens"]
    assert _titles(await _get(client, user, "/tvshows/recently-added")) == ["Show"]

    recent = await _get(client, user, "/tvshows/episodes/recent")
    assert [(e["show_title"], e["episode_number"]) for e in recent["data"]] == [("Show", 1)]
    assert (await _get(client, user, "/tvshows/episodes/recent", days=1))["data"] == []
    upcoming = await _get(client, user, "/tvshows/episodes/upcoming")
    assert [e["episode_number"] for e in upcoming["data"]] == [2]
    assert upcoming["data"][0]["air_date"] == str(utcnow().date() + timedelta(days=5))

    stats = await _get(client, user, "/movies/stats")
    assert (stats["movie_count"], stats["file_count"], stats["total_runtime_minutes"]) == (
        4,
        4,
        400,
    )
    assert stats["total_size_bytes"] > 0 and stats["watched_count"] == 0
    assert stats["by_genre"] == [
        {"name": "Science Fiction", "count": 2},
        {"name": "Crime", "count": 1},
        {"name": "Horror", "count": 1},
    ]
    assert stats["by_decade"] == [
        {"decade": 1970, "count": 1},
        {"decade": 1980, "count": 1},
        {"decade": 1990, "count": 1},
        {"decade": 2000, "count": 1},
    ]
    assert (await _get(client, admin, "/movies/stats"))["movie_count"] == 5
    tv = await _get(client, user, "/tvshows/stats")
    assert (tv["show_count"], tv["season_count"], tv["episode_count"], tv["file_count"]) == (
        1,
        1,
        2,
        2,
    )
    assert tv["by_network"] == [{"name": "HBO", "count": 1}]
    assert tv["by_genre"] == [{"name": "Drama", "count": 1}]

    hidden = (await _get(client, admin, "/libraries"))["data"]
    hidden_id = next(lib["id"] for lib in hidden if lib["name"] == "Hidden")
    for path in ("/movies/recently-added", "/movies/top-rated", "/movies/stats"):
        refused = await client.get(
            API + path, headers=user.headers, params={"library_id": hidden_id}
        )
        assert refused.status_code == 404, path
        assert (await client.get(API + path)).status_code == 401
    assert (
        await client.get(
            f"{API}/tvshows/episodes/upcoming", params={"days": 0}, headers=user.headers
        )
    ).status_code == 422
    assert (
        await client.get(f"{API}/movies/top-rated", params={"page_size": 500}, headers=user.headers)
    ).status_code == 422
