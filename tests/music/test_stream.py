"""`GET/HEAD /songs/{id}/stream` of original files: the bytes and their validators, ranges
(206, 416), conditional requests (304), If-Range, and who may stream what."""

from __future__ import annotations

import os
import uuid
from email.utils import format_datetime, parsedate_to_datetime

import anyio
import httpx
import pytest

from cinesonic.kit.timeutil import utcnow
from cinesonic.models.library import Library, LibraryPermission
from cinesonic.models.music import Song
from cinesonic.state import AppState
from tests.fixtures.music import CONTENT_TYPES, create_library, create_song
from tests.fixtures.users import (
    SignedIn,
    assign_role,
    create_and_login,
    create_api_key,
    create_role,
)
from tests.music.stream_fixtures import ada, error_code, flac_song, library, stream_url

__all__ = ["ada", "flac_song", "library"]


async def file_bytes(song: Song) -> bytes:
    return await anyio.Path(song.path).read_bytes()


@pytest.mark.parametrize("fmt", ["mp3", "flac", "ogg", "opus", "m4a", "wav", "aiff", "wma"])
async def test_original_file_is_served_with_its_type_and_validators(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, library: Library, fmt: str
) -> None:
    song = await create_song(state, library, f"Song {fmt}", fmt=fmt, write_file=True)
    response = await client.get(stream_url(song), headers=ada.headers)
    assert response.status_code == 200
    assert response.content == await file_bytes(song)
    assert response.headers["content-type"] == CONTENT_TYPES[fmt]
    assert response.headers["content-length"] == str(song.size_bytes)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    modified = parsedate_to_datetime(response.headers["last-modified"])
    assert int(modified.timestamp()) == int((await anyio.Path(song.path).stat()).st_mtime)
    assert response.headers["cache-control"] == "private, no-cache"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-", 0, None), ("bytes=-500", -500, None), ("bytes=10-20", 10, 21)],
)
async def test_range_answers_206_with_those_bytes(
    client: httpx.AsyncClient,
    ada: SignedIn,
    flac_song: Song,
    header: str,
    start: int,
    end: int | None,
) -> None:
    data = await file_bytes(flac_song)
    response = await client.get(stream_url(flac_song), headers={**ada.headers, "Range": header})
    assert response.status_code == 206
    expected = data[start:end]
    assert response.content == expected
    first = start % len(data)
    assert response.headers["content-range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    )
    assert response.headers["content-length"] == str(len(expected))


async def test_range_past_the_end_is_416_in_the_envelope(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    size = flac_song.size_bytes
    response = await client.get(
        stream_url(flac_song), headers={**ada.headers, "Range": f"bytes={size}-"}
    )
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"]["code"] == "range_not_satisfiable"
    assert body["error"]["details"] == {"size": size}
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=20-10", "bytes", "bytes=--5"])
async def test_malformed_range_is_416(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song, header: str
) -> None:
    response = await client.get(stream_url(flac_song), headers={**ada.headers, "Range": header})
    assert response.status_code == 416
    assert error_code(response) == "invalid_range"
    assert response.headers["content-range"] == f"bytes */{flac_song.size_bytes}"


async def test_several_ranges_that_do_not_meet_are_answered_whole(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    response = await client.get(
        stream_url(flac_song), headers={**ada.headers, "Range": "bytes=0-9,100-109"}
    )
    assert response.status_code == 200
    assert response.content == await file_bytes(flac_song)


async def test_an_unknown_range_unit_is_ignored(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    response = await client.get(
        stream_url(flac_song), headers={**ada.headers, "Range": "items=0-1"}
    )
    assert response.status_code == 200


async def test_head_answers_the_headers_without_a_body(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    get = await client.get(stream_url(flac_song), headers=ada.headers)
    head = await client.head(stream_url(flac_song), headers=ada.headers)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-length", "content-type", "etag", "last-modified", "accept-ranges"):
        assert head.headers[name] == get.headers[name]
    ranged = await client.head(stream_url(flac_song), headers={**ada.headers, "Range": "bytes=0-9"})
    assert ranged.status_code == 206
    assert ranged.headers["content-length"] == "10"


async def test_if_none_match_answers_304(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    first = await client.get(stream_url(flac_song), headers=ada.headers)
    etag = first.headers["etag"]
    response = await client.get(
        stream_url(flac_song), headers={**ada.headers, "If-None-Match": etag}
    )
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    weak = await client.get(
        stream_url(flac_song), headers={**ada.headers, "If-None-Match": f'"x", W/{etag}'}
    )
    assert weak.status_code == 304
    other = await client.get(stream_url(flac_song), headers={**ada.headers, "If-None-Match": '"x"'})
    assert other.status_code == 200


async def test_if_modified_since_answers_304(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    first = await client.get(stream_url(flac_song), headers=ada.headers)
    response = await client.get(
        stream_url(flac_song),
        headers={**ada.headers, "If-Modified-Since": first.headers["last-modified"]},
    )
    assert response.status_code == 304


async def test_a_rewritten_file_gets_a_new_etag(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    first = await client.get(stream_url(flac_song), headers=ada.headers)
    stat = os.stat(flac_song.path)
    os.utime(flac_song.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    second = await client.get(
        stream_url(flac_song), headers={**ada.headers, "If-None-Match": first.headers["etag"]}
    )
    assert second.status_code == 200
    assert second.headers["etag"] != first.headers["etag"]


async def test_if_range_with_the_current_tag_or_date_keeps_the_range(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    first = await client.get(stream_url(flac_song), headers=ada.headers)
    for validator in (first.headers["etag"], first.headers["last-modified"]):
        response = await client.get(
            stream_url(flac_song),
            headers={**ada.headers, "Range": "bytes=0-9", "If-Range": validator},
        )
        assert response.status_code == 206
        assert len(response.content) == 10


async def test_if_range_with_a_stale_validator_answers_the_whole_file(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    first = await client.get(stream_url(flac_song), headers=ada.headers)
    modified = parsedate_to_datetime(first.headers["last-modified"])
    for validator in ('"stale"', format_datetime(modified.replace(year=2001), usegmt=True)):
        response = await client.get(
            stream_url(flac_song),
            headers={**ada.headers, "Range": "bytes=0-9", "If-Range": validator},
        )
        assert response.status_code == 200
        assert response.content == first.content


async def test_api_key_in_the_query_is_accepted(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    key = await create_api_key(client, ada)
    response = await client.get(stream_url(flac_song, api_key=key["key"]))
    assert response.status_code == 200
    assert response.content == await file_bytes(flac_song)


async def test_stream_needs_a_sign_in(client: httpx.AsyncClient, flac_song: Song) -> None:
    response = await client.get(stream_url(flac_song))
    assert response.status_code == 401
    assert error_code(response) == "authentication_required"
    bad_key = await client.get(stream_url(flac_song, api_key="not-a-key"))
    assert bad_key.status_code == 401


async def test_stream_needs_the_stream_permission(
    state: AppState, client: httpx.AsyncClient, flac_song: Song
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    reader = await create_and_login(state, client, "reader")
    await create_role(client, admin, "listener-only", ["library.read", "music.read"])
    await assign_role(client, admin, reader.user_id, "listener-only")
    response = await client.delete(
        f"/api/v1/rbac/users/{reader.user_id}/roles/user", headers=admin.headers
    )
    assert response.status_code in (200, 204), response.text
    refused = await client.get(stream_url(flac_song), headers=reader.headers)
    assert refused.status_code == 403
    assert error_code(refused) == "forbidden"


async def test_a_song_of_an_unreadable_library_is_404(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn
) -> None:
    private = await create_library(state, "Private", is_restricted=True)
    song = await create_song(state, private, "Secret", fmt="flac", write_file=True)
    response = await client.get(stream_url(song), headers=ada.headers)
    assert response.status_code == 404
    assert error_code(response) == "not_found"
    bob = await create_and_login(state, client, "bob")
    async with state.db.session() as session:
        session.add(LibraryPermission(library_id=private.id, user_id=uuid.UUID(bob.user_id)))
    allowed = await client.get(stream_url(song), headers=bob.headers)
    assert allowed.status_code == 200


async def test_unknown_and_removed_songs_are_404(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    unknown = await client.get(
        stream_url("00000000-0000-7000-8000-000000000000"), headers=ada.headers
    )
    assert unknown.status_code == 404
    async with state.db.session() as session:
        row = await session.get_one(Song, flac_song.id)
        row.removed_at = utcnow()
    removed = await client.get(stream_url(flac_song), headers=ada.headers)
    assert removed.status_code == 404


async def test_a_song_whose_file_is_missing_is_404_song_file_missing(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    os.unlink(flac_song.path)
    response = await client.get(stream_url(flac_song), headers=ada.headers)
    assert response.status_code == 404
    assert error_code(response) == "song_file_missing"
    transcode = await client.get(stream_url(flac_song, format="mp3"), headers=ada.headers)
    assert transcode.status_code == 404
    assert error_code(transcode) == "song_file_missing"


async def test_a_directory_in_place_of_the_file_is_404(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    os.unlink(flac_song.path)
    os.mkdir(flac_song.path)
    response = await client.get(stream_url(flac_song), headers=ada.headers)
    assert response.status_code == 404
    assert error_code(response) == "song_file_missing"


async def test_bad_query_values_are_422(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    for query in ({"format": "flac"}, {"bitrate": "0"}, {"time_offset": "-1"}):
        response = await client.get(stream_url(flac_song, **query), headers=ada.headers)
        assert response.status_code == 422, query
        assert error_code(response) == "validation_error"
    raw = await client.get(stream_url(flac_song, format="raw", time_offset=5), headers=ada.headers)
    assert raw.status_code == 422
    assert error_code(raw) == "time_offset_needs_transcode"


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_stream": "2/minute"}])
async def test_streams_are_rate_limited_per_user(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    for _ in range(2):
        assert (await client.head(stream_url(flac_song), headers=ada.headers)).status_code == 200
    refused = await client.get(stream_url(flac_song), headers=ada.headers)
    assert refused.status_code == 429
    assert error_code(refused) == "rate_limited"
    assert "retry-after" in refused.headers
