"""The public link: `GET /s/{token}`, `…/stream/{song_id}`, `…/download/{song_id}` — without an
account, with real files streamed; the minutes actually sent are counted, the budget refuses
once spent, expiry answers 410, and every access is logged, refusals included."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.library import Library
from cinesonic.models.music import Song
from cinesonic.models.share import Share, ShareAccess
from cinesonic.models.user import User, UserStatus
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn
from tests.share.helpers import PUBLIC, create_share, error_code, token_of


def _file_bytes(song: Song) -> bytes:
    return Path(song.path).read_bytes()


def _file_size(song: Song) -> int:
    return Path(song.path).stat().st_size


def _delete_file(song: Song) -> None:
    Path(song.path).unlink()


async def _share_row(state: AppState, share: dict[str, Any]) -> Share:
    async with state.db.session() as session:
        row = await session.get(Share, uuid.UUID(share["id"]))
    assert row is not None
    return row


async def _accesses(state: AppState, share: dict[str, Any]) -> list[ShareAccess]:
    async with state.db.session() as session:
        rows = await session.scalars(
            select(ShareAccess)
            .where(ShareAccess.share_id == uuid.UUID(share["id"]))
            .order_by(ShareAccess.accessed_at, ShareAccess.id)
        )
        return list(rows)


# ---------------------------------------------------------------- the link's page


async def test_anyone_with_the_link_sees_its_tracks_without_paths(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    songs: list[Song],
) -> None:
    share = await create_share(
        client, ada, [songs[1].id, songs[0].id], description="enjoy", max_streaming_minutes=5
    )
    token = token_of(share)
    response = await anonymous.get(f"{PUBLIC}/{token}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "For Sam" and body["description"] == "enjoy"
    assert body["allow_download"] is False
    assert body["max_streaming_minutes"] == 5 and body["remaining_seconds"] == 300.0
    assert body["duration"] == 30.0
    assert [t["title"] for t in body["tracks"]] == ["Track 2", "Track 1"]
    first = body["tracks"][0]
    assert first["artist"] == "Nina" and first["album"] == "Album"
    assert first["duration"] == 20.0 and first["is_available"] is True
    assert first["stream_url"] == f"{PUBLIC}/{token}/stream/{songs[1].id}"
    assert first["download_url"] is None
    assert songs[1].path not in response.text
    assert set(body) == {
        "name",
        "description",
        "expires_at",
        "allow_download",
        "max_streaming_minutes",
        "remaining_seconds",
        "is_exhausted",
        "duration",
        "tracks",
    }
    assert set(first) == {
        "id",
        "title",
        "artist",
        "album",
        "track_number",
        "disc_number",
        "year",
        "duration",
        "is_available",
        "stream_url",
        "download_url",
    }
    [access] = await _accesses(state, share)
    assert (access.action, access.status_code, access.song_id) == ("view", 200, None)
    assert access.ip == "203.0.113.7" and access.user_agent == "ShareTest/1.0"
    row = await _share_row(state, share)
    assert row.access_count == 1 and row.last_accessed_at is not None


async def test_the_short_link_at_the_root_answers_the_same(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, ada: SignedIn, songs: list[Song]
) -> None:
    share = await create_share(client, ada, [songs[0].id])
    short = share["url"].removeprefix("http://127.0.0.1:8000")
    assert short.startswith("/s/")
    root = await anonymous.get(short)
    api = await anonymous.get(f"{PUBLIC}/{token_of(share)}")
    assert root.status_code == 200 and root.json() == api.json()


async def test_only_the_api_path_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    assert "/api/v1/s/{token}" in paths
    assert "/api/v1/s/{token}/stream/{song_id}" in paths
    assert not any(path.startswith("/s/") for path in paths)


async def test_unknown_token_is_not_found(anonymous: httpx.AsyncClient, state: AppState) -> None:
    for token in ("x" * 43, "short", "a" * 300):
        response = await anonymous.get(f"{PUBLIC}/{token}")
        assert response.status_code == 404, token
        assert error_code(response) == "not_found"
    stream = await anonymous.get(f"{PUBLIC}/{'x' * 43}/stream/{uuid.uuid4()}")
    assert stream.status_code == 404
    async with state.db.session() as session:
        assert (await session.scalars(select(ShareAccess))).all() == []


async def test_expired_link_is_gone_and_the_refusal_logged(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    songs: list[Song],
) -> None:
    share = await create_share(
        client,
        ada,
        [songs[0].id],
        expires_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    )
    async with state.db.session() as session:
        await session.execute(
            update(Share)
            .where(Share.id == uuid.UUID(share["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    token = token_of(share)
    view = await anonymous.get(f"{PUBLIC}/{token}")
    assert view.status_code == 410 and error_code(view) == "share_expired"
    stream = await anonymous.get(f"{PUBLIC}/{token}/stream/{songs[0].id}")
    assert stream.status_code == 410
    outsider = await anonymous.get(f"{PUBLIC}/{token}/stream/{uuid.uuid4()}")
    assert outsider.status_code == 410
    accesses = await _accesses(state, share)
    assert [(a.action, a.status_code) for a in accesses] == [
        ("view", 410),
        ("stream", 410),
        ("stream", 410),
    ]
    assert accesses[1].song_id == songs[0].id and accesses[2].song_id is None
    assert (await _share_row(state, share)).access_count == 0


async def test_a_removed_song_shows_unavailable_and_is_not_served(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    songs: list[Song],
) -> None:
    share = await create_share(client, ada, [songs[0].id, songs[1].id])
    async with state.db.session() as session:
        await session.execute(
            update(Song).where(Song.id == songs[0].id).values(removed_at=utcnow())
        )
    token = token_of(share)
    body = (await anonymous.get(f"{PUBLIC}/{token}")).json()
    assert [t["is_available"] for t in body["tracks"]] == [False, True]
    assert body["duration"] == 20.0
    stream = await anonymous.get(f"{PUBLIC}/{token}/stream/{songs[0].id}")
    assert stream.status_code == 404
    owner_view = await client.get(f"/api/v1/shares/{share['id']}", headers=ada.headers)
    assert [s["is_available"] for s in owner_view.json()["songs"]] == [False, True]


async def test_songs_the_owner_may_no_longer_read_leave_the_link(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    library: Library,
    songs: list[Song],
) -> None:
    share = await create_share(client, ada, [songs[0].id])
    async with state.db.session() as session:
        await session.execute(
            update(Library).where(Library.id == library.id).values(is_restricted=True)
        )
    token = token_of(share)
    body = (await anonymous.get(f"{PUBLIC}/{token}")).json()
    assert body["tracks"] == []
    assert (await anonymous.get(f"{PUBLIC}/{token}/stream/{songs[0].id}")).status_code == 404


async def test_a_suspended_owners_links_answer_not_found(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    songs: list[Song],
) -> None:
    share = await create_share(client, ada, [songs[0].id])
    async with state.db.session() as session:
        await session.execute(
            update(User)
            .where(User.id == uuid.UUID(ada.user_id))
            .values(status=UserStatus.suspended)
        )
    response = await anonymous.get(f"{PUBLIC}/{token_of(share)}")
    assert response.status_code == 404
    [access] = await _accesses(state, share)
    assert access.status_code == 404


# ---------------------------------------------------------------- streaming


async def test_stream_sends_the_file_and_counts_the_seconds_sent(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    playable: Song,
) -> None:
    share = await create_share(client, ada, [playable.id], max_streaming_minutes=5)
    response = await anonymous.get(f"{PUBLIC}/{token_of(share)}/stream/{playable.id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.content == _file_bytes(playable)
    row = await _share_row(state, share)
    assert row.streamed_seconds == pytest.approx(6.0)
    assert row.access_count == 1
    [access] = await _accesses(state, share)
    assert (access.action, access.status_code, access.song_id) == ("stream", 200, playable.id)
    assert access.seconds == pytest.approx(6.0)
    owner_view = await client.get(f"/api/v1/shares/{share['id']}", headers=ada.headers)
    assert owner_view.json()["remaining_seconds"] == pytest.approx(300.0 - 6.0)


async def test_a_ranged_stream_counts_only_the_range(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    playable: Song,
) -> None:
    share = await create_share(client, ada, [playable.id])
    size = _file_size(playable)
    response = await anonymous.get(
        f"{PUBLIC}/{token_of(share)}/stream/{playable.id}", headers={"Range": "bytes=0-999"}
    )
    assert response.status_code == 206
    assert len(response.content) == 1000
    row = await _share_row(state, share)
    assert row.streamed_seconds == pytest.approx(6.0 * 1000 / size)
    [access] = await _accesses(state, share)
    assert access.status_code == 206


async def test_a_range_past_the_end_is_refused_and_logged(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    playable: Song,
) -> None:
    share = await create_share(client, ada, [playable.id])
    response = await anonymous.get(
        f"{PUBLIC}/{token_of(share)}/stream/{playable.id}",
        headers={"Range": "bytes=99999999-"},
    )
    assert response.status_code == 416
    [access] = await _accesses(state, share)
    assert access.status_code == 416 and access.seconds == 0.0


async def test_head_sends_headers_only_and_counts_nothing(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    playable: Song,
) -> None:
    share = await create_share(client, ada, [playable.id])
    response = await anonymous.head(f"{PUBLIC}/{token_of(share)}/stream/{playable.id}")
    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["content-length"]) == _file_size(playable)
    assert (await _share_row(state, share)).streamed_seconds == 0.0


async def test_a_transcoded_stream_counts_its_seconds(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    playable: Song,
) -> None:
    share = await create_share(client, ada, [playable.id])
    response = await anonymous.get(
        f"{PUBLIC}/{token_of(share)}/stream/{playable.id}", params={"format": "opus"}
    )
    assert response.status_code == 200, response.text
    assert len(response.content) > 0
    assert (await _share_row(state, share)).streamed_seconds == pytest.approx(6.0, abs=0.5)


async def test_stream_refuses_a_bad_format(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, ada: SignedIn, playable: Song
) -> None:
    share = await create_share(client, ada, [playable.id])
    response = await anonymous.get(
        f"{PUBLIC}/{token_of(share)}/stream/{playable.id}", params={"format": "wav"}
    )
    assert response.status_code == 422


async def test_a_song_outside_the_share_is_not_found_and_logged(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    songs: list[Song],
    playable: Song,
) -> None:
    share = await create_share(client, ada, [songs[0].id])
    token = token_of(share)
    other = await anonymous.get(f"{PUBLIC}/{token}/stream/{playable.id}")
    assert other.status_code == 404 and error_code(other) == "not_found"
    unknown = await anonymous.get(f"{PUBLIC}/{token}/download/{uuid.uuid4()}")
    assert unknown.status_code == 403  # downloads are off: refused before the song is sought
    malformed = await anonymous.get(f"{PUBLIC}/{token}/stream/nope")
    assert malformed.status_code == 422
    accesses = await _accesses(state, share)
    assert [(a.action, a.status_code, a.song_id) for a in accesses] == [
        ("stream", 404, None),
        ("download", 403, None),
    ]


async def test_a_song_of_the_share_whose_file_is_missing_is_not_found(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    playable: Song,
) -> None:
    share = await create_share(client, ada, [playable.id])
    _delete_file(playable)
    response = await anonymous.get(f"{PUBLIC}/{token_of(share)}/stream/{playable.id}")
    assert response.status_code == 404
    [access] = await _accesses(state, share)
    assert access.status_code == 404 and access.song_id == playable.id


# ---------------------------------------------------------------- the budget


async def test_streaming_spends_the_budget_then_refuses_with_share_exhausted(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    playable: Song,
) -> None:
    share = await create_share(client, ada, [playable.id], max_streaming_minutes=1)
    url = f"{PUBLIC}/{token_of(share)}/stream/{playable.id}"
    # Ten whole streams of the 6-second song spend the minute exactly.
    for _ in range(10):
        response = await anonymous.get(url)
        assert response.status_code == 200
    row = await _share_row(state, share)
    assert row.streamed_seconds == pytest.approx(60.0)
    refused = await anonymous.get(url)
    assert refused.status_code == 403
    assert error_code(refused) == "share_exhausted"
    page = (await anonymous.get(f"{PUBLIC}/{token_of(share)}")).json()
    assert page["is_exhausted"] is True and page["remaining_seconds"] == 0.0
    accesses = await _accesses(state, share)
    assert [a.status_code for a in accesses] == [200] * 10 + [403, 200]
    assert sum(a.seconds for a in accesses) == pytest.approx(60.0)
    assert (await _share_row(state, share)).streamed_seconds == pytest.approx(60.0)


async def test_a_stream_begun_with_budget_left_is_counted_whole(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    playable: Song,
) -> None:
    share = await create_share(client, ada, [playable.id], max_streaming_minutes=1)
    async with state.db.session() as session:
        await session.execute(
            update(Share).where(Share.id == uuid.UUID(share["id"])).values(streamed_seconds=58.0)
        )
    url = f"{PUBLIC}/{token_of(share)}/stream/{playable.id}"
    assert (await anonymous.get(url)).status_code == 200
    assert (await _share_row(state, share)).streamed_seconds == pytest.approx(64.0)
    assert (await anonymous.get(url)).status_code == 403


async def test_raising_the_budget_reopens_the_link(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    playable: Song,
) -> None:
    share = await create_share(client, ada, [playable.id], max_streaming_minutes=1)
    async with state.db.session() as session:
        await session.execute(
            update(Share).where(Share.id == uuid.UUID(share["id"])).values(streamed_seconds=60.0)
        )
    url = f"{PUBLIC}/{token_of(share)}/stream/{playable.id}"
    assert (await anonymous.get(url)).status_code == 403
    await client.put(
        f"/api/v1/shares/{share['id']}", json={"max_streaming_minutes": 2}, headers=ada.headers
    )
    assert (await anonymous.get(url)).status_code == 200


# ---------------------------------------------------------------- downloads


async def test_download_is_refused_unless_the_link_allows_it(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    playable: Song,
) -> None:
    share = await create_share(client, ada, [playable.id])
    response = await anonymous.get(f"{PUBLIC}/{token_of(share)}/download/{playable.id}")
    assert response.status_code == 403
    assert error_code(response) == "share_download_forbidden"
    [access] = await _accesses(state, share)
    assert (access.action, access.status_code) == ("download", 403)


async def test_download_sends_the_original_as_an_attachment_and_counts_it(
    anonymous: httpx.AsyncClient,
    state: AppState,
    client: httpx.AsyncClient,
    ada: SignedIn,
    playable: Song,
) -> None:
    share = await create_share(client, ada, [playable.id], allow_download=True)
    page = (await anonymous.get(f"{PUBLIC}/{token_of(share)}")).json()
    download_url = page["tracks"][0]["download_url"]
    assert download_url == f"{PUBLIC}/{token_of(share)}/download/{playable.id}"
    response = await anonymous.get(download_url)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "Band - Playable.mp3" in response.headers["content-disposition"]
    assert response.content == _file_bytes(playable)
    assert (await _share_row(state, share)).streamed_seconds == pytest.approx(6.0)
    accesses = await _accesses(state, share)
    assert [(a.action, a.status_code) for a in accesses] == [("view", 200), ("download", 200)]


# ---------------------------------------------------------------- rate limit


class TestRateLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"rate_limit_share": "3/minute"}

    async def test_public_routes_are_limited_per_address(
        self,
        app: FastAPI,
        anonymous: httpx.AsyncClient,
        client: httpx.AsyncClient,
        ada: SignedIn,
        songs: list[Song],
    ) -> None:
        share = await create_share(client, ada, [songs[0].id])
        token = token_of(share)
        statuses = [(await anonymous.get(f"{PUBLIC}/{token}")).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        limited = await anonymous.get(f"/s/{token}")
        assert limited.status_code == 429
        assert error_code(limited) == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        stream = await anonymous.get(f"{PUBLIC}/{token}/stream/{songs[0].id}")
        assert stream.status_code == 429
        transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 52000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as other:
            assert (await other.get(f"{PUBLIC}/{token}")).status_code == 200
        # The owner's routes spend no share budget.
        assert (await client.get("/api/v1/shares", headers=ada.headers)).status_code == 200
