"""Review actions on staging (approve, reject, tag corrections) and quarantine resolutions
(accept, restore, delete, requeue), with their refusals."""

from __future__ import annotations

from pathlib import Path

import httpx
import mutagen
from sqlalchemy import select

from cinesonic.importer.pipeline import Folders
from cinesonic.models.activity import Activity
from cinesonic.state import AppState
from cinesonic.worker.runner import Worker
from tests.fixtures.users import SignedIn
from tests.importer.helpers import (
    API,
    album_track,
    error_code,
    exists,
    files_under,
    quarantine,
    read,
    run_process,
    staging,
    tagged,
)

UNKNOWN = "01890000-0000-7000-8000-000000000000"


async def staged_album(
    client: httpx.AsyncClient, who: SignedIn, places: Folders, tracks: int = 2
) -> dict[str, object]:
    for number in range(1, tracks + 1):
        album_track(places.inbound, number)
    await run_process(client, who)
    album: dict[str, object] = (await staging(client, who))[0]
    return album


async def test_approve_marks_the_album_and_its_files(
    state: AppState,
    client: httpx.AsyncClient,
    manager: SignedIn,
    places: Folders,
    worker: Worker,
) -> None:
    album = await staged_album(client, manager, places)

    response = await client.post(
        f"{API}/libraries/staging/{album['id']}/approve",
        json={"note": "looks right"},
        headers=manager.headers,
    )
    again = await client.post(
        f"{API}/libraries/staging/{album['id']}/approve", headers=manager.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["decision_note"]) == ("approved", "looks right")
    assert body["reviewer_id"] == manager.user_id
    assert {item["status"] for item in body["items"]} == {"approved"}
    assert (again.status_code, error_code(again)) == (409, "album_not_reviewable")
    async with state.db.sessionmaker() as session:
        assert "import.approve" in set(await session.scalars(select(Activity.action)))


async def test_reject_puts_files_back_at_their_inbound_paths_without_overwriting(
    client: httpx.AsyncClient, manager: SignedIn, places: Folders, worker: Worker
) -> None:
    album = await staged_album(client, manager, places)
    squatter = places.inbound / "rip" / "Pastel Blues" / "01 song.mp3"
    squatter.parent.mkdir(parents=True, exist_ok=True)
    squatter.write_bytes(b"a new file with the same name")

    response = await client.post(
        f"{API}/libraries/staging/{album['id']}/reject", headers=manager.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rejected"
    folder = places.inbound / "rip" / "Pastel Blues"
    assert sorted(p.name for p in folder.iterdir()) == [
        "01 song (2).mp3",
        "01 song.mp3",
        "02 song.mp3",
    ]
    assert squatter.read_bytes() == b"a new file with the same name"
    assert files_under(places.staging) == []


async def test_review_refusals(
    client: httpx.AsyncClient, user: SignedIn, manager: SignedIn
) -> None:
    missing = await client.post(
        f"{API}/libraries/staging/{UNKNOWN}/approve", headers=manager.headers
    )
    rejected = await client.post(
        f"{API}/libraries/staging/{UNKNOWN}/reject", headers=manager.headers
    )
    malformed = await client.post(f"{API}/libraries/staging/x/approve", headers=manager.headers)
    long_note = await client.post(
        f"{API}/libraries/staging/{UNKNOWN}/approve",
        json={"note": "x" * 2001},
        headers=manager.headers,
    )
    forbidden = await client.post(
        f"{API}/libraries/staging/{UNKNOWN}/approve", headers=user.headers
    )
    anonymous = await client.post(f"{API}/libraries/staging/{UNKNOWN}/reject")

    assert (missing.status_code, rejected.status_code) == (404, 404)
    assert (malformed.status_code, long_note.status_code) == (422, 422)
    assert (forbidden.status_code, anonymous.status_code) == (403, 401)


async def test_a_tag_correction_is_written_to_the_file_and_checked_again(
    client: httpx.AsyncClient, manager: SignedIn, places: Folders, worker: Worker
) -> None:
    album = await staged_album(client, manager, places, tracks=1)
    item = album["items"][0]  # type: ignore[index]

    response = await client.patch(
        f"{API}/libraries/staging/items/{item['id']}",
        json={"title": "Sinnerman", "track": 10, "genre": "Jazz"},
        headers=manager.headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["corrections"] == {"title": "Sinnerman", "track": 10, "genre": "Jazz"}
    assert body["proposed_path"] == "Nina Simone/1965 - Pastel Blues/1-10 - Sinnerman.mp3"
    assert body["tags"]["title"] == "Sinnerman"
    assert body["sha256"] != item["sha256"]
    written = mutagen.File(body["current_path"], easy=True)
    assert written["title"] == ["Sinnerman"]
    assert written["tracknumber"] == ["10"]
    assert written["genre"] == ["Jazz"]


async def test_tag_correction_refusals(
    client: httpx.AsyncClient, manager: SignedIn, places: Folders, worker: Worker
) -> None:
    album = await staged_album(client, manager, places, tracks=1)
    item_id = album["items"][0]["id"]  # type: ignore[index]
    url = f"{API}/libraries/staging/items/{item_id}"

    empty = await client.patch(url, json={}, headers=manager.headers)
    bad_track = await client.patch(url, json={"track": 1000}, headers=manager.headers)
    future = await client.patch(url, json={"year": 3999}, headers=manager.headers)
    blank = await client.patch(url, json={"title": "   "}, headers=manager.headers)
    unknown = await client.patch(
        f"{API}/libraries/staging/items/{UNKNOWN}", json={"title": "x"}, headers=manager.headers
    )
    await client.post(f"{API}/libraries/staging/{album['id']}/reject", headers=manager.headers)
    after_reject = await client.patch(url, json={"title": "x"}, headers=manager.headers)

    assert [r.status_code for r in (empty, bad_track, future, blank)] == [422] * 4
    assert unknown.status_code == 404
    assert (after_reject.status_code, error_code(after_reject)) == (409, "item_not_editable")


# ---------------------------------------------------------------- quarantine


async def quarantined(
    client: httpx.AsyncClient, who: SignedIn, places: Folders
) -> dict[str, object]:
    tagged(
        places.inbound,
        "odd/07 track",
        "mp3",
        title="Track",
        artist="Odd",
        albumartist="Odd",
        album="Years",
        date="2999",
        tracknumber="7",
    )
    await run_process(client, who)
    entry: dict[str, object] = (await quarantine(client, who))["data"][0]
    return entry


async def test_accept_stages_the_file_with_the_failed_check_waived(
    client: httpx.AsyncClient, manager: SignedIn, places: Folders, worker: Worker
) -> None:
    entry = await quarantined(client, manager, places)

    response = await client.post(
        f"{API}/libraries/quarantine/{entry['id']}/resolve",
        json={"action": "accept"},
        headers=manager.headers,
    )
    again = await client.post(
        f"{API}/libraries/quarantine/{entry['id']}/resolve",
        json={"action": "accept"},
        headers=manager.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["resolution"] == "accepted"
    album = (await staging(client, manager))[0]
    item = album["items"][0]
    statuses = {check["name"]: check["status"] for check in item["checks"]}
    assert statuses["bounds"] == statuses["validation_bounds"] == "waived"
    assert Path(item["current_path"]).is_relative_to(places.staging)
    assert exists(item["current_path"])
    assert not exists(entry["file_path"])
    assert (again.status_code, error_code(again)) == (409, "quarantine_resolved")
    assert (await quarantine(client, manager))["counts"] == {}
    resolved = await quarantine(client, manager, resolved="true")
    assert resolved["data"][0]["resolution"] == "accepted"


async def test_restore_puts_the_file_back_in_inbound(
    client: httpx.AsyncClient, manager: SignedIn, places: Folders, worker: Worker
) -> None:
    entry = await quarantined(client, manager, places)
    data = read(entry["file_path"])

    response = await client.post(
        f"{API}/libraries/quarantine/{entry['id']}/resolve",
        json={"action": "restore"},
        headers=manager.headers,
    )

    assert response.status_code == 200, response.text
    assert (places.inbound / "odd" / "07 track.mp3").read_bytes() == data
    assert files_under(places.quarantine) == []


async def test_only_an_administrator_may_delete_and_it_is_audited(
    state: AppState,
    client: httpx.AsyncClient,
    admin: SignedIn,
    manager: SignedIn,
    places: Folders,
    worker: Worker,
) -> None:
    entry = await quarantined(client, manager, places)
    url = f"{API}/libraries/quarantine/{entry['id']}/resolve"

    refused = await client.post(url, json={"action": "delete"}, headers=manager.headers)
    assert refused.status_code == 403
    assert exists(entry["file_path"])

    deleted = await client.post(url, json={"action": "delete"}, headers=admin.headers)

    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["resolution"] == "deleted"
    assert not exists(entry["file_path"])
    async with state.db.sessionmaker() as session:
        audit = await session.scalar(
            select(Activity).where(Activity.action == "import.quarantine.delete")
        )
    assert audit is not None and audit.details["sha256"] == entry["sha256"]


async def test_requeue_keeps_a_file_that_still_fails_and_stages_one_that_passes(
    client: httpx.AsyncClient, manager: SignedIn, places: Folders, worker: Worker
) -> None:
    entry = await quarantined(client, manager, places)
    url = f"{API}/libraries/quarantine/{entry['id']}/requeue"

    kept = await client.post(url, headers=manager.headers)
    assert kept.status_code == 200, kept.text
    assert (kept.json()["attempts"], kept.json()["resolution"]) == (2, None)

    path = Path(str(entry["file_path"]))
    audio = mutagen.File(path, easy=True)
    audio["date"] = ["1999"]
    audio.save()
    staged = await client.post(url, headers=manager.headers)

    assert staged.status_code == 200, staged.text
    assert staged.json()["resolution"] == "requeued"
    items = (await staging(client, manager))[0]["items"]
    assert items[0]["proposed_path"] == "Odd/1999 - Years/1-07 - Track.mp3"


async def test_quarantine_refusals(
    client: httpx.AsyncClient, user: SignedIn, manager: SignedIn
) -> None:
    resolve = f"{API}/libraries/quarantine/{UNKNOWN}/resolve"
    unknown = await client.post(resolve, json={"action": "accept"}, headers=manager.headers)
    bad_action = await client.post(resolve, json={"action": "burn"}, headers=manager.headers)
    requeue = await client.post(
        f"{API}/libraries/quarantine/{UNKNOWN}/requeue", headers=manager.headers
    )
    listing = await client.get(f"{API}/libraries/quarantine", headers=user.headers)
    bad_reason = await client.get(
        f"{API}/libraries/quarantine", params={"reason": "boredom"}, headers=manager.headers
    )
    anonymous = await client.get(f"{API}/libraries/quarantine")

    assert (unknown.status_code, bad_action.status_code, requeue.status_code) == (404, 422, 404)
    assert (listing.status_code, bad_reason.status_code, anonymous.status_code) == (403, 422, 401)
