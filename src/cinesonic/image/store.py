"""The content-addressed image store on disk:

    <root>/<sha256[:2]>/<sha256>.<ext>                  an image's bytes
    <root>/thumbs/<size>/<sha256[:2]>/<sha256>.<ext>    its thumbnail, made on first request

Every file is written to a temporary file in its own directory, fsynced, then renamed over its
name (and the directory fsynced), so a reader sees the whole file or none, and writers racing for
one name — two first requests for a thumbnail — each put a complete file there. A name is only
ever given the same bytes, so nothing is overwritten with different content and files are never
deleted here. Blocking; the service calls it from a thread.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"[0-9a-f]{64}")
_EXTENSION = re.compile(r"[a-z0-9]{1,8}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def blob_path(self, sha256: str, extension: str) -> Path:
        return self.root / sha256[:2] / self._name(sha256, extension)

    def thumbnail_path(self, sha256: str, extension: str, size: int) -> Path:
        return self.root / "thumbs" / str(int(size)) / sha256[:2] / self._name(sha256, extension)

    @staticmethod
    def _name(sha256: str, extension: str) -> str:
        # Names come from the database, never from a request; still, refuse anything odd.
        if not _SHA256.fullmatch(sha256) or not _EXTENSION.fullmatch(extension):
            raise ValueError(f"not a content address: {sha256!r}.{extension!r}")
        return f"{sha256}.{extension}"

    def put(self, data: bytes, extension: str) -> str:
        """Store `data` under its SHA-256 (once) and answer the hash."""
        sha256 = sha256_hex(data)
        path = self.blob_path(sha256, extension)
        if not self._holds(path, len(data)):
            write_atomically(path, data)
        return sha256

    @staticmethod
    def _holds(path: Path, size: int) -> bool:
        try:
            return path.stat().st_size == size
        except FileNotFoundError:
            return False


def write_atomically(path: Path, data: bytes) -> None:
    """Put `data` at `path` so that no reader ever sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)
