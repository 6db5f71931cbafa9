"""Browsing songs: `/songs`, `/songs/latest`, `/songs/{id}`, `/songs/{id}/full`, and the front
door other domains use (`get_visible_song`, `song_summaries`)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import update

from cinesonic.models.music import Song, SongLyrics
from cinesonic.music import service as music_service
from cinesonic.state import AppState
from tests.music.browse_catalogue import (
    album_id,
    artist_id,
    build_catalogue,
    create_viewers,
    get,
    get_ok,
    names,
    principal_of,
    remove_song,
)

OPEN_TITLES = [
    "Come Together",
    "Crazy in Love",
    "Don't Stop Me Now",
    "The End",
    "Eple",
    "Formation",
    "Hold Up",
    "Something",
    "Svefn-g-englar",
]


async def test_songs_list_carries_artists_album_and_genres(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    body = await get_ok(client, viewers.user, "/songs")
    # Sorted by title without articles: "The End" sorts as "end".
    assert names(body["data"]) == OPEN_TITLES
    assert body["pagination"]["total"] == 9
    crazy = body["data"][1]
    assert [artist["name"] for artist in crazy["artists"]] == ["Beyoncé", "Jay-Z"]
    assert crazy["artist"] == {"id": str(await artist_id(state, "Beyoncé")), "name": "Beyoncé"}
    assert crazy["artist_display"] == "Beyoncé, Jay-Z"
    assert crazy["album"]["title"] == "Now Electronic"
    assert crazy["album"]["artist"]["name"] == "Various Artists"
    assert crazy["albums"] == [crazy["album"]]
    assert [genre["name"] for genre in crazy["genres"]] == ["Pop"]
    assert crazy["duration"] == 236.0
    assert crazy["format"] == "mp3" and crazy["content_type"] == "audio/mpeg"
    assert crazy["bit_rate"] == 128_000
    assert crazy["track_number"] == 2 and crazy["disc_number"] == 1
    assert crazy["is_available"] is True
    assert "path" not in crazy


async def test_songs_hide_removed_files_and_private_libraries(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    await remove_song(state, catalogue.song("Eple").id)
    user_titles = names((await get_ok(client, viewers.user, "/songs"))["data"])
    assert "Eple" not in user_titles and "Hidden Track" not in user_titles
    admin_titles = names((await get_ok(client, viewers.admin, "/songs"))["data"])
    assert "Hidden Track" in admin_titles and "Eple" not in admin_titles
    latest = names((await get_ok(client, viewers.user, "/songs/latest"))["data"])
    assert "Eple" not in latest


async def test_removed_song_is_answered_as_unavailable(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    eple = catalogue.song("Eple").id
    await remove_song(state, eple)
    song = await get_ok(client, viewers.user, f"/songs/{eple}")
    assert song["is_available"] is False and song["title"] == "Eple"
    full = await get_ok(client, viewers.user, f"/songs/{eple}/full")
    assert full["is_available"] is False


async def test_songs_filter(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    user = viewers.user
    beyonce = await artist_id(state, "Beyoncé")
    by_artist = await get_ok(client, user, "/songs", artist_id=str(beyonce))
    assert names(by_artist["data"]) == ["Crazy in Love", "Formation", "Hold Up"]
    jay = await artist_id(state, "Jay-Z")
    queen = await artist_id(state, "Queen")
    both = await get_ok(client, user, "/songs", artist_ids=f"{jay},{queen}")
    assert names(both["data"]) == ["Crazy in Love", "Don't Stop Me Now"]
    abbey = await album_id(state, "Abbey Road")
    on_album = await get_ok(client, user, "/songs", album_id=str(abbey))
    assert names(on_album["data"]) == ["Come Together", "The End", "Something"]
    pop = await get_ok(client, user, "/songs", genre="pop")
    assert names(pop["data"]) == ["Crazy in Love", "Hold Up"]
    flac = await get_ok(client, user, "/songs", format="FLAC")
    assert names(flac["data"]) == ["The End", "Formation"]
    seventies = await get_ok(client, user, "/songs", year_from=1970, year_to=1979)
    assert names(seventies["data"]) == ["Don't Stop Me Now"]
    only_music = await get_ok(client, viewers.admin, "/songs", library_id=str(catalogue.music.id))
    assert only_music["pagination"]["total"] == 9


async def test_songs_sort(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    user = viewers.user
    async with state.db.session() as session:
        await session.execute(update(Song).where(Song.title == "Something").values(play_count=5))
        await session.execute(update(Song).where(Song.title == "Eple").values(play_count=2))
    played = await get_ok(client, user, "/songs", sort="-play_count", limit=2)
    assert names(played["data"]) == ["Something", "Eple"]
    longest = await get_ok(client, user, "/songs", sort="duration", order="desc", limit=1)
    assert names(longest["data"]) == ["Svefn-g-englar"]
    oldest = await get_ok(client, user, "/songs", sort="year,title", limit=3)
    assert names(oldest["data"]) == ["Come Together", "The End", "Something"]
    newest_first = await get_ok(client, user, "/songs", sort="-added", limit=1)
    assert names(newest_first["data"]) == ["Don't Stop Me Now"]


async def test_latest_songs_are_newest_first(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    latest = await get_ok(client, viewers.user, "/songs/latest", limit=3)
    assert names(latest["data"]) == ["Don't Stop Me Now", "Crazy in Love", "Eple"]
    assert latest["pagination"]["total"] == 9
    by_genre = await get_ok(client, viewers.user, "/songs/latest", genre="rock", limit=2)
    assert names(by_genre["data"]) == ["Don't Stop Me Now", "The End"]
    refused = await get(client, viewers.user, "/songs/latest", sort="title")
    assert refused.status_code == 422


async def test_song_full_has_lyrics_and_album(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    formation = catalogue.song("Formation").id
    async with state.db.session() as session:
        session.add(SongLyrics(song_id=formation, source="embedded", text="Plain words"))
        session.add(
            SongLyrics(
                song_id=formation,
                source="sidecar",
                is_synced=True,
                language="eng",
                text="[00:01.00]First\n[00:02.50]Second",
                lines=[{"start_ms": 1000, "text": "First"}, {"start_ms": 2500, "text": "Second"}],
            )
        )
    full = await get_ok(client, viewers.user, f"/songs/{formation}/full")
    assert full["title"] == "Formation"
    assert full["album_detail"]["title"] == "Lemonade"
    assert full["album_detail"]["artist"]["name"] == "Beyoncé"
    assert [entry["source"] for entry in full["lyrics"]] == ["sidecar", "embedded"]
    assert full["lyrics"][0]["lines"] == [
        {"start_ms": 1000, "text": "First"},
        {"start_ms": 2500, "text": "Second"},
    ]
    assert full["lyrics"][1]["lines"] is None
    plain = await get_ok(client, viewers.user, f"/songs/{catalogue.song('Eple').id}/full")
    assert plain["lyrics"] == []


async def test_song_refusals(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    formation = catalogue.song("Formation").id
    hidden = catalogue.song("Hidden Track").id
    for path in ("/songs", "/songs/latest", f"/songs/{formation}", f"/songs/{formation}/full"):
        assert (await client.get(f"/api/v1{path}")).status_code == 401, path
        assert (await get(client, viewers.outsider, path)).status_code == 403, path
        assert (await get(client, viewers.guest, path)).status_code == 200, path
    for path in (f"/songs/{hidden}", f"/songs/{hidden}/full", f"/songs/{uuid.uuid4()}"):
        response = await get(client, viewers.user, path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert (await get(client, viewers.insider, f"/songs/{hidden}")).status_code == 200
    assert (await get(client, viewers.user, "/songs/nope")).status_code == 422
    for params in ({"sort": "path"}, {"album_id": "x"}, {"year_to": 10000}, {"limit": 0}):
        assert (await get(client, viewers.user, "/songs", **params)).status_code == 422, params


async def test_get_visible_song_refuses_removed_and_unreadable(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    user = await principal_of(state, viewers.user)
    formation, eple = catalogue.song("Formation").id, catalogue.song("Eple").id
    await remove_song(state, eple)
    async with state.db.session() as session:
        song = await music_service.get_visible_song(session, user, formation)
        assert song.title == "Formation"
        for song_id in (eple, catalogue.song("Hidden Track").id, uuid.uuid4()):
            with pytest.raises(music_service.SongNotFound):
                await music_service.get_visible_song(session, user, song_id)


async def test_song_summaries_include_removed_songs(state: AppState) -> None:
    catalogue = await build_catalogue(state)
    eple, hidden = catalogue.song("Eple").id, catalogue.song("Hidden Track").id
    await remove_song(state, eple)
    async with state.db.session() as session:
        summaries = await music_service.song_summaries(session, [eple, hidden, eple, uuid.uuid4()])
    assert set(summaries) == {eple, hidden}
    assert summaries[eple].is_available is False
    assert summaries[eple].album is not None and summaries[eple].album.title == "Now Electronic"
    assert summaries[hidden].is_available is True
