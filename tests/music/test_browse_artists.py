"""Browsing artists: `/artists`, `/artists/{id}`, `/artists/{id}/albums`, `/artists/{id}/full`."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import update

from cinesonic.models.music import Song
from cinesonic.state import AppState
from tests.music.browse_catalogue import (
    artist_id,
    build_catalogue,
    create_viewers,
    get,
    get_ok,
    names,
    remove_song,
)

OPEN_ARTISTS = [
    "The Beatles",
    "Beyoncé",
    "Jay-Z",
    "Queen",
    "Röyksopp",
    "Sigur Rós",
    "Various Artists",
]


async def test_artists_list_with_counts_and_albums(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    body = await get_ok(client, viewers.user, "/artists")
    assert names(body["data"], "name") == OPEN_ARTISTS
    assert body["pagination"]["total"] == 7
    by_name = {artist["name"]: artist for artist in body["data"]}
    beatles = by_name["The Beatles"]
    assert beatles["album_count"] == 1 and beatles["song_count"] == 3
    assert names(beatles["albums"]) == ["Abbey Road"]
    assert beatles["image_url"] is None
    # Album artist of Lemonade, and on a song of the compilation [002].
    assert names(by_name["Beyoncé"]["albums"]) == ["Now Electronic", "Lemonade"]
    assert by_name["Jay-Z"]["album_count"] == 0 and by_name["Jay-Z"]["song_count"] == 1
    assert names(by_name["Jay-Z"]["albums"]) == ["Now Electronic"]


async def test_shared_artist_counts_only_readable_libraries(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    beyonce = await artist_id(state, "Beyoncé")
    for_user = await get_ok(client, viewers.user, f"/artists/{beyonce}")
    assert for_user["album_count"] == 1 and for_user["song_count"] == 3
    assert names(for_user["albums"]) == ["Now Electronic", "Lemonade"]
    for_insider = await get_ok(client, viewers.insider, f"/artists/{beyonce}")
    assert for_insider["album_count"] == 2 and for_insider["song_count"] == 4
    assert names(for_insider["albums"]) == ["Now Electronic", "Lemonade", "Secret Sessions"]
    # An artist only in the private library does not exist for the user.
    agent = await artist_id(state, "Agent Nine")
    assert "Agent Nine" not in names(
        (await get_ok(client, viewers.user, "/artists"))["data"], "name"
    )
    for path in (f"/artists/{agent}", f"/artists/{agent}/albums", f"/artists/{agent}/full"):
        response = await get(client, viewers.user, path)
        assert response.status_code == 404, path
    assert (await get(client, viewers.insider, f"/artists/{agent}")).status_code == 200
    listed = await get_ok(client, viewers.admin, "/artists", library_id=str(catalogue.private.id))
    assert names(listed["data"], "name") == ["Agent Nine", "Beyoncé"]
    assert listed["data"][1]["song_count"] == 1


async def test_artists_filter_by_genre_and_sort_by_counts(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    pop = await get_ok(client, viewers.user, "/artists", genre="Pop")
    assert names(pop["data"], "name") == ["Beyoncé", "Jay-Z"]
    most_songs = await get_ok(client, viewers.user, "/artists", sort="-song_count,name", limit=2)
    assert names(most_songs["data"], "name") == ["The Beatles", "Beyoncé"]
    newest = await get_ok(client, viewers.user, "/artists", sort="-added", limit=1)
    assert names(newest["data"], "name") == ["Queen"]
    assert (await get(client, viewers.user, "/artists", sort="play_count")).status_code == 422


async def test_artist_with_every_song_removed_leaves_the_list(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    await remove_song(state, catalogue.song("Don't Stop Me Now").id)
    artists = names((await get_ok(client, viewers.user, "/artists"))["data"], "name")
    assert "Queen" not in artists


async def test_artist_albums_oldest_first(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    beyonce = await artist_id(state, "Beyoncé")
    albums = await get_ok(client, viewers.user, f"/artists/{beyonce}/albums")
    assert names(albums["data"]) == ["Now Electronic", "Lemonade"]
    assert albums["data"][1]["artist"]["name"] == "Beyoncé"
    newest = await get_ok(client, viewers.user, f"/artists/{beyonce}/albums", sort="-year")
    assert names(newest["data"]) == ["Lemonade", "Now Electronic"]
    flac = await get_ok(client, viewers.user, f"/artists/{beyonce}/albums", format="flac")
    assert names(flac["data"]) == ["Lemonade"]
    insider = await get_ok(client, viewers.insider, f"/artists/{beyonce}/albums")
    assert names(insider["data"]) == ["Now Electronic", "Lemonade", "Secret Sessions"]


async def test_artist_full_page(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    async with state.db.session() as session:
        await session.execute(update(Song).where(Song.title == "Hold Up").values(play_count=9))
    beyonce = await artist_id(state, "Beyoncé")
    full = await get_ok(client, viewers.user, f"/artists/{beyonce}/full")
    assert full["name"] == "Beyoncé" and full["song_count"] == 3
    assert names(full["albums"]) == ["Lemonade"]
    assert names(full["appears_on"]) == ["Now Electronic"]
    assert names(full["top_songs"])[0] == "Hold Up"
    assert set(names(full["top_songs"])) == {"Hold Up", "Formation", "Crazy in Love"}
    assert full["genres"] == [
        {"id": full["genres"][0]["id"], "name": "Pop", "song_count": 2},
        {"id": full["genres"][1]["id"], "name": "R&B", "song_count": 2},
    ]
    assert full["duration"] == 200.0 + 220.0 + 236.0
    await remove_song(state, catalogue.song("Hold Up").id)
    after = await get_ok(client, viewers.user, f"/artists/{beyonce}/full")
    assert "Hold Up" not in names(after["top_songs"])


async def test_artist_refusals(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    beatles = await artist_id(state, "The Beatles")
    paths = [
        "/artists",
        f"/artists/{beatles}",
        f"/artists/{beatles}/albums",
        f"/artists/{beatles}/full",
    ]
    for path in paths:
        assert (await client.get(f"/api/v1{path}")).status_code == 401, path
        assert (await get(client, viewers.outsider, path)).status_code == 403, path
        assert (await get(client, viewers.guest, path)).status_code == 200, path
    missing = uuid.uuid4()
    for path in (f"/artists/{missing}", f"/artists/{missing}/albums", f"/artists/{missing}/full"):
        assert (await get(client, viewers.user, path)).status_code == 404, path
    assert (await get(client, viewers.user, "/artists/123")).status_code == 422
    assert (await get(client, viewers.user, "/artists", genre="")).status_code == 422
    response = await get(
        client, viewers.user, f"/artists/{beatles}/albums", year_from=2000, year_to=1
    )
    assert response.status_code == 422
