"""`/users/me/avatar`: the signed-in user's avatar — read, revalidated, removed — and the
account views that carry its id."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from cinesonic.models.activity import Activity
from cinesonic.models.image import Image
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login
from tests.image.images import MY_AVATAR, create_jpeg, create_png, decode, upload


async def set_avatar(client: httpx.AsyncClient, who: SignedIn, data: bytes) -> dict[str, Any]:
    response = await upload(client, who, data)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_my_avatar_is_not_found_when_i_have_none(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    response = await client.get(MY_AVATAR, headers=ada.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["message"] == "You have no avatar."


async def test_my_avatar_serves_the_uploaded_image(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await set_avatar(client, ada, create_png((50, 40)))
    response = await client.get(MY_AVATAR, headers=ada.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["etag"] == f'"{image["etag"]}"'
    assert response.headers["cache-control"] == "private, no-cache"
    direct = await client.get(f"/api/v1/images/{image['id']}", headers=ada.headers)
    assert response.content == direct.content


async def test_my_avatar_revalidates_with_its_entity_tag(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await set_avatar(client, ada, create_png())
    response = await client.get(
        MY_AVATAR, headers={**ada.headers, "If-None-Match": f'"{image["etag"]}"'}
    )
    assert response.status_code == 304
    assert response.content == b""


async def test_my_avatar_does_not_trust_if_modified_since(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    # An avatar can change to an image stored earlier: its date would look "unchanged".
    await set_avatar(client, ada, create_png())
    first = await client.get(MY_AVATAR, headers=ada.headers)
    response = await client.get(
        MY_AVATAR, headers={**ada.headers, "If-Modified-Since": first.headers["last-modified"]}
    )
    assert response.status_code == 200


async def test_going_back_to_an_earlier_avatar_is_not_taken_for_unchanged(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    older, newer = create_png(color=(9, 9, 9, 255)), create_png(color=(200, 9, 9, 255))
    first = await set_avatar(client, ada, older)
    second = await set_avatar(client, ada, newer)
    cached = await client.get(MY_AVATAR, headers=ada.headers)
    assert cached.headers["etag"] == f'"{second["etag"]}"'
    await set_avatar(client, ada, older)
    response = await client.get(
        MY_AVATAR,
        headers={
            **ada.headers,
            "If-None-Match": cached.headers["etag"],
            "If-Modified-Since": cached.headers["last-modified"],
        },
    )
    assert response.status_code == 200
    assert response.headers["etag"] == f'"{first["etag"]}"'


async def test_my_avatar_thumbnail(client: httpx.AsyncClient, ada: SignedIn) -> None:
    image = await set_avatar(client, ada, create_png((400, 400)))
    response = await client.get(MY_AVATAR, params={"size": 64}, headers=ada.headers)
    assert response.status_code == 200
    assert response.headers["etag"] == f'"{image["etag"]}-64"'
    assert decode(response.content).size == (64, 64)


async def test_head_of_my_avatar_answers_its_headers(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    image = await set_avatar(client, ada, create_png())
    response = await client.head(MY_AVATAR, headers=ada.headers)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(image["size_bytes"])


async def test_new_avatar_shows_in_my_cached_account(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    before = await client.get("/api/v1/auth/me", headers=ada.headers)  # caches the principal
    assert before.json()["avatar_image_id"] is None
    image = await set_avatar(client, ada, create_png())
    after = await client.get("/api/v1/auth/me", headers=ada.headers)
    assert after.json()["avatar_image_id"] == image["id"]
    public = await client.get(f"/api/v1/users/{ada.user_id}", headers=ada.headers)
    assert public.json()["avatar_image_id"] == image["id"]


async def test_removing_my_avatar_clears_it_and_keeps_the_image(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn
) -> None:
    image = await set_avatar(client, ada, create_jpeg())
    await client.get("/api/v1/auth/me", headers=ada.headers)
    response = await client.delete(MY_AVATAR, headers=ada.headers)
    assert response.status_code == 200
    assert response.json() == {"status": "deleted"}
    assert (await client.get(MY_AVATAR, headers=ada.headers)).status_code == 404
    me = await client.get("/api/v1/auth/me", headers=ada.headers)
    assert me.json()["avatar_image_id"] is None
    kept = await client.get(f"/api/v1/images/{image['id']}", headers=ada.headers)
    assert kept.status_code == 200
    async with state.db.session() as session:
        entry = await session.scalar(select(Activity).where(Activity.action == "user.avatar_clear"))
    assert entry is not None
    assert entry.resource_id == image["id"]


async def test_removing_an_avatar_i_do_not_have_is_not_found(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    response = await client.delete(MY_AVATAR, headers=ada.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_my_avatar_routes_need_a_signed_in_user(client: httpx.AsyncClient) -> None:
    assert (await client.get(MY_AVATAR)).status_code == 401
    assert (await client.head(MY_AVATAR)).status_code == 401
    assert (await client.delete(MY_AVATAR)).status_code == 401


async def test_unlisted_avatar_size_is_a_validation_error(
    client: httpx.AsyncClient, ada: SignedIn
) -> None:
    await set_avatar(client, ada, create_png())
    response = await client.get(MY_AVATAR, params={"size": 65}, headers=ada.headers)
    assert response.status_code == 422


async def test_deleted_users_images_stay_without_an_owner(
    client: httpx.AsyncClient, state: AppState, ada: SignedIn
) -> None:
    admin = await create_and_login(state, client, "root", role="admin")
    image = await set_avatar(client, ada, create_png())
    deleted = await client.delete(f"/api/v1/users/{ada.user_id}", headers=admin.headers)
    assert deleted.status_code == 200, deleted.text
    async with state.db.session() as session:
        row = await session.scalar(select(Image).where(Image.sha256 == image["etag"]))
    assert row is not None
    assert row.owner_id is None
    served = await client.get(f"/api/v1/images/{image['id']}", headers=admin.headers)
    assert served.status_code == 200
