"""Playlist items: add (with duplicates, at a position), remove and move by item id, pages of
items; positions stay dense through every change, also under concurrent edits; songs whose file
vanished or whose library the viewer may not read."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.activity import Activity
from cinesonic.models.library import Library
from cinesonic.models.music import Song
from cinesonic.models.playlist import Playlist, PlaylistItem
from cinesonic.playlist import service as playlist_service
from cinesonic.state import AppState
from tests.fixtures.music import create_library, create_song
from tests.fixtures.users import SignedIn
from tests.playlist.helpers import PLAYLISTS, create_playlist, error_code, item_song_ids


async def _read(client: httpx.AsyncClient, user: SignedIn, playlist_id: str) -> dict[str, Any]:
    response = await client.get(f"{PLAYLISTS}/{playlist_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _stored_positions(state: AppState, playlist_id: str) -> list[tuple[int, uuid.UUID]]:
    async with state.db.session() as session:
        rows = await session.execute(
            select(PlaylistItem.position, PlaylistItem.song_id)
            .where(PlaylistItem.playlist_id == uuid.UUID(playlist_id))
            .order_by(PlaylistItem.position)
        )
        return [(row.position, row.song_id) for row in rows]


# ---------------------------------------------------------------- add


async def test_add_appends_songs_and_allows_duplicates(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    playlist = await create_playlist(client, ada, "Mix", [songs[0].id])
    response = await client.post(
        f"{PLAYLISTS}/{playlist['id']}/items",
        json={"song_ids": [str(songs[1].id), str(songs[0].id)]},
        headers=ada.headers,
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{PLAYLISTS}/{playlist['id']}/items"
    body = response.json()
    assert [(i["position"], i["song_id"]) for i in body["items"]] == [
        (1, str(songs[1].id)),
        (2, str(songs[0].id)),
    ]
    assert body["playlist"]["song_count"] == 3
    assert body["playlist"]["duration"] == 40.0
    detail = await _read(client, ada, playlist["id"])
    assert item_song_ids(detail) == [str(songs[0].id), str(songs[1].id), str(songs[0].id)]
    assert [p for p, _ in await _stored_positions(state, playlist["id"])] == [0, 1, 2]
    async with state.db.session() as session:
        entry = await session.scalar(
            select(Activity).where(Activity.action == "playlist.items_add")
        )
    assert entry is not None and entry.details["songs"] == 2


async def test_add_at_a_position_moves_later_items_down(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    a, b, c, d = (str(s.id) for s in songs)
    playlist = await create_playlist(client, ada, "Mix", [a, b])
    first = await _read(client, ada, playlist["id"])
    response = await client.post(
        f"{PLAYLISTS}/{playlist['id']}/items",
        json={"song_ids": [c, d], "position": 1},
        headers=ada.headers,
    )
    assert response.status_code == 201
    assert [i["position"] for i in response.json()["items"]] == [1, 2]
    detail = await _read(client, ada, playlist["id"])
    assert item_song_ids(detail) == [a, c, d, b]
    # Items keep their ids while their positions change.
    assert detail["items"][3]["id"] == first["items"][1]["id"]
    at_start = await client.post(
        f"{PLAYLISTS}/{playlist['id']}/items",
        json={"song_ids": [d], "position": 0},
        headers=ada.headers,
    )
    assert at_start.status_code == 201
    assert item_song_ids(await _read(client, ada, playlist["id"])) == [d, a, c, d, b]
    assert [p for p, _ in await _stored_positions(state, playlist["id"])] == [0, 1, 2, 3, 4]


async def test_add_refuses_a_position_past_the_end(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song]
) -> None:
    playlist = await create_playlist(client, ada, "Mix", [songs[0].id])
    url = f"{PLAYLISTS}/{playlist['id']}/items"
    response = await client.post(
        url, json={"song_ids": [str(songs[1].id)], "position": 2}, headers=ada.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "position"
    at_end = await client.post(
        url, json={"song_ids": [str(songs[1].id)], "position": 1}, headers=ada.headers
    )
    assert at_end.status_code == 201
    negative = await client.post(
        url, json={"song_ids": [str(songs[1].id)], "position": -1}, headers=ada.headers
    )
    assert negative.status_code == 422


async def test_add_refuses_unknown_and_unreadable_songs(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    private = await create_library(state, "Private", is_restricted=True)
    hidden = await create_song(state, private, "Secret")
    playlist = await create_playlist(client, ada, "Mix")
    response = await client.post(
        f"{PLAYLISTS}/{playlist['id']}/items",
        json={"song_ids": [str(songs[0].id), str(hidden.id), str(uuid.uuid4())]},
        headers=ada.headers,
    )
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == [
        "song_ids.1",
        "song_ids.2",
    ]
    assert (await _read(client, ada, playlist["id"]))["items"] == []


async def test_add_needs_songs(client: httpx.AsyncClient, ada: SignedIn) -> None:
    playlist = await create_playlist(client, ada, "Mix")
    response = await client.post(
        f"{PLAYLISTS}/{playlist['id']}/items", json={"song_ids": []}, headers=ada.headers
    )
    assert response.status_code == 422


async def test_add_refuses_to_pass_the_size_limit(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(playlist_service, "MAX_PLAYLIST_ITEMS", 3)
    playlist = await create_playlist(client, ada, "Mix", [songs[0].id, songs[1].id])
    response = await client.post(
        f"{PLAYLISTS}/{playlist['id']}/items",
        json={"song_ids": [str(songs[2].id), str(songs[3].id)]},
        headers=ada.headers,
    )
    assert response.status_code == 409
    assert error_code(response) == "playlist_full"


async def test_add_refusals_by_who_asks(
    client: httpx.AsyncClient,
    ada: SignedIn,
    bob: SignedIn,
    guest: SignedIn,
    admin: SignedIn,
    songs: list[Song],
) -> None:
    public = await create_playlist(client, ada, "Ours", is_public=True)
    private = await create_playlist(client, ada, "Mine")
    body = {"song_ids": [str(songs[0].id)]}
    assert (await client.post(f"{PLAYLISTS}/{public['id']}/items", json=body)).status_code == 401
    for user, playlist, expected in (
        (guest, public, 403),
        (bob, public, 403),
        (bob, private, 404),
        (admin, private, 201),
    ):
        response = await client.post(
            f"{PLAYLISTS}/{playlist['id']}/items", json=body, headers=user.headers
        )
        assert response.status_code == expected, (user.username, playlist["name"])
    assert (
        await client.post(f"{PLAYLISTS}/{uuid.uuid4()}/items", json=body, headers=ada.headers)
    ).status_code == 404


# ---------------------------------------------------------------- remove


async def test_remove_by_item_id_keeps_positions_dense(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    a, b = str(songs[0].id), str(songs[1].id)
    playlist = await create_playlist(client, ada, "Mix", [a, b, a, b])
    detail = await _read(client, ada, playlist["id"])
    second_a = detail["items"][2]["id"]
    response = await client.delete(
        f"{PLAYLISTS}/{playlist['id']}/items/{second_a}", headers=ada.headers
    )
    assert response.status_code == 200
    assert response.json() == {"status": "deleted"}
    after = await _read(client, ada, playlist["id"])
    assert item_song_ids(after) == [a, b, b]
    assert [i["id"] for i in after["items"]] == [
        detail["items"][0]["id"],
        detail["items"][1]["id"],
        detail["items"][3]["id"],
    ]
    assert after["song_count"] == 3 and after["duration"] == 50.0
    assert [p for p, _ in await _stored_positions(state, playlist["id"])] == [0, 1, 2]
    again = await client.delete(
        f"{PLAYLISTS}/{playlist['id']}/items/{second_a}", headers=ada.headers
    )
    assert again.status_code == 404


async def test_remove_refuses_an_item_of_another_playlist(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song]
) -> None:
    one = await create_playlist(client, ada, "One", [songs[0].id])
    two = await create_playlist(client, ada, "Two", [songs[0].id])
    response = await client.delete(
        f"{PLAYLISTS}/{two['id']}/items/{one['items'][0]['id']}", headers=ada.headers
    )
    assert response.status_code == 404
    assert len((await _read(client, ada, one["id"]))["items"]) == 1


async def test_remove_refusals_by_who_asks(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn, songs: list[Song]
) -> None:
    public = await create_playlist(client, ada, "Ours", [songs[0].id], is_public=True)
    url = f"{PLAYLISTS}/{public['id']}/items/{public['items'][0]['id']}"
    assert (await client.delete(url)).status_code == 401
    assert (await client.delete(url, headers=bob.headers)).status_code == 403
    assert (
        await client.delete(f"{PLAYLISTS}/{public['id']}/items/nope", headers=ada.headers)
    ).status_code == 422


# ---------------------------------------------------------------- move


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        (0, 3, "BCDA"),
        (3, 0, "DABC"),
        (1, 2, "ACBD"),
        (2, 1, "ACBD"),
        (2, 2, "ABCD"),
    ],
)
async def test_move_shifts_the_items_between(
    client: httpx.AsyncClient,
    state: AppState,
    ada: SignedIn,
    songs: list[Song],
    source: int,
    target: int,
    expected: str,
) -> None:
    letters = dict(zip("ABCD", (str(s.id) for s in songs), strict=True))
    playlist = await create_playlist(client, ada, "Mix", list(letters.values()))
    item_id = playlist["items"][source]["id"]
    response = await client.post(
        f"{PLAYLISTS}/{playlist['id']}/items/move",
        json={"item_id": item_id, "to_position": target},
        headers=ada.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == item_id and response.json()["position"] == target
    after = await _read(client, ada, playlist["id"])
    assert item_song_ids(after) == [letters[c] for c in expected]
    assert [p for p, _ in await _stored_positions(state, playlist["id"])] == [0, 1, 2, 3]


async def test_move_with_duplicates_moves_the_one_item(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song]
) -> None:
    a, b = str(songs[0].id), str(songs[1].id)
    playlist = await create_playlist(client, ada, "Mix", [a, b, a])
    last_a = playlist["items"][2]["id"]
    response = await client.post(
        f"{PLAYLISTS}/{playlist['id']}/items/move",
        json={"itemId": last_a, "toPosition": 1},
        headers=ada.headers,
    )
    assert response.status_code == 200
    after = await _read(client, ada, playlist["id"])
    assert item_song_ids(after) == [a, a, b]
    assert after["items"][1]["id"] == last_a
    assert after["items"][0]["id"] == playlist["items"][0]["id"]


async def test_move_refusals(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn, songs: list[Song]
) -> None:
    playlist = await create_playlist(client, ada, "Mix", [songs[0].id, songs[1].id], is_public=True)
    url = f"{PLAYLISTS}/{playlist['id']}/items/move"
    item_id = playlist["items"][0]["id"]
    past_end = await client.post(
        url, json={"item_id": item_id, "to_position": 2}, headers=ada.headers
    )
    assert past_end.status_code == 422
    assert past_end.json()["error"]["details"][0]["field"] == "to_position"
    unknown = await client.post(
        url, json={"item_id": str(uuid.uuid4()), "to_position": 0}, headers=ada.headers
    )
    assert unknown.status_code == 404
    assert (
        await client.post(url, json={"item_id": item_id}, headers=ada.headers)
    ).status_code == 422
    assert (
        await client.post(url, json={"item_id": item_id, "to_position": 1}, headers=bob.headers)
    ).status_code == 403
    assert (await client.post(url, json={"item_id": item_id, "to_position": 1})).status_code == 401


# ---------------------------------------------------------------- pages of items


async def test_items_come_in_pages_with_their_playlist_positions(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song]
) -> None:
    order = [songs[n % 4].id for n in range(7)]
    playlist = await create_playlist(client, ada, "Long", order)
    response = await client.get(
        f"{PLAYLISTS}/{playlist['id']}/items",
        params={"offset": 3, "limit": 3},
        headers=ada.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert [i["position"] for i in body["data"]] == [3, 4, 5]
    assert [i["song_id"] for i in body["data"]] == [str(s) for s in order[3:6]]
    assert body["pagination"]["total"] == 7
    assert body["data"][0]["song"]["title"] == "Track 4"


async def test_items_refuse_other_orders(client: httpx.AsyncClient, ada: SignedIn) -> None:
    playlist = await create_playlist(client, ada, "Mix")
    url = f"{PLAYLISTS}/{playlist['id']}/items"
    assert (
        await client.get(url, params={"sort": "-position"}, headers=ada.headers)
    ).status_code == 422
    assert (await client.get(url, params={"sort": "title"}, headers=ada.headers)).status_code == 422
    assert (
        await client.get(url, params={"sort": "position"}, headers=ada.headers)
    ).status_code == 200
    assert (await client.get(url)).status_code == 401


# ---------------------------------------------------------------- unavailable and hidden songs


async def test_a_song_whose_file_vanished_stays_marked_unavailable(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    playlist = await create_playlist(client, ada, "Mix", [songs[0].id, songs[1].id])
    async with state.db.session() as session:
        await session.execute(
            update(Song).where(Song.id == songs[1].id).values(removed_at=utcnow())
        )
    detail = await _read(client, ada, playlist["id"])
    gone = detail["items"][1]
    assert gone["is_available"] is False
    assert gone["song"]["is_available"] is False
    assert gone["song"]["title"] == "Track 2"
    assert gone["song_id"] == str(songs[1].id)
    assert detail["items"][0]["is_available"] is True
    assert detail["song_count"] == 2
    # It can still be removed and moved.
    moved = await client.post(
        f"{PLAYLISTS}/{playlist['id']}/items/move",
        json={"item_id": gone["id"], "to_position": 0},
        headers=ada.headers,
    )
    assert moved.status_code == 200 and moved.json()["is_available"] is False


async def test_songs_of_libraries_the_viewer_may_not_read_are_placeholders(
    client: httpx.AsyncClient,
    state: AppState,
    ada: SignedIn,
    bob: SignedIn,
    library: Library,
    songs: list[Song],
) -> None:
    private = await create_library(state, "Private", is_restricted=True, readers=[ada.user_id])
    secret = await create_song(state, private, "Secret Song", artists=["Hidden Artist"])
    playlist = await create_playlist(
        client, ada, "Mixed", [songs[0].id, secret.id, songs[1].id], is_public=True
    )
    assert item_song_ids(playlist) == [str(songs[0].id), str(secret.id), str(songs[1].id)]
    response = await client.get(f"{PLAYLISTS}/{playlist['id']}", headers=bob.headers)
    assert response.status_code == 200
    assert "Secret" not in response.text and "Hidden Artist" not in response.text
    assert str(secret.id) not in response.text
    body = response.json()
    hidden = body["items"][1]
    assert hidden == {
        "id": playlist["items"][1]["id"],
        "position": 1,
        "added_at": hidden["added_at"],
        "song_id": None,
        "is_available": False,
        "song": None,
    }
    assert body["song_ids"] == [str(songs[0].id), str(songs[1].id)]
    page = await client.get(f"{PLAYLISTS}/{playlist['id']}/items", headers=bob.headers)
    assert "Secret" not in page.text and str(secret.id) not in page.text


async def test_owner_who_lost_access_sees_a_placeholder_and_can_remove_it(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    private = await create_library(state, "Private", is_restricted=True, readers=[ada.user_id])
    secret = await create_song(state, private, "Secret Song")
    playlist = await create_playlist(client, ada, "Mixed", [secret.id, songs[0].id])
    async with state.db.session() as session:
        await session.execute(
            update(Library).where(Library.id == private.id).values(is_enabled=False)
        )
    detail = await _read(client, ada, playlist["id"])
    assert detail["items"][0]["song"] is None
    removed = await client.delete(
        f"{PLAYLISTS}/{playlist['id']}/items/{detail['items'][0]['id']}", headers=ada.headers
    )
    assert removed.status_code == 200
    assert item_song_ids(await _read(client, ada, playlist["id"])) == [str(songs[0].id)]


# ---------------------------------------------------------------- consistency


async def test_concurrent_adds_keep_every_item_and_dense_positions(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    playlist = await create_playlist(client, ada, "Busy", [songs[0].id])
    url = f"{PLAYLISTS}/{playlist['id']}/items"

    async def add(n: int) -> int:
        response = await client.post(
            url,
            json={"song_ids": [str(songs[n % 4].id)] * 2, "position": 0 if n % 2 else None},
            headers=ada.headers,
        )
        return response.status_code

    statuses = await asyncio.gather(*(add(n) for n in range(12)))
    assert statuses == [201] * 12
    stored = await _stored_positions(state, playlist["id"])
    assert [p for p, _ in stored] == list(range(25))
    detail = await _read(client, ada, playlist["id"])
    assert detail["song_count"] == 25
    # Each request's two songs landed next to each other.
    ids = item_song_ids(detail)
    assert ids.count(str(songs[0].id)) == 1 + 3 * 2


async def test_concurrent_moves_and_removes_keep_positions_dense(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    playlist = await create_playlist(client, ada, "Busy", [s.id for s in songs] * 3)
    items = playlist["items"]
    base = f"{PLAYLISTS}/{playlist['id']}/items"

    async def move(n: int) -> int:
        response = await client.post(
            f"{base}/move",
            json={"item_id": items[n]["id"], "to_position": (n * 5) % 8},
            headers=ada.headers,
        )
        return response.status_code

    async def remove(n: int) -> int:
        response = await client.delete(f"{base}/{items[n]['id']}", headers=ada.headers)
        return response.status_code

    statuses = await asyncio.gather(*(move(n) for n in range(6)), *(remove(n) for n in (8, 10)))
    assert statuses == [200] * 8
    stored = await _stored_positions(state, playlist["id"])
    assert [p for p, _ in stored] == list(range(10))
    detail = await _read(client, ada, playlist["id"])
    assert {i["id"] for i in detail["items"]} == {i["id"] for i in items} - {
        items[8]["id"],
        items[10]["id"],
    }


async def test_gaps_left_by_deleted_rows_are_closed_at_the_next_change(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    playlist = await create_playlist(client, ada, "Mix", [s.id for s in songs])
    # A library deletion cascades to items without the playlist service: a gap at 1.
    async with state.db.session() as session:
        await session.execute(
            PlaylistItem.__table__.delete().where(
                PlaylistItem.id == uuid.UUID(playlist["items"][1]["id"])
            )
        )
    detail = await _read(client, ada, playlist["id"])
    assert [i["position"] for i in detail["items"]] == [0, 1, 2]
    response = await client.post(
        f"{PLAYLISTS}/{playlist['id']}/items",
        json={"song_ids": [str(songs[0].id)], "position": 3},
        headers=ada.headers,
    )
    assert response.status_code == 201
    assert [p for p, _ in await _stored_positions(state, playlist["id"])] == [0, 1, 2, 3]
    async with state.db.session() as session:
        stored = await session.get(Playlist, uuid.UUID(playlist["id"]))
    assert stored is not None and stored.song_count == 4


async def test_detail_carries_the_first_items_and_every_song_id(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(playlist_service, "DETAIL_ITEMS", 2)
    order = [str(s.id) for s in songs]
    playlist = await create_playlist(client, ada, "Long", order)
    assert [i["song_id"] for i in playlist["items"]] == order[:2]
    assert playlist["song_ids"] == order
    assert playlist["has_more_items"] is True
    rest = await client.get(
        f"{PLAYLISTS}/{playlist['id']}/items", params={"offset": 2}, headers=ada.headers
    )
    assert [i["song_id"] for i in rest.json()["data"]] == order[2:]
    short = await create_playlist(client, ada, "Short", order[:2])
    assert short["has_more_items"] is False


async def test_add_takes_at_most_a_thousand_songs_at_once(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    playlist = await create_playlist(client, ada, "Mix")
    response = await client.post(
        f"{PLAYLISTS}/{playlist['id']}/items",
        json={"song_ids": [str(uuid.uuid4()) for _ in range(1001)]},
        headers=ada.headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "song_ids"
