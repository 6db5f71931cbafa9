"""The library routes: success and every refusal (401, 403, 404, 409, 422, 429), visibility of
restricted and disabled libraries, scans run by a real worker, and the permissions routes."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from cinesonic.models.activity import Activity
from cinesonic.models.job import Job, JobStatus
from cinesonic.models.library import LibraryKind
from cinesonic.state import AppState
from cinesonic.worker.registry import registry
from cinesonic.worker.runner import Worker
from tests.fixtures.music import create_library
from tests.fixtures.users import SignedIn, create_and_login, create_user
from tests.library.helpers import song_at, songs, track

API = "/api/v1"


@pytest.fixture
async def admin(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "boss", role="admin")


@pytest.fixture
async def user(state: AppState, client: httpx.AsyncClient) -> SignedIn:
    return await create_and_login(state, client, "listener")


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    return root.resolve()


@pytest.fixture
async def worker(state: AppState) -> AsyncIterator[Worker]:
    import cinesonic.library.tasks  # noqa: F401  (declares library.scan)

    running = Worker(
        state.db, state.bus, registry, state.settings, poll_interval=0.05, lease_seconds=5
    )
    await running.start()
    yield running
    await running.stop(grace_seconds=2)


async def create(
    client: httpx.AsyncClient, who: SignedIn, name: str, *roots: Path, **fields: Any
) -> httpx.Response:
    return await client.post(
        f"{API}/libraries",
        json={"name": name, "roots": [str(root) for root in roots], **fields},
        headers=who.headers,
    )


async def created(
    client: httpx.AsyncClient, who: SignedIn, name: str, *roots: Path, **fields: Any
) -> dict[str, Any]:
    for root in roots:
        root.mkdir(parents=True, exist_ok=True)
    response = await create(client, who, name, *roots, **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_for_job(
    client: httpx.AsyncClient, who: SignedIn, job_id: str, within: float = 30.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await client.get(f"{API}/jobs/{job_id}", headers=who.headers)
        body: dict[str, Any] = response.json()
        if body["status"] in ("succeeded", "dead", "cancelled"):
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.05)


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


# ---------------------------------------------------------------- creating


async def test_create_library_answers_201_with_location_and_audits(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, media: Path
) -> None:
    (media / "real").mkdir()
    os.symlink(media / "real", media / "link")
    response = await create(client, admin, "  My   Music ", media / "link", scan_on_start=True)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{API}/libraries/{body['id']}"
    assert body["name"] == "My Music"
    assert body["kind"] == "music"
    assert body["roots"] == [str(media / "real")]  # resolved
    assert (body["scan_on_start"], body["watch_for_changes"], body["is_enabled"]) == (
        True,
        False,
        True,
    )
    assert (body["song_count"], body["state"], body["formats"]) == (0, "idle", {})
    async with state.db.sessionmaker() as session:
        actions = list(await session.scalars(select(Activity.action)))
    assert "library.create" in actions


@pytest.mark.parametrize(
    ("roots", "fragment"),
    [
        (["relative/path"], "not an absolute path"),
        (["/definitely/not/here"], "does not exist"),
        ([], None),
        (["\x00"], None),
    ],
)
async def test_create_refuses_bad_roots(
    client: httpx.AsyncClient, admin: SignedIn, roots: list[str], fragment: str | None
) -> None:
    response = await client.post(
        f"{API}/libraries", json={"name": "Bad", "roots": roots}, headers=admin.headers
    )
    assert response.status_code == 422, response.text
    if fragment:
        assert fragment in str(response.json()["error"]["details"])


async def test_create_refuses_a_file_root_and_roots_overlapping_each_other(
    client: httpx.AsyncClient, admin: SignedIn, media: Path
) -> None:
    (media / "file.txt").write_text("x")
    (media / "a" / "b").mkdir(parents=True)
    for roots in (
        [media / "file.txt"],
        [media / "a", media / "a" / "b"],
        [media / "a", media / "a"],
    ):
        response = await create(client, admin, "Bad", *roots)
        assert response.status_code == 422, response.text
        assert error_code(response) == "invalid_root"


async def test_create_refuses_a_root_inside_or_around_another_librarys(
    client: httpx.AsyncClient, admin: SignedIn, media: Path
) -> None:
    await created(client, admin, "Music", media / "music")
    (media / "music" / "inner").mkdir()
    for root in (media / "music", media / "music" / "inner", media):
        response = await create(client, admin, "Other", root)
        assert response.status_code == 409, response.text
        assert error_code(response) == "root_overlap"
        assert response.json()["error"]["details"][0]["library"] == "Music"


async def test_create_refuses_a_taken_name_whatever_its_case(
    client: httpx.AsyncClient, admin: SignedIn, media: Path
) -> None:
    await created(client, admin, "Music", media / "one")
    (media / "two").mkdir()
    response = await create(client, admin, "MUSIC", media / "two")
    assert response.status_code == 409
    assert error_code(response) == "library_name_taken"


async def test_create_needs_library_manage(
    client: httpx.AsyncClient, user: SignedIn, media: Path
) -> None:
    assert (await create(client, user, "Mine", media)).status_code == 403
    anonymous = await client.post(f"{API}/libraries", json={"name": "x", "roots": [str(media)]})
    assert anonymous.status_code == 401


async def test_create_refuses_an_unknown_kind(
    client: httpx.AsyncClient, admin: SignedIn, media: Path
) -> None:
    response = await create(client, admin, "Books", media, kind="audiobooks")
    assert response.status_code == 422


# ---------------------------------------------------------------- reading and visibility


async def test_users_see_open_libraries_and_granted_restricted_ones_only(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, user: SignedIn, media: Path
) -> None:
    open_lib = await created(client, admin, "Open", media / "open")
    hidden = await created(client, admin, "Hidden", media / "hidden", is_restricted=True)
    await created(client, admin, "Off", media / "off", is_enabled=False)
    listed = await client.get(f"{API}/libraries", headers=user.headers)
    assert [item["name"] for item in listed.json()["data"]] == ["Open"]
    assert listed.json()["data"][0]["roots"] is None  # paths are for managers
    assert (
        await client.get(f"{API}/libraries/{hidden['id']}", headers=user.headers)
    ).status_code == 404
    everything = await client.get(f"{API}/libraries", headers=admin.headers)
    assert [item["name"] for item in everything.json()["data"]] == ["Hidden", "Off", "Open"]
    grant = await client.put(
        f"{API}/libraries/{hidden['id']}/permissions/{user.user_id}", headers=admin.headers
    )
    assert grant.status_code == 200
    seen = await client.get(f"{API}/libraries/{hidden['id']}", headers=user.headers)
    assert seen.status_code == 200
    listed = await client.get(f"{API}/libraries?sort=-name", headers=user.headers)
    assert [item["name"] for item in listed.json()["data"]] == ["Open", "Hidden"]
    assert (
        await client.get(f"{API}/libraries/{open_lib['id']}", headers=user.headers)
    ).status_code == 200


async def test_read_refusals(client: httpx.AsyncClient, user: SignedIn) -> None:
    assert (
        await client.get(f"{API}/libraries/{uuid.uuid4()}", headers=user.headers)
    ).status_code == 404
    assert (await client.get(f"{API}/libraries/not-an-id", headers=user.headers)).status_code == 422
    assert (await client.get(f"{API}/libraries")).status_code == 401
    assert (
        await client.get(f"{API}/libraries?sort=bogus", headers=user.headers)
    ).status_code == 422


async def test_a_user_without_library_read_is_refused(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn
) -> None:
    from tests.fixtures.users import create_role, login

    await create_role(client, admin, "outsider", permissions=["music.read"])
    await create_user(state, "bare", role="outsider")
    signed = await login(client, "bare")
    assert (await client.get(f"{API}/libraries", headers=signed.headers)).status_code == 403
    assert (await client.get(f"{API}/libraries/stats", headers=signed.headers)).status_code == 403


# ---------------------------------------------------------------- changing and deleting


async def test_update_renames_replaces_roots_and_flags(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, media: Path
) -> None:
    library = await created(client, admin, "Music", media / "a")
    (media / "b").mkdir()
    response = await client.put(
        f"{API}/libraries/{library['id']}",
        json={
            "name": "Tunes",
            "roots": [str(media / "b")],
            "watch_for_changes": True,
            "kind": "movies",
        },
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["roots"], body["watch_for_changes"], body["kind"]) == (
        "Tunes",
        [str(media / "b")],
        True,
        "music",  # the kind cannot change
    )


async def test_update_refusals(
    client: httpx.AsyncClient, admin: SignedIn, user: SignedIn, media: Path
) -> None:
    one = await created(client, admin, "One", media / "one")
    await created(client, admin, "Two", media / "two")
    url = f"{API}/libraries/{one['id']}"
    taken = await client.put(url, json={"name": "two"}, headers=admin.headers)
    assert (taken.status_code, error_code(taken)) == (409, "library_name_taken")
    overlap = await client.put(url, json={"roots": [str(media / "two")]}, headers=admin.headers)
    assert (overlap.status_code, error_code(overlap)) == (409, "root_overlap")
    missing = await client.put(url, json={"roots": ["/no/such/folder"]}, headers=admin.headers)
    assert missing.status_code == 422
    assert (await client.put(url, json={"name": ""}, headers=admin.headers)).status_code == 422
    assert (await client.put(url, json={"name": "x"}, headers=user.headers)).status_code == 403
    unknown = await client.put(f"{API}/libraries/{uuid.uuid4()}", json={}, headers=admin.headers)
    assert unknown.status_code == 404
    assert (await client.put(url, json={"name": "x"})).status_code == 401


async def test_delete_removes_rows_but_never_files(
    state: AppState,
    client: httpx.AsyncClient,
    admin: SignedIn,
    user: SignedIn,
    media: Path,
    worker: Worker,
) -> None:
    library = await created(client, admin, "Music", media / "music")
    path = track(media / "music", "A/B/01", "mp3", title="Stay on disk", artist="A", album="B")
    scan = await client.post(f"{API}/libraries/{library['id']}/scan", headers=admin.headers)
    await wait_for_job(client, admin, scan.json()["job_id"])
    assert len(await songs(state)) == 1
    url = f"{API}/libraries/{library['id']}"
    assert (await client.delete(url, headers=user.headers)).status_code == 403
    response = await client.delete(url, headers=admin.headers)
    assert (response.status_code, response.json()) == (200, {"status": "deleted"})
    assert path.exists()
    assert await songs(state, removed=None) == []
    assert (await client.get(url, headers=admin.headers)).status_code == 404
    assert (await client.delete(url, headers=admin.headers)).status_code == 404


# ---------------------------------------------------------------- scans


async def test_scan_runs_as_a_job_with_history_and_errors(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, media: Path, worker: Worker
) -> None:
    events: list[dict[str, Any]] = []

    async def collect(data: Any) -> None:
        events.append(data)

    state.bus.subscribe("library", collect)
    library = await created(client, admin, "Music", media / "music")
    root = media / "music"
    for number in range(3):
        track(
            root,
            f"Band/Record/{number:02}",
            "flac",
            title=f"S{number}",
            artist="Band",
            album="Record",
        )
    (root / "Band" / "Record" / "broken.mp3").write_text("not audio")
    response = await client.post(f"{API}/libraries/{library['id']}/scan", headers=admin.headers)
    assert response.status_code == 202, response.text
    started = response.json()
    assert (started["is_new"], started["is_full"], started["status"]) == (True, False, "queued")
    job = await wait_for_job(client, admin, started["job_id"])
    assert job["status"] == "succeeded"
    assert job["result"]["added"] == 3
    history = await client.get(f"{API}/libraries/{library['id']}/scans", headers=admin.headers)
    (scan,) = history.json()["data"]
    assert scan["id"] == started["scan_id"]
    assert (scan["status"], scan["added"], scan["failed"], scan["error_count"]) == (
        "succeeded",
        3,
        1,
        1,
    )
    assert scan["duration_seconds"] is not None
    errors = await client.get(
        f"{API}/libraries/{library['id']}/scans/{scan['id']}/errors", headers=admin.headers
    )
    assert [(e["code"], Path(e["path"]).name) for e in errors.json()["data"]] == [
        ("not_audio", "broken.mp3")
    ]
    detail = (await client.get(f"{API}/libraries/{library['id']}", headers=admin.headers)).json()
    assert (detail["song_count"], detail["album_count"], detail["artist_count"]) == (3, 1, 1)
    assert detail["formats"] == {"flac": 3}
    assert detail["last_scan"]["id"] == scan["id"]
    assert detail["last_scanned_at"] is not None
    names = [event["event"] for event in events if event.get("scan_id") == started["scan_id"]]
    assert names[0] == "library.scan.started" and names[-1] == "library.scan.succeeded"
    assert "library.scan.progress" in names


async def test_a_second_scan_request_answers_the_queued_one_and_upgrades_it_to_full(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, media: Path
) -> None:
    library = await created(client, admin, "Music", media / "music")
    url = f"{API}/libraries/{library['id']}/scan"
    first = (await client.post(url, headers=admin.headers)).json()
    again = await client.post(url, headers=admin.headers)
    assert again.status_code == 202
    assert (again.json()["job_id"], again.json()["is_new"]) == (first["job_id"], False)
    full = (await client.post(f"{url}?full=true", headers=admin.headers)).json()
    assert (full["job_id"], full["is_full"]) == (first["job_id"], True)
    # Running: a full scan cannot join an incremental one.
    async with state.db.session() as session:
        await session.execute(
            update(Job).where(Job.id == uuid.UUID(first["job_id"])).values(status=JobStatus.running)
        )
    second = (await client.post(url, headers=admin.headers)).json()
    assert second["status"] == "running"
    async with state.db.session() as session:
        from cinesonic.models.library import LibraryScan

        await session.execute(
            update(LibraryScan)
            .where(LibraryScan.id == uuid.UUID(first["scan_id"]))
            .values(is_full=False)
        )
    refused = await client.post(f"{url}?full=true", headers=admin.headers)
    assert (refused.status_code, error_code(refused)) == (409, "scan_in_progress")


async def test_scan_refusals(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, user: SignedIn, media: Path
) -> None:
    movies = await created(client, admin, "Films", media / "films", kind="movies")
    off = await created(client, admin, "Off", media / "off", is_enabled=False)
    music = await created(client, admin, "Music", media / "music")
    response = await client.post(f"{API}/libraries/{movies['id']}/scan", headers=admin.headers)
    assert response.status_code == 202  # movie and TV libraries scan too (issue 6)
    response = await client.post(f"{API}/libraries/{off['id']}/scan", headers=admin.headers)
    assert (response.status_code, error_code(response)) == (409, "library_disabled")
    unknown = await client.post(f"{API}/libraries/{uuid.uuid4()}/scan", headers=admin.headers)
    assert unknown.status_code == 404
    assert (
        await client.post(f"{API}/libraries/{music['id']}/scan", headers=user.headers)
    ).status_code == 403
    assert (await client.post(f"{API}/libraries/{music['id']}/scan")).status_code == 401
    bad = await client.post(
        f"{API}/libraries/{music['id']}/scan?full=perhaps", headers=admin.headers
    )
    assert bad.status_code == 422


async def test_scan_all_skips_what_cannot_be_scanned(
    client: httpx.AsyncClient, admin: SignedIn, user: SignedIn, media: Path
) -> None:
    films = await created(client, admin, "Films", media / "films", kind="movies")
    off = await created(client, admin, "Off", media / "off", is_enabled=False)
    one = await created(client, admin, "One", media / "one")
    two = await created(client, admin, "Two", media / "two")
    response = await client.post(f"{API}/libraries/scan", headers=admin.headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert {item["library_id"] for item in body["data"]} == {films["id"], one["id"], two["id"]}
    assert {(item["reason"]) for item in body["skipped"]} == {"disabled"}
    chosen = await client.post(
        f"{API}/libraries/scan",
        json={"library_ids": [one["id"], off["id"]], "full": True},
        headers=admin.headers,
    )
    assert [item["is_new"] for item in chosen.json()["data"]] == [False]
    unknown = await client.post(
        f"{API}/libraries/scan", json={"library_ids": [str(uuid.uuid4())]}, headers=admin.headers
    )
    assert unknown.status_code == 404
    bad = await client.post(
        f"{API}/libraries/scan", json={"library_ids": ["x"]}, headers=admin.headers
    )
    assert bad.status_code == 422
    assert (await client.post(f"{API}/libraries/scan", headers=user.headers)).status_code == 403


@pytest.mark.parametrize("settings_overrides", [{"scan_processes": 0, "rate_limit_scan": "2/hour"}])
async def test_scan_requests_are_rate_limited(
    client: httpx.AsyncClient, admin: SignedIn, media: Path
) -> None:
    library = await created(client, admin, "Music", media / "music")
    url = f"{API}/libraries/{library['id']}/scan"
    statuses = [(await client.post(url, headers=admin.headers)).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]


async def test_scan_history_and_errors_refusals(
    client: httpx.AsyncClient, admin: SignedIn, user: SignedIn, media: Path
) -> None:
    one = await created(client, admin, "One", media / "one")
    two = await created(client, admin, "Two", media / "two")
    scan = (await client.post(f"{API}/libraries/{one['id']}/scan", headers=admin.headers)).json()
    assert (
        await client.get(f"{API}/libraries/{one['id']}/scans", headers=user.headers)
    ).status_code == 403
    assert (
        await client.get(f"{API}/libraries/{uuid.uuid4()}/scans", headers=admin.headers)
    ).status_code == 404
    # A scan of another library is not found under this one.
    wrong = await client.get(
        f"{API}/libraries/{two['id']}/scans/{scan['scan_id']}/errors", headers=admin.headers
    )
    assert wrong.status_code == 404
    unknown = await client.get(
        f"{API}/libraries/{one['id']}/scans/{uuid.uuid4()}/errors", headers=admin.headers
    )
    assert unknown.status_code == 404
    listed = await client.get(f"{API}/libraries/{one['id']}/scans", headers=admin.headers)
    assert listed.json()["data"][0]["status"] == "queued"
    paged = await client.get(
        f"{API}/libraries/{one['id']}/scans?page_size=500", headers=admin.headers
    )
    assert paged.status_code == 422


async def test_a_scan_whose_job_was_cancelled_while_queued_reads_as_cancelled(
    client: httpx.AsyncClient, admin: SignedIn, media: Path
) -> None:
    library = await created(client, admin, "Music", media / "music")
    scan = (
        await client.post(f"{API}/libraries/{library['id']}/scan", headers=admin.headers)
    ).json()
    cancelled = await client.delete(f"{API}/jobs/{scan['job_id']}", headers=admin.headers)
    assert cancelled.status_code == 200
    listed = await client.get(f"{API}/libraries/{library['id']}/scans", headers=admin.headers)
    assert listed.json()["data"][0]["status"] == "cancelled"
    detail = (await client.get(f"{API}/libraries/{library['id']}", headers=admin.headers)).json()
    assert (detail["state"], detail["active_scan"]) == ("idle", None)


# ---------------------------------------------------------------- stats


async def test_stats_count_only_what_the_caller_may_read(
    state: AppState,
    client: httpx.AsyncClient,
    admin: SignedIn,
    user: SignedIn,
    media: Path,
    worker: Worker,
) -> None:
    public = await created(client, admin, "Public", media / "public")
    secret = await created(client, admin, "Secret", media / "secret", is_restricted=True)
    track(media / "public", "A/B/01", "mp3", title="P1", artist="A", album="B", genre="Rock")
    track(media / "public", "A/B/02", "ogg", title="P2", artist="A", album="B", genre="Pop")
    track(media / "secret", "C/D/01", "flac", title="S1", artist="C", album="D", genre="Jazz")
    for library in (public, secret):
        job = (
            await client.post(f"{API}/libraries/{library['id']}/scan", headers=admin.headers)
        ).json()
        await wait_for_job(client, admin, job["job_id"])
    mine = (await client.get(f"{API}/libraries/stats", headers=user.headers)).json()
    assert (mine["library_count"], mine["song_count"], mine["album_count"]) == (1, 2, 1)
    assert (mine["artist_count"], mine["genre_count"]) == (1, 2)
    assert mine["formats"] == {"mp3": 1, "ogg": 1}
    assert mine["total_duration"] > 0 and mine["total_size_bytes"] > 0
    assert [item["name"] for item in mine["libraries"]] == ["Public"]
    everything = (await client.get(f"{API}/libraries/stats", headers=admin.headers)).json()
    assert (everything["library_count"], everything["song_count"], everything["genre_count"]) == (
        2,
        3,
        3,
    )
    assert everything["last_scanned_at"] is not None
    assert (await client.get(f"{API}/libraries/stats")).status_code == 401


# ---------------------------------------------------------------- permissions


async def test_permissions_grant_list_and_revoke(
    state: AppState, client: httpx.AsyncClient, admin: SignedIn, user: SignedIn, media: Path
) -> None:
    library = await created(client, admin, "Secret", media / "secret", is_restricted=True)
    base = f"{API}/libraries/{library['id']}/permissions"
    first = await client.post(f"{base}/{user.user_id}", headers=admin.headers)
    assert first.status_code == 201
    assert first.headers["location"] == f"{base}/{user.user_id}"
    assert (first.json()["username"], first.json()["granted_by_id"]) == ("listener", admin.user_id)
    again = await client.post(f"{base}/{user.user_id}", headers=admin.headers)
    assert again.status_code == 200
    assert (await client.put(f"{base}/{user.user_id}", headers=admin.headers)).status_code == 200
    listed = await client.get(base, headers=admin.headers)
    assert [grant["username"] for grant in listed.json()["data"]] == ["listener"]
    assert (
        await client.get(f"{API}/libraries/{library['id']}", headers=user.headers)
    ).status_code == 200
    revoked = await client.delete(f"{base}/{user.user_id}", headers=admin.headers)
    assert (revoked.status_code, revoked.json()) == (200, {"status": "deleted"})
    assert (
        await client.get(f"{API}/libraries/{library['id']}", headers=user.headers)
    ).status_code == 404
    assert (await client.delete(f"{base}/{user.user_id}", headers=admin.headers)).status_code == 404
    async with state.db.sessionmaker() as session:
        actions = set(await session.scalars(select(Activity.action)))
    assert {"library.permission.grant", "library.permission.revoke"} <= actions


async def test_permissions_refusals(
    client: httpx.AsyncClient, admin: SignedIn, user: SignedIn, media: Path
) -> None:
    library = await created(client, admin, "Secret", media / "secret", is_restricted=True)
    base = f"{API}/libraries/{library['id']}/permissions"
    assert (await client.get(base, headers=user.headers)).status_code == 403
    assert (await client.put(f"{base}/{user.user_id}", headers=user.headers)).status_code == 403
    assert (await client.delete(f"{base}/{user.user_id}", headers=user.headers)).status_code == 403
    assert (await client.get(base)).status_code == 401
    assert (await client.put(f"{base}/{uuid.uuid4()}", headers=admin.headers)).status_code == 404
    other = f"{API}/libraries/{uuid.uuid4()}/permissions"
    assert (await client.get(other, headers=admin.headers)).status_code == 404
    assert (await client.post(f"{other}/{user.user_id}", headers=admin.headers)).status_code == 404
    assert (await client.put(f"{base}/not-a-user", headers=admin.headers)).status_code == 422


async def test_restricted_library_scan_events_reach_its_readers_only(
    state: AppState,
    client: httpx.AsyncClient,
    admin: SignedIn,
    user: SignedIn,
    media: Path,
    worker: Worker,
) -> None:
    from cinesonic.auth import service as auth_service
    from cinesonic.realtime import may_see

    events: list[dict[str, Any]] = []

    async def collect(data: Any) -> None:
        events.append(data)

    state.bus.subscribe("library", collect)
    library = await created(client, admin, "Secret", media / "secret", is_restricted=True)
    job = (await client.post(f"{API}/libraries/{library['id']}/scan", headers=admin.headers)).json()
    await wait_for_job(client, admin, job["job_id"])
    scan_events = [e for e in events if e.get("scan_id") == job["scan_id"]]
    assert scan_events
    reader = await auth_service.authenticate(
        state, auth_service.Credentials(method="GET", bearer=user.access_token)
    )
    assert reader is not None
    assert not any(may_see(reader, "library", event) for event in scan_events)


async def test_song_paths_in_restricted_libraries_stay_unlisted_for_others(
    state: AppState,
    client: httpx.AsyncClient,
    admin: SignedIn,
    user: SignedIn,
    media: Path,
    worker: Worker,
) -> None:
    library = await created(client, admin, "Secret", media / "secret", is_restricted=True)
    path = track(media / "secret", "A/B/01", "mp3", title="Hidden")
    job = (await client.post(f"{API}/libraries/{library['id']}/scan", headers=admin.headers)).json()
    await wait_for_job(client, admin, job["job_id"])
    assert (await song_at(state, path)).title == "Hidden"
    listed = (await client.get(f"{API}/libraries", headers=user.headers)).json()
    assert listed["pagination"]["total"] == 0


async def test_create_library_fixture_is_compatible(state: AppState, media: Path) -> None:
    """Other domains' tests build libraries with `tests.fixtures.music.create_library`."""
    library = await create_library(state, "Fixture", root=media / "fx", kind=LibraryKind.music)
    assert library.id is not None
