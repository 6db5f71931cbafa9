"""The video routes: file associations with their refusals, streaming (Range, HEAD, ETag, 304,
416, restricted libraries) and browsing movies and TV with filters."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select

from cinesonic.models.library import LibraryKind
from cinesonic.models.video import Movie, MovieGenre, TvShow, VideoFile, VideoGenre
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, assign_role, create_and_login, create_role
from tests.fixtures.video import VideoSeeds
from tests.video.helpers import scan, video_library

API = "/api/v1"


async def _world(state: AppState, client: httpx.AsyncClient, seeds: VideoSeeds) -> dict[str, Any]:
    admin = await create_and_login(state, client, "root", role="admin")
    user = await create_and_login(state, client, "ada")
    movies, movie_root = await video_library(state, "Movies", LibraryKind.movies)
    seeds.place(movie_root, "Inception (2010)/Inception (2010) - 1080p.mkv")
    seeds.place(movie_root, "Inception (2010)/Inception (2010) - 2160p.mp4", "mp4")
    seeds.place(movie_root, "Alien (1979)/Alien (1979).mkv")
    seeds.place(movie_root, "Loose.mkv")
    tv, tv_root = await video_library(state, "TV", LibraryKind.tvshows)
    seeds.place(tv_root, "Show/Season 01/Show - S01E01 - Pilot.mkv")
    seeds.place(tv_root, "Show/Season 01/Show - S01E02.mkv")
    seeds.place(tv_root, "Show/Season 02/Show - S02E01.mkv")
    hidden, hidden_root = await video_library(state, "Hidden", LibraryKind.movies, restricted=True)
    seeds.place(hidden_root, "Secret (2000)/Secret (2000).mkv")
    for library in (movies, tv, hidden):
        await scan(state, library.id)
    async with state.db.session() as session:
        genre_id = uuid.uuid4()
        await session.execute(insert(VideoGenre).values(id=genre_id, name="Science Fiction"))
        alien = await session.scalar(select(Movie.id).where(Movie.title == "Alien"))
        await session.execute(insert(MovieGenre).values(movie_id=alien, genre_id=genre_id))
    return {"admin": admin, "user": user, "movies": movies, "tv": tv, "hidden": hidden}


async def _get(client: httpx.AsyncClient, who: SignedIn, path: str, **params: Any) -> Any:
    response = await client.get(API + path, headers=who.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_browsing_movies_and_tv_with_filters_and_visibility(
    state: AppState, client: httpx.AsyncClient, seeds: VideoSeeds
) -> None:
    world = await _world(state, client, seeds)
    admin, user = world["admin"], world["user"]

    page = await _get(client, user, "/movies")
    assert [m["title"] for m in page["data"]] == ["Alien", "Inception", "Loose"]
    assert page["pagination"]["total"] == 3  # not the restricted library's
    assert [m["file_count"] for m in page["data"]] == [1, 2, 1]
    everything = await _get(client, admin, "/movies", sort="-year")
    assert [m["title"] for m in everything["data"][:3]] == ["Inception", "Secret", "Alien"]
    assert [m["title"] for m in (await _get(client, user, "/movies", year=1979))["data"]] == [
        "Alien"
    ]
    scifi = await _get(client, user, "/movies", genre="science fiction")
    assert [(m["title"], m["genres"]) for m in scifi["data"]] == [("Alien", ["Science Fiction"])]
    in_library = await _get(client, admin, "/movies", library_id=str(world["hidden"].id))
    assert [m["title"] for m in in_library["data"]] == ["Secret"]
    refused = await client.get(
        f"{API}/movies", headers=user.headers, params={"library_id": str(world["hidden"].id)}
    )
    assert refused.status_code == 404
    bad_sort = await client.get(f"{API}/movies", headers=user.headers, params={"sort": "nope"})
    assert bad_sort.status_code == 422
    assert (await client.get(f"{API}/movies")).status_code == 401

    inception = next(m for m in page["data"] if m["title"] == "Inception")
    detail = await _get(client, user, f"/movies/{inception['id']}")
    assert sorted(f["file"]["container"] for f in detail["files"]) == ["mkv", "mp4"]
    files = await _get(client, user, f"/movies/{inception['id']}/files")
    assert files["pagination"]["total"] == 2
    secret = next(m for m in everything["data"] if m["title"] == "Secret")
    for path in (f"/movies/{secret['id']}", f"/movies/{secret['id']}/files"):
        assert (await client.get(API + path, headers=user.headers)).status_code == 404
    assert (
        await client.get(f"{API}/movies/{uuid.uuid4()}", headers=user.headers)
    ).status_code == 404

    shows = await _get(client, user, "/tvshows")
    (show,) = shows["data"]
    assert (show["title"], show["season_count"], show["episode_count"]) == ("Show", 2, 3)
    assert (await _get(client, user, "/tvshows", genre="drama"))["data"] == []
    detail = await _get(client, user, f"/tvshows/{show['id']}")
    assert [(s["number"], s["episode_count"]) for s in detail["seasons"]] == [(1, 2), (2, 1)]
    seasons = await _get(client, user, f"/tvshows/{show['id']}/seasons")
    assert [s["number"] for s in seasons["data"]] == [1, 2]
    episodes = await _get(client, user, f"/tvshows/{show['id']}/episodes")
    assert [(e["season_number"], e["episode_number"]) for e in episodes["data"]] == [
        (1, 1),
        (1, 2),
        (2, 1),
    ]
    first_season = await _get(client, user, f"/tvshows/{show['id']}/episodes", season=1)
    assert first_season["pagination"]["total"] == 2
    season = await _get(client, user, f"/tvshows/seasons/{seasons['data'][0]['id']}")
    assert season["number"] == 1
    in_season = await _get(client, user, f"/tvshows/seasons/{season['id']}/episodes")
    assert [e["title"] for e in in_season["data"]] == ["Pilot", None]
    pilot = await _get(client, user, f"/tvshows/episodes/{in_season['data'][0]['id']}")
    assert (pilot["file_count"], len(pilot["files"])) == (1, 1)
    pilot_files = await _get(client, user, f"/tvshows/episodes/{pilot['id']}/files")
    assert pilot_files["data"][0]["episode_number"] == 1
    missing = uuid.uuid4()
    for path in (
        f"/tvshows/{missing}",
        f"/tvshows/{missing}/seasons",
        f"/tvshows/{missing}/episodes",
        f"/tvshows/seasons/{missing}",
        f"/tvshows/seasons/{missing}/episodes",
        f"/tvshows/episodes/{missing}",
        f"/tvshows/episodes/{missing}/files",
    ):
        assert (await client.get(API + path, headers=user.headers)).status_code == 404, path

    # Without video.read: 403.
    await create_role(client, admin, "listener", ["library.read", "music.read"])
    lurker = await create_and_login(state, client, "lurker", role="guest")
    await assign_role(client, admin, lurker.user_id, "listener")
    reader_role = await client.get(f"{API}/movies", headers=lurker.headers)
    assert reader_role.status_code == 200  # a guest may browse video
    nobody = await create_and_login(state, client, "nobody", role="guest")
    async with state.db.session() as session:
        from cinesonic.models.user import Role, UserRole

        guest = await session.scalar(select(Role.id).where(Role.name == "guest"))
        await session.execute(
            UserRole.__table__.delete().where(
                UserRole.user_id == uuid.UUID(nobody.user_id), UserRole.role_id == guest
            )
        )
    assert (await client.get(f"{API}/movies", headers=nobody.headers)).status_code in (401, 403)


async def test_media_file_associations_and_their_refusals(
    state: AppState, client: httpx.AsyncClient, seeds: VideoSeeds
) -> None:
    world = await _world(state, client, seeds)
    admin, user = world["admin"], world["user"]
    listed = await _get(client, user, "/media-files", library_id=str(world["movies"].id))
    assert listed["pagination"]["total"] == 4
    loose = next(item for item in listed["data"] if item["file"]["path"].endswith("Loose.mkv"))
    assert loose["file"]["needs_review"] and loose["source"] == "scan"
    one = await _get(client, user, f"/media-files/{loose['id']}")
    assert one["file"]["audio_streams"][0]["language"] == "eng"
    by_show = await _get(
        client,
        user,
        "/media-files",
        show_id=(await _get(client, user, "/tvshows"))["data"][0]["id"],
    )
    assert by_show["pagination"]["total"] == 3
    movies = {m["title"]: m for m in (await _get(client, admin, "/movies"))["data"]}
    body = {"video_file_id": loose["video_file_id"], "movie_id": movies["Alien"]["id"]}

    url = f"{API}/media-files"
    assert (await client.post(url, json=body)).status_code == 401
    assert (await client.post(url, json=body, headers=user.headers)).status_code == 403
    created = await client.post(url, json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    link = created.json()
    assert created.headers["Location"] == f"/api/v1/media-files/{link['id']}"
    assert (link["source"], link["movie_id"]) == ("manual", movies["Alien"]["id"])
    duplicate = await client.post(url, json=body, headers=admin.headers)
    assert (duplicate.status_code, duplicate.json()["error"]["code"]) == (409, "media_file_exists")
    unknown_file = {**body, "video_file_id": str(uuid.uuid4())}
    assert (await client.post(url, json=unknown_file, headers=admin.headers)).status_code == 404
    unknown_movie = {**body, "movie_id": str(uuid.uuid4())}
    assert (await client.post(url, json=unknown_movie, headers=admin.headers)).status_code == 404
    both = {**body, "show_id": str(uuid.uuid4()), "season_number": 1, "episode_number": 1}
    assert (await client.post(url, json=both, headers=admin.headers)).status_code == 422
    no_numbers = {"video_file_id": body["video_file_id"], "show_id": str(uuid.uuid4())}
    assert (await client.post(url, json=no_numbers, headers=admin.headers)).status_code == 422
    show = (await _get(client, admin, "/tvshows"))["data"][0]
    other = {**no_numbers, "show_id": show["id"], "season_number": 3, "episode_number": 1}
    refused = await client.post(url, json=other, headers=admin.headers)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "other_library")

    # By numbers: an episode the show lacks is created.
    tv_file = (await _get(client, admin, "/media-files", library_id=str(world["tv"].id)))["data"][0]
    numbered = {**other, "video_file_id": tv_file["video_file_id"]}
    made = await client.post(url, json=numbered, headers=admin.headers)
    assert made.status_code == 201, made.text
    assert (made.json()["season_number"], made.json()["episode_number"]) == (3, 1)
    episodes = await _get(client, admin, f"/tvshows/{show['id']}/episodes", season=3)
    assert episodes["pagination"]["total"] == 1

    # Unlinking keeps the file.
    assert (await client.delete(f"{url}/{link['id']}", headers=user.headers)).status_code == 403
    deleted = await client.delete(f"{url}/{link['id']}", headers=admin.headers)
    assert deleted.json() == {"status": "deleted"}
    assert (await client.delete(f"{url}/{link['id']}", headers=admin.headers)).status_code == 404
    assert (await client.get(f"{url}/{link['id']}", headers=admin.headers)).status_code == 404
    async with state.db.sessionmaker() as session:
        assert await session.get(VideoFile, uuid.UUID(loose["video_file_id"])) is not None

    hidden = await _get(client, admin, "/media-files", library_id=str(world["hidden"].id))
    hidden_id = hidden["data"][0]["id"]
    assert (await client.get(f"{url}/{hidden_id}", headers=user.headers)).status_code == 404


async def test_streaming_ranges_validators_and_visibility(
    state: AppState, client: httpx.AsyncClient, seeds: VideoSeeds
) -> None:
    world = await _world(state, client, seeds)
    admin, user = world["admin"], world["user"]
    files = await _get(client, user, "/media-files", library_id=str(world["movies"].id))
    mkv = next(f for f in files["data"] if f["file"]["path"].endswith("1080p.mkv"))
    mp4 = next(f for f in files["data"] if f["file"]["container"] == "mp4")
    stream = f"{API}/media-files/{mkv['id']}/stream"
    assert mkv["stream_url"] == f"/api/v1/media-files/{mkv['id']}/stream"
    size = mkv["file"]["size_bytes"]
    content = await asyncio.to_thread(Path(mkv["file"]["path"]).read_bytes)

    whole = await client.get(stream, headers=user.headers)
    assert whole.status_code == 200 and whole.content == content
    assert whole.headers["content-type"] == "video/x-matroska"
    assert whole.headers["accept-ranges"] == "bytes"
    etag = whole.headers["etag"]
    mp4_answer = await client.get(f"{API}/media-files/{mp4['id']}/stream", headers=user.headers)
    assert mp4_answer.headers["content-type"] == "video/mp4"

    part = await client.get(stream, headers={**user.headers, "Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == content[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{size}"
    head = await client.head(stream, headers=user.headers)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(size) and head.headers["etag"] == etag
    cached = await client.get(stream, headers={**user.headers, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    past = await client.get(stream, headers={**user.headers, "Range": f"bytes={size + 5}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
    malformed = await client.get(stream, headers={**user.headers, "Range": "bytes=x-y"})
    assert malformed.status_code == 416
    by_key = await client.post(f"{API}/apikeys", json={"name": "player"}, headers=user.headers)
    key = by_key.json()["key"]
    assert (await client.get(stream, params={"api_key": key})).status_code == 200
    assert (await client.get(stream)).status_code == 401

    hidden = await _get(client, admin, "/media-files", library_id=str(world["hidden"].id))
    secret = f"{API}/media-files/{hidden['data'][0]['id']}/stream"
    assert (await client.get(secret, headers=user.headers)).status_code == 404
    assert (await client.get(secret, headers=admin.headers)).status_code == 200

    await create_role(client, admin, "browser", ["library.read", "video.read"])
    browser = await create_and_login(state, client, "browser", role="guest")
    async with state.db.session() as session:
        from cinesonic.models.user import Role, UserRole

        guest = await session.scalar(select(Role.id).where(Role.name == "guest"))
        await session.execute(
            UserRole.__table__.delete().where(
                UserRole.user_id == uuid.UUID(browser.user_id), UserRole.role_id == guest
            )
        )
    await assign_role(client, admin, browser.user_id, "browser")
    forbidden = await client.get(stream, headers=browser.headers)
    assert forbidden.status_code in (401, 403)

    await asyncio.to_thread(Path(mkv["file"]["path"]).unlink)
    gone = await client.get(stream, headers=user.headers)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "video_file_missing")


async def test_movie_and_tv_libraries_scan_through_the_api(
    state: AppState, client: httpx.AsyncClient
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    for kind in (LibraryKind.movies, LibraryKind.tvshows):
        library, _ = await video_library(state, f"L-{kind.value}", kind)
        answer = await client.post(f"{API}/libraries/{library.id}/scan", headers=admin.headers)
        assert answer.status_code == 202, answer.text
    assert TvShow.__tablename__ == "tv_show"
