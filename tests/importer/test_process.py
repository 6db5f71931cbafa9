"""`POST /libraries/process` and `GET /libraries/staging`: checks, grouping, organised paths,
quarantine reasons, skipping what was processed, and the refusals."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cinesonic.importer import batch
from cinesonic.importer.pipeline import Folders
from cinesonic.models.activity import Activity
from cinesonic.models.importer import FileMoveState
from cinesonic.state import AppState
from cinesonic.worker.runner import Worker
from tests.fixtures.users import SignedIn
from tests.importer.helpers import (
    API,
    album_track,
    error_code,
    files_under,
    quarantine,
    read,
    rows,
    run_process,
    staging,
    tagged,
)


async def test_process_stages_an_album_at_its_organised_path(
    state: AppState,
    client: httpx.AsyncClient,
    manager: SignedIn,
    places: Folders,
    worker: Worker,
) -> None:
    first = album_track(places.inbound, 1, "mp3")
    album_track(places.inbound, 2, "flac")
    (places.inbound / "rip" / "Pastel Blues" / "notes.txt").write_text("ripped by me")

    result = await run_process(client, manager)

    assert (result["seen"], result["staged"], result["quarantined"]) == (2, 2, 0)
    assert result["ignored"] == 1
    albums = await staging(client, manager)
    assert len(albums) == 1
    album = albums[0]
    assert (album["album_artist"], album["album"], album["year"]) == (
        "Nina Simone",
        "Pastel Blues",
        1965,
    )
    # No library has an import rule yet: staged, but waiting for review.
    assert album["status"] == "needs_review"
    assert album["target_library_id"] is None
    paths = [item["proposed_path"] for item in album["items"]]
    assert paths == [
        "Nina Simone/1965 - Pastel Blues/1-01 - Song 1.mp3",
        "Nina Simone/1965 - Pastel Blues/1-02 - Song 2.flac",
    ]
    item = album["items"][0]
    assert item["original_path"] == "rip/Pastel Blues/01 song.mp3"
    assert item["current_path"] == str(places.staging / paths[0])
    checks = {check["name"]: check["status"] for check in item["checks"]}
    assert checks["probe"] == checks["tags"] == checks["bounds"] == "passed"
    assert checks["duplicate"] == checks["path_safety"] == "passed"
    assert checks["no_target_library"] == "failed"
    assert item["tags"]["title"] == "Song 1"
    assert len(item["sha256"]) == 64
    assert not first.exists()
    assert files_under(places.staging) == sorted(places.staging / p for p in paths)
    assert (places.inbound / "rip" / "Pastel Blues" / "notes.txt").exists()
    found = await rows(state)
    assert {move.state for move in found["moves"]} == {FileMoveState.done}
    async with state.db.sessionmaker() as session:
        actions = list(await session.scalars(select(Activity.action)))
    assert actions.count("import.staged") == 2
    assert "import.process" in actions


async def test_process_quarantines_files_that_fail_with_their_reason(
    client: httpx.AsyncClient, manager: SignedIn, places: Folders, worker: Worker
) -> None:
    garbage = places.inbound / "junk" / "noise.mp3"
    garbage.parent.mkdir(parents=True)
    noise_bytes = os.urandom(4096)
    garbage.write_bytes(noise_bytes)
    tagged(places.inbound, "future/01 a", "mp3", title="A", artist="X", album="Y", date="2999")
    tagged(places.inbound, "short/01 b", "mp3", seconds=0.3, title="B", artist="X", album="Z")
    cue = places.inbound / "cue" / "album.cue"
    cue.parent.mkdir()
    cue.write_text('FILE "missing.flac" WAVE\n  TRACK 01 AUDIO\n')

    result = await run_process(client, manager)

    assert result["quarantined"] == 4
    listing = await quarantine(client, manager)
    assert listing["counts"] == {
        "unsupported_container": 1,
        "validation_bounds": 2,
        "cue_missing_audio": 1,
    }
    by_path = {entry["inbound_path"]: entry for entry in listing["data"]}
    noise = by_path["junk/noise.mp3"]
    assert noise["reason"] == "unsupported_container"
    assert Path(noise["file_path"]).is_relative_to(places.quarantine / "unsupported_container")
    assert read(noise["file_path"]) == noise_bytes
    assert "year 2999" in by_path["future/01 a.mp3"]["message"]
    assert "duration" in by_path["short/01 b.mp3"]["message"]
    filtered = await quarantine(client, manager, reason="validation_bounds")
    assert filtered["pagination"]["total"] == 2
    assert files_under(places.inbound) == []
    assert await staging(client, manager) == []


async def test_missing_tags_and_a_disagreeing_disc_folder_ask_for_review(
    client: httpx.AsyncClient, manager: SignedIn, places: Folders, worker: Worker
) -> None:
    tagged(places.inbound, "Artist X/Album Y/CD2/03 Untagged", "flac")
    tagged(
        places.inbound,
        "Other/Disc 1/01 t",
        "mp3",
        title="T",
        artist="O",
        albumartist="O",
        album="Al",
        discnumber="2",
        tracknumber="1",
    )

    await run_process(client, manager)

    albums = {album["album"]: album for album in await staging(client, manager)}
    untagged = albums["Album Y"]["items"][0]
    checks = {check["name"]: check for check in untagged["checks"]}
    assert checks["tags"]["status"] == "warning"
    # Path fallbacks: artist and album from the folders, disc from `CD2`, track and title
    # from the file name.
    assert untagged["proposed_path"] == "Artist X/0000 - Album Y/2-03 - Untagged.flac"
    assert untagged["status"] == "needs_review"
    conflicting = albums["Al"]["items"][0]
    disc = {check["name"]: check for check in conflicting["checks"]}["disc_folder"]
    assert disc["status"] == "warning"


async def test_unchanged_files_are_skipped_unless_forced(
    state: AppState,
    client: httpx.AsyncClient,
    manager: SignedIn,
    places: Folders,
    worker: Worker,
) -> None:
    album_track(places.inbound, 1)
    await run_process(client, manager)
    album_id = (await staging(client, manager))[0]["id"]
    rejected = await client.post(
        f"{API}/libraries/staging/{album_id}/reject",
        json={"note": "wrong edition"},
        headers=manager.headers,
    )
    assert rejected.status_code == 200, rejected.text
    assert (places.inbound / "rip" / "Pastel Blues" / "01 song.mp3").exists()

    again = await run_process(client, manager)
    assert (again["skipped"], again["staged"]) == (1, 0)

    forced = await run_process(client, manager, force=True)
    assert (forced["skipped"], forced["staged"]) == (0, 1)
    assert files_under(places.inbound) == []


async def test_process_only_the_paths_asked(
    client: httpx.AsyncClient, manager: SignedIn, places: Folders, worker: Worker
) -> None:
    tagged(places.inbound, "one/01 a", title="A", artist="X", album="One")
    tagged(places.inbound, "two/01 b", title="B", artist="X", album="Two")

    result = await run_process(client, manager, paths=["one"])

    assert result["staged"] == 1
    assert [album["album"] for album in await staging(client, manager)] == ["One"]
    assert (places.inbound / "two" / "01 b.mp3").exists()


async def test_a_second_process_while_one_is_active_is_a_409(
    client: httpx.AsyncClient, manager: SignedIn
) -> None:
    first = await client.post(f"{API}/libraries/process", headers=manager.headers)
    second = await client.post(f"{API}/libraries/process", headers=manager.headers)

    assert first.status_code == 202
    assert first.json()["type"] == "import.process"
    assert second.status_code == 409
    assert error_code(second) == "duplicate_job"


async def test_process_refusals(
    client: httpx.AsyncClient, user: SignedIn, manager: SignedIn, places: Folders, tmp_path: Path
) -> None:
    (places.inbound / "out").symlink_to(tmp_path, target_is_directory=True)

    anonymous = await client.post(f"{API}/libraries/process")
    forbidden = await client.post(f"{API}/libraries/process", headers=user.headers)
    climbing = await client.post(
        f"{API}/libraries/process", json={"paths": ["../etc"]}, headers=manager.headers
    )
    linked = await client.post(
        f"{API}/libraries/process", json={"paths": ["out/x"]}, headers=manager.headers
    )
    bad_type = await client.post(
        f"{API}/libraries/process", json={"force": "sometimes"}, headers=manager.headers
    )
    listing = await client.get(f"{API}/libraries/staging", headers=user.headers)
    bad_status = await client.get(
        f"{API}/libraries/staging", params={"status": "lost"}, headers=manager.headers
    )

    assert anonymous.status_code == 401
    assert forbidden.status_code == 403
    assert (climbing.status_code, error_code(climbing)) == (422, "path_outside_root")
    assert (linked.status_code, error_code(linked)) == (422, "path_outside_root")
    assert bad_type.status_code == 422
    assert listing.status_code == 403
    assert bad_status.status_code == 422


async def test_files_of_one_run_meet_each_other_within_and_across_batches(
    client: httpx.AsyncClient,
    manager: SignedIn,
    places: Folders,
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run is processed in batches (`importer.batch`): the same content twice, or the same
    disc and track of one album twice, is caught whether the two files share a batch or not,
    and an album spread over batches stays one album."""
    monkeypatch.setattr(batch, "BATCH_SIZE", 2)
    for number in (1, 2, 3):
        album_track(places.inbound, number)
    copy = places.inbound / "again" / "copy.mp3"
    copy.parent.mkdir()
    copy.write_bytes((places.inbound / "rip" / "Pastel Blues" / "01 song.mp3").read_bytes())
    # Another recording claiming track 2 of the same album.
    tagged(
        places.inbound,
        "zz/other take",
        "mp3",
        frequency=990.0,
        title="Song 2 (take 2)",
        artist="Nina Simone",
        albumartist="Nina Simone",
        album="Pastel Blues",
        date="1965",
        tracknumber="2",
        discnumber="1",
    )

    result = await run_process(client, manager)

    assert (result["seen"], result["staged"], result["quarantined"]) == (5, 3, 2)
    albums = await staging(client, manager)
    assert len(albums) == 1
    assert [item["tags"]["track"] for item in albums[0]["items"]] == [1, 2, 3]
    listing = await quarantine(client, manager)
    assert listing["counts"] == {"duplicate": 1, "metadata_conflict": 1}
    by_path = {entry["inbound_path"]: entry for entry in listing["data"]}
    # Walked in path order, two by two: [again/copy, rip/01] [rip/02, rip/03] [zz/other take].
    duplicate = by_path["rip/Pastel Blues/01 song.mp3"]
    assert "already staged (again/copy.mp3)" in duplicate["message"]
    assert "(rip/Pastel Blues/02 song.mp3)" in by_path["zz/other take.mp3"]["message"]
    assert files_under(places.inbound) == []
