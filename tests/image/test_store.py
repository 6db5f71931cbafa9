"""The content-addressed store on disk: where bytes go, that they go there whole, and once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cinesonic.image.store import ImageStore, write_atomically


def test_bytes_are_stored_under_their_sha256(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    sha256 = store.put(b"some image bytes", "png")
    assert sha256 == hashlib.sha256(b"some image bytes").hexdigest()
    path = tmp_path / "images" / sha256[:2] / f"{sha256}.png"
    assert path == store.blob_path(sha256, "png")
    assert path.read_bytes() == b"some image bytes"


def test_storing_the_same_bytes_again_leaves_the_file_alone(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    sha256 = store.put(b"once", "jpg")
    before = store.blob_path(sha256, "jpg").stat()
    assert store.put(b"once", "jpg") == sha256
    after = store.blob_path(sha256, "jpg").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_damaged_file_is_written_again(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    sha256 = store.put(b"whole bytes", "png")
    store.blob_path(sha256, "png").write_bytes(b"whole")  # cut short, say by a full disk
    store.put(b"whole bytes", "png")
    assert store.blob_path(sha256, "png").read_bytes() == b"whole bytes"


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "file.png"
    write_atomically(target, b"first")
    write_atomically(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["file.png"]


def test_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "file.png"
    write_atomically(target, b"old")
    with pytest.raises(TypeError):
        write_atomically(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.png"]


def test_thumbnails_live_apart_by_size(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    sha256 = "ab" + "0" * 62
    assert store.thumbnail_path(sha256, "png", 128) == (
        tmp_path / "thumbs" / "128" / "ab" / f"{sha256}.png"
    )


@pytest.mark.parametrize(
    ("sha256", "extension"), [("../../etc/passwd", "png"), ("a" * 64, "png/.."), ("A" * 64, "png")]
)
def test_names_that_are_not_content_addresses_are_refused(
    tmp_path: Path, sha256: str, extension: str
) -> None:
    with pytest.raises(ValueError, match="not a content address"):
        ImageStore(tmp_path).blob_path(sha256, extension)
