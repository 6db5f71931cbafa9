"""`GET /images/{id}`: the bytes with their validators, conditional requests (304), HEAD,
ranges (206), thumbnails made once, and who may read."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.users import SignedIn, create_api_key
from tests.image.images import create_jpeg, create_png, create_two_tone_png, decode, upload


async def uploaded(client: httpx.AsyncClient, who: SignedIn, data: bytes) -> dict[str, Any]:
    response = await upload(client, who, data)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def image_url(image: dict[str, Any]) -> str:
    return f"/api/v1/images/{image['id']}"


def created_at(image: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(image["created_at"])


def thumbnail_path(root: Path, image: dict[str, Any], size: int, extension: str = "png") -> Path:
    sha = image["etag"]
    return root / "thumbs" / str(size) / sha[:2] / f"{sha}.{extension}"


async def test_image_is_served_with_its_validators(
    client: httpx.AsyncClient, ada: SignedIn, store_root: Path
) -> None:
    image = await uploaded(client, ada, create_png((64, 48)))
    response = await client.get(image_url(image), headers=ada.headers)
    assert response.status_code == 200
    stored = store_root / image["etag"][:2] / f"{image['etag']}.png"
    assert response.content == stored.read_bytes()
    assert response.headers["etag"] == f'"{image["etag"]}"'
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-length"] == str(image["size_bytes"])
    assert response.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert response.headers["accept-ranges"] == "bytes"
    last_modified = parsedate_to_datetime(response.headers["last-modified"])
    assert last_modified == created_at(image).replace(microsecond=0)


async def test_matching_if_none_match_answers_304_without_a_body(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await uploaded(client, ada, create_png())
    first = await client.get(image_url(image), headers=ada.headers)
    response = await client.get(
        image_url(image), headers={**ada.headers, "If-None-Match": first.headers["etag"]}
    )
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == first.headers["etag"]
    assert response.headers["cache-control"] == first.headers["cache-control"]
    assert response.headers["last-modified"] == first.headers["last-modified"]


async def test_weak_tag_in_a_list_answers_304(client: httpx.AsyncClient, ada: SignedIn) -> None:
    image = await uploaded(client, ada, create_png())
    tags = f'"0000", W/"{image["etag"]}", "ffff"'
    response = await client.get(image_url(image), headers={**ada.headers, "If-None-Match": tags})
    assert response.status_code == 304


async def test_if_none_match_star_answers_304(client: httpx.AsyncClient, ada: SignedIn) -> None:
    image = await uploaded(client, ada, create_png())
    response = await client.get(image_url(image), headers={**ada.headers, "If-None-Match": "*"})
    assert response.status_code == 304


async def test_other_entity_tag_answers_the_bytes(client: httpx.AsyncClient, ada: SignedIn) -> None:
    image = await uploaded(client, ada, create_png())
    response = await client.get(
        image_url(image), headers={**ada.headers, "If-None-Match": '"something-else"'}
    )
    assert response.status_code == 200
    assert response.content


async def test_if_modified_since_last_modified_answers_304(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await uploaded(client, ada, create_png())
    first = await client.get(image_url(image), headers=ada.headers)
    response = await client.get(
        image_url(image),
        headers={**ada.headers, "If-Modified-Since": first.headers["last-modified"]},
    )
    assert response.status_code == 304
    assert response.content == b""


async def test_if_modified_since_an_earlier_date_answers_the_bytes(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await uploaded(client, ada, create_png())
    earlier = created_at(image) - timedelta(minutes=5)
    response = await client.get(
        image_url(image),
        headers={**ada.headers, "If-Modified-Since": format_datetime(earlier, usegmt=True)},
    )
    assert response.status_code == 200


async def test_unparsable_if_modified_since_is_ignored(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await uploaded(client, ada, create_png())
    response = await client.get(
        image_url(image), headers={**ada.headers, "If-Modified-Since": "yesterday-ish"}
    )
    assert response.status_code == 200


async def test_if_none_match_decides_over_if_modified_since(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await uploaded(client, ada, create_png())
    first = await client.get(image_url(image), headers=ada.headers)
    response = await client.get(
        image_url(image),
        headers={
            **ada.headers,
            "If-None-Match": '"stale"',
            "If-Modified-Since": first.headers["last-modified"],
        },
    )
    assert response.status_code == 200


async def test_head_answers_the_headers_without_the_bytes(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await uploaded(client, ada, create_png())
    response = await client.head(image_url(image), headers=ada.headers)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["etag"] == f'"{image["etag"]}"'
    assert response.headers["content-length"] == str(image["size_bytes"])


async def test_range_answers_206_with_the_slice(client: httpx.AsyncClient, ada: SignedIn) -> None:
    image = await uploaded(client, ada, create_png((64, 48)))
    whole = (await client.get(image_url(image), headers=ada.headers)).content
    response = await client.get(image_url(image), headers={**ada.headers, "Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.content == whole[:10]
    assert response.headers["content-range"] == f"bytes 0-9/{len(whole)}"
    assert response.headers["etag"] == f'"{image["etag"]}"'


async def test_range_past_the_end_answers_416(client: httpx.AsyncClient, ada: SignedIn) -> None:
    image = await uploaded(client, ada, create_png())
    response = await client.get(
        image_url(image), headers={**ada.headers, "Range": "bytes=999999-1000000"}
    )
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{image['size_bytes']}"


async def test_api_key_in_the_query_reads_an_image(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await uploaded(client, ada, create_png())
    key = await create_api_key(client, ada, "player")
    response = await client.get(image_url(image), params={"api_key": key["key"]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"


async def test_any_signed_in_user_reads_any_image(
    client: httpx.AsyncClient, ada: SignedIn, bob: SignedIn
) -> None:
    image = await uploaded(client, ada, create_png())
    assert (await client.get(image_url(image), headers=bob.headers)).status_code == 200


async def test_reading_an_image_needs_a_signed_in_principal(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await uploaded(client, ada, create_png())
    response = await client.get(image_url(image))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


async def test_unknown_image_is_not_found(client: httpx.AsyncClient, ada: SignedIn) -> None:
    response = await client.get(f"/api/v1/images/{uuid.uuid4()}", headers=ada.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_malformed_image_id_is_a_validation_error(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    response = await client.get("/api/v1/images/not-an-id", headers=ada.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_image_whose_file_is_gone_is_not_found(
    client: httpx.AsyncClient, ada: SignedIn, store_root: Path
) -> None:
    image = await uploaded(client, ada, create_png())
    (store_root / image["etag"][:2] / f"{image['etag']}.png").unlink()
    response = await client.get(image_url(image), headers=ada.headers)
    assert response.status_code == 404


async def test_thumbnail_is_scaled_in_the_original_format(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await uploaded(client, ada, create_two_tone_png((600, 400)))
    response = await client.get(image_url(image), params={"size": 128}, headers=ada.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["etag"] == f'"{image["etag"]}-128"'
    thumbnail = decode(response.content)
    assert thumbnail.format == "PNG"
    assert thumbnail.size == (128, 85)
    assert thumbnail.convert("RGB").getpixel((5, 40)) == (255, 0, 0)


async def test_jpeg_thumbnail_is_a_jpeg(client: httpx.AsyncClient, ada: SignedIn) -> None:
    response = await upload(
        client, ada, create_jpeg((400, 300)), filename="a.jpg", content_type="image/jpeg"
    )
    image = response.json()
    thumbnail = await client.get(image_url(image), params={"size": 64}, headers=ada.headers)
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert decode(thumbnail.content).format == "JPEG"
    assert decode(thumbnail.content).size == (64, 48)


async def test_thumbnail_is_generated_once(
    client: httpx.AsyncClient, ada: SignedIn, store_root: Path
) -> None:
    image = await uploaded(client, ada, create_png((600, 400)))
    path = thumbnail_path(store_root, image, 256)
    assert not path.exists()
    first = await client.get(image_url(image), params={"size": 256}, headers=ada.headers)
    written = path.stat()
    second = await client.get(image_url(image), params={"size": 256}, headers=ada.headers)
    assert first.content == second.content == path.read_bytes()
    assert path.stat().st_mtime_ns == written.st_mtime_ns
    assert path.stat().st_ino == written.st_ino


async def test_thumbnail_answers_304_to_its_own_tag(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await uploaded(client, ada, create_png((600, 400)))
    response = await client.get(
        image_url(image),
        params={"size": 128},
        headers={**ada.headers, "If-None-Match": f'"{image["etag"]}-128"'},
    )
    assert response.status_code == 304
    whole_tag = await client.get(
        image_url(image),
        params={"size": 128},
        headers={**ada.headers, "If-None-Match": f'"{image["etag"]}"'},
    )
    assert whole_tag.status_code == 200


async def test_concurrent_first_thumbnail_requests_agree(
    client: httpx.AsyncClient, ada: SignedIn, store_root: Path
) -> None:
    image = await uploaded(client, ada, create_two_tone_png((1000, 700)))
    responses = await asyncio.gather(
        *(client.get(image_url(image), params={"size": 512}, headers=ada.headers) for _ in range(8))
    )
    assert {r.status_code for r in responses} == {200}
    path = thumbnail_path(store_root, image, 512)
    assert {r.content for r in responses} == {path.read_bytes()}
    assert decode(path.read_bytes()).size == (512, 358)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left


async def test_size_beyond_the_image_serves_the_original(
    client: httpx.AsyncClient, ada: SignedIn, store_root: Path
) -> None:
    image = await uploaded(client, ada, create_png((100, 80)))
    response = await client.get(image_url(image), params={"size": 1024}, headers=ada.headers)
    assert response.status_code == 200
    assert response.headers["etag"] == f'"{image["etag"]}"'
    assert decode(response.content).size == (100, 80)
    assert not (store_root / "thumbs").exists()


async def test_unlisted_size_is_a_validation_error(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await uploaded(client, ada, create_png())
    response = await client.get(image_url(image), params={"size": 100}, headers=ada.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "size"


async def test_size_that_is_not_a_number_is_a_validation_error(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await uploaded(client, ada, create_png())
    response = await client.get(image_url(image), params={"size": "big"}, headers=ada.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "size"
