"""Browsing genres: `/genres` with song and album counts in readable libraries."""

from __future__ import annotations

import uuid

import httpx

from cinesonic.state import AppState
from tests.music.browse_catalogue import (
    build_catalogue,
    create_viewers,
    get,
    get_ok,
    names,
    remove_song,
)


def counts(body: dict[str, list[dict[str, object]]]) -> dict[object, tuple[object, object]]:
    return {g["name"]: (g["song_count"], g["album_count"]) for g in body["data"]}


async def test_genres_with_counts(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    body = await get_ok(client, viewers.user, "/genres")
    assert names(body["data"], "name") == ["Electronic", "Pop", "Post-Rock", "R&B", "Rock"]
    assert counts(body) == {
        "Electronic": (1, 1),
        "Pop": (2, 2),
        "Post-Rock": (1, 1),
        "R&B": (2, 1),
        "Rock": (4, 2),
    }
    assert body["pagination"]["total"] == 5


async def test_genres_only_count_what_the_user_may_see(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    # Jazz lives only in the private library.
    assert "Jazz" not in names((await get_ok(client, viewers.user, "/genres"))["data"], "name")
    insider = counts(await get_ok(client, viewers.insider, "/genres"))
    assert insider["Jazz"] == (2, 2)
    private = await get_ok(client, viewers.admin, "/genres", library_id=str(catalogue.private.id))
    assert counts(private) == {"Jazz": (2, 2)}
    await remove_song(state, catalogue.song("Svefn-g-englar").id)
    after = counts(await get_ok(client, viewers.user, "/genres"))
    assert "Post-Rock" not in after


async def test_genres_sort_and_page(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    by_songs = await get_ok(client, viewers.user, "/genres", sort="-song_count,name", limit=3)
    assert names(by_songs["data"], "name") == ["Rock", "Pop", "R&B"]
    by_albums = await get_ok(client, viewers.user, "/genres", sort="-album_count,-name", limit=2)
    assert names(by_albums["data"], "name") == ["Rock", "Pop"]
    second = await get_ok(client, viewers.user, "/genres", page=2, page_size=2)
    assert names(second["data"], "name") == ["Post-Rock", "R&B"]
    assert second["pagination"]["total_pages"] == 3


async def test_genre_refusals(state: AppState, client: httpx.AsyncClient) -> None:
    catalogue = await build_catalogue(state)
    viewers = await create_viewers(state, client, catalogue)
    assert (await client.get("/api/v1/genres")).status_code == 401
    assert (await get(client, viewers.outsider, "/genres")).status_code == 403
    assert (await get(client, viewers.user, "/genres", sort="year")).status_code == 422
    private = await get(client, viewers.user, "/genres", library_id=str(catalogue.private.id))
    assert private.status_code == 404
    unknown = await get(client, viewers.admin, "/genres", library_id=str(uuid.uuid4()))
    assert unknown.status_code == 404
