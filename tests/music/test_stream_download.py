"""`GET/HEAD /songs/{id}/download`: the original file as an attachment with an RFC 6266 name,
ranges and validators as for streams, and who may download."""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

import anyio
import httpx
from sqlalchemy import func, select

from cinesonic.models.library import Library
from cinesonic.models.music import Play, Song
from cinesonic.state import AppState
from tests.fixtures.music import create_library, create_song
from tests.fixtures.users import SignedIn, create_and_login, create_api_key
from tests.music.stream_fixtures import ada, download_url, error_code, flac_song, library

__all__ = ["ada", "flac_song", "library"]


def disposition_names(header: str) -> tuple[str | None, str | None]:
    """(`filename`, decoded `filename*`) of a Content-Disposition value."""
    plain = re.search(r'filename="([^"]*)"', header)
    extended = re.search(r"filename\*=UTF-8''([^;]+)", header)
    return (
        plain.group(1) if plain else None,
        unquote(extended.group(1), encoding="utf-8") if extended else None,
    )


async def test_download_is_the_original_file_as_an_attachment(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    response = await client.get(download_url(flac_song), headers=ada.headers)
    assert response.status_code == 200
    assert response.content == await anyio.Path(flac_song.path).read_bytes()
    assert response.headers["content-type"] == "audio/flac"
    header = response.headers["content-disposition"]
    assert header == 'attachment; filename="Artist - Flac Song.flac"'
    assert response.headers["accept-ranges"] == "bytes"
    assert "etag" in response.headers


async def test_a_non_ascii_name_is_sent_as_filename_star(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, library: Library
) -> None:
    song = await create_song(
        state,
        library,
        "Hoppípolla — «Ágætis»",
        artists=["Sigur Rós"],
        fmt="mp3",
        write_file=True,
    )
    response = await client.get(download_url(song), headers=ada.headers)
    assert response.status_code == 200
    header = response.headers["content-disposition"]
    assert header.startswith("attachment; ")
    fallback, exact = disposition_names(header)
    assert exact == "Sigur Rós - Hoppípolla — «Ágætis».mp3"
    assert fallback is not None and fallback.isascii()
    assert fallback.startswith("Sigur Ros - Hoppipolla")
    assert fallback.endswith(".mp3")


async def test_characters_unsafe_in_file_names_are_replaced(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, library: Library
) -> None:
    song = await create_song(
        state, library, 'AC/DC: "Live"?', fmt="flac", write_file=True, relative_path="x/a.flac"
    )
    response = await client.get(download_url(song), headers=ada.headers)
    fallback, exact = disposition_names(response.headers["content-disposition"])
    assert fallback == "Artist - AC_DC_ _Live__.flac"
    assert exact is None


async def test_download_takes_ranges_conditionals_and_head(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    ranged = await client.get(
        download_url(flac_song), headers={**ada.headers, "Range": "bytes=-10"}
    )
    assert ranged.status_code == 206
    assert len(ranged.content) == 10
    head = await client.head(download_url(flac_song), headers=ada.headers)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-disposition"].startswith("attachment")
    assert head.headers["content-length"] == str(flac_song.size_bytes)
    etag = head.headers["etag"]
    cached = await client.get(
        download_url(flac_song), headers={**ada.headers, "If-None-Match": etag}
    )
    assert cached.status_code == 304
    past = await client.get(download_url(flac_song), headers={**ada.headers, "Range": "bytes=10-5"})
    assert past.status_code == 416


async def test_api_key_in_the_query_is_accepted(
    client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    key = await create_api_key(client, ada)
    response = await client.get(download_url(flac_song, api_key=key["key"]))
    assert response.status_code == 200


async def test_download_needs_the_download_permission(
    state: AppState, client: httpx.AsyncClient, flac_song: Song
) -> None:
    assert (await client.get(download_url(flac_song))).status_code == 401
    guest = await create_and_login(state, client, "visitor", role="guest")
    response = await client.get(download_url(flac_song), headers=guest.headers)
    assert response.status_code == 403
    assert error_code(response) == "forbidden"
    # Guests may still stream.
    stream = await client.get(f"/api/v1/songs/{flac_song.id}/stream", headers=guest.headers)
    assert stream.status_code == 200


async def test_unreadable_and_missing_songs_are_404(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    private = await create_library(state, "Private", is_restricted=True)
    secret = await create_song(state, private, "Secret", fmt="flac", write_file=True)
    hidden = await client.get(download_url(secret), headers=ada.headers)
    assert hidden.status_code == 404
    assert error_code(hidden) == "not_found"
    os.unlink(flac_song.path)
    missing = await client.get(download_url(flac_song), headers=ada.headers)
    assert missing.status_code == 404
    assert error_code(missing) == "song_file_missing"


async def test_downloads_count_no_plays(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, flac_song: Song
) -> None:
    await client.get(download_url(flac_song), headers=ada.headers)
    async with state.db.session() as session:
        plays = await session.scalar(
            select(func.count()).select_from(Play).where(Play.song_id == flac_song.id)
        )
        row = await session.get_one(Song, flac_song.id)
        assert (plays, row.play_count) == (0, 0)
