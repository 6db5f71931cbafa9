"""Tags read by a pool of processes (the default outside tests) give the same rows."""

from __future__ import annotations

import pytest

from cinesonic.state import AppState
from tests.library.helpers import (
    last_scan,
    music_library,
    scan,
    scan_errors,
    song_artists,
    songs,
    track,
)

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"scan_processes": 2, "scan_batch_size": 4}


async def test_a_process_pool_reads_tags_and_reports_bad_files(state: AppState) -> None:
    library, root = await music_library(state)
    for number, fmt in enumerate(["mp3", "flac", "ogg", "opus", "m4a", "wma"], start=1):
        track(root, f"A/B/{number:02}", fmt, title=f"S{number}", artist=["A", "Guest"], album="B")
    (root / "A" / "B" / "junk.mp3").write_bytes(b"\x01" * 500)
    result = await scan(state, library.id)
    assert (result["added"], result["failed"]) == (6, 1)
    found = await songs(state)
    assert sorted(song.title for song in found) == [f"S{n}" for n in range(1, 7)]
    assert await song_artists(state, found[0].id) == ["A", "Guest"]
    row = await last_scan(state, library.id)
    assert await scan_errors(state, row.id) == {"junk.mp3": "not_audio"}
