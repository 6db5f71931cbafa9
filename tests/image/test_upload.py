"""`POST /images/avatar` and `PUT /users/me/avatar`: images recognised by their content,
cleaned, stored once; everything else refused with the status that says why."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from sqlalchemy import func, select

from cinesonic.models.activity import Activity
from cinesonic.models.image import Image
from cinesonic.state import AppState
from tests.fixtures.users import PASSWORD, SignedIn, create_user
from tests.image.images import (
    ARTIST,
    AVATAR,
    MAKE,
    MY_AVATAR,
    ORIENTATION,
    corrupt_png_checksum,
    create_in_format,
    create_jpeg,
    create_noise_png,
    create_png,
    create_two_tone_png,
    decode,
    png_claiming,
    upload,
)

MIB = 1024 * 1024


async def count_images(state: AppState) -> int:
    async with state.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Image)) or 0)


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.glob("*/*") if path.parent.name != "thumbs"]


async def my_avatar_id(client: httpx.AsyncClient, who: SignedIn) -> str | None:
    response = await client.get("/api/v1/users/me", headers=who.headers)
    avatar: str | None = response.json()["avatar_image_id"]
    return avatar


async def test_png_avatar_is_stored_and_answered_with_its_address(
    client: httpx.AsyncClient, ada: SignedIn, store_root: Path
) -> None:
    response = await upload(client, ada, create_png((64, 48)))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/images/{body['id']}"
    assert body["content_type"] == "image/png"
    assert (body["width"], body["height"]) == (64, 48)
    assert body["kind"] == "avatar"
    stored = store_root / body["etag"][:2] / f"{body['etag']}.png"
    assert (
        stored.read_bytes()
        == (await client.get(response.headers["location"], headers=ada.headers)).content
    )
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == body["etag"]
    assert body["size_bytes"] == stored.stat().st_size
    assert await my_avatar_id(client, ada) == body["id"]


async def test_jpeg_avatar_loses_its_exif_and_keeps_its_orientation(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    # Orientation 6: the camera was turned; viewers rotate the 80×40 pixels to stand 40×80.
    photo = create_jpeg((80, 40), exif={ORIENTATION: 6, MAKE: "SpyCam", ARTIST: "Ada at home"})
    assert dict(decode(photo).getexif())[ARTIST] == "Ada at home"
    response = await upload(client, ada, photo, filename="me.jpg", content_type="image/jpeg")
    assert response.status_code == 201, response.text
    assert (response.json()["width"], response.json()["height"]) == (40, 80)
    served = await client.get(response.headers["location"], headers=ada.headers)
    image = decode(served.content)
    assert image.format == "JPEG"
    assert image.size == (40, 80)
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info


async def test_png_text_and_exif_are_stripped(client: httpx.AsyncClient, ada: SignedIn) -> None:
    picture = create_png(text={"Comment": "taken at 12 Elm St"}, exif={MAKE: "SpyCam"})
    assert decode(picture).info["Comment"] == "taken at 12 Elm St"
    response = await upload(client, ada, picture)
    served = decode((await client.get(response.headers["location"], headers=ada.headers)).content)
    assert "Comment" not in served.info
    assert "exif" not in served.info
    assert dict(served.getexif()) == {}


async def test_large_avatar_is_scaled_to_1024_pixels_on_its_long_side(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    response = await upload(client, ada, create_two_tone_png((2400, 1200)))
    assert response.status_code == 201, response.text
    assert (response.json()["width"], response.json()["height"]) == (1024, 512)
    served = decode((await client.get(response.headers["location"], headers=ada.headers)).content)
    assert served.size == (1024, 512)
    assert served.convert("RGB").getpixel((10, 256)) == (255, 0, 0)
    assert served.convert("RGB").getpixel((1013, 256)) == (0, 0, 255)


async def test_png_named_jpg_is_accepted_as_png(client: httpx.AsyncClient, ada: SignedIn) -> None:
    response = await upload(
        client, ada, create_png(), filename="holiday.jpg", content_type="image/jpeg"
    )
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "image/png"
    served = await client.get(response.headers["location"], headers=ada.headers)
    assert served.headers["content-type"] == "image/png"
    assert decode(served.content).format == "PNG"


async def test_same_bytes_uploaded_twice_are_one_image(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, bob: SignedIn, store_root: Path
) -> None:
    picture = create_png(color=(1, 2, 3, 255))
    first = (await upload(client, ada, picture)).json()
    again = (await upload(client, ada, picture)).json()
    bobs = (await upload(client, bob, picture)).json()
    assert first["id"] == again["id"] == bobs["id"]
    assert await count_images(state) == 1
    assert len(stored_files(store_root)) == 1
    assert await my_avatar_id(client, bob) == first["id"]


async def test_concurrent_uploads_of_the_same_bytes_share_one_image(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn, bob: SignedIn
) -> None:
    picture = create_png((300, 300), color=(7, 7, 7, 255))
    responses = await asyncio.gather(
        *(upload(client, who, picture) for who in (ada, bob, ada, bob))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count_images(state) == 1


async def test_different_images_are_different_rows(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn
) -> None:
    first = (await upload(client, ada, create_png(color=(1, 2, 3, 255)))).json()
    second = (await upload(client, ada, create_png(color=(3, 2, 1, 255)))).json()
    assert first["id"] != second["id"]
    assert await count_images(state) == 2
    assert await my_avatar_id(client, ada) == second["id"]


async def test_put_my_avatar_replaces_it_and_answers_200(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    await upload(client, ada, create_png(color=(1, 2, 3, 255)))
    response = await upload(client, ada, create_jpeg(), method="PUT", url=MY_AVATAR)
    assert response.status_code == 200, response.text
    assert response.json()["content_type"] == "image/jpeg"
    assert await my_avatar_id(client, ada) == response.json()["id"]


async def test_setting_an_avatar_is_audited(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn
) -> None:
    image_id = (await upload(client, ada, create_png(), filename="me.png")).json()["id"]
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "user.avatar_set"))
    assert entry is not None
    assert entry.resource_id == image_id
    assert entry.details["filename"] == "me.png"
    assert entry.details["declared_type"] == "image/png"


async def test_upload_over_2_mib_is_refused_with_413(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn
) -> None:
    big = create_noise_png((1000, 1000))
    assert len(big) > 2.5 * MIB
    response = await upload(client, ada, big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response.json()["error"]["details"] == {"max_bytes": 2 * MIB}
    assert await count_images(state) == 0
    assert await my_avatar_id(client, ada) is None


async def test_upload_of_exactly_2_mib_is_read_whole(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    # At the limit the size check passes; the bytes (a PNG cut short) are then judged by Pillow.
    exact = create_noise_png((1000, 1000))[: 2 * MIB]
    response = await upload(client, ada, exact)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_image"


async def test_streamed_upload_without_length_stops_being_read_past_the_limit(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    boundary = "cinesonic-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    chunk = b"\x89PNG\r\n\x1a\n" + b"\x00" * (64 * 1024 - 8)
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head
        for _ in range(160):  # 10 MiB, never announced in a Content-Length
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await client.post(
        AVATAR,
        content=body(),
        headers={**ada.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert sent <= 2 * MIB + 2 * len(chunk)


async def test_declared_length_past_the_limit_is_refused_before_reading(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    response = await client.post(
        AVATAR,
        content=b"--b\r\n",
        headers={
            **ada.headers,
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(50 * MIB),
        },
    )
    assert response.status_code == 413


async def test_text_declared_as_png_is_refused_with_415(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn
) -> None:
    response = await upload(client, ada, b"hello, I am not a picture\n", filename="a.png")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert response.json()["error"]["details"]["detected"] is None
    assert await count_images(state) == 0


async def test_gif_is_refused_with_415_naming_its_type(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    response = await upload(client, ada, create_in_format("GIF"), filename="a.gif")
    assert response.status_code == 415
    assert response.json()["error"]["details"]["detected"] == "image/gif"


async def test_webp_declared_as_jpeg_is_refused_with_415(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    response = await upload(
        client, ada, create_in_format("WEBP"), filename="a.jpg", content_type="image/jpeg"
    )
    assert response.status_code == 415
    assert response.json()["error"]["details"]["detected"] == "image/webp"


async def test_truncated_jpeg_is_refused_with_422(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn
) -> None:
    whole = create_jpeg((300, 200))
    response = await upload(client, ada, whole[: len(whole) // 2], content_type="image/jpeg")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_image"
    assert await count_images(state) == 0


async def test_png_with_a_corrupt_checksum_is_refused_with_422(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    response = await upload(client, ada, corrupt_png_checksum(create_png((40, 40))))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_image"


async def test_empty_file_is_refused_with_422(client: httpx.AsyncClient, ada: SignedIn) -> None:
    response = await upload(client, ada, b"")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_image"


async def test_decompression_bomb_is_refused_with_422(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn
) -> None:
    bomb = png_claiming(20000, 20000)
    assert len(bomb) < 1024
    response = await upload(client, ada, bomb)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "image_too_large_in_pixels"
    assert await count_images(state) == 0


async def test_image_past_40_megapixels_is_refused_below_pillows_own_limit(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    # 64 MP: under Pillow's 89 MP warning, over our 40 MP; refused from the header alone.
    response = await upload(client, ada, png_claiming(8000, 8000))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "image_too_large_in_pixels"
    assert error["details"] == {"width": 8000, "height": 8000, "max_pixels": 40_000_000}


async def test_missing_file_field_is_a_validation_error(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    response = await client.post(
        AVATAR, files={"picture": ("a.png", create_png(), "image/png")}, headers=ada.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["details"][0]["field"] == "file"


async def test_json_body_is_refused_with_415(client: httpx.AsyncClient, ada: SignedIn) -> None:
    response = await client.post(AVATAR, json={"file": "aGVsbG8="}, headers=ada.headers)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


async def test_multipart_without_boundary_is_a_bad_request(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    response = await client.post(
        AVATAR,
        content=b"whatever",
        headers={**ada.headers, "Content-Type": "multipart/form-data"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


async def test_malformed_multipart_is_a_bad_request(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    response = await client.post(
        AVATAR,
        content=b"--b\r\nthis is not a header line at all\r\n\r\n",
        headers={**ada.headers, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 400


async def test_upload_needs_a_signed_in_user(client: httpx.AsyncClient, state: AppState) -> None:
    response = await upload(client, None, create_png())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"
    put = await upload(client, None, create_png(), method="PUT", url=MY_AVATAR)
    assert put.status_code == 401
    assert await count_images(state) == 0


async def test_cookie_mode_upload_needs_the_csrf_token(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "ada")
    login = await client.post(
        "/api/v1/auth/login", json={"identifier": "ada", "password": PASSWORD}
    )
    assert login.status_code == 200
    files = {"file": ("a.png", create_png(), "image/png")}
    refused = await client.post(AVATAR, files=files)
    assert refused.status_code == 403
    accepted = await client.post(
        AVATAR, files=files, headers={"X-CSRF-Token": client.cookies["csrf_token"]}
    )
    assert accepted.status_code == 201, accepted.text
