"""`/admin/activity…` routes: search with each filter, per user, per resource, stats by day,
distinct actions — and the refusals (401, 403, 404, 422)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from cinesonic.activity import service as activity_service
from cinesonic.models.user import User
from cinesonic.state import AppState
from tests.fixtures.users import SignedIn, create_and_login, create_user

BASE = "/api/v1/admin/activity"
ROUTES = [
    BASE,
    f"{BASE}/users/{uuid.UUID(int=1)}",
    f"{BASE}/resources/song/1",
    f"{BASE}/stats",
    f"{BASE}/actions",
]


@dataclass(frozen=True)
class Origin:
    ip: str = "10.0.0.1"
    user_agent: str | None = "tests"
    request_id: str | None = "req-1"


async def record_entry(
    state: AppState,
    action: str,
    *,
    user: User | None = None,
    created_at: datetime | None = None,
    success: bool = True,
    resource_type: str | None = None,
    resource_id: str | None = None,
    ip: str = "10.0.0.1",
    details: dict[str, Any] | None = None,
) -> str:
    """An audit entry as the services write it, optionally back-dated; returns its id."""
    async with state.db.session() as session:
        entry = await activity_service.record(
            session,
            action=action,
            user_id=user.id if user else None,
            actor_name=user.username if user else None,
            resource_type=resource_type,
            resource_id=resource_id,
            origin=Origin(ip=ip),
            success=success,
            details=details,
        )
        if created_at is not None:
            entry.created_at = created_at
    return str(entry.id)


async def admin(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "root", role="admin")


async def search(
    client: httpx.AsyncClient, who: SignedIn, path: str = BASE, **params: Any
) -> httpx.Response:
    return await client.get(path, params=params, headers=who.headers)


def actions_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["action"] for item in response.json()["data"]]


def midday(days_ago: int) -> datetime:
    return datetime.combine(datetime.now(UTC).date() - timedelta(days=days_ago), time(12), UTC)


# ---------------------------------------------------------------- who may read


@pytest.mark.parametrize("path", ROUTES)
async def test_every_route_requires_authentication(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


@pytest.mark.parametrize("path", ROUTES)
async def test_every_route_needs_activity_read(
    client: httpx.AsyncClient, state: AppState, path: str
) -> None:
    ada = await create_and_login(state, client)
    response = await client.get(path, headers=ada.headers)
    assert response.status_code == 403
    assert "activity.read" in response.json()["error"]["message"]


# ---------------------------------------------------------------- search


async def test_search_lists_newest_first_with_actor(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    ada = await create_user(state, "ada")
    await record_entry(state, "song.update", user=ada, created_at=midday(2))
    await record_entry(state, "song.delete", user=ada, created_at=midday(1))
    response = await search(client, root, action="song.")
    assert actions_of(response) == ["song.delete", "song.update"]
    item = response.json()["data"][0]
    assert item["user"] == {"id": str(ada.id), "username": "ada"}
    assert item["actor_name"] == "ada"
    assert item["ip_address"] == "10.0.0.1"
    assert item["user_agent"] == "tests"
    assert item["request_id"] == "req-1"
    assert item["success"] is True
    assert item["details"] == {}
    assert response.json()["pagination"]["total"] == 2


async def test_entry_of_a_deleted_account_keeps_its_actor_name(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    gone = await create_user(state, "gone")
    await record_entry(state, "song.update", user=gone)
    async with state.db.session() as session:
        await session.execute(delete(User).where(User.id == gone.id))
    item = (await search(client, root, action="song.update")).json()["data"][0]
    assert item["user"] is None
    assert item["actor_name"] == "gone"


async def test_search_filters_by_user(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    ada = await create_user(state, "ada")
    bob = await create_user(state, "bob")
    await record_entry(state, "song.update", user=ada)
    await record_entry(state, "song.delete", user=bob)
    assert actions_of(await search(client, root, user_id=str(bob.id))) == ["song.delete"]


async def test_search_filters_by_exact_action(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    await record_entry(state, "auth.login_failed", success=False)
    assert actions_of(await search(client, root, action="auth.login")) == ["auth.login"]


async def test_search_filters_by_action_prefix(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    await record_entry(state, "auth.login_failed", success=False)
    await record_entry(state, "authz.check")
    await record_entry(state, "song.update")
    assert sorted(actions_of(await search(client, root, action="auth."))) == [
        "auth.login",
        "auth.login_failed",
    ]


async def test_search_filters_by_star_prefix(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    await record_entry(state, "authz.check")
    await record_entry(state, "song.update")
    assert sorted(actions_of(await search(client, root, action="auth*"))) == [
        "auth.login",
        "authz.check",
    ]


async def test_action_prefix_treats_like_wildcards_literally(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    await record_entry(state, "a_b.update")
    await record_entry(state, "axb.update")
    assert actions_of(await search(client, root, action="a_b.")) == ["a_b.update"]


async def test_search_filters_by_resource(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    await record_entry(state, "song.update", resource_type="song", resource_id="1")
    await record_entry(state, "song.delete", resource_type="song", resource_id="2")
    await record_entry(state, "album.update", resource_type="album", resource_id="1")
    assert sorted(actions_of(await search(client, root, resource_type="song"))) == [
        "song.delete",
        "song.update",
    ]
    assert actions_of(await search(client, root, resource_type="song", resource_id="1")) == [
        "song.update"
    ]


async def test_search_filters_by_success(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    await record_entry(state, "auth.login_failed", success=False)
    assert actions_of(await search(client, root, success="false")) == ["auth.login_failed"]
    assert actions_of(await search(client, root, success="true")) == ["auth.login"]


async def test_search_filters_by_time_window(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    await record_entry(state, "old.thing", created_at=midday(10))
    await record_entry(state, "mid.thing", created_at=midday(5))
    await record_entry(state, "new.thing", created_at=midday(1))
    since, until = midday(6).isoformat(), midday(2).isoformat()
    assert actions_of(await search(client, root, since=since, until=until)) == ["mid.thing"]
    assert actions_of(await search(client, root, until=midday(9).isoformat())) == ["old.thing"]


async def test_search_reads_times_without_offset_as_utc(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    await record_entry(state, "old.thing", created_at=midday(3))
    naive_until = midday(3).replace(tzinfo=None) + timedelta(minutes=1)
    response = await search(client, root, until=naive_until.isoformat())
    assert actions_of(response) == ["old.thing"]


async def test_search_filters_by_ip(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    await record_entry(state, "song.update", ip="192.0.2.7")
    assert actions_of(await search(client, root, ip="192.0.2.7")) == ["song.update"]


async def test_search_sorts_by_action(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    await record_entry(state, "zebra.update")
    await record_entry(state, "album.update")
    assert actions_of(await search(client, root, sort="action")) == [
        "album.update",
        "auth.login",
        "zebra.update",
    ]


async def test_search_sorts_oldest_first_when_asked(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    await record_entry(state, "old.thing", created_at=midday(3))
    assert actions_of(await search(client, root, sort="created_at")) == [
        "old.thing",
        "auth.login",
    ]


async def test_search_pages(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    for n in range(4):
        await record_entry(state, f"thing.{n}", created_at=midday(n + 1))
    response = await search(client, root, page=2, page_size=2)
    assert actions_of(response) == ["thing.1", "thing.2"]
    assert response.json()["pagination"] == {
        "page": 2,
        "page_size": 2,
        "offset": 2,
        "total": 5,
        "total_pages": 3,
    }


async def test_search_with_unknown_sort_is_422(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    response = await search(client, root, sort="ip_address")
    assert response.status_code == 422


async def test_search_with_a_malformed_date_is_422(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    response = await search(client, root, since="last tuesday")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "since"


async def test_search_with_since_after_until_is_422(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    response = await search(client, root, since=midday(1).isoformat(), until=midday(2).isoformat())
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "since"


async def test_search_with_malformed_user_id_is_422(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    response = await search(client, root, user_id="nobody")
    assert response.status_code == 422


async def test_search_with_malformed_success_is_422(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    response = await search(client, root, success="perhaps")
    assert response.status_code == 422


# ---------------------------------------------------------------- per user, per resource


async def test_user_activity_lists_only_that_account(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    ada = await create_user(state, "ada")
    await record_entry(state, "song.update", user=ada)
    await record_entry(state, "song.delete")
    response = await search(client, root, f"{BASE}/users/{ada.id}")
    assert actions_of(response) == ["song.update"]


async def test_user_activity_takes_the_other_filters(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    ada = await create_user(state, "ada")
    await record_entry(state, "song.update", user=ada)
    await record_entry(state, "auth.login_failed", user=ada, success=False)
    response = await search(client, root, f"{BASE}/users/{ada.id}", success="false")
    assert actions_of(response) == ["auth.login_failed"]


async def test_user_activity_of_an_unknown_account_is_404(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    response = await search(client, root, f"{BASE}/users/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_user_activity_with_malformed_id_is_422(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    response = await search(client, root, f"{BASE}/users/nope")
    assert response.status_code == 422


async def test_resource_activity_is_the_history_of_one_resource(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    await record_entry(state, "song.create", resource_type="song", resource_id="7")
    await record_entry(state, "song.update", resource_type="song", resource_id="7")
    await record_entry(state, "song.update", resource_type="song", resource_id="8")
    await record_entry(state, "album.update", resource_type="album", resource_id="7")
    response = await search(client, root, f"{BASE}/resources/song/7", sort="created_at")
    assert actions_of(response) == ["song.create", "song.update"]


async def test_resource_activity_of_an_unseen_resource_is_empty(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    response = await search(client, root, f"{BASE}/resources/song/none")
    assert actions_of(response) == []


async def test_resource_activity_with_a_malformed_date_is_422(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    response = await search(client, root, f"{BASE}/resources/song/7", until="2026-13-45")
    assert response.status_code == 422


# ---------------------------------------------------------------- stats


async def test_stats_count_by_day_and_action_within_the_window(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)  # one auth.login today
    await record_entry(state, "song.update", created_at=midday(1))
    await record_entry(state, "song.update", created_at=midday(1))
    await record_entry(state, "auth.login_failed", created_at=midday(3), success=False)
    await record_entry(state, "song.update", created_at=midday(40))  # outside the window
    response = await search(client, root, f"{BASE}/stats", days=7)
    assert response.status_code == 200
    stats = response.json()
    today = datetime.now(UTC).date()
    assert stats["days"] == 7
    assert stats["total"] == 4
    assert stats["failures"] == 1
    assert datetime.fromisoformat(stats["since"]) == datetime.combine(
        today - timedelta(days=6), time.min, UTC
    )
    by_day = {date.fromisoformat(d["day"]): (d["count"], d["failures"]) for d in stats["by_day"]}
    assert list(by_day) == [today - timedelta(days=n) for n in range(6, -1, -1)]
    assert by_day[today] == (1, 0)
    assert by_day[today - timedelta(days=1)] == (2, 0)
    assert by_day[today - timedelta(days=3)] == (1, 1)
    assert by_day[today - timedelta(days=2)] == (0, 0)
    assert [(a["action"], a["count"], a["failures"]) for a in stats["by_action"]] == [
        ("song.update", 2, 0),
        ("auth.login", 1, 0),
        ("auth.login_failed", 1, 1),
    ]


async def test_stats_window_defaults_to_30_days(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    await record_entry(state, "song.update", created_at=midday(29))
    await record_entry(state, "song.update", created_at=midday(30))
    stats = (await search(client, root, f"{BASE}/stats")).json()
    assert stats["days"] == 30
    assert len(stats["by_day"]) == 30
    assert stats["total"] == 2


async def test_stats_cover_a_full_year(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    await record_entry(state, "song.update", created_at=midday(364))
    stats = (await search(client, root, f"{BASE}/stats", days=365)).json()
    assert len(stats["by_day"]) == 365
    assert stats["by_day"][0]["count"] == 1


@pytest.mark.parametrize("days", ["0", "366", "-1", "week"])
async def test_stats_with_days_out_of_range_is_422(
    client: httpx.AsyncClient, state: AppState, days: str
) -> None:
    root = await admin(state, client)
    response = await search(client, root, f"{BASE}/stats", days=days)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "days"


# ---------------------------------------------------------------- actions


async def test_actions_lists_each_action_once_with_counts(
    client: httpx.AsyncClient, state: AppState
) -> None:
    root = await admin(state, client)
    await record_entry(state, "song.update", created_at=midday(400))
    await record_entry(state, "song.update")
    await record_entry(state, "auth.login_failed", success=False)
    response = await search(client, root, f"{BASE}/actions")
    assert response.status_code == 200
    items = response.json()["data"]
    assert [(a["action"], a["count"], a["failures"]) for a in items] == [
        ("auth.login", 1, 0),
        ("auth.login_failed", 1, 1),
        ("song.update", 2, 0),
    ]
    assert response.json()["pagination"]["total"] == 3
    newest = datetime.fromisoformat(items[2]["last_at"])
    assert newest > midday(400) + timedelta(days=300)


async def test_actions_sort_by_count(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    for _ in range(3):
        await record_entry(state, "song.play")
    await record_entry(state, "song.update")
    await record_entry(state, "song.update")
    response = await search(client, root, f"{BASE}/actions", sort="-count")
    assert actions_of(response) == ["song.play", "song.update", "auth.login"]


async def test_actions_page(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    for name in ("b.x", "c.x", "d.x"):
        await record_entry(state, name)
    response = await search(client, root, f"{BASE}/actions", page=2, page_size=2)
    assert actions_of(response) == ["c.x", "d.x"]
    assert response.json()["pagination"]["total"] == 4


async def test_actions_with_unknown_sort_is_422(client: httpx.AsyncClient, state: AppState) -> None:
    root = await admin(state, client)
    response = await search(client, root, f"{BASE}/actions", sort="failures")
    assert response.status_code == 422
