"""`kit.fsmove` and `kit.paths`: moves never overwrite and never lose a file (same filesystem
and across filesystems), each recovery case of `settle`, a real process killed with SIGKILL in
the middle of moving a few hundred files, and the sanitising of names and request paths."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cinesonic.kit import fsmove
from cinesonic.kit.fsmove import (
    ChecksumMismatch,
    DestinationExists,
    OutsideRoot,
    Settled,
    move_file,
    settle,
    sha256_of,
    temporary_name,
)
from cinesonic.kit.paths import (
    UnsafePath,
    inside,
    relative_parts,
    resolve_inside,
    safe_component,
    unique_path,
)

SHM = Path("/dev/shm")


def other_filesystem_available() -> bool:
    return SHM.is_dir() and os.access(SHM, os.W_OK)


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    """A folder on another filesystem than `tmp_path` (tmpfs), for cross-device moves."""
    if not other_filesystem_available() or os.stat(SHM).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem to move across")
    with tempfile.TemporaryDirectory(dir=SHM) as folder:
        yield Path(folder)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- move_file


def test_move_within_a_filesystem_creates_folders_and_keeps_bytes(tmp_path: Path) -> None:
    source = write(tmp_path / "in" / "a.flac", b"audio" * 100)
    destination = tmp_path / "out" / "x" / "y" / "a.flac"

    moved = move_file(source, destination, root=tmp_path / "out")

    assert not moved.copied
    assert not source.exists()
    assert destination.read_bytes() == b"audio" * 100


def test_move_never_overwrites_an_existing_destination(tmp_path: Path) -> None:
    source = write(tmp_path / "a.mp3", b"new")
    destination = write(tmp_path / "out" / "a.mp3", b"old")

    with pytest.raises(DestinationExists):
        move_file(source, destination)

    assert source.read_bytes() == b"new"
    assert destination.read_bytes() == b"old"


def test_move_refuses_a_destination_outside_its_root(tmp_path: Path) -> None:
    source = write(tmp_path / "a.mp3", b"x")
    root = tmp_path / "library"
    root.mkdir()
    (root / "escape").symlink_to(tmp_path / "outside", target_is_directory=True)

    with pytest.raises(OutsideRoot):
        move_file(source, root / ".." / "b.mp3", root=root)
    with pytest.raises(OutsideRoot):
        move_file(source, root / "escape" / "b.mp3", root=root)

    assert source.exists()


def test_move_checks_the_expected_checksum_before_moving(tmp_path: Path) -> None:
    source = write(tmp_path / "a.mp3", b"content")

    with pytest.raises(ChecksumMismatch):
        move_file(source, tmp_path / "b.mp3", expected_sha256="0" * 64)

    assert source.exists()
    assert not (tmp_path / "b.mp3").exists()


def test_move_across_filesystems_copies_verifies_and_removes_the_source(
    tmp_path: Path, elsewhere: Path
) -> None:
    data = os.urandom(3 * fsmove.CHUNK + 17)
    source = write(tmp_path / "a.flac", data)
    os.utime(source, ns=(1_000_000_000, 1_500_000_000))
    destination = elsewhere / "lib" / "a.flac"

    moved = move_file(source, destination, expected_sha256=hashlib.sha256(data).hexdigest())

    assert moved.copied
    assert destination.read_bytes() == data
    assert destination.stat().st_mtime_ns == 1_500_000_000
    assert not source.exists()
    assert not temporary_name(destination).exists()


def test_move_across_filesystems_never_overwrites(tmp_path: Path, elsewhere: Path) -> None:
    source = write(tmp_path / "a.flac", b"new")
    destination = write(elsewhere / "a.flac", b"old")

    with pytest.raises(DestinationExists):
        move_file(source, destination)

    assert (source.read_bytes(), destination.read_bytes()) == (b"new", b"old")


# ---------------------------------------------------------------- settle: every case


def test_settle_source_only_is_at_source_and_drops_a_partial_copy(tmp_path: Path) -> None:
    source = write(tmp_path / "a", b"data")
    destination = tmp_path / "out" / "a"
    write(temporary_name(destination), b"da")

    assert settle(source, destination, sha256_of(source)) is Settled.at_source

    assert source.read_bytes() == b"data"
    assert not temporary_name(destination).exists()


def test_settle_destination_only_moves_back_when_the_source_wins(tmp_path: Path) -> None:
    destination = write(tmp_path / "out" / "a", b"data")
    source = tmp_path / "in" / "a"

    assert settle(source, destination, sha256_of(destination)) is Settled.at_source

    assert source.read_bytes() == b"data"
    assert not destination.exists()


def test_settle_destination_only_stays_when_the_destination_wins(tmp_path: Path) -> None:
    destination = write(tmp_path / "out" / "a", b"data")

    outcome = settle(tmp_path / "a", destination, sha256_of(destination), source_wins=False)

    assert outcome is Settled.at_destination
    assert destination.read_bytes() == b"data"


def test_settle_both_linked_keeps_one_name(tmp_path: Path) -> None:
    source = write(tmp_path / "a", b"data")
    destination = tmp_path / "out" / "a"
    destination.parent.mkdir()
    os.link(source, destination)

    assert settle(source, destination, sha256_of(source)) is Settled.at_source

    assert source.exists() and not destination.exists()


def test_settle_both_identical_copies_removes_the_non_authoritative_one(tmp_path: Path) -> None:
    source = write(tmp_path / "a", b"data")
    destination = write(tmp_path / "out" / "a", b"data")

    outcome = settle(source, destination, sha256_of(source), source_wins=False)

    assert outcome is Settled.at_destination
    assert not source.exists() and destination.read_bytes() == b"data"


def test_settle_both_different_touches_nothing(tmp_path: Path) -> None:
    source = write(tmp_path / "a", b"mine")
    destination = write(tmp_path / "out" / "a", b"someone else's")

    assert settle(source, destination, sha256_of(source)) is Settled.at_source

    assert source.read_bytes() == b"mine"
    assert destination.read_bytes() == b"someone else's"


def test_settle_destination_with_other_content_is_a_conflict(tmp_path: Path) -> None:
    destination = write(tmp_path / "out" / "a", b"changed")

    outcome = settle(tmp_path / "a", destination, hashlib.sha256(b"data").hexdigest())

    assert outcome is Settled.conflict
    assert destination.read_bytes() == b"changed"


def test_settle_complete_copy_with_source_gone_is_published_then_moved_back(
    tmp_path: Path,
) -> None:
    destination = tmp_path / "out" / "a"
    write(temporary_name(destination), b"data")
    source = tmp_path / "a"

    assert settle(source, destination, hashlib.sha256(b"data").hexdigest()) is Settled.at_source

    assert source.read_bytes() == b"data"
    assert not destination.exists() and not temporary_name(destination).exists()


def test_settle_neither_present_is_missing(tmp_path: Path) -> None:
    assert settle(tmp_path / "a", tmp_path / "b", None) is Settled.missing


# ---------------------------------------------------------------- a real process killed mid-way

MOVER = """
import json, os, sys
from pathlib import Path
from cinesonic.kit.fsmove import move_file, sha256_of

source_dir, target_dir, journal = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
with open(journal, "a") as log:
    def note(entry):
        log.write(json.dumps(entry) + "\\n")
        log.flush()
        os.fsync(log.fileno())
    for path in sorted(source_dir.iterdir()):
        destination = target_dir / path.name[:2] / path.name
        note({"intent": str(path), "to": str(destination), "sha256": sha256_of(path)})
        move_file(path, destination)
        note({"done": str(path)})
"""


@pytest.mark.parametrize("across", [False, True], ids=["same-filesystem", "across-filesystems"])
def test_a_mover_killed_with_sigkill_loses_and_duplicates_nothing(
    tmp_path: Path, across: bool, request: pytest.FixtureRequest
) -> None:
    target_base = request.getfixturevalue("elsewhere") if across else tmp_path
    source_dir, target_dir = tmp_path / "inbound", target_base / "library"
    source_dir.mkdir()
    originals: dict[str, bytes] = {}
    for index in range(300):
        data = os.urandom(2048 + index * 97)
        originals[hashlib.sha256(data).hexdigest()] = data
        write(source_dir / f"{index:03d}-track.flac", data)
    journal = tmp_path / "journal.jsonl"
    journal.touch()
    process = subprocess.Popen(
        [sys.executable, "-c", MOVER, str(source_dir), str(target_dir), str(journal)]
    )
    try:
        deadline = time.monotonic() + 60
        while journal.read_text().count('"done"') < 40:
            assert process.poll() is None, "the mover ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL

    entries = [json.loads(line) for line in journal.read_text().splitlines() if line]
    done = {entry["done"] for entry in entries if "done" in entry}
    pending = [entry for entry in entries if "intent" in entry and entry["intent"] not in done]
    assert len(done) < 300  # it really was stopped half-way
    for entry in pending:
        settled = settle(entry["intent"], entry["to"], entry["sha256"])
        assert settled is Settled.at_source

    found: dict[str, int] = {}
    for folder in (source_dir, target_dir):
        for path in folder.rglob("*"):
            if path.is_file():
                digest = sha256_of(path)
                found[digest] = found.get(digest, 0) + 1
    assert found == {digest: 1 for digest in originals}  # each file exactly once, byte-identical
    assert not list(target_dir.rglob(".cinesonic-*.part"))


# ---------------------------------------------------------------- names and request paths


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("AC/DC", "AC_DC"),
        ('a\\b:c*d?e"f<g>h|i', "a_b_c_d_e_f_g_h_i"),
        ("..", "_"),
        ("...hidden", "hidden"),
        ("trailing. . ", "trailing"),
        ("tab\there\x00nul", "tab_here_nul"),
        ("CON", "CON_"),
        ("nul.txt", "nul_.txt"),
        ("com1.flac", "com1_.flac"),
        ("Console", "Console"),
        ("", "_"),
    ],
)
def test_safe_component(raw: str, safe: str) -> None:
    assert safe_component(raw) == safe


def test_safe_component_limits_names_to_255_bytes_keeping_the_extension() -> None:
    name = safe_component("é" * 300 + ".flac")

    assert len(name.encode()) <= 255
    assert name.endswith(".flac")
    name.encode().decode()  # cut on a character boundary


@pytest.mark.parametrize(
    "value", ["", "/etc/passwd", "\\server\\share", "C:\\music", "c:x", "a/../../b", "..", "a\x00b"]
)
def test_relative_parts_refuses_escapes(value: str) -> None:
    with pytest.raises(UnsafePath):
        relative_parts(value)


def test_resolve_inside_follows_links_and_refuses_those_pointing_out(tmp_path: Path) -> None:
    root = tmp_path / "inbound"
    (root / "album").mkdir(parents=True)
    (root / "out").symlink_to(tmp_path, target_is_directory=True)

    assert resolve_inside(root, "album/./01.flac") == root / "album" / "01.flac"
    assert resolve_inside(root, "album\\01.flac") == root / "album" / "01.flac"
    with pytest.raises(UnsafePath):
        resolve_inside(root, "out/secret")
    assert inside(root, root / "album")
    assert not inside(root, root / "out")


def test_unique_path_adds_a_counter(tmp_path: Path) -> None:
    write(tmp_path / "a.flac", b"1")
    write(tmp_path / "a (2).flac", b"2")

    assert unique_path(tmp_path / "a.flac") == tmp_path / "a (3).flac"
    assert unique_path(tmp_path / "b.flac", {tmp_path / "b.flac"}) == tmp_path / "b (2).flac"
