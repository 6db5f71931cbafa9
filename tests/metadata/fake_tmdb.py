"""A small TMDb v3 server for the tests: a Starlette app served by uvicorn in a thread on a free
loopback port.

It speaks the routes cinesonic uses — search, movie and TV details with `append_to_response`,
seasons, episodes, `/configuration` and the image server `/t/p/{size}/{file}` — with payloads
shaped as TMDb's (trimmed to a handful of real titles), TMDb's error body
(`{"status_code", "status_message", "success": false}`), and the key checked as TMDb does
(`api_key` query parameter or a bearer token).

Tests steer failures with `script(path, *statuses)`: the next requests to `path` are answered
with those statuses (429 with `Retry-After`, 500) before the normal answer. The search query
`garbage` answers a body that is not JSON. Every request is counted by path (`hits`).
"""

from __future__ import annotations

import io
import threading
import time
from collections import Counter, defaultdict, deque
from typing import Any

import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fixtures.live import free_port

API_KEY = "0123456789abcdef0123456789abcdef"
BEARER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ0ZXN0In0.c2lnbmF0dXJl"
POSTER_PNG = "/qJ2tW6WMUDux911r6m7haRef0WH.png"
POSTER_JPEG = "/8Gxv8gSFCU0XGDykEGv7zR1n2ua.jpg"
MISSING_IMAGE = "/doesNotExist123.jpg"
BROKEN_IMAGE = "/notReallyAJpeg456.jpg"


def _person(person_id: int, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "adult": False,
        "gender": 2,
        "id": person_id,
        "known_for_department": extra.pop("department", "Acting"),
        "name": name,
        "original_name": name,
        "popularity": 20.5,
        "profile_path": f"/profile{person_id}.jpg",
        "credit_id": f"52fe4{person_id:07d}",
        **extra,
    }


def _movie_summary(movie: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "adult",
        "backdrop_path",
        "id",
        "original_language",
        "original_title",
        "overview",
        "popularity",
        "poster_path",
        "release_date",
        "title",
        "video",
        "vote_average",
        "vote_count",
    )
    summary = {key: movie[key] for key in keys}
    summary["genre_ids"] = [genre["id"] for genre in movie["genres"]]
    return summary


def _show_summary(show: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "adult",
        "backdrop_path",
        "first_air_date",
        "id",
        "name",
        "origin_country",
        "original_language",
        "original_name",
        "overview",
        "popularity",
        "poster_path",
        "vote_average",
        "vote_count",
    )
    summary = {key: show[key] for key in keys}
    summary["genre_ids"] = [genre["id"] for genre in show["genres"]]
    return summary


def _movie(
    movie_id: int,
    title: str,
    release_date: str,
    *,
    genres: list[tuple[int, str]],
    cast: list[dict[str, Any]],
    crew: list[dict[str, Any]],
    collection: dict[str, Any] | None = None,
    popularity: float = 50.0,
    runtime: int = 120,
    original_title: str | None = None,
    imdb_id: str = "tt0000000",
    certification: str = "PG-13",
) -> dict[str, Any]:
    return {
        "adult": False,
        "backdrop_path": f"/backdrop{movie_id}.jpg",
        "belongs_to_collection": collection,
        "budget": 160000000,
        "genres": [{"id": gid, "name": name} for gid, name in genres],
        "homepage": "",
        "id": movie_id,
        "imdb_id": imdb_id,
        "original_language": "en",
        "original_title": original_title or title,
        "overview": f"The story of {title}.",
        "popularity": popularity,
        "poster_path": POSTER_JPEG,
        "production_companies": [{"id": 923, "name": "Legendary Pictures", "logo_path": None}],
        "release_date": release_date,
        "revenue": 825532764,
        "runtime": runtime,
        "status": "Released",
        "tagline": f"{title}: the tagline.",
        "title": title,
        "video": False,
        "vote_average": 8.4,
        "vote_count": 35000,
        "credits": {"cast": cast, "crew": crew},
        "keywords": {"keywords": [{"id": 1014, "name": "dream"}, {"id": 4565, "name": "heist"}]},
        "release_dates": {
            "results": [
                {
                    "iso_3166_1": "US",
                    "release_dates": [
                        {
                            "certification": certification,
                            "descriptors": [],
                            "iso_639_1": "",
                            "note": "",
                            "release_date": f"{release_date}T00:00:00.000Z",
                            "type": 3,
                        }
                    ],
                }
            ]
        },
        "similar": {"page": 1, "results": [], "total_pages": 0, "total_results": 0},
    }


MATRIX_COLLECTION = {
    "id": 2344,
    "name": "The Matrix Collection",
    "poster_path": "/lh4aGpd3U9rm9B8Oqr6CUgQLtZL.jpg",
    "backdrop_path": "/bRm2DEgUiYciDw3myHuYFInD7la.jpg",
}

MOVIES: dict[int, dict[str, Any]] = {
    27205: _movie(
        27205,
        "Inception",
        "2010-07-15",
        genres=[(28, "Action"), (878, "Science Fiction"), (12, "Adventure")],
        cast=[
            _person(6193, "Leonardo DiCaprio", character="Dom Cobb", order=0, cast_id=1),
            _person(24045, "Joseph Gordon-Levitt", character="Arthur", order=1, cast_id=3),
            _person(27578, "Elliot Page", character="Ariadne", order=2, cast_id=6),
        ],
        crew=[
            _person(525, "Christopher Nolan", department="Directing", job="Director"),
            _person(525, "Christopher Nolan", department="Writing", job="Screenplay"),
            _person(947, "Hans Zimmer", department="Sound", job="Original Music Composer"),
        ],
        popularity=83.9,
        runtime=148,
        imdb_id="tt1375666",
    ),
    603: _movie(
        603,
        "The Matrix",
        "1999-03-31",
        genres=[(28, "Action"), (878, "Science Fiction")],
        cast=[
            _person(6384, "Keanu Reeves", character="Thomas A. Anderson / Neo", order=0),
            _person(2975, "Laurence Fishburne", character="Morpheus", order=1),
            _person(530, "Carrie-Anne Moss", character="Trinity", order=2),
        ],
        crew=[
            _person(9340, "Lana Wachowski", department="Directing", job="Director"),
            _person(9339, "Lilly Wachowski", department="Directing", job="Director"),
        ],
        collection=MATRIX_COLLECTION,
        popularity=75.2,
        runtime=136,
        imdb_id="tt0133093",
        certification="R",
    ),
    604: _movie(
        604,
        "The Matrix Reloaded",
        "2003-05-15",
        genres=[(28, "Action"), (878, "Science Fiction")],
        cast=[_person(6384, "Keanu Reeves", character="Neo", order=0)],
        crew=[_person(9340, "Lana Wachowski", department="Directing", job="Director")],
        collection=MATRIX_COLLECTION,
        popularity=40.1,
        runtime=138,
        imdb_id="tt0234215",
        certification="R",
    ),
    329865: _movie(
        329865,
        "Arrival",
        "2016-11-10",
        genres=[(18, "Drama"), (878, "Science Fiction"), (9648, "Mystery")],
        cast=[
            _person(9273, "Amy Adams", character="Louise Banks", order=0),
            _person(17604, "Jeremy Renner", character="Ian Donnelly", order=1),
        ],
        crew=[_person(137427, "Denis Villeneuve", department="Directing", job="Director")],
        popularity=45.3,
        runtime=116,
        imdb_id="tt2543164",
    ),
    # The same title as above, years apart: what matching must tell apart.
    1278: _movie(
        1278,
        "Arrival",
        "1996-05-31",
        genres=[(878, "Science Fiction"), (53, "Thriller")],
        cast=[_person(2888, "Charlie Sheen", character="Zane Zaminsky", order=0)],
        crew=[_person(57554, "David Twohy", department="Directing", job="Director")],
        original_title="The Arrival",
        popularity=9.8,
        runtime=115,
        imdb_id="tt0115571",
    ),
}
MOVIES[27205]["similar"] = {
    "page": 1,
    "results": [_movie_summary(MOVIES[603])],
    "total_pages": 1,
    "total_results": 1,
}
MOVIES[603]["similar"] = {
    "page": 1,
    "results": [_movie_summary(MOVIES[604]), _movie_summary(MOVIES[27205])],
    "total_pages": 1,
    "total_results": 2,
}


def _episode(
    show_id: int, season: int, number: int, name: str, air_date: str, runtime: int
) -> dict[str, Any]:
    return {
        "air_date": air_date,
        "episode_number": number,
        "episode_type": "standard",
        "id": show_id * 1000 + season * 100 + number,
        "name": name,
        "overview": f"{name}: what happens.",
        "production_code": "",
        "runtime": runtime,
        "season_number": season,
        "show_id": show_id,
        "still_path": f"/still{show_id}{season}{number}.jpg",
        "vote_average": 8.2,
        "vote_count": 200,
        "crew": [_person(66633, "Vince Gilligan", department="Directing", job="Director")],
        "guest_stars": [_person(92495, "John Koyama", character="Emilio Koyama", order=500)],
    }


def _show(
    show_id: int,
    name: str,
    first_air_date: str,
    *,
    seasons: dict[int, list[dict[str, Any]]],
    genres: list[tuple[int, str]],
    networks: list[tuple[int, str, str]],
    cast: list[dict[str, Any]],
    creators: list[tuple[int, str]],
    popularity: float,
) -> dict[str, Any]:
    season_rows = [
        {
            "air_date": episodes[0]["air_date"] if episodes else None,
            "episode_count": len(episodes),
            "id": show_id * 10 + number,
            "name": "Specials" if number == 0 else f"Season {number}",
            "overview": "",
            "poster_path": f"/season{show_id}{number}.jpg",
            "season_number": number,
            "vote_average": 8.0,
        }
        for number, episodes in sorted(seasons.items())
    ]
    all_episodes = [episode for episodes in seasons.values() for episode in episodes]
    return {
        "adult": False,
        "backdrop_path": f"/backdrop{show_id}.jpg",
        "created_by": [
            {"id": pid, "credit_id": f"c{pid}", "name": pname, "gender": 2, "profile_path": None}
            for pid, pname in creators
        ],
        "episode_run_time": [47],
        "first_air_date": first_air_date,
        "genres": [{"id": gid, "name": gname} for gid, gname in genres],
        "homepage": "",
        "id": show_id,
        "in_production": False,
        "languages": ["en"],
        "last_air_date": all_episodes[-1]["air_date"],
        "name": name,
        "networks": [
            {"id": nid, "logo_path": f"/network{nid}.png", "name": nname, "origin_country": cc}
            for nid, nname, cc in networks
        ],
        "number_of_episodes": len(all_episodes),
        "number_of_seasons": len([n for n in seasons if n > 0]),
        "origin_country": ["US"],
        "original_language": "en",
        "original_name": name,
        "overview": f"The story of {name}.",
        "popularity": popularity,
        "poster_path": POSTER_PNG,
        "seasons": season_rows,
        "status": "Ended",
        "tagline": "",
        "type": "Scripted",
        "vote_average": 8.9,
        "vote_count": 14000,
        "credits": {"cast": cast, "crew": []},
        "keywords": {"results": [{"id": 2231, "name": "drug dealer"}]},
        "similar": {"page": 1, "results": [], "total_pages": 0, "total_results": 0},
    }


BREAKING_BAD_SEASONS = {
    0: [_episode(1396, 0, 1, "Good Cop / Bad Cop", "2009-02-17", 3)],
    1: [
        _episode(1396, 1, 1, "Pilot", "2008-01-20", 58),
        _episode(1396, 1, 2, "Cat's in the Bag...", "2008-01-27", 48),
        _episode(1396, 1, 3, "...And the Bag's in the River", "2008-02-10", 48),
    ],
    2: [
        _episode(1396, 2, 1, "Seven Thirty-Seven", "2009-03-08", 47),
        _episode(1396, 2, 2, "Grilled", "2009-03-15", 47),
    ],
}
SEVERANCE_SEASONS = {
    1: [
        _episode(95396, 1, 1, "Good News About Hell", "2022-02-18", 57),
        _episode(95396, 1, 2, "Half Loop", "2022-02-18", 53),
    ],
}
SHOWS: dict[int, dict[str, Any]] = {
    1396: _show(
        1396,
        "Breaking Bad",
        "2008-01-20",
        seasons=BREAKING_BAD_SEASONS,
        genres=[(18, "Drama"), (80, "Crime")],
        networks=[(174, "AMC", "US")],
        cast=[
            _person(17419, "Bryan Cranston", character="Walter White", order=0),
            _person(84497, "Aaron Paul", character="Jesse Pinkman", order=1),
        ],
        creators=[(66633, "Vince Gilligan")],
        popularity=250.3,
    ),
    95396: _show(
        95396,
        "Severance",
        "2022-02-17",
        seasons=SEVERANCE_SEASONS,
        genres=[(18, "Drama"), (9648, "Mystery"), (10765, "Sci-Fi & Fantasy")],
        networks=[(2552, "Apple TV+", "US")],
        cast=[_person(1230, "Adam Scott", character="Mark Scout", order=0)],
        creators=[(1216630, "Dan Erickson")],
        popularity=120.7,
    ),
}
SEASONS: dict[tuple[int, int], list[dict[str, Any]]] = {
    **{(1396, number): episodes for number, episodes in BREAKING_BAD_SEASONS.items()},
    **{(95396, number): episodes for number, episodes in SEVERANCE_SEASONS.items()},
}


def _tiny_image(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 3), (200, 30, 30)).save(buffer, format=kind)
    return buffer.getvalue()


IMAGES = {
    POSTER_PNG: ("image/png", _tiny_image("PNG")),
    POSTER_JPEG: ("image/jpeg", _tiny_image("JPEG")),
    BROKEN_IMAGE: ("image/jpeg", b"<html>An error page served as an image</html>"),
}


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"status_code": code, "status_message": message, "success": False}, status_code=status
    )


def _not_found() -> JSONResponse:
    return _error(404, 34, "The resource you requested could not be found.")


class FakeTmdb:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.requests: list[Request] = []
        self._script: dict[str, deque[int]] = defaultdict(deque)
        self.retry_after = "2"
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(
            routes=[
                Route("/3/search/movie", self._search_movie),
                Route("/3/search/tv", self._search_tv),
                Route("/3/movie/{movie_id:int}", self._movie),
                Route("/3/tv/{show_id:int}", self._show),
                Route("/3/tv/{show_id:int}/season/{season:int}", self._season),
                Route(
                    "/3/tv/{show_id:int}/season/{season:int}/episode/{episode:int}", self._episode
                ),
                Route("/3/configuration", self._configuration),
                Route("/t/p/{size}/{name}", self._image),
            ]
        )
        self.app.add_middleware(_Gate, fake=self)

    # ------------------------------------------------------------ control

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/3"

    def script(self, path: str, *statuses: int) -> None:
        """Answer the next requests to `path` (e.g. `/3/movie/603`) with these statuses first."""
        self._script[path].extend(statuses)

    def reset(self) -> None:
        self.hits.clear()
        self.requests.clear()
        self._script.clear()
        self.retry_after = "2"

    def start(self) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_config=None, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake TMDb server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def scripted(self, path: str) -> int | None:
        queue = self._script.get(path)
        return queue.popleft() if queue else None

    # ------------------------------------------------------------ routes

    async def _search_movie(self, request: Request) -> Response:
        query = request.query_params.get("query", "").casefold()
        if query == "garbage":
            return Response(b"<html>Bad gateway</html>{", media_type="application/json")
        year = request.query_params.get("year")
        found = [
            _movie_summary(movie)
            for movie in MOVIES.values()
            if query in movie["title"].casefold()
            and (year is None or movie["release_date"].startswith(year))
        ]
        found.sort(key=lambda movie: -movie["popularity"])
        return _page(found, int(request.query_params.get("page", "1")))

    async def _search_tv(self, request: Request) -> Response:
        query = request.query_params.get("query", "").casefold()
        year = request.query_params.get("first_air_date_year")
        found = [
            _show_summary(show)
            for show in SHOWS.values()
            if query in show["name"].casefold()
            and (year is None or show["first_air_date"].startswith(year))
        ]
        return _page(found, int(request.query_params.get("page", "1")))

    async def _movie(self, request: Request) -> Response:
        movie = MOVIES.get(request.path_params["movie_id"])
        if movie is None:
            return _not_found()
        appended = set(request.query_params.get("append_to_response", "").split(","))
        body = {k: v for k, v in movie.items() if k not in _MOVIE_APPENDS or k in appended}
        return JSONResponse(body)

    async def _show(self, request: Request) -> Response:
        show = SHOWS.get(request.path_params["show_id"])
        if show is None:
            return _not_found()
        appended = set(request.query_params.get("append_to_response", "").split(","))
        body = {k: v for k, v in show.items() if k not in _TV_APPENDS or k in appended}
        return JSONResponse(body)

    async def _season(self, request: Request) -> Response:
        show_id, number = request.path_params["show_id"], request.path_params["season"]
        episodes = SEASONS.get((show_id, number))
        if episodes is None:
            return _not_found()
        return JSONResponse(
            {
                "_id": f"52571{show_id}{number}",
                "air_date": episodes[0]["air_date"],
                "episodes": episodes,
                "id": show_id * 10 + number,
                "name": "Specials" if number == 0 else f"Season {number}",
                "overview": "",
                "poster_path": f"/season{show_id}{number}.jpg",
                "season_number": number,
                "vote_average": 8.0,
            }
        )

    async def _episode(self, request: Request) -> Response:
        key = (request.path_params["show_id"], request.path_params["season"])
        number = request.path_params["episode"]
        for episode in SEASONS.get(key, []):
            if episode["episode_number"] == number:
                return JSONResponse(episode)
        return _not_found()

    async def _configuration(self, request: Request) -> Response:
        return JSONResponse(
            {
                "images": {
                    "base_url": f"{self.base_url}/t/p/",
                    "secure_base_url": f"{self.base_url}/t/p/",
                    "backdrop_sizes": ["w300", "w780", "w1280", "original"],
                    "logo_sizes": ["w45", "w92", "w154", "w185", "w300", "w500", "original"],
                    "poster_sizes": ["w92", "w154", "w185", "w342", "w500", "w780", "original"],
                    "profile_sizes": ["w45", "w185", "h632", "original"],
                    "still_sizes": ["w92", "w185", "w300", "original"],
                },
                "change_keys": ["adult", "air_date", "also_known_as"],
            }
        )

    async def _image(self, request: Request) -> Response:
        found = IMAGES.get("/" + request.path_params["name"])
        if found is None:
            return Response(b"Not found", status_code=404, media_type="text/plain")
        content_type, data = found
        return Response(data, media_type=content_type)


_MOVIE_APPENDS = {"credits", "keywords", "release_dates", "similar"}
_TV_APPENDS = {"credits", "keywords", "similar"}


def _page(results: list[dict[str, Any]], page: int) -> JSONResponse:
    size = 20
    chunk = results[(page - 1) * size : page * size]
    return JSONResponse(
        {
            "page": page,
            "results": chunk,
            "total_pages": (len(results) + size - 1) // size,
            "total_results": len(results),
        }
    )


class _Gate:
    """Counts each request, answers scripted failures, and checks the key on API routes."""

    def __init__(self, app: Any, fake: FakeTmdb) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        path = request.url.path
        self.fake.hits[path] += 1
        self.fake.requests.append(request)
        status = self.fake.scripted(path)
        response: Response | None = None
        if status == 429:
            response = _error(429, 25, "Your request count is over the allowed limit.")
            response.headers["Retry-After"] = self.fake.retry_after
        elif status is not None:
            response = _error(status, 11, "Internal error: Something went wrong, contact TMDb.")
        elif path.startswith("/3/") and not _authorised(request):
            response = _error(401, 7, "Invalid API key: You must be granted a valid key.")
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _authorised(request: Request) -> bool:
    authorization = request.headers.get("authorization", "")
    return (
        request.query_params.get("api_key") == API_KEY or authorization == f"Bearer {BEARER_TOKEN}"
    )
