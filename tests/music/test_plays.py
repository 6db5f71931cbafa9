"""Plays: a stream that passes the threshold counts once; a client's report counts, idempotently;
the counters and the history they feed; what a user may see of it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from cinesonic.models.library import Library, LibraryPermission
from cinesonic.models.music import Album, Play, Song, SongUserStat
from cinesonic.state import AppState
from tests.fixtures.live import serve
from tests.fixtures.music import create_library, create_song
from tests.fixtures.users import SignedIn, assign_role, create_and_login, create_role
from tests.music.stream_fixtures import (
    ada,
    create_long_song,
    error_code,
    flac_song,
    library,
    long_wav,
    stream_url,
)

__all__ = ["ada", "flac_song", "library", "long_wav"]

MY_PLAYS = "/api/v1/users/me/plays"


def plays_url(song: Song) -> str:
    return f"/api/v1/songs/{song.id}/plays"


async def counts(state: AppState, song: Song, user_id: str | None = None) -> dict[str, Any]:
    async with state.db.session() as session:
        row = await session.get_one(Song, song.id)
        await session.refresh(row)
        album = await session.get_one(Album, row.album_id)
        await session.refresh(album)
        stat = None
        if user_id is not None:
            stat = await session.get(SongUserStat, (uuid.UUID(user_id), song.id))
        plays = await session.scalar(
            select(func.count()).select_from(Play).where(Play.song_id == song.id)
        )
        return {
            "song": row.play_count,
            "album": album.play_count,
            "user": stat.play_count if stat else 0,
            "plays": plays,
            "last_played_at": row.last_played_at,
        }


async def test_a_whole_stream_counts_one_play(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    response = await client.get(stream_url(flac_song), headers=ada.headers)
    assert response.status_code == 200
    counted = await counts(state, flac_song, ada.user_id)
    assert (counted["song"], counted["album"], counted["user"], counted["plays"]) == (1, 1, 1, 1)
    assert counted["last_played_at"] is not None
    history = (await client.get(MY_PLAYS, headers=ada.headers)).json()
    assert history["data"][0]["source"] == "stream"
    assert history["data"][0]["song"]["id"] == str(flac_song.id)


async def test_streaming_again_at_once_is_the_same_listening(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    await client.get(stream_url(flac_song), headers=ada.headers)
    await client.get(stream_url(flac_song), headers=ada.headers)  # a player re-fetching
    assert (await counts(state, flac_song, ada.user_id))["song"] == 1


async def test_head_a_short_range_and_304_count_nothing(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    await client.head(stream_url(flac_song), headers=ada.headers)
    await client.get(stream_url(flac_song), headers={**ada.headers, "Range": "bytes=0-99"})
    etag = (await client.head(stream_url(flac_song), headers=ada.headers)).headers["etag"]
    await client.get(stream_url(flac_song), headers={**ada.headers, "If-None-Match": etag})
    assert (await counts(state, flac_song, ada.user_id))["plays"] == 0


async def test_a_range_past_half_of_the_song_counts(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    await client.get(stream_url(flac_song), headers={**ada.headers, "Range": "bytes=-100"})
    assert (await counts(state, flac_song, ada.user_id))["plays"] == 0
    half = flac_song.size_bytes // 2 + 10
    await client.get(stream_url(flac_song), headers={**ada.headers, "Range": f"bytes=-{half}"})
    assert (await counts(state, flac_song, ada.user_id))["plays"] == 1


async def test_a_transcoded_stream_counts_too(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    response = await client.get(stream_url(flac_song, format="opus"), headers=ada.headers)
    assert response.status_code == 200
    assert (await counts(state, flac_song, ada.user_id))["plays"] == 1


@pytest.mark.parametrize("settings_overrides", [{"play_threshold_seconds": 1}])
async def test_the_seconds_threshold_applies_before_half_of_a_long_song(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    # 1 s of a 3 s song: under half, over the seconds threshold.
    part = flac_song.size_bytes * 4 // 10
    await client.get(stream_url(flac_song), headers={**ada.headers, "Range": f"bytes=0-{part}"})
    assert (await counts(state, flac_song, ada.user_id))["plays"] == 1


async def test_a_client_that_leaves_early_is_not_counted(
    app: FastAPI, state: AppState, ada: SignedIn, library: Library, long_wav: Path
) -> None:
    song = await create_long_song(state, library, long_wav)
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        async with http.stream("GET", stream_url(song), headers=ada.headers) as response:
            assert response.status_code == 200
            async for _chunk in response.aiter_raw():
                break
        # A later request on the same server proves the first one has finished.
        await http.head(stream_url(song), headers=ada.headers)
    assert (await counts(state, song, ada.user_id))["plays"] == 0


async def test_a_client_reports_a_play(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    played_at = "2024-03-01T20:15:00+01:00"
    response = await client.post(
        plays_url(flac_song), json={"played_at": played_at}, headers=ada.headers
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/api/v1/users/me/plays/{body['id']}"
    assert body["source"] == "client"
    assert datetime.fromisoformat(body["played_at"]) == datetime(2024, 3, 1, 19, 15, tzinfo=UTC)
    assert body["song"]["title"] == "Flac Song"
    counted = await counts(state, flac_song, ada.user_id)
    assert (counted["song"], counted["album"], counted["user"]) == (1, 1, 1)
    one = await client.get(response.headers["location"], headers=ada.headers)
    assert one.status_code == 200
    assert one.json()["id"] == body["id"]


async def test_reporting_the_same_moment_again_is_the_same_play(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    body = {"played_at": "2024-03-01T19:15:00Z"}
    first = await client.post(plays_url(flac_song), json=body, headers=ada.headers)
    again = await client.post(plays_url(flac_song), json=body, headers=ada.headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    other = await client.post(
        plays_url(flac_song), json={"played_at": "2024-03-02T19:15:00Z"}, headers=ada.headers
    )
    assert other.status_code == 201
    counted = await counts(state, flac_song, ada.user_id)
    assert (counted["song"], counted["user"], counted["plays"]) == (2, 2, 2)
    assert counted["last_played_at"] == datetime(2024, 3, 2, 19, 15, tzinfo=UTC)


async def test_a_report_without_a_body_is_a_play_now(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    response = await client.post(plays_url(flac_song), headers=ada.headers)
    assert response.status_code == 201
    played_at = datetime.fromisoformat(response.json()["played_at"])
    assert abs(played_at - datetime.now(UTC)) < timedelta(minutes=1)


async def test_a_report_of_a_streamed_listening_is_that_play(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    await client.get(stream_url(flac_song), headers=ada.headers)
    report = await client.post(plays_url(flac_song), json={}, headers=ada.headers)
    assert report.status_code == 200
    assert report.json()["source"] == "stream"
    assert (await counts(state, flac_song, ada.user_id))["plays"] == 1


async def test_two_users_plays_are_counted_apart(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    bob = await create_and_login(state, client, "bob")
    moment = {"played_at": "2024-03-01T19:15:00Z"}
    await client.post(plays_url(flac_song), json=moment, headers=ada.headers)
    await client.post(plays_url(flac_song), json=moment, headers=bob.headers)
    counted = await counts(state, flac_song, bob.user_id)
    assert (counted["song"], counted["album"], counted["user"]) == (2, 2, 1)
    mine = (await client.get(MY_PLAYS, headers=bob.headers)).json()
    assert mine["pagination"]["total"] == 1


async def test_bad_reports_are_refused(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for body in ({"played_at": future}, {"played_at": "2024-03-01T19:15:00"}, {"source": "stream"}):
        response = await client.post(plays_url(flac_song), json=body, headers=ada.headers)
        assert response.status_code == 422, body
        assert error_code(response) == "validation_error"
    unknown = await client.post(
        "/api/v1/songs/00000000-0000-7000-8000-000000000000/plays", headers=ada.headers
    )
    assert unknown.status_code == 404
    anonymous = await client.post(plays_url(flac_song))
    assert anonymous.status_code == 401
    private = await create_library(state, "Private", is_restricted=True)
    hidden = await create_song(state, private, "Hidden", fmt="flac")
    refused = await client.post(plays_url(hidden), headers=ada.headers)
    assert refused.status_code == 404
    assert (await counts(state, flac_song, ada.user_id))["plays"] == 0


async def test_history_is_newest_first_and_paged(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    for day in range(1, 6):
        await client.post(
            plays_url(flac_song),
            json={"played_at": f"2024-03-0{day}T12:00:00Z"},
            headers=ada.headers,
        )
    page = (await client.get(f"{MY_PLAYS}?page_size=2&page=2", headers=ada.headers)).json()
    assert page["pagination"]["total"] == 5
    assert [p["played_at"][:10] for p in page["data"]] == ["2024-03-03", "2024-03-02"]
    oldest = (await client.get(f"{MY_PLAYS}?sort=played_at&limit=1", headers=ada.headers)).json()
    assert oldest["data"][0]["played_at"][:10] == "2024-03-01"
    bad_sort = await client.get(f"{MY_PLAYS}?sort=title", headers=ada.headers)
    assert bad_sort.status_code == 422
    assert (await client.get(MY_PLAYS)).status_code == 401


async def test_history_hides_songs_of_libraries_no_longer_readable(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn
) -> None:
    private = await create_library(state, "Private", is_restricted=True, readers=[ada.user_id])
    song = await create_song(state, private, "Secret", fmt="flac")
    created = await client.post(plays_url(song), headers=ada.headers)
    assert created.status_code == 201
    assert (await client.get(MY_PLAYS, headers=ada.headers)).json()["pagination"]["total"] == 1
    async with state.db.session() as session:
        grant = await session.get_one(LibraryPermission, (private.id, uuid.UUID(ada.user_id)))
        await session.delete(grant)
    assert (await client.get(MY_PLAYS, headers=ada.headers)).json()["pagination"]["total"] == 0
    one = await client.get(created.headers["location"], headers=ada.headers)
    assert one.status_code == 404


async def test_someone_elses_play_is_not_found(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    created = await client.post(plays_url(flac_song), headers=ada.headers)
    bob = await create_and_login(state, client, "bob")
    response = await client.get(created.headers["location"], headers=bob.headers)
    assert response.status_code == 404
    assert error_code(response) == "not_found"


async def test_reporting_needs_the_music_read_permission(
    state: AppState, client: httpx.AsyncClient, flac_song: Song
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    reader = await create_and_login(state, client, "reader")
    await create_role(client, admin, "libraries-only", ["library.read"])
    await assign_role(client, admin, reader.user_id, "libraries-only")
    removed = await client.delete(
        f"/api/v1/rbac/users/{reader.user_id}/roles/user", headers=admin.headers
    )
    assert removed.status_code in (200, 204), removed.text
    response = await client.post(plays_url(flac_song), headers=reader.headers)
    assert response.status_code == 403
    assert error_code(response) == "forbidden"
