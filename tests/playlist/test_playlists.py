"""`/playlists` and `/playlists/{id}`: create, list, read, change, delete — and every refusal."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.activity import Activity
from cinesonic.models.music import Song
from cinesonic.models.playlist import Playlist, PlaylistItem
from cinesonic.state import AppState
from tests.fixtures.music import create_library, create_song
from tests.fixtures.users import SignedIn
from tests.playlist.helpers import PLAYLISTS, create_playlist, error_code, item_song_ids

# ---------------------------------------------------------------- create


async def test_create_answers_201_with_location_and_ordered_items(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    order = [songs[2].id, songs[0].id, songs[2].id]
    response = await client.post(
        PLAYLISTS,
        json={
            "name": "  Road trip ",
            "description": "for the car",
            "is_public": True,
            "song_ids": [str(s) for s in order],
        },
        headers=ada.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{PLAYLISTS}/{body['id']}"
    assert body["name"] == "Road trip"
    assert body["description"] == "for the car"
    assert body["is_public"] is True
    assert body["owner"]["id"] == ada.user_id and body["owner"]["username"] == "ada"
    assert body["song_count"] == 3
    assert body["duration"] == 30.0 + 10.0 + 30.0
    assert body["song_ids"] == [str(s) for s in order]
    assert [item["position"] for item in body["items"]] == [0, 1, 2]
    assert [item["song"]["title"] for item in body["items"]] == ["Track 3", "Track 1", "Track 3"]
    assert all(item["is_available"] and item["song"]["is_available"] for item in body["items"])
    assert len({item["id"] for item in body["items"]}) == 3
    read = await client.get(response.headers["location"], headers=ada.headers)
    assert read.status_code == 200
    assert read.json() == body


async def test_create_without_songs_makes_an_empty_private_playlist(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    response = await client.post(PLAYLISTS, json={"name": "Later"}, headers=ada.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["is_public"] is False
    assert body["items"] == [] and body["song_ids"] == []
    assert body["song_count"] == 0 and body["duration"] == 0.0


async def test_create_is_audited(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    body = await create_playlist(client, ada, "Audited", [songs[0].id])
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "playlist.create"))
    assert entry is not None
    assert entry.resource_type == "playlist" and entry.resource_id == body["id"]
    assert str(entry.user_id) == ada.user_id
    assert entry.details["songs"] == 1


async def test_create_refuses_unknown_songs_naming_each(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song]
) -> None:
    missing = uuid.uuid4()
    response = await client.post(
        PLAYLISTS,
        json={"name": "Mix", "song_ids": [str(songs[0].id), str(missing)]},
        headers=ada.headers,
    )
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert [d["field"] for d in details] == ["song_ids.1"]
    assert details[0]["song_id"] == str(missing)


async def test_create_refuses_songs_of_an_unreadable_library_like_unknown_ones(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn
) -> None:
    private = await create_library(state, "Private", is_restricted=True)
    hidden = await create_song(state, private, "Secret")
    response = await client.post(
        PLAYLISTS, json={"name": "Mix", "song_ids": [str(hidden.id)]}, headers=ada.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["message"] == "no such song"
    assert "Secret" not in response.text


async def test_create_refuses_a_removed_song(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    async with state.db.session() as session:
        song = await session.get(Song, songs[0].id)
        assert song is not None
        song.removed_at = utcnow()
    response = await client.post(
        PLAYLISTS, json={"name": "Mix", "song_ids": [str(songs[0].id)]}, headers=ada.headers
    )
    assert response.status_code == 422


async def test_create_needs_a_name(client: httpx.AsyncClient, ada: SignedIn) -> None:
    for body in ({}, {"name": "   "}, {"name": "x" * 201}):
        response = await client.post(PLAYLISTS, json=body, headers=ada.headers)
        assert response.status_code == 422, body
        assert error_code(response) == "validation_error"


async def test_create_needs_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.post(PLAYLISTS, json={"name": "Mix"})
    assert response.status_code == 401
    assert error_code(response) == "authentication_required"


async def test_create_needs_the_playlists_create_permission(
    client: httpx.AsyncClient, guest: SignedIn
) -> None:
    response = await client.post(PLAYLISTS, json={"name": "Mix"}, headers=guest.headers)
    assert response.status_code == 403
    assert error_code(response) == "forbidden"


# ---------------------------------------------------------------- list


async def test_list_shows_own_and_public_playlists_not_private_ones_of_others(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn
) -> None:
    await create_playlist(client, ada, "Ada private")
    await create_playlist(client, ada, "Ada public", is_public=True)
    await create_playlist(client, bob, "Bob private")
    await create_playlist(client, bob, "Bob public", is_public=True)
    response = await client.get(PLAYLISTS, headers=ada.headers)
    assert response.status_code == 200
    body = response.json()
    assert [p["name"] for p in body["data"]] == ["Ada private", "Ada public", "Bob public"]
    assert body["pagination"]["total"] == 3
    mine = await client.get(PLAYLISTS, params={"owner": "me"}, headers=ada.headers)
    assert [p["name"] for p in mine.json()["data"]] == ["Ada private", "Ada public"]


async def test_list_filters_by_name_sorts_and_pages(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song]
) -> None:
    await create_playlist(client, ada, "Morning", [songs[0].id])
    await create_playlist(client, ada, "Evening", [songs[0].id, songs[1].id])
    await create_playlist(client, ada, "Night 100%")
    found = await client.get(PLAYLISTS, params={"q": "NING"}, headers=ada.headers)
    assert [p["name"] for p in found.json()["data"]] == ["Evening", "Morning"]
    percent = await client.get(PLAYLISTS, params={"q": "100%"}, headers=ada.headers)
    assert [p["name"] for p in percent.json()["data"]] == ["Night 100%"]
    by_count = await client.get(
        PLAYLISTS, params={"sort": "-song_count", "page_size": 2}, headers=ada.headers
    )
    body = by_count.json()
    assert [p["name"] for p in body["data"]] == ["Evening", "Morning"]
    assert body["pagination"] == {
        "page": 1,
        "page_size": 2,
        "offset": 0,
        "total": 3,
        "total_pages": 2,
    }
    second = await client.get(
        PLAYLISTS, params={"sort": "-song_count", "page": 2, "page_size": 2}, headers=ada.headers
    )
    assert [p["name"] for p in second.json()["data"]] == ["Night 100%"]


async def test_list_refuses_unknown_sorts_and_owners(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    assert (
        await client.get(PLAYLISTS, params={"sort": "owner"}, headers=ada.headers)
    ).status_code == 422
    assert (
        await client.get(PLAYLISTS, params={"owner": "bob"}, headers=ada.headers)
    ).status_code == 422


async def test_list_needs_sign_in(client: httpx.AsyncClient) -> None:
    assert (await client.get(PLAYLISTS)).status_code == 401


async def test_guest_may_read_public_playlists(
    client: httpx.AsyncClient, ada: SignedIn, guest: SignedIn, songs: list[Song]
) -> None:
    public = await create_playlist(client, ada, "Shared", [songs[0].id], is_public=True)
    listed = await client.get(PLAYLISTS, headers=guest.headers)
    assert [p["id"] for p in listed.json()["data"]] == [public["id"]]
    read = await client.get(f"{PLAYLISTS}/{public['id']}", headers=guest.headers)
    assert read.status_code == 200
    assert read.json()["items"][0]["song"]["title"] == "Track 1"


# ---------------------------------------------------------------- read


async def test_private_playlist_of_someone_else_is_not_found(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn
) -> None:
    private = await create_playlist(client, ada, "Mine")
    response = await client.get(f"{PLAYLISTS}/{private['id']}", headers=bob.headers)
    assert response.status_code == 404
    assert error_code(response) == "not_found"
    items = await client.get(f"{PLAYLISTS}/{private['id']}/items", headers=bob.headers)
    assert items.status_code == 404


async def test_public_playlist_of_someone_else_is_readable(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn, songs: list[Song]
) -> None:
    public = await create_playlist(client, ada, "Ours", [songs[1].id], is_public=True)
    response = await client.get(f"{PLAYLISTS}/{public['id']}", headers=bob.headers)
    assert response.status_code == 200
    assert response.json()["song_ids"] == [str(songs[1].id)]


async def test_admin_reads_a_private_playlist(
    client: httpx.AsyncClient, ada: SignedIn, admin: SignedIn
) -> None:
    private = await create_playlist(client, ada, "Mine")
    response = await client.get(f"{PLAYLISTS}/{private['id']}", headers=admin.headers)
    assert response.status_code == 200


async def test_read_unknown_or_malformed_id(client: httpx.AsyncClient, ada: SignedIn) -> None:
    assert (await client.get(f"{PLAYLISTS}/{uuid.uuid4()}", headers=ada.headers)).status_code == 404
    assert (await client.get(f"{PLAYLISTS}/nope", headers=ada.headers)).status_code == 422


async def test_read_needs_sign_in(client: httpx.AsyncClient, ada: SignedIn) -> None:
    public = await create_playlist(client, ada, "Ours", is_public=True)
    assert (await client.get(f"{PLAYLISTS}/{public['id']}")).status_code == 401


# ---------------------------------------------------------------- update


async def test_owner_changes_name_description_and_visibility(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    created = await create_playlist(client, ada, "Old", [songs[0].id], description="d")
    response = await client.put(
        f"{PLAYLISTS}/{created['id']}",
        json={"name": "New", "is_public": True, "description": None},
        headers=ada.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["is_public"], body["description"]) == ("New", True, None)
    assert body["song_ids"] == [str(songs[0].id)]  # items untouched
    assert body["updated_at"] >= created["updated_at"]
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "playlist.update"))
    assert entry is not None and entry.details["changed"]["name"] == "New"


async def test_update_with_song_ids_replaces_every_item(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song]
) -> None:
    created = await create_playlist(client, ada, "Mix", [songs[0].id, songs[1].id])
    response = await client.put(
        f"{PLAYLISTS}/{created['id']}",
        json={"song_ids": [str(songs[3].id), str(songs[3].id), str(songs[2].id)]},
        headers=ada.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert item_song_ids(body) == [str(songs[3].id), str(songs[3].id), str(songs[2].id)]
    assert [i["position"] for i in body["items"]] == [0, 1, 2]
    assert body["song_count"] == 3 and body["duration"] == 110.0
    assert body["name"] == "Mix"
    emptied = await client.put(
        f"{PLAYLISTS}/{created['id']}", json={"song_ids": []}, headers=ada.headers
    )
    assert emptied.json()["items"] == [] and emptied.json()["duration"] == 0.0


async def test_update_refuses_unknown_songs_and_keeps_the_items(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song]
) -> None:
    created = await create_playlist(client, ada, "Mix", [songs[0].id])
    response = await client.put(
        f"{PLAYLISTS}/{created['id']}",
        json={"song_ids": [str(uuid.uuid4())]},
        headers=ada.headers,
    )
    assert response.status_code == 422
    read = await client.get(f"{PLAYLISTS}/{created['id']}", headers=ada.headers)
    assert read.json()["song_ids"] == [str(songs[0].id)]


async def test_others_may_not_change_a_public_playlist(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn
) -> None:
    public = await create_playlist(client, ada, "Ours", is_public=True)
    response = await client.put(
        f"{PLAYLISTS}/{public['id']}", json={"name": "Mine now"}, headers=bob.headers
    )
    assert response.status_code == 403
    assert error_code(response) == "forbidden"


async def test_others_do_not_learn_of_a_private_playlist_by_changing_it(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn
) -> None:
    private = await create_playlist(client, ada, "Mine")
    response = await client.put(
        f"{PLAYLISTS}/{private['id']}", json={"name": "x"}, headers=bob.headers
    )
    assert response.status_code == 404


async def test_admin_changes_anyones_playlist(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, admin: SignedIn
) -> None:
    private = await create_playlist(client, ada, "Mine")
    response = await client.put(
        f"{PLAYLISTS}/{private['id']}", json={"name": "Moderated"}, headers=admin.headers
    )
    assert response.status_code == 200
    assert response.json()["owner"]["id"] == ada.user_id
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "playlist.update"))
    assert entry is not None and entry.details["owner_id"] == ada.user_id


async def test_update_refusals(client: httpx.AsyncClient, ada: SignedIn, guest: SignedIn) -> None:
    created = await create_playlist(client, ada, "Mix")
    url = f"{PLAYLISTS}/{created['id']}"
    assert (await client.put(url, json={"name": "x"})).status_code == 401
    assert (await client.put(url, json={"name": "x"}, headers=guest.headers)).status_code == 403
    assert (await client.put(url, json={"name": ""}, headers=ada.headers)).status_code == 422
    assert (
        await client.put(f"{PLAYLISTS}/{uuid.uuid4()}", json={"name": "x"}, headers=ada.headers)
    ).status_code == 404


# ---------------------------------------------------------------- delete


async def test_owner_deletes_a_playlist_and_its_items(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    created = await create_playlist(client, ada, "Mix", [songs[0].id, songs[1].id])
    response = await client.delete(f"{PLAYLISTS}/{created['id']}", headers=ada.headers)
    assert response.status_code == 200
    assert response.json() == {"status": "deleted"}
    assert (
        await client.get(f"{PLAYLISTS}/{created['id']}", headers=ada.headers)
    ).status_code == 404
    async with state.db.session() as session:
        assert await session.get(Playlist, uuid.UUID(created["id"])) is None
        assert (await session.scalars(select(PlaylistItem))).all() == []
        entry = await session.scalar(select(Activity).where(Activity.action == "playlist.delete"))
    assert entry is not None and entry.resource_id == created["id"]


async def test_delete_refusals(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn, admin: SignedIn
) -> None:
    public = await create_playlist(client, ada, "Ours", is_public=True)
    private = await create_playlist(client, ada, "Mine")
    assert (await client.delete(f"{PLAYLISTS}/{public['id']}")).status_code == 401
    assert (
        await client.delete(f"{PLAYLISTS}/{public['id']}", headers=bob.headers)
    ).status_code == 403
    assert (
        await client.delete(f"{PLAYLISTS}/{private['id']}", headers=bob.headers)
    ).status_code == 404
    assert (
        await client.delete(f"{PLAYLISTS}/{private['id']}", headers=admin.headers)
    ).status_code == 200
