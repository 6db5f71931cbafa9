"""Scanning real files into the database: what is added, updated, moved, removed and failed.

Scans run in the test's event loop (`helpers.scan`); batches are small (`conftest`: 50 files,
some tests fewer) so resuming and batching are exercised on a few dozen files.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
from mutagen.flac import FLAC
from PIL import Image as PILImage
from sqlalchemy import func, select

from cinesonic.library.scanner import Progress, RootUnavailable
from cinesonic.models.image import Image, ImageKind
from cinesonic.models.library import ScanStatus
from cinesonic.models.music import Album, Artist, Genre, LibraryArtist, SongLyrics
from cinesonic.state import AppState
from tests.fixtures.audio import FORMATS
from tests.library.helpers import (
    albums,
    last_scan,
    music_library,
    scan,
    scan_errors,
    song_artists,
    song_at,
    songs,
    track,
)

pytestmark = pytest.mark.usefixtures("app")


def album_of(number: int) -> dict[str, str]:
    return {
        "title": f"Song {number}",
        "artist": "Artist",
        "album": "Album",
        "tracknumber": str(number),
    }


# ---------------------------------------------------------------- formats and tags


async def test_every_format_is_indexed_with_its_properties(state: AppState) -> None:
    library, root = await music_library(state)
    for number, fmt in enumerate(sorted(FORMATS), start=1):
        track(root, f"Artist/Album/{number:02} {fmt}", fmt, **album_of(number))
    result = await scan(state, library.id)
    assert (result["added"], result["failed"], result["files_seen"]) == (9, 0, 9)
    found = await songs(state)
    assert sorted({s.format for s in found}) == [
        "aiff",
        "flac",
        "m4a",
        "mp3",
        "ogg",
        "opus",
        "wav",
        "wma",
    ]
    assert {s.codec for s in found} >= {
        "aac",
        "alac",
        "vorbis",
        "opus",
        "pcm",
        "wma",
        "mp3",
        "flac",
    }
    assert all(s.duration > 0.3 and s.sample_rate and s.channels == 2 for s in found)
    ((album, artist),) = await albums(state)
    assert (album.title, artist, album.song_count) == ("Album", "Artist", 9)
    assert album.duration == pytest.approx(sum(s.duration for s in found))
    assert album.size_bytes == sum(s.size_bytes for s in found)


async def test_multi_valued_artists_and_genres_become_rows(state: AppState) -> None:
    library, root = await music_library(state)
    path = track(
        root,
        "x/01",
        "flac",
        title="Duet",
        artist=["Ann", "Bob"],
        album="Duets",
        genre=["Jazz", "Soul"],
    )
    await scan(state, library.id)
    song = await song_at(state, path)
    assert await song_artists(state, song.id) == ["Ann", "Bob"]
    assert song.artist_display == "Ann, Bob"
    async with state.db.sessionmaker() as session:
        assert sorted(await session.scalars(select(Genre.name))) == ["Jazz", "Soul"]
        links = {
            artist: (count_songs, count_albums)
            for artist, count_songs, count_albums in await session.execute(
                select(Artist.name, LibraryArtist.song_count, LibraryArtist.album_count).join(
                    LibraryArtist, LibraryArtist.artist_id == Artist.id
                )
            )
        }
    # The album artist is the first artist; both appear on the album.
    assert links == {"Ann": (1, 1), "Bob": (1, 1)}


async def test_names_match_without_case_or_accents_and_by_musicbrainz_id(state: AppState) -> None:
    library, root = await music_library(state)
    mbid = "11111111-2222-3333-4444-555555555555"
    track(root, "a/01", "mp3", title="One", artist="Beyoncé", album="B")
    track(root, "a/02", "mp3", title="Two", artist="BEYONCE", album="b")
    track(
        root,
        "c/01",
        "flac",
        title="Three",
        artist="Sigur Rós",
        album="S",
        musicbrainz_artistid=mbid,
    )
    track(
        root,
        "d/01",
        "flac",
        title="Four",
        artist="Sigur Ros (band)",
        album="T",
        musicbrainz_artistid=mbid,
    )
    await scan(state, library.id)
    async with state.db.sessionmaker() as session:
        names = sorted(await session.scalars(select(Artist.name)))
        assert len(names) == 2, names
        ids = await session.scalar(select(func.count(Artist.mbz_artist_id.distinct())))
        assert ids == 1
    assert [album.title.lower() for album, _ in await albums(state)].count("b") == 1


async def test_missing_tags_fall_back_to_the_folders(state: AppState) -> None:
    library, root = await music_library(state)
    path = track(root, "The Band/The Record/03 - A Song", "ogg")
    await scan(state, library.id)
    song = await song_at(state, path)
    assert (song.title, song.track_number) == ("A Song", 3)
    ((album, artist),) = await albums(state)
    assert (album.title, artist) == ("The Record", "The Band")


async def test_lyrics_embedded_and_from_a_sidecar(state: AppState) -> None:
    library, root = await music_library(state)
    embedded = track(root, "x/01", "flac", title="One", lyrics="Plain words")
    with_sidecar = track(root, "x/02", "mp3", title="Two")
    with_sidecar.with_suffix(".lrc").write_text("[00:01.00]Timed\n")
    plain = track(root, "x/03", "ogg", title="Three")
    await scan(state, library.id)
    assert (await song_at(state, embedded)).has_lyrics
    assert (await song_at(state, with_sidecar)).has_lyrics
    assert not (await song_at(state, plain)).has_lyrics
    async with state.db.sessionmaker() as session:
        rows = {
            (row.source, row.is_synced, row.text)
            for row in await session.scalars(select(SongLyrics))
        }
    assert rows == {("embedded", False, "Plain words"), ("sidecar", True, "Timed")}


# ---------------------------------------------------------------- albums


async def test_a_compilation_flag_makes_one_various_artists_album(state: AppState) -> None:
    library, root = await music_library(state)
    for number, artist in enumerate(["A", "B", "C"], start=1):
        track(
            root,
            f"Hits/{number:02}",
            "flac",
            title=f"S{number}",
            artist=artist,
            album="Hits",
            compilation="1",
        )
    await scan(state, library.id)
    ((album, artist),) = await albums(state)
    assert (album.title, artist, album.is_compilation, album.song_count) == (
        "Hits",
        "Various Artists",
        True,
        3,
    )


async def test_differing_artists_in_one_folder_make_a_compilation(state: AppState) -> None:
    library, root = await music_library(state)
    track(root, "Mix/01", "mp3", title="S1", artist="A", album="Summer Mix")
    track(root, "Mix/02", "mp3", title="S2", artist="B", album="Summer Mix")
    # The same title in another folder by one artist stays that artist's album.
    track(root, "Other/01", "mp3", title="S3", artist="C", album="Summer Mix")
    await scan(state, library.id)
    found = {(album.title, artist, album.song_count) for album, artist in await albums(state)}
    assert found == {("Summer Mix", "Various Artists", 2), ("Summer Mix", "C", 1)}


async def test_a_new_file_by_another_artist_moves_the_folder_to_various_artists(
    state: AppState,
) -> None:
    library, root = await music_library(state)
    first = track(root, "Mix/01", "mp3", title="S1", artist="A", album="Mix")
    await scan(state, library.id)
    original = await song_at(state, first)
    track(root, "Mix/02", "mp3", title="S2", artist="B", album="Mix")
    result = await scan(state, library.id)
    assert (result["added"], result["unchanged"]) == (1, 1)  # the first file was not reopened
    albums_now = [(album.title, artist, album.song_count) for album, artist in await albums(state)]
    assert albums_now == [("Mix", "Various Artists", 2)]
    moved = await song_at(state, first)
    assert moved.id == original.id and moved.album_id != original.album_id and moved.is_compilation


async def test_album_artist_tag_wins_over_track_artists(state: AppState) -> None:
    library, root = await music_library(state)
    track(
        root, "x/01", "flac", title="S1", artist="Guest One", album="Record", albumartist="Leader"
    )
    track(
        root, "x/02", "flac", title="S2", artist="Guest Two", album="Record", albumartist="Leader"
    )
    await scan(state, library.id)
    assert [(a.title, name, a.is_compilation) for a, name in await albums(state)] == [
        ("Record", "Leader", False)
    ]


def cover_bytes(color: tuple[int, int, int]) -> bytes:
    import io

    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 64), color).save(buffer, "JPEG")
    return buffer.getvalue()


async def test_album_art_from_the_folder_and_from_embedded_pictures(state: AppState) -> None:
    library, root = await music_library(state)
    track(root, "One/01", "mp3", title="S", artist="A", album="One")
    (root / "One" / "Folder.JPG").write_bytes(cover_bytes((200, 10, 10)))
    embedded = track(root, "Two/01", "flac", title="S", artist="A", album="Two")
    audio = FLAC(embedded)
    from mutagen.flac import Picture

    picture = Picture()
    picture.type, picture.mime, picture.data = 3, "image/jpeg", cover_bytes((10, 200, 10))
    audio.add_picture(picture)
    audio.save()
    track(root, "Three/01", "ogg", title="S", artist="A", album="Three")
    (root / "Three" / "cover.png").write_bytes(b"not a png")
    result = await scan(state, library.id)
    covers = {album.title: album.cover_image_id for album, _ in await albums(state)}
    assert covers["One"] is not None and covers["Two"] is not None
    assert covers["One"] != covers["Two"]
    assert covers["Three"] is None
    async with state.db.sessionmaker() as session:
        kinds = set(await session.scalars(select(Image.kind)))
    assert kinds == {ImageKind.cover}
    assert result["failed"] == 0  # a bad picture is noted, not a failed file
    assert (await scan_errors(state, (await last_scan(state, library.id)).id)) == {
        "cover.png": "bad_cover"
    }


# ---------------------------------------------------------------- incremental rules


async def test_an_unchanged_file_is_not_reopened(state: AppState) -> None:
    library, root = await music_library(state)
    path = track(root, "x/01", "mp3", title="Original", artist="A", album="B")
    await scan(state, library.id)
    before = path.stat()
    # Same size and mtime, different bytes: only reopening the file could notice.
    path.write_bytes(b"\x00" * before.st_size)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    result = await scan(state, library.id)
    assert (result["unchanged"], result["updated"], result["failed"]) == (1, 0, 0)
    assert (await song_at(state, path)).title == "Original"
    full = await scan(state, library.id, full=True)
    assert full["failed"] == 1  # a full scan does reopen it


async def test_a_changed_file_is_updated_in_place(state: AppState) -> None:
    library, root = await music_library(state)
    path = track(root, "x/01", "flac", title="Old", artist="A", album="B")
    await scan(state, library.id)
    song = await song_at(state, path)
    audio = FLAC(path)
    audio["title"] = "New"
    audio.save()
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    result = await scan(state, library.id)
    assert (result["updated"], result["added"]) == (1, 0)
    updated = await song_at(state, path)
    assert (updated.id, updated.title) == (song.id, "New")


async def test_a_moved_and_renamed_file_keeps_its_song_id(state: AppState) -> None:
    library, root = await music_library(state)
    path = track(
        root, "Old Folder/01 - x", "flac", title="Keep", artist="A", album="B", seconds=2.0
    )
    copied = track(root, "Old Folder/02 - y", "mp3", title="Copy", artist="A", album="B")
    await scan(state, library.id)
    kept = await song_at(state, path)
    original_copy = await song_at(state, copied)
    target = root / "New Folder" / "renamed.flac"
    target.parent.mkdir()
    os.rename(path, target)
    shutil.copyfile(copied, root / "New Folder" / "copy.mp3")  # a copy, not a move: a new song
    result = await scan(state, library.id)
    assert (result["moved"], result["added"], result["removed"]) == (1, 1, 0)
    assert (await song_at(state, target)).id == kept.id
    assert (await song_at(state, copied)).id == original_copy.id
    assert (await song_at(state, root / "New Folder" / "copy.mp3")).id != original_copy.id


async def test_a_removed_file_is_hidden_and_comes_back_with_its_id(state: AppState) -> None:
    library, root = await music_library(state)
    path = track(root, "x/01", "ogg", title="Here", artist="A", album="B")
    track(root, "x/02", "ogg", title="Stays", artist="A", album="B")
    await scan(state, library.id)
    song = await song_at(state, path)
    parked = root.parent / "parked.ogg"
    os.rename(path, parked)
    result = await scan(state, library.id)
    assert result["removed"] == 1
    gone = await song_at(state, path)
    assert gone.removed_at is not None
    ((album, _),) = await albums(state)
    assert album.song_count == 1
    os.rename(parked, path)
    result = await scan(state, library.id)
    assert (result["added"], result["removed"]) == (1, 0)
    back = await song_at(state, path)
    assert (back.id, back.removed_at) == (song.id, None)
    ((album, _),) = await albums(state)
    assert album.song_count == 2


async def test_a_song_moved_out_and_later_back_elsewhere_is_restored(state: AppState) -> None:
    library, root = await music_library(state)
    path = track(root, "x/01", "flac", title="Wanderer", artist="A", album="B")
    await scan(state, library.id)
    song = await song_at(state, path)
    parked = root.parent / "parked.flac"
    os.rename(path, parked)
    await scan(state, library.id)
    target = root / "y" / "again.flac"
    target.parent.mkdir()
    os.rename(parked, target)
    result = await scan(state, library.id)
    assert result["moved"] == 1
    back = await song_at(state, target)
    assert (back.id, back.removed_at) == (song.id, None)


async def test_emptied_albums_and_lone_artists_are_cleaned_up(state: AppState) -> None:
    library, root = await music_library(state)
    path = track(root, "x/01", "mp3", title="Only", artist="Solo", album="Alone")
    await scan(state, library.id)
    audio_path = path
    audio_path.unlink()
    await scan(state, library.id)
    async with state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(LibraryArtist)) == 0
        # The removed song keeps its album (playlists show it as unavailable).
        assert await session.scalar(select(func.count()).select_from(Album)) == 1


# ---------------------------------------------------------------- bad input


def drop_file_read_override() -> None:
    """Take CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH away from this thread only: root then
    meets file permissions like anyone (capabilities are per thread on Linux)."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    libc = ctypes.CDLL(None, use_errno=True)
    header, data = Header(0x20080522, 0), (Data * 2)()
    assert libc.capget(ctypes.byref(header), data) == 0
    data[0].effective &= ~((1 << 1) | (1 << 2)) & 0xFFFFFFFF
    assert libc.capset(ctypes.byref(header), data) == 0, ctypes.get_errno()


async def test_bad_files_are_errors_and_never_stop_the_scan(state: AppState) -> None:
    library, root = await music_library(state)
    good = track(root, "x/01 good", "mp3", title="Good", artist="A", album="B")
    (root / "x" / "02 notes.mp3").write_text("a shopping list, not music\n" * 10)
    (root / "x" / "03 empty.flac").touch()
    whole = track(root, "tmp/whole", "flac", seconds=1.0)
    (root / "x" / "04 truncated.flac").write_bytes(whole.read_bytes()[:40])
    whole.unlink()
    os.mkfifo(root / "x" / "05 pipe.ogg")
    os.symlink(root / "nowhere.mp3", root / "x" / "06 dangling.mp3")
    locked = track(root, "x/07 locked", "mp3", title="Locked")
    locked.chmod(0)
    # Root reads anything; threads without the DAC capabilities do not (see the helper).
    readers = ThreadPoolExecutor(2, initializer=drop_file_read_override)
    try:
        result = await scan(state, library.id, executor=readers)
    finally:
        readers.shutdown()
    assert (result["added"], result["failed"], result["files_seen"]) == (1, 6, 7)
    row = await last_scan(state, library.id)
    assert row.status == ScanStatus.succeeded
    assert await scan_errors(state, row.id) == {
        "02 notes.mp3": "not_audio",
        "03 empty.flac": "empty",
        "04 truncated.flac": "corrupt",
        "05 pipe.ogg": "unreadable",
        "06 dangling.mp3": "unreadable",
        "07 locked.mp3": "unreadable",
    }
    assert (await song_at(state, good)).title == "Good"


async def test_a_symlink_loop_ends_and_each_folder_is_walked_once(state: AppState) -> None:
    library, root = await music_library(state)
    track(root, "a/b/01", "mp3", title="Deep", artist="A", album="B")
    os.symlink(root / "a", root / "a" / "b" / "back-to-a")
    os.symlink(root, root / "a" / "root-again")
    result = await scan(state, library.id)
    assert (result["files_seen"], result["added"]) == (1, 1)


async def test_hidden_files_and_folders_are_skipped(state: AppState) -> None:
    library, root = await music_library(state)
    track(root, "x/01", "mp3", title="Shown")
    track(root, "x/.02", "mp3", title="Hidden")
    track(root, ".trash/01", "mp3", title="Trashed")
    result = await scan(state, library.id)
    assert result["files_seen"] == 1


async def test_a_missing_root_fails_the_scan_and_removes_nothing(state: AppState) -> None:
    library, root = await music_library(state)
    path = track(root, "x/01", "mp3", title="Safe")
    await scan(state, library.id)
    os.rename(root, root.parent / "unmounted")
    with pytest.raises(RootUnavailable):
        await scan(state, library.id)
    row = await last_scan(state, library.id)
    assert row.status == ScanStatus.failed and "missing" in (row.message or "")
    assert (await song_at(state, path)).removed_at is None


async def test_a_root_that_disappears_mid_scan_fails_it_and_removes_nothing(
    state: AppState,
) -> None:
    state.settings.scan_batch_size = 3
    library, root = await music_library(state)
    for folder in range(6):
        for number in range(3):
            track(
                root,
                f"f{folder}/{number:02}",
                "ogg",
                title=f"{folder}-{number}",
                frequency=300 + folder * 10 + number,
            )
    await scan(state, library.id)
    assert len(await songs(state)) == 18
    batches = 0

    async def unmount_after_first_batch(progress: Progress) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            os.rename(root, root.parent / "unmounted")

    with pytest.raises(RootUnavailable):
        await scan(state, library.id, full=True, progress=unmount_after_first_batch)
    row = await last_scan(state, library.id)
    assert row.status == ScanStatus.failed
    assert "no song was marked removed" in (row.message or "")
    assert len(await songs(state)) == 18  # none removed


async def test_a_killed_scan_resumes_where_it_stopped(state: AppState) -> None:
    state.settings.scan_batch_size = 4
    library, root = await music_library(state)
    for folder in range(5):
        for number in range(4):
            title = f"{folder}-{number}"
            track(
                root,
                f"f{folder}/{number:02}",
                "mp3",
                title=title,
                frequency=200 + folder * 20 + number,
            )
    committed = 0

    async def killed_after_two_batches(progress: Progress) -> None:
        nonlocal committed
        if progress.counters["added"] >= 8:
            committed = progress.counters["added"]
            raise asyncio.CancelledError()  # the task is cancelled at this point

    with pytest.raises(asyncio.CancelledError):
        await scan(state, library.id, progress=killed_after_two_batches)
    stopped = await last_scan(state, library.id)
    assert stopped.status == ScanStatus.cancelled
    kept = len(await songs(state))
    assert kept == committed == stopped.added and 0 < kept < 20
    result = await scan(state, library.id)
    assert (result["added"], result["unchanged"]) == (20 - kept, kept)
    assert len(await songs(state)) == 20


async def test_an_unreadable_folder_keeps_its_songs(state: AppState) -> None:
    library, root = await music_library(state)
    kept = track(root, "locked/01", "mp3", title="Behind a door")
    other = track(root, "open/01", "mp3", title="In the open")
    await scan(state, library.id)
    (root / "locked").chmod(0)
    other.unlink()
    threads = ThreadPoolExecutor(2, initializer=drop_file_read_override)
    try:
        result = await scan(state, library.id, executor=threads)
    finally:
        threads.shutdown()
        (root / "locked").chmod(0o755)
    assert result["removed"] == 1  # the file that went; not the one behind the locked folder
    assert (await song_at(state, kept)).removed_at is None
    row = await last_scan(state, library.id)
    assert row.status == ScanStatus.succeeded
    assert await scan_errors(state, row.id) == {"locked": "unreadable"}
