"""`POST /libraries/move-ok` and the import rules: promotion into the library its rules choose,
indexing, checksum re-verification, duplicates under each policy, albums no rule matches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cinesonic.importer.pipeline import IMPORT_CHANNEL, Folders
from cinesonic.models.importer import ImportStatus
from cinesonic.models.library import LibraryKind
from cinesonic.models.music import Album, Song
from cinesonic.state import AppState
from cinesonic.worker.runner import Worker
from tests.fixtures.music import create_library, create_song
from tests.fixtures.users import SignedIn
from tests.importer.helpers import (
    API,
    album_track,
    error_code,
    exists,
    files_under,
    quarantine,
    read,
    rows,
    run_process,
    run_promote,
    set_rule,
    staging,
)


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


async def live_songs(state: AppState) -> list[Song]:
    async with state.db.sessionmaker() as session:
        found = await session.scalars(
            select(Song).where(Song.removed_at.is_(None)).order_by(Song.path)
        )
        return list(found)


async def test_ok_albums_are_promoted_into_the_library_their_rule_chooses_and_indexed(
    state: AppState,
    client: httpx.AsyncClient,
    manager: SignedIn,
    places: Folders,
    worker: Worker,
    tmp_path: Path,
) -> None:
    low = await create_library(state, "A to M", root=tmp_path / "am")
    high = await create_library(state, "N to Z", root=tmp_path / "nz")
    await set_rule(client, manager, low.id, artist_range="A-M")
    await set_rule(client, manager, high.id, artist_range="N-Z")
    heard: list[dict[str, Any]] = []

    async def listen(data: Any) -> None:
        heard.append(data)

    state.bus.subscribe(IMPORT_CHANNEL, listen)
    album_track(places.inbound, 1, "mp3")
    album_track(places.inbound, 2, "flac")
    await run_process(client, manager)
    album = (await staging(client, manager))[0]
    assert (album["status"], album["target_library_id"]) == ("ok", str(high.id))

    result = await run_promote(client, manager)

    assert (result["albums"], result["promoted"]) == (1, 2)
    root = (tmp_path / "nz").resolve()
    expected = [
        root / "Nina Simone/1965 - Pastel Blues/1-01 - Song 1.mp3",
        root / "Nina Simone/1965 - Pastel Blues/1-02 - Song 2.flac",
    ]
    assert files_under(root) == expected
    assert files_under(places.staging) == []
    songs = await live_songs(state)
    assert [song.path for song in songs] == [str(path) for path in expected]
    assert {song.library_id for song in songs} == {high.id}
    async with state.db.sessionmaker() as session:
        albums = list(await session.scalars(select(Album)))
    assert [(a.title, a.song_count) for a in albums] == [("Pastel Blues", 2)]
    found = await rows(state)
    assert {item.status for item in found["items"]} == {ImportStatus.promoted}
    assert found["albums"][0].status == ImportStatus.promoted
    assert await staging(client, manager) == []
    promoted = await staging(client, manager, status="promoted")
    assert promoted[0]["items"][0]["current_path"] == str(expected[0])
    # Every step is announced on the `import` topic (library managers' WebSocket).
    events = [(event["event"], event.get("path"), event.get("files")) for event in heard]
    assert events == [
        ("import.staged", "Nina Simone/1965 - Pastel Blues/1-01 - Song 1.mp3", None),
        ("import.staged", "Nina Simone/1965 - Pastel Blues/1-02 - Song 2.flac", None),
        ("import.promoted", None, 2),
    ]
    assert {event["album_id"] for event in heard} == {album["id"]}


async def test_an_album_no_rule_matches_stays_in_staging(
    state: AppState,
    client: httpx.AsyncClient,
    manager: SignedIn,
    places: Folders,
    worker: Worker,
    tmp_path: Path,
) -> None:
    library = await create_library(state, "Hash", root=tmp_path / "hash")
    await set_rule(client, manager, library.id, artist_range="#")
    album_track(places.inbound, 1)
    await run_process(client, manager)
    album_id = (await staging(client, manager))[0]["id"]
    approved = await client.post(
        f"{API}/libraries/staging/{album_id}/approve", headers=manager.headers
    )
    assert approved.status_code == 200

    result = await run_promote(client, manager)

    assert (result["promoted"], result["not_promoted"]) == (0, 1)
    album = (await staging(client, manager))[0]
    assert album["status"] == "approved"
    checks = {check["name"]: check["status"] for check in album["items"][0]["checks"]}
    assert checks["no_target_library"] == "failed"
    assert files_under(tmp_path / "hash") == []


async def test_a_staged_file_that_changed_is_quarantined_as_checksum_mismatch(
    state: AppState,
    client: httpx.AsyncClient,
    manager: SignedIn,
    places: Folders,
    worker: Worker,
    tmp_path: Path,
) -> None:
    library = await create_library(state, "Any", root=tmp_path / "any")
    await set_rule(client, manager, library.id)
    album_track(places.inbound, 1)
    album_track(places.inbound, 2)
    await run_process(client, manager)
    items = (await staging(client, manager))[0]["items"]
    changed = Path(items[0]["current_path"])
    append(changed, b"\0" * 16)

    result = await run_promote(client, manager)

    assert (result["promoted"], result["quarantined"]) == (1, 1)
    listing = await quarantine(client, manager)
    assert listing["counts"] == {"checksum_mismatch": 1}
    entry = listing["data"][0]
    assert entry["library_id"] == str(library.id)
    assert entry["import_item_id"] == items[0]["id"]
    assert exists(entry["file_path"])
    assert len(files_under((tmp_path / "any").resolve())) == 1


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    policy = getattr(request, "param", "quarantine")
    return {"import_duplicate_policy": policy}


async def existing_song(state: AppState, tmp_path: Path) -> tuple[object, Song]:
    library = await create_library(state, "Main", root=tmp_path / "main")
    song = await create_song(
        state,
        library,
        "Old Song 1",
        artists=("Nina Simone",),
        album="Pastel Blues",
        album_artist="Nina Simone",
        track_number=1,
        disc_number=1,
        write_file=True,
    )
    return library, song


async def test_a_duplicate_of_a_library_song_is_quarantined_by_default(
    state: AppState,
    client: httpx.AsyncClient,
    manager: SignedIn,
    places: Folders,
    worker: Worker,
    tmp_path: Path,
) -> None:
    await existing_song(state, tmp_path)
    album_track(places.inbound, 1)
    album_track(places.inbound, 2)

    result = await run_process(client, manager)

    assert (result["staged"], result["quarantined"]) == (1, 1)
    listing = await quarantine(client, manager, reason="duplicate")
    assert listing["data"][0]["inbound_path"] == "rip/Pastel Blues/01 song.mp3"


@pytest.mark.parametrize("settings_overrides", ["keep_both"], indirect=True)
async def test_keep_both_stages_the_duplicate(
    state: AppState,
    client: httpx.AsyncClient,
    manager: SignedIn,
    places: Folders,
    worker: Worker,
    tmp_path: Path,
) -> None:
    await existing_song(state, tmp_path)
    album_track(places.inbound, 1)

    result = await run_process(client, manager)

    assert (result["staged"], result["quarantined"]) == (1, 0)


@pytest.mark.parametrize("settings_overrides", ["replace"], indirect=True)
async def test_replace_quarantines_the_library_file_when_the_new_one_is_promoted(
    state: AppState,
    client: httpx.AsyncClient,
    manager: SignedIn,
    places: Folders,
    worker: Worker,
    tmp_path: Path,
) -> None:
    library, song = await existing_song(state, tmp_path)
    old_bytes = read(song.path)
    await set_rule(client, manager, library.id)  # type: ignore[attr-defined]
    album_track(places.inbound, 1)
    await run_process(client, manager)
    item = (await staging(client, manager))[0]["items"][0]
    assert item["replaces_song_id"] == str(song.id)

    await run_promote(client, manager)

    assert not exists(song.path)
    listing = await quarantine(client, manager, reason="duplicate")
    entry = listing["data"][0]
    assert entry["original_path"] == song.path
    assert read(entry["file_path"]) == old_bytes  # kept, never deleted
    paths = [s.path for s in await live_songs(state)]
    assert paths == [str((tmp_path / "main").resolve() / item["proposed_path"])]


async def test_move_ok_refusals(
    client: httpx.AsyncClient, user: SignedIn, manager: SignedIn
) -> None:
    anonymous = await client.post(f"{API}/libraries/move-ok")
    forbidden = await client.post(f"{API}/libraries/move-ok", headers=user.headers)
    unknown = await client.post(
        f"{API}/libraries/move-ok",
        json={"album_ids": ["01890000-0000-7000-8000-000000000000"]},
        headers=manager.headers,
    )
    malformed = await client.post(
        f"{API}/libraries/move-ok", json={"album_ids": ["nope"]}, headers=manager.headers
    )
    first = await client.post(f"{API}/libraries/move-ok", headers=manager.headers)
    second = await client.post(f"{API}/libraries/move-ok", headers=manager.headers)

    assert (anonymous.status_code, forbidden.status_code) == (401, 403)
    assert unknown.status_code == 404
    assert malformed.status_code == 422
    assert first.status_code == 202
    assert (second.status_code, error_code(second)) == (409, "duplicate_job")


# ---------------------------------------------------------------- import rules


async def test_import_rule_routes(
    state: AppState,
    client: httpx.AsyncClient,
    user: SignedIn,
    manager: SignedIn,
    tmp_path: Path,
) -> None:
    library = await create_library(state, "Music", root=tmp_path / "music")
    movies = await create_library(state, "Films", root=tmp_path / "films", kind=LibraryKind.movies)
    url = f"{API}/libraries/{library.id}/import-rule"

    missing = await client.get(url, headers=manager.headers)
    created = await set_rule(client, manager, library.id, artist_range="a-m,#", priority=5)
    read = await client.get(url, headers=manager.headers)
    bad_range = await client.put(url, json={"artist_range": "A-"}, headers=manager.headers)
    not_music = await client.put(
        f"{API}/libraries/{movies.id}/import-rule", json={}, headers=manager.headers
    )
    unknown = await client.get(
        f"{API}/libraries/01890000-0000-7000-8000-000000000000/import-rule",
        headers=manager.headers,
    )
    forbidden = await client.put(url, json={}, headers=user.headers)
    anonymous = await client.get(url)

    assert (missing.status_code, error_code(missing)) == (404, "import_rule_not_found")
    assert (created["artist_range"], created["priority"], created["is_enabled"]) == (
        "A-M,#",
        5,
        True,
    )
    assert read.json() == created
    assert bad_range.status_code == 422
    assert (not_music.status_code, error_code(not_music)) == (409, "not_music_library")
    assert unknown.status_code == 404
    assert (forbidden.status_code, anonymous.status_code) == (403, 401)


async def test_a_library_at_its_capacity_alert_refuses_and_the_album_is_quarantined(
    state: AppState,
    client: httpx.AsyncClient,
    manager: SignedIn,
    places: Folders,
    worker: Worker,
    tmp_path: Path,
) -> None:
    from datetime import timedelta

    from cinesonic.kit.timeutil import utcnow
    from cinesonic.models.capacity import CapacityStatus, LibraryRootCapacity
    from cinesonic.models.library import LibraryRoot

    library = await create_library(state, "Full", root=tmp_path / "full")
    await set_rule(client, manager, library.id)
    async with state.db.session() as session:
        root_id = await session.scalar(
            select(LibraryRoot.id).where(LibraryRoot.library_id == library.id)
        )
        now = utcnow()
        session.add(
            LibraryRootCapacity(
                root_id=root_id,
                status=CapacityStatus.alert,
                used_percent=97.0,
                checked_at=now,
                last_success_at=now,
                next_check_at=now + timedelta(minutes=10),
            )
        )
    album_track(places.inbound, 1)
    await run_process(client, manager)

    result = await run_promote(client, manager)

    assert (result["promoted"], result["quarantined"]) == (0, 1)
    listing = await quarantine(client, manager, library_id=str(library.id))
    assert listing["counts"] == {"disk_full": 1}
    assert files_under((tmp_path / "full").resolve()) == []
    assert (await staging(client, manager, status="failed"))[0]["items"][0]["status"] == "failed"
