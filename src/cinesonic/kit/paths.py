"""Safe file names and paths that cannot leave their root.

`safe_component` makes one folder or file name valid on every filesystem we may write to
(ext4, NTFS, exFAT/FAT, SMB shares, APFS): `/ \\ : * ? " < > |`, control characters and NUL
become `_`; leading dots (hidden files, `..`) and trailing dots and spaces are dropped; Windows'
reserved device names (`CON`, `NUL`, `COM1`, …, with or without an extension) get a `_` suffix;
the result is at most 255 bytes of UTF-8 (the extension is kept when the stem is shortened).
Replacing rather than deleting keeps names readable ("AC/DC" → "AC_DC").

`relative_parts` reads a relative path that came from a request and refuses absolute paths,
drive letters, `..`, NUL and empty components instead of repairing them: a request that tries
to escape is an error, not a guess. `inside(root, path)` is the final check, after resolving
symbolic links. This module knows no domain.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

MAX_NAME_BYTES = 255
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_DRIVE = re.compile(r"^[A-Za-z]:")
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(10)}
    | {f"LPT{n}" for n in range(10)}
    | {"COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³"}
)


class UnsafePath(ValueError):
    """A path from outside (a request, a tag) that would leave its root."""


def _truncate(name: str, limit: int) -> str:
    """`name` cut to `limit` UTF-8 bytes on a character boundary, its extension kept."""
    if len(name.encode()) <= limit:
        return name
    stem, extension = os.path.splitext(name)
    if len(extension.encode()) > 16:  # not an extension worth keeping
        stem, extension = name, ""
    budget = limit - len(extension.encode())
    cut = stem.encode()[:budget].decode("utf-8", "ignore").rstrip(" .")
    return cut + extension


def safe_component(value: str, fallback: str = "_") -> str:
    """One name (no separators left in it) safe on every filesystem; `fallback` when nothing
    usable remains."""
    name = unicodedata.normalize("NFC", value)
    name = _UNSAFE.sub("_", name).strip()
    name = name.lstrip(".").rstrip(" .")
    if not name:
        name = fallback
    stem = name.split(".", 1)[0].rstrip(" ")
    if stem.upper() in _RESERVED:
        name = stem + "_" + name[len(stem) :]
    name = _truncate(name, MAX_NAME_BYTES)
    return name or fallback


def safe_relative(parts: Sequence[str]) -> Path:
    """A relative path made of sanitised components."""
    return Path(*[safe_component(part) for part in parts])


def relative_parts(value: str) -> list[str]:
    """The components of a relative path from a request (either separator); `UnsafePath`
    when it is absolute, names a drive, climbs (`..`), holds NUL or is empty."""
    if not value or "\x00" in value:
        raise UnsafePath("The path is empty or holds a NUL character.")
    if value.startswith(("/", "\\")) or _DRIVE.match(value):
        raise UnsafePath("The path must be relative.")
    parts = [part for part in re.split(r"[/\\]+", value) if part not in ("", ".")]
    if not parts:
        raise UnsafePath("The path names no file or folder.")
    if any(part == ".." for part in parts):
        raise UnsafePath("The path must not climb out of its folder ('..').")
    return parts


def inside(root: Path, path: Path) -> bool:
    """Whether `path`, with every symbolic link resolved, is `root` or below it."""
    real_root = root.resolve()
    real = path.resolve()
    return real == real_root or real_root in real.parents


def resolve_inside(root: Path, value: str) -> Path:
    """`root / value` for a relative path from a request, refused (`UnsafePath`) when it
    would land outside `root` — through `..`, an absolute path or a symbolic link."""
    candidate = root.joinpath(*relative_parts(value))
    if not inside(root, candidate):
        raise UnsafePath("The path leads outside its folder.")
    return candidate


def unique_path(path: Path, taken: set[Path] | None = None) -> Path:
    """`path`, or `name (2).ext`, `name (3).ext`… — the first that does not exist (and is not in
    `taken`). Choosing is advisory; the move itself still refuses to overwrite."""
    candidate, number = path, 1
    while os.path.lexists(candidate) or (taken is not None and candidate in taken):
        number += 1
        stem, extension = os.path.splitext(path.name)
        name = _truncate(f"{stem} ({number}){extension}", MAX_NAME_BYTES)
        if name == candidate.name:  # a name so long the counter was cut away
            name = _truncate(f"{number}{extension}", MAX_NAME_BYTES)
        candidate = path.with_name(name)
    return candidate
