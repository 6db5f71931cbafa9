"""Browsing albums: `/albums`, `/albums/{id}`, `/albums/{id}/tracks`."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import update

from cinesonic.models.image import Image, ImageKind
from cinesonic.models.music import Album
from cinesonic.state import AppState
from tests.music.browse_catalogue import (
    album_id,
    artist_id,
    build_catalogue,
    create_viewers,
    get,
    get_ok,
    names,
    remove_song,
)


async def test_albums_list_carries_artist_cover_and_totals(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    body = await get_ok(client, viewers.user, "/albums")
    assert names(body["data"]) == [
        "Abbey Road",
        "Ágætis byrjun",
        "Jazz",
        "Lemonade",
        "Now Electronic",
    ]
    assert body["pagination"] == {
        "page": 1,
        "page_size": 50,
        "offset": 0,
        "total": 5,
        "total_pages": 1,
    }
    abbey = body["data"][0]
    assert abbey["artist"] == {
        "id": str(await artist_id(state, "The Beatles")),
        "name": "The Beatles",
    }
    assert abbey["song_count"] == 3
    assert abbey["duration"] == 259.0 + 182.0 + 140.0
    assert abbey["year"] == 1969
    assert abbey["cover_image_id"] is None and abbey["cover_url"] is None
    compilation = body["data"][4]
    assert compilation["is_compilation"] is True
    assert compilation["artist"]["name"] == "Various Artists"


async def test_album_and_song_carry_the_cover_url(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    lemonade = await album_id(state, "Lemonade")
    async with state.db.session() as session:
        cover = Image(
            sha256="0" * 64,
            kind=ImageKind.cover,
            content_type="image/jpeg",
            width=600,
            height=600,
            size_bytes=1000,
        )
        session.add(cover)
        await session.flush()
        await session.execute(
            update(Album).where(Album.id == lemonade).values(cover_image_id=cover.id)
        )
    album = await get_ok(client, viewers.user, f"/albums/{lemonade}")
    assert album["cover_image_id"] == str(cover.id)
    assert album["cover_url"] == f"/api/v1/images/{cover.id}"
    song = await get_ok(client, viewers.user, f"/songs/{catalogue.song('Formation').id}")
    assert song["album"]["cover_url"] == f"/api/v1/images/{cover.id}"
    assert song["albums"] == [song["album"]]


async def test_albums_hide_the_private_library_from_a_plain_user(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    user_titles = names((await get_ok(client, viewers.user, "/albums"))["data"])
    assert "Secret Sessions" not in user_titles and "Files" not in user_titles
    insider_titles = names((await get_ok(client, viewers.insider, "/albums"))["data"])
    assert {"Secret Sessions", "Files"} <= set(insider_titles)
    admin_titles = names((await get_ok(client, viewers.admin, "/albums"))["data"])
    assert len(admin_titles) == 7
    secret = await album_id(state, "Secret Sessions")
    assert (await get(client, viewers.user, f"/albums/{secret}")).status_code == 404
    assert (await get(client, viewers.user, f"/albums/{secret}/tracks")).status_code == 404
    assert (await get(client, viewers.insider, f"/albums/{secret}")).status_code == 200


async def test_albums_filter_by_library_artist_genre_year_and_format(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    user = viewers.user
    beyonce = await artist_id(state, "Beyoncé")
    # Album artist or artist on some songs [002]: Lemonade, and the compilation.
    body = await get_ok(client, user, "/albums", artist_id=str(beyonce))
    assert names(body["data"]) == ["Lemonade", "Now Electronic"]
    queen = await artist_id(state, "Queen")
    body = await get_ok(client, user, "/albums", artist_ids=f"{beyonce},{queen}")
    assert names(body["data"]) == ["Jazz", "Lemonade", "Now Electronic"]
    body = await client.get(
        "/api/v1/albums",
        params=[("artist_ids", str(queen)), ("artist_ids", str(beyonce))],
        headers=user.headers,
    )
    assert names(body.json()["data"]) == ["Jazz", "Lemonade", "Now Electronic"]
    assert names((await get_ok(client, user, "/albums", genre="rock"))["data"]) == [
        "Abbey Road",
        "Jazz",
    ]
    assert names((await get_ok(client, user, "/albums", genre="post rock"))["data"]) == []
    assert names((await get_ok(client, user, "/albums", genre="POST-ROCK"))["data"]) == [
        "Ágætis byrjun"
    ]
    years = await get_ok(client, user, "/albums", year_from=1970, year_to=2003)
    assert names(years["data"]) == ["Ágætis byrjun", "Jazz", "Now Electronic"]
    assert names((await get_ok(client, user, "/albums", format="flac,ogg"))["data"]) == [
        "Abbey Road",
        "Ágætis byrjun",
        "Lemonade",
    ]
    body = await get_ok(client, viewers.admin, "/albums", library_id=str(catalogue.private.id))
    assert names(body["data"]) == ["Files", "Secret Sessions"]


async def test_albums_sort_by_year_added_play_count_and_artist(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    user = viewers.user
    by_year = await get_ok(client, user, "/albums", sort="-year")
    assert names(by_year["data"]) == [
        "Lemonade",
        "Now Electronic",
        "Ágætis byrjun",
        "Jazz",
        "Abbey Road",
    ]
    by_added = await get_ok(client, user, "/albums", sort="added", order="desc")
    assert names(by_added["data"])[0] == "Jazz"  # created last
    async with state.db.session() as session:
        await session.execute(update(Album).where(Album.title == "Jazz").values(play_count=7))
        await session.execute(update(Album).where(Album.title == "Lemonade").values(play_count=3))
    played = await get_ok(client, user, "/albums", sort="-play_count")
    assert names(played["data"])[:2] == ["Jazz", "Lemonade"]
    by_artist = await get_ok(client, user, "/albums", sort="artist")
    # Beatles ("beatles"), Beyoncé, Queen, Sigur Rós, Various Artists
    assert names(by_artist["data"]) == [
        "Abbey Road",
        "Lemonade",
        "Jazz",
        "Ágætis byrjun",
        "Now Electronic",
    ]


async def test_albums_page_with_offset_and_page(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    first = await get_ok(client, viewers.user, "/albums", limit=2, offset=0)
    second = await get_ok(client, viewers.user, "/albums", page=2, page_size=2)
    third = await get_ok(client, viewers.user, "/albums", limit=2, offset=4)
    assert names(first["data"]) == ["Abbey Road", "Ágætis byrjun"]
    assert names(second["data"]) == ["Jazz", "Lemonade"]
    assert names(third["data"]) == ["Now Electronic"]
    assert second["pagination"] == {
        "page": 2,
        "page_size": 2,
        "offset": 2,
        "total": 5,
        "total_pages": 3,
    }
    past = await get_ok(client, viewers.user, "/albums", page=9, page_size=2)
    assert past["data"] == [] and past["pagination"]["total"] == 5


async def test_album_without_present_songs_leaves_the_list(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    await remove_song(state, catalogue.song("Svefn-g-englar").id)
    titles = names((await get_ok(client, viewers.user, "/albums"))["data"])
    assert "Ágætis byrjun" not in titles
    # Still answered by id (a removed song's album link must not break).
    album = await album_id(state, "Ágætis byrjun")
    detail = await get_ok(client, viewers.user, f"/albums/{album}")
    assert detail["song_count"] == 0
    tracks = await get_ok(client, viewers.user, f"/albums/{album}/tracks")
    assert tracks["data"] == []


async def test_album_detail_has_genres_and_track_artists(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    now = await album_id(state, "Now Electronic")
    detail = await get_ok(client, viewers.user, f"/albums/{now}")
    assert detail["title"] == "Now Electronic"
    assert names(detail["genres"], "name") == ["Electronic", "Pop"]
    assert names(detail["artists"], "name") == ["Various Artists", "Röyksopp", "Beyoncé", "Jay-Z"]
    assert detail["size_bytes"] == 2000


async def test_album_tracks_come_in_disc_and_track_order(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    abbey = await album_id(state, "Abbey Road")
    tracks = await get_ok(client, viewers.user, f"/albums/{abbey}/tracks")
    assert names(tracks["data"]) == ["Come Together", "Something", "The End"]
    first = tracks["data"][0]
    assert first["album"]["title"] == "Abbey Road"
    assert first["artist"]["name"] == "The Beatles"
    by_title = await get_ok(client, viewers.user, f"/albums/{abbey}/tracks", sort="-title")
    # Titles sort without their article: "The End" sorts as "end".
    assert names(by_title["data"]) == ["Something", "The End", "Come Together"]


async def test_album_refusals(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    lemonade = await album_id(state, "Lemonade")
    assert (await client.get("/api/v1/albums")).status_code == 401
    assert (await client.get(f"/api/v1/albums/{lemonade}")).status_code == 401
    assert (await get(client, viewers.outsider, "/albums")).status_code == 403
    assert (await get(client, viewers.outsider, f"/albums/{lemonade}")).status_code == 403
    assert (await get(client, viewers.outsider, f"/albums/{lemonade}/tracks")).status_code == 403
    missing = uuid.uuid4()
    response = await get(client, viewers.user, f"/albums/{missing}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert (await get(client, viewers.user, f"/albums/{missing}/tracks")).status_code == 404
    assert (await get(client, viewers.user, "/albums/not-an-id")).status_code == 422
    for params in (
        {"sort": "colour"},
        {"year_from": 2000, "year_to": 1990},
        {"year_from": -1},
        {"artist_ids": "nope"},
        {"format": "fl ac"},
        {"page_size": 500},
    ):
        response = await get(client, viewers.user, "/albums", **params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "validation_error"
    # A library the user may not read is as unknown as one that does not exist.
    private = await get(client, viewers.user, "/albums", library_id=str(catalogue.private.id))
    unknown = await get(client, viewers.user, "/albums", library_id=str(uuid.uuid4()))
    assert private.status_code == unknown.status_code == 404
    assert private.json()["error"] == unknown.json()["error"]
    assert (
        await get(client, viewers.admin, "/albums", library_id=str(uuid.uuid4()))
    ).status_code == 404


async def test_the_fast_route_answers_as_the_documented_one(
    state: AppState, client: httpx.AsyncClient
) -> None:
    """`/albums` is served by a `kit.fastquery` route when its query is fully understood; an
    extra parameter sends the same request through FastAPI's route. Both answer alike."""
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    beatles = await artist_id(state, "The Beatles")
    for params in (
        {},
        {"page_size": 2, "page": 2, "sort": "-year"},
        {"sort": "year", "order": "desc", "limit": 3, "offset": 1},
        {"artist_ids": [str(beatles)], "year_from": 1960, "year_to": 1970},
        {"genre": "rock", "format": "mp3,flac"},
        {"year_from": 2000, "year_to": 1990},
        {"sort": "nonsense"},
        {"library_id": str(uuid.uuid4())},
    ):
        fast = await get(client, viewers.user, "/albums", **params)
        documented = await get(client, viewers.user, "/albums", **params, unused="1")
        answers = [(r.status_code, {**r.json(), "request_id": None}) for r in (fast, documented)]
        assert answers[0] == answers[1], params
    assert (await client.get("/api/v1/albums")).status_code == 401
