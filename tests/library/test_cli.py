"""`cinesonic scan`: a foreground scan through the real command line, recorded as a job."""

from __future__ import annotations

from sqlalchemy import select

from cinesonic.models.job import Job, JobStatus
from cinesonic.state import AppState
from tests.cli.harness import invoke
from tests.library.helpers import last_scan, music_library, songs, track


async def test_scan_command_scans_a_library_by_name(state: AppState) -> None:
    library, root = await music_library(state, "Vinyl Rips")
    track(root, "A/B/01", "flac", title="One", artist="A", album="B")
    (root / "A" / "B" / "bad.mp3").write_text("not audio")
    result = await invoke(state.settings, "scan", "vinyl rips")
    assert result.exit_code == 0, result.output
    assert "Vinyl Rips: succeeded (1 added" in result.stdout
    assert "1 failed" in result.stdout
    assert [song.title for song in await songs(state)] == ["One"]
    scan = await last_scan(state, library.id)
    async with state.db.sessionmaker() as session:
        job = await session.scalar(select(Job).where(Job.id == scan.job_id))
    assert job is not None and job.status == JobStatus.succeeded


async def test_scan_command_without_a_name_scans_every_library(state: AppState) -> None:
    _, first = await music_library(state, "One")
    _, second = await music_library(state, "Two")
    track(first, "a/01", "mp3", title="First")
    track(second, "b/01", "ogg", title="Second")
    result = await invoke(state.settings, "scan", "--full")
    assert result.exit_code == 0, result.output
    assert sorted(song.title for song in await songs(state)) == ["First", "Second"]


async def test_scan_command_refuses_an_unknown_library(state: AppState) -> None:
    result = await invoke(state.settings, "scan", "Nope")
    assert result.exit_code == 1
    assert "error: No library is named or numbered 'Nope'." in result.stderr


async def test_scan_command_fails_when_the_root_is_gone(state: AppState) -> None:
    _, root = await music_library(state, "Gone")
    root.rmdir()
    result = await invoke(state.settings, "scan", "Gone")
    assert result.exit_code == 1
    assert "Gone: failed" in result.stdout and "missing" in result.stdout
