"""Browse pages and search answers are reused while nothing they read changes
(`music.service.cached_page`): a committed write or a new grant is seen by the very next
request, and readers of different libraries never share a page."""

from __future__ import annotations

import httpx

from cinesonic.state import AppState
from tests.fixtures.music import create_library, create_song
from tests.music.browse_catalogue import (
    build_catalogue,
    create_viewers,
    get_ok,
    names,
    remove_song,
)

API = "/api/v1"


async def test_a_new_song_shows_in_cached_album_pages_and_search(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    first = await get_ok(client, viewers.user, "/albums")
    assert await get_ok(client, viewers.user, "/albums") == first  # served again
    assert (await get_ok(client, viewers.user, "/search", q="zephyr"))["data"] == []

    await create_song(state, catalogue.music, "Zephyr Song", album="Zephyr Album")
    again = await get_ok(client, viewers.user, "/albums")
    assert "Zephyr Album" in names(again["data"])
    assert again["pagination"]["total"] == first["pagination"]["total"] + 1
    found = await get_ok(client, viewers.user, "/search", q="zephyr")
    assert {hit["name"] for hit in found["data"]} >= {"Zephyr Song", "Zephyr Album"}


async def test_a_removed_song_leaves_cached_search_answers(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    song = await create_song(state, catalogue.music, "Quasar Tune", album="Quasar")
    hits = (await get_ok(client, viewers.user, "/search", q="quasar tune"))["data"]
    assert [hit["name"] for hit in hits if hit["type"] == "song"] == ["Quasar Tune"]
    await remove_song(state, song.id)
    hits = (await get_ok(client, viewers.user, "/search", q="quasar tune"))["data"]
    assert [hit for hit in hits if hit["type"] == "song"] == []


async def test_a_grant_changes_what_a_cached_scope_shows(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    before = names((await get_ok(client, viewers.user, "/albums"))["data"])
    assert "Secret Sessions" not in before
    response = await client.put(
        f"{API}/libraries/{catalogue.private.id}/permissions/{viewers.user.user_id}",
        headers=viewers.admin.headers,
    )
    assert response.status_code in (200, 201), response.text
    after = names((await get_ok(client, viewers.user, "/albums"))["data"])
    assert "Secret Sessions" in after
    response = await client.delete(
        f"{API}/libraries/{catalogue.private.id}/permissions/{viewers.user.user_id}",
        headers=viewers.admin.headers,
    )
    assert response.status_code in (200, 204), response.text
    assert "Secret Sessions" not in names((await get_ok(client, viewers.user, "/albums"))["data"])


async def test_readers_of_other_libraries_never_share_a_page(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    insider = names((await get_ok(client, viewers.insider, "/albums"))["data"])
    user = names((await get_ok(client, viewers.user, "/albums"))["data"])
    assert "Secret Sessions" in insider and "Secret Sessions" not in user
    found = await get_ok(client, viewers.user, "/search", q="secret")
    assert "Secret Sessions" not in {hit["name"] for hit in found["data"]}


async def test_with_the_cache_off_every_request_reads_the_database(
    state: AppState, client: httpx.AsyncClient
) -> None:
    state.db.results = type(state.db.results)(ttl=0)
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    assert (await get_ok(client, viewers.user, "/albums"))["data"]
    assert len(state.db.results) == 0
    library = await create_library(state, "Extra")
    await create_song(state, library, "Nebula", album="Nebula Album")
    assert "Nebula Album" in names((await get_ok(client, viewers.user, "/albums"))["data"])
