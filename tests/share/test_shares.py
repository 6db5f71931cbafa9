"""`/shares` and `/shares/{id}`: the owner's routes — create from songs, an album or a playlist;
list, read, change, delete, the access log — and every refusal. The token is stored only as its
hash (and sealed), never in the clear."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, text, update

from cinesonic.kit.secretbox import SecretBox
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.activity import Activity
from cinesonic.models.library import Library
from cinesonic.models.music import Song
from cinesonic.models.share import Share, ShareItem
from cinesonic.state import AppState
from tests.fixtures.music import create_library, create_song
from tests.fixtures.users import SignedIn, assign_role
from tests.share.helpers import SHARES, create_share, error_code, token_of

# ---------------------------------------------------------------- create


async def test_create_answers_201_with_location_and_the_link(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    expires = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    response = await client.post(
        SHARES,
        json={
            "name": " For Sam ",
            "description": "road trip",
            "track_ids": [str(songs[2].id), str(songs[0].id), str(songs[2].id)],
            "expires_at": expires.isoformat(),
            "max_streaming_minutes": 30,
            "allow_download": True,
        },
        headers=ada.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{SHARES}/{body['id']}"
    assert body["name"] == "For Sam" and body["description"] == "road trip"
    assert body["owner"] == {"id": ada.user_id, "username": "ada"}
    assert body["source_type"] == "songs" and body["source_id"] is None
    assert body["song_count"] == 2  # repeats dropped
    assert [s["id"] for s in body["songs"]] == [str(songs[2].id), str(songs[0].id)]
    assert all(s["is_available"] for s in body["songs"])
    assert datetime.fromisoformat(body["expires_at"]) == expires
    assert body["is_expired"] is False
    assert body["max_streaming_minutes"] == 30
    assert body["streamed_seconds"] == 0.0 and body["remaining_seconds"] == 1800.0
    assert body["is_exhausted"] is False
    assert body["allow_download"] is True
    assert body["access_count"] == 0 and body["last_accessed_at"] is None
    assert body["url"].startswith(f"{state.settings.public_url}/s/")
    read = await client.get(response.headers["location"], headers=ada.headers)
    assert read.status_code == 200 and read.json()["url"] == body["url"]


async def test_token_is_random_and_stored_only_as_its_hash_and_sealed(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    first = await create_share(client, ada, [songs[0].id])
    second = await create_share(client, ada, [songs[0].id])
    token = token_of(first)
    assert len(token) >= 43 and token != token_of(second)
    async with state.db.session() as session:
        row = await session.get(Share, uuid.UUID(first["id"]))
        raw_rows = (await session.execute(text("SELECT * FROM share"))).all()
    assert row is not None
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert SecretBox(state.settings.signing_key, "share-token").open(row.token_sealed) == token
    for raw in raw_rows:
        assert all(token not in str(value) for value in raw)


async def test_create_is_audited(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    created = await create_share(client, ada, [songs[0].id], allow_download=True)
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "share.create"))
    assert entry is not None and entry.resource_id == created["id"]
    assert entry.details["songs"] == 1 and entry.details["allow_download"] is True
    assert token_of(created) not in str(entry.details)


async def test_create_from_an_album_takes_its_songs_on_disk_in_track_order(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, library: Library
) -> None:
    third = await create_song(state, library, "C", album="LP", track_number=3)
    first = await create_song(state, library, "A", album="LP", track_number=1)
    gone = await create_song(state, library, "B", album="LP", track_number=2)
    async with state.db.session() as session:
        await session.execute(update(Song).where(Song.id == gone.id).values(removed_at=utcnow()))
    assert first.album_id is not None
    created = await create_share(client, ada, album_id=str(first.album_id))
    assert created["source_type"] == "album"
    assert created["source_id"] == str(first.album_id)
    assert [s["id"] for s in created["songs"]] == [str(first.id), str(third.id)]


async def test_create_from_a_playlist_copies_its_songs_once(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    playlist = await client.post(
        "/api/v1/playlists",
        json={
            "name": "Mix",
            "song_ids": [str(songs[1].id), str(songs[0].id), str(songs[1].id)],
        },
        headers=ada.headers,
    )
    playlist_id = playlist.json()["id"]
    created = await create_share(client, ada, playlist_id=playlist_id)
    assert created["source_type"] == "playlist" and created["source_id"] == playlist_id
    assert [s["id"] for s in created["songs"]] == [str(songs[1].id), str(songs[0].id)]
    # A later change to the playlist does not widen the link.
    await client.post(
        f"/api/v1/playlists/{playlist_id}/items",
        json={"song_ids": [str(songs[2].id)]},
        headers=ada.headers,
    )
    read = await client.get(f"{SHARES}/{created['id']}", headers=ada.headers)
    assert read.json()["song_count"] == 2


async def test_create_from_a_public_playlist_of_someone_else(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn, songs: list[Song]
) -> None:
    playlist = await client.post(
        "/api/v1/playlists",
        json={"name": "Ours", "is_public": True, "song_ids": [str(songs[0].id)]},
        headers=bob.headers,
    )
    created = await create_share(client, ada, playlist_id=playlist.json()["id"])
    assert created["song_count"] == 1


async def test_create_refuses_a_private_playlist_of_someone_else(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn, songs: list[Song]
) -> None:
    playlist = await client.post(
        "/api/v1/playlists",
        json={"name": "Mine", "song_ids": [str(songs[0].id)]},
        headers=bob.headers,
    )
    response = await client.post(
        SHARES, json={"name": "x", "playlist_id": playlist.json()["id"]}, headers=ada.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "playlist_id"


async def test_create_refuses_a_playlist_holding_songs_the_caller_may_not_read(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, bob: SignedIn, songs: list[Song]
) -> None:
    private = await create_library(state, "Private", is_restricted=True, readers=[bob.user_id])
    secret = await create_song(state, private, "Secret")
    playlist = await client.post(
        "/api/v1/playlists",
        json={"name": "Ours", "is_public": True, "song_ids": [str(songs[0].id), str(secret.id)]},
        headers=bob.headers,
    )
    response = await client.post(
        SHARES, json={"name": "x", "playlist_id": playlist.json()["id"]}, headers=ada.headers
    )
    assert response.status_code == 422
    assert "Secret" not in response.text


async def test_create_refuses_songs_and_albums_the_caller_may_not_read(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    private = await create_library(state, "Private", is_restricted=True)
    secret = await create_song(state, private, "Secret", album="Hidden LP")
    tracks = await client.post(
        SHARES,
        json={"name": "x", "track_ids": [str(songs[0].id), str(secret.id)]},
        headers=ada.headers,
    )
    assert tracks.status_code == 422
    assert [d["field"] for d in tracks.json()["error"]["details"]] == ["track_ids.1"]
    album = await client.post(
        SHARES, json={"name": "x", "album_id": str(secret.album_id)}, headers=ada.headers
    )
    assert album.status_code == 422
    assert album.json()["error"]["details"][0]["field"] == "album_id"
    unknown = await client.post(
        SHARES, json={"name": "x", "album_id": str(uuid.uuid4())}, headers=ada.headers
    )
    assert unknown.status_code == 422
    async with state.db.session() as session:
        assert (await session.scalars(select(Share))).all() == []


async def test_create_refuses_an_album_with_no_song_on_disk(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    async with state.db.session() as session:
        await session.execute(update(Song).values(removed_at=utcnow()))
    response = await client.post(
        SHARES, json={"name": "x", "album_id": str(songs[0].album_id)}, headers=ada.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["type"] == "nothing_to_share"


async def test_create_needs_exactly_one_source(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song]
) -> None:
    for body in (
        {"name": "x"},
        {"name": "x", "track_ids": [str(songs[0].id)], "album_id": str(songs[0].album_id)},
        {"name": "x", "track_ids": []},
    ):
        response = await client.post(SHARES, json=body, headers=ada.headers)
        assert response.status_code == 422, body
        assert error_code(response) == "validation_error"


async def test_create_refuses_bad_expiry_budget_and_name(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song]
) -> None:
    track = [str(songs[0].id)]
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    for body in (
        {"name": "x", "track_ids": track, "expires_at": past},
        {"name": "x", "track_ids": track, "max_streaming_minutes": 0},
        {"name": "x", "track_ids": track, "expires_at": "tomorrow"},
        {"name": "", "track_ids": track},
    ):
        response = await client.post(SHARES, json=body, headers=ada.headers)
        assert response.status_code == 422, body


async def test_create_needs_sign_in_and_the_shares_create_permission(
    client: httpx.AsyncClient, guest: SignedIn, songs: list[Song]
) -> None:
    body = {"name": "x", "track_ids": [str(songs[0].id)]}
    assert (await client.post(SHARES, json=body)).status_code == 401
    refused = await client.post(SHARES, json=body, headers=guest.headers)
    assert refused.status_code == 403 and error_code(refused) == "forbidden"


# ---------------------------------------------------------------- list and read


async def test_list_shows_own_shares_and_managers_see_all(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn, admin: SignedIn, songs: list[Song]
) -> None:
    await create_share(client, ada, [songs[0].id], name="Ada's")
    await create_share(client, bob, [songs[0].id], name="Bob's")
    mine = await client.get(SHARES, headers=ada.headers)
    assert mine.status_code == 200
    assert [s["name"] for s in mine.json()["data"]] == ["Ada's"]
    assert mine.json()["data"][0]["song_count"] == 1
    everyone = await client.get(SHARES, params={"sort": "name"}, headers=admin.headers)
    assert [s["name"] for s in everyone.json()["data"]] == ["Ada's", "Bob's"]
    own = await client.get(SHARES, params={"owner": "me"}, headers=admin.headers)
    assert own.json()["data"] == []
    found = await client.get(SHARES, params={"q": "BOB"}, headers=admin.headers)
    assert [s["name"] for s in found.json()["data"]] == ["Bob's"]


async def test_list_refusals(client: httpx.AsyncClient, ada: SignedIn) -> None:
    assert (await client.get(SHARES)).status_code == 401
    assert (
        await client.get(SHARES, params={"sort": "token"}, headers=ada.headers)
    ).status_code == 422


async def test_read_someone_elses_share_is_not_found_unless_managing(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn, admin: SignedIn, songs: list[Song]
) -> None:
    created = await create_share(client, ada, [songs[0].id])
    url = f"{SHARES}/{created['id']}"
    assert (await client.get(url, headers=bob.headers)).status_code == 404
    assert (await client.get(url)).status_code == 401
    managed = await client.get(url, headers=admin.headers)
    assert managed.status_code == 200 and managed.json()["url"] == created["url"]
    assert (await client.get(f"{SHARES}/{uuid.uuid4()}", headers=ada.headers)).status_code == 404
    assert (await client.get(f"{SHARES}/nope", headers=ada.headers)).status_code == 422


async def test_link_is_not_shown_once_the_secret_key_changed(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    created = await create_share(client, ada, [songs[0].id])
    async with state.db.session() as session:
        await session.execute(
            update(Share)
            .where(Share.id == uuid.UUID(created["id"]))
            .values(token_sealed=SecretBox("another key", "share-token").seal(token_of(created)))
        )
    read = await client.get(f"{SHARES}/{created['id']}", headers=ada.headers)
    assert read.status_code == 200 and read.json()["url"] is None


# ---------------------------------------------------------------- update


async def test_owner_changes_expiry_budget_and_download_flag(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    created = await create_share(
        client,
        ada,
        [songs[0].id],
        expires_at=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
        max_streaming_minutes=10,
    )
    response = await client.put(
        f"{SHARES}/{created['id']}",
        json={
            "name": "Renamed",
            "expires_at": None,
            "max_streaming_minutes": None,
            "allow_download": True,
        },
        headers=ada.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["expires_at"] is None and body["max_streaming_minutes"] is None
    assert body["remaining_seconds"] is None and body["allow_download"] is True
    assert body["song_count"] == 1 and body["url"] == created["url"]
    untouched = await client.put(
        f"{SHARES}/{created['id']}", json={"description": "kept"}, headers=ada.headers
    )
    assert untouched.json()["allow_download"] is True
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "share.update"))
    assert entry is not None and entry.details["changed"]["allow_download"] is True


async def test_an_expiry_in_the_past_ends_the_link_now(
    client: httpx.AsyncClient, ada: SignedIn, songs: list[Song]
) -> None:
    created = await create_share(client, ada, [songs[0].id])
    response = await client.put(
        f"{SHARES}/{created['id']}",
        json={"expires_at": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()},
        headers=ada.headers,
    )
    assert response.status_code == 200 and response.json()["is_expired"] is True
    assert (await client.get(f"/api/v1/s/{token_of(created)}")).status_code == 410


async def test_update_refusals(
    client: httpx.AsyncClient,
    ada: SignedIn,
    bob: SignedIn,
    admin: SignedIn,
    songs: list[Song],
) -> None:
    created = await create_share(client, ada, [songs[0].id])
    url = f"{SHARES}/{created['id']}"
    assert (await client.put(url, json={"name": "x"})).status_code == 401
    assert (await client.put(url, json={"name": "x"}, headers=bob.headers)).status_code == 404
    assert (
        await client.put(url, json={"max_streaming_minutes": -5}, headers=ada.headers)
    ).status_code == 422
    assert (await client.put(url, json={"name": "x"}, headers=admin.headers)).status_code == 200
    # An owner who lost the permission to share may no longer change the link.
    await assign_role(client, admin, ada.user_id, "guest")
    demoted = await client.delete(
        f"/api/v1/rbac/users/{ada.user_id}/roles/user", headers=admin.headers
    )
    assert demoted.status_code in (200, 204), demoted.text
    refused = await client.put(url, json={"name": "y"}, headers=ada.headers)
    assert refused.status_code == 403


# ---------------------------------------------------------------- delete


async def test_owner_deletes_a_share_with_its_songs_and_log(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, songs: list[Song]
) -> None:
    created = await create_share(client, ada, [songs[0].id])
    await client.get(f"/api/v1/s/{token_of(created)}")
    response = await client.delete(f"{SHARES}/{created['id']}", headers=ada.headers)
    assert response.status_code == 200 and response.json() == {"status": "deleted"}
    assert (await client.get(f"{SHARES}/{created['id']}", headers=ada.headers)).status_code == 404
    assert (await client.get(f"/api/v1/s/{token_of(created)}")).status_code == 404
    async with state.db.session() as session:
        assert (await session.scalars(select(ShareItem))).all() == []
        entry = await session.scalar(select(Activity).where(Activity.action == "share.delete"))
    assert entry is not None and entry.resource_id == created["id"]


async def test_delete_refusals(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn, admin: SignedIn, songs: list[Song]
) -> None:
    created = await create_share(client, ada, [songs[0].id])
    url = f"{SHARES}/{created['id']}"
    assert (await client.delete(url)).status_code == 401
    assert (await client.delete(url, headers=bob.headers)).status_code == 404
    assert (await client.delete(url, headers=admin.headers)).status_code == 200


# ---------------------------------------------------------------- the access log


async def test_access_log_is_the_owners_and_pages(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn, songs: list[Song]
) -> None:
    created = await create_share(client, ada, [songs[0].id])
    for _ in range(3):
        await client.get(f"/api/v1/s/{token_of(created)}")
    url = f"{SHARES}/{created['id']}/accesses"
    page = await client.get(url, params={"page_size": 2}, headers=ada.headers)
    assert page.status_code == 200
    body = page.json()
    assert body["pagination"]["total"] == 3 and len(body["data"]) == 2
    assert body["data"][0]["action"] == "view" and body["data"][0]["status_code"] == 200
    assert body["data"][0]["accessed_at"] >= body["data"][1]["accessed_at"]
    assert (await client.get(url, headers=bob.headers)).status_code == 404
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, params={"sort": "ip"}, headers=ada.headers)).status_code == 422
