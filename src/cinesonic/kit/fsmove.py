"""Moving a file so that a crash at any instant leaves it whole in its old place or its new
place, never lost, never overwriting anything.

`move_file(src, dst)`:
- never overwrites: a destination that exists is `DestinationExists`, checked by the kernel
  (`link(2)` fails with EEXIST), not by a racy look-before-leap;
- same filesystem: `link(src, dst)` then `unlink(src)` — at every instant the file has one or
  two names, both the same inode; directories are fsynced so the new name is durable before
  the old one goes;
- across filesystems (EXDEV) or where hard links are refused: copy into a temporary name in the
  destination folder (`.cinesonic-<hash>.part`, one per destination) → fsync → verify the
  SHA-256 of what landed → publish it under `dst` without overwriting (link, or
  `renameat2(RENAME_NOREPLACE)`) → fsync the folder → remove the source;
- creates the destination's folders; refuses a destination outside `root` when one is given;
- `unsynced`: a batch of moves syncs the folders its old names left once, at its end, instead
  of after every file (the new names are synced file by file, before the old ones go);
- checks `expected_sha256` (when given) against the source before anything moves.

`settle(src, dst, sha256, authoritative)` decides a move that was interrupted, by looking at
the disk only. The caller says which side is authoritative (for the import pipeline: the
source, since a move is marked done in the same transaction as the database change it belongs
to). Cases, with S = source present, D = destination present, T = a temporary copy present:

| S | D | contents                  | outcome                                                  |
|---|---|---------------------------|----------------------------------------------------------|
| ✓ | ✗ | –                         | `at_source` (T removed: a partial copy)                  |
| ✗ | ✓ | D verified                | source wins: moved back, `at_source`; else `at_destination` |
| ✓ | ✓ | same inode or same SHA-256 | the losing name removed; the winner's outcome           |
| ✓ | ✓ | different                 | D is somebody else's file: nothing touched, `at_source`  |
| ✗ | ✓ | D differs from the SHA-256 | not ours to judge: nothing touched, `conflict`          |
| ✗ | ✗ | –                         | `missing` (a complete, verified T is published as D first) |

Nothing in this module deletes a file that does not have a verified twin.
This module knows no domain.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import os
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

CHUNK = 1024 * 1024
_RENAME_NOREPLACE = 1
_AT_FDCWD = -100
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK}


class MoveError(OSError):
    """A move refused or failed; the source is untouched (or back in place)."""


class DestinationExists(MoveError):
    pass


class OutsideRoot(MoveError):
    pass


class ChecksumMismatch(MoveError):
    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def temporary_name(dst: Path) -> Path:
    """Where a cross-filesystem copy of `dst` is built; one per destination, so recovery
    finds it."""
    tag = hashlib.sha256(dst.name.encode()).hexdigest()[:20]
    return dst.with_name(f".cinesonic-{tag}.part")


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (network, FAT) refuse to sync folders
    finally:
        os.close(fd)


def _sync(folder: Path, unsynced: set[Path] | None) -> None:
    """Sync a folder a name was removed from now, or note it in `unsynced` for the caller to
    sync once (`sync_folders`) before it records the moves as done. Only removals wait: a new
    name is always durable before its old name goes."""
    if unsynced is None:
        fsync_dir(folder)
    else:
        unsynced.add(folder)


def sync_folders(folders: set[Path]) -> None:
    """Sync each folder a batch of moves changed, once."""
    for folder in sorted(folders):
        fsync_dir(folder)


def _check_root(dst: Path, root: Path | None) -> None:
    if root is None:
        return
    real_root = root.resolve()
    parent = dst.parent.resolve()  # resolves the links of the folders that exist
    if parent != real_root and real_root not in parent.parents:
        raise OutsideRoot(f"{dst} is outside {root}")


def _makedirs(folder: Path) -> None:
    created: list[Path] = []
    probe = folder
    while not probe.exists():
        created.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    for made in reversed(created):
        fsync_dir(made.parent)


_libc: ctypes.CDLL | None = None


def _renameat2_noreplace(src: Path, dst: Path) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    function = getattr(_libc, "renameat2", None)
    if function is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    result = function(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE)
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(dst))


def publish(src: Path, dst: Path, *, unsynced: set[Path] | None = None) -> None:
    """Give `src` the name `dst` and drop the old name, never replacing an existing `dst`
    (same filesystem only). `DestinationExists` when `dst` is taken. The source's folder is
    synced before it returns, or noted in `unsynced` (see `_sync`)."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError as exc:
        raise DestinationExists(errno.EEXIST, f"{dst} exists", str(dst)) from exc
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        try:
            _renameat2_noreplace(src, dst)  # filesystems without hard links (FAT, some SMB)
        except OSError as rename_error:
            if rename_error.errno == errno.EEXIST:
                raise DestinationExists(errno.EEXIST, f"{dst} exists", str(dst)) from exc
            raise
        fsync_dir(dst.parent)
        return
    fsync_dir(dst.parent)  # the new name is durable before the old one goes
    os.unlink(src)
    _sync(src.parent, unsynced)


def _copy_verified(src: Path, tmp: Path) -> str:
    """Copy `src` to a new `tmp`, fsync it, and return the SHA-256 both agree on."""
    source_digest = hashlib.sha256()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with open(src, "rb") as reader, os.fdopen(fd, "wb") as writer:
            while block := reader.read(CHUNK):
                source_digest.update(block)
                writer.write(block)
            writer.flush()
            os.fsync(writer.fileno())
        shutil.copystat(src, tmp)
        copied = sha256_of(tmp)
        if copied != source_digest.hexdigest():
            raise ChecksumMismatch(
                f"the copy of {src} does not match it",
                expected=source_digest.hexdigest(),
                actual=copied,
            )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return copied


@dataclass(frozen=True)
class Moved:
    source: Path
    destination: Path
    copied: bool  # across filesystems (copy, verify, remove) rather than a rename


def move_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    root: Path | None = None,
    expected_sha256: str | None = None,
    unsynced: set[Path] | None = None,
) -> Moved:
    """Move a file (see the module docstring). With `unsynced`, the source's folder is noted
    there instead of synced: a batch of moves syncs each such folder once (`sync_folders`)
    before anything records the moves as done. Until then a crash may leave the old name
    beside the new one (one inode), which `settle` resolves."""
    source, destination = Path(src), Path(dst)
    _check_root(destination, root)
    if expected_sha256 is not None:
        actual = sha256_of(source)
        if actual != expected_sha256:
            raise ChecksumMismatch(
                f"{source} changed since it was checked", expected=expected_sha256, actual=actual
            )
    if os.path.lexists(destination):
        raise DestinationExists(errno.EEXIST, f"{destination} exists", str(destination))
    _makedirs(destination.parent)
    _check_root(destination, root)  # the folders now exist: resolve their links again
    try:
        publish(source, destination, unsynced=unsynced)
        return Moved(source, destination, copied=False)
    except OSError as exc:
        if isinstance(exc, MoveError) or exc.errno not in (errno.EXDEV, *_NO_HARD_LINKS):
            raise
    tmp = temporary_name(destination)
    digest = _copy_verified(source, tmp)
    if expected_sha256 is not None and digest != expected_sha256:
        tmp.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"{source} changed while it was copied", expected=expected_sha256, actual=digest
        )
    try:
        publish(tmp, destination, unsynced=unsynced)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.unlink(source)
    _sync(source.parent, unsynced)
    return Moved(source, destination, copied=True)


# ---------------------------------------------------------------- recovery


class Settled(StrEnum):
    at_source = "at_source"
    at_destination = "at_destination"
    conflict = "conflict"  # the destination holds other content and the source is gone
    missing = "missing"  # neither name exists


def _same_file(one: Path, other: Path, sha256: str | None) -> bool:
    first, second = os.stat(one), os.stat(other)
    if (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino):
        return True
    if first.st_size != second.st_size:
        return False
    digest = sha256_of(one)
    return digest == sha256_of(other) and (sha256 is None or digest == sha256)


def settle(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    sha256: str | None,
    *,
    source_wins: bool = True,
) -> Settled:
    """Finish or undo an interrupted move (see the module's table). With `source_wins` the
    file ends at the source whenever it can; otherwise at the destination."""
    source, destination = Path(src), Path(dst)
    tmp = temporary_name(destination)
    has_source, has_destination = os.path.lexists(source), os.path.lexists(destination)
    if os.path.lexists(tmp):
        if not has_source and not has_destination and (sha256 is None or sha256_of(tmp) == sha256):
            publish(tmp, destination)  # the copy was complete and the source already gone
            has_destination = True
        else:
            tmp.unlink()  # a partial copy; the file itself is elsewhere
    if has_source and not has_destination:
        return Settled.at_source
    if has_source and has_destination:
        if not _same_file(source, destination, sha256):
            return Settled.at_source  # the destination is some other file: not ours to touch
        loser = destination if source_wins else source
        os.unlink(loser)
        fsync_dir(loser.parent)
        return Settled.at_source if source_wins else Settled.at_destination
    if has_destination:
        if sha256 is not None and sha256_of(destination) != sha256:
            return Settled.conflict
        if source_wins:
            move_file(destination, source)
            return Settled.at_source
        return Settled.at_destination
    return Settled.missing
