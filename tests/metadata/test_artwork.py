"""Provider artwork: `/images/{type}/{size}/{path}` fetches a TMDb image once, keeps it on disk
and serves it with validators — also once the provider is gone."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from cinesonic.errors import ValidationFailed
from cinesonic.metadata.artwork import ArtworkType, check_request
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_api_key
from tests.metadata.fake_tmdb import (
    BROKEN_IMAGE,
    IMAGES,
    MISSING_IMAGE,
    POSTER_JPEG,
    POSTER_PNG,
    FakeTmdb,
)

IMAGES_API = "/api/v1/images"


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


@pytest.fixture
def private_tmdb(state: AppState) -> Iterator[FakeTmdb]:
    """A TMDb of this test's own, which it may stop."""
    server = FakeTmdb()
    server.start()
    state.settings.tmdb_base_url = server.api_url
    yield server
    server.stop()


async def test_an_image_is_fetched_once_then_served_from_disk_with_validators(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb
) -> None:
    url = f"{IMAGES_API}/poster/w500{POSTER_PNG}"

    first = await client.get(url, headers=ada.headers)
    second = await client.get(url, headers=ada.headers)
    jpeg = await client.get(f"{IMAGES_API}/poster/w92{POSTER_JPEG}", headers=ada.headers)

    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/png"
    assert first.content == IMAGES[POSTER_PNG][1]
    assert first.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert jpeg.headers["content-type"] == "image/jpeg"
    assert tmdb.hits[f"/t/p/w500{POSTER_PNG}"] == 1
    assert tmdb.hits["/3/configuration"] == 1  # the image server's address, cached
    stored = state.settings.data_dir / "images" / "provider" / "tmdb" / "w500" / POSTER_PNG[1:]
    assert stored.read_bytes() == IMAGES[POSTER_PNG][1]

    etag, modified = first.headers["etag"], first.headers["last-modified"]
    not_modified = await client.get(url, headers={**ada.headers, "If-None-Match": etag})
    not_modified_since = await client.get(
        url, headers={**ada.headers, "If-Modified-Since": modified}
    )
    changed = await client.get(url, headers={**ada.headers, "If-None-Match": '"other"'})
    partial = await client.get(url, headers={**ada.headers, "Range": "bytes=0-3"})
    assert not_modified.status_code == not_modified_since.status_code == 304
    assert not_modified.content == b"" and not_modified.headers["etag"] == etag
    assert changed.status_code == 200
    assert partial.status_code == 206 and partial.content == IMAGES[POSTER_PNG][1][:4]
    assert tmdb.hits[f"/t/p/w500{POSTER_PNG}"] == 1


async def test_kept_images_are_served_while_the_provider_is_down(
    state: AppState, client: httpx.AsyncClient, ada: SignedIn, private_tmdb: FakeTmdb
) -> None:
    # Given the image server's address, `/configuration` is not needed.
    state.settings.tmdb_image_base_url = f"{private_tmdb.base_url}/t/p"
    url = f"{IMAGES_API}/backdrop/w1280{POSTER_JPEG}"
    first = await client.get(url, headers=ada.headers)
    assert first.status_code == 200, first.text
    assert private_tmdb.hits["/3/configuration"] == 0

    private_tmdb.stop()
    state.settings.tmdb_retries = 0
    again = await client.get(url, headers=ada.headers)
    revalidated = await client.get(
        url, headers={**ada.headers, "If-None-Match": first.headers["etag"]}
    )
    unseen = await client.get(f"{IMAGES_API}/backdrop/w300{POSTER_JPEG}", headers=ada.headers)

    assert again.status_code == 200 and again.content == first.content
    assert revalidated.status_code == 304
    assert_error(unseen, 503, "provider_unavailable")


async def test_media_players_may_use_an_api_key_in_the_query(
    client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb
) -> None:
    key = await create_api_key(client, ada)

    response = await client.get(
        f"{IMAGES_API}/profile/w185{POSTER_JPEG}", params={"api_key": key["key"]}
    )

    assert response.status_code == 200, response.text


async def test_refusals(client: httpx.AsyncClient, ada: SignedIn, tmdb: FakeTmdb) -> None:
    assert_error(
        await client.get(f"{IMAGES_API}/poster/w500{POSTER_PNG}"), 401, "authentication_required"
    )
    for path in (
        f"/poster/h632{POSTER_PNG}",  # a profile size, not a poster's
        f"/poster/w9999{POSTER_PNG}",
        f"/banner/w500{POSTER_PNG}",
        "/poster/w500/%2E%2E/%2E%2E/secret.key",
        "/poster/w500/..%2F..%2Fsecret.jpg",
        "/poster/w500/sub/dir/file.jpg",
        "/poster/w500/file.svg",
        "/poster/w500/file%00.jpg",
    ):
        response = await client.get(f"{IMAGES_API}{path}", headers=ada.headers)
        assert_error(response, 422, "validation_error")
    assert sum(tmdb.hits.values()) == 0

    missing = await client.get(f"{IMAGES_API}/poster/w500{MISSING_IMAGE}", headers=ada.headers)
    broken = await client.get(f"{IMAGES_API}/still/w300{BROKEN_IMAGE}", headers=ada.headers)
    assert_error(missing, 404, "not_found")
    assert_error(broken, 502, "provider_error")


def test_requests_are_checked_before_any_path_is_built() -> None:
    request = check_request(ArtworkType.logo, "w45", "/abc_DEF-1.png")

    assert (request.file_name, request.content_type) == ("abc_DEF-1.png", "image/png")
    for size, path in (("w45", "../x.png"), ("w45", "//x.png"), ("w45", ".png"), ("w780", "x.png")):
        with pytest.raises(ValidationFailed):
            check_request(ArtworkType.logo, size, path)
