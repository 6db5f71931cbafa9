"""The checks one file goes through, the organised path it gets, and which library an album
artist belongs to — pure functions of the file and the settings (no database, no event loop),
run in worker threads.

Checks and what a failure means (hard failures send the file to quarantine with the reason;
soft ones leave it in staging as `needs_review`):

- `probe` — neither mutagen nor PyAV reads the container and codec: hard,
  `unsupported_container` (not audio, empty) or `ffmpeg_failure` (corrupt);
- `tags` — mutagen raises on the tags: hard, `tag_parse_error`; title, artist or album missing
  (a path fallback is used): soft;
- `bounds` — duration outside 1 s–6 h, track outside 1–999, disc outside 1–99, year outside
  1000–next year: hard, `validation_bounds`;
- `path_safety` — the file resolves outside its folder (links): hard, `path_safety`; the
  organised path is built from sanitised components and cannot leave its root;
- `disc_folder` — a `CD1`/`Disc 2` folder disagrees with the disc tag: soft;
- `cue_sheet` — a `.cue` names audio that is not beside it: hard, `cue_missing_audio`;
- `duplicate`, `track_conflict` (hard, `metadata_conflict`) and `no_target_library` (soft, the
  one failed check that only asks for review) need the database: see `pipeline`.
"""

from __future__ import annotations

import os
import re
import stat
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mutagen

from cinesonic.kit.fsmove import sha256_of
from cinesonic.kit.paths import inside, safe_component
from cinesonic.kit.text import sort_key
from cinesonic.models.importer import CheckStatus, QuarantineReason
from cinesonic.music.tags import DISC_FOLDER, TrackInfo, TrackUnreadable, read_track

MIN_SECONDS, MAX_SECONDS = 1.0, 6 * 3600.0
TEMPLATE_FIELDS = frozenset(
    {"album_artist", "artist", "album", "year", "disc", "track", "title", "genre", "ext"}
)
# Soft checks: their failure asks for review, never quarantines.
SOFT_CHECKS = frozenset({"no_target_library"})
CUE_FILE = re.compile(r'^\s*FILE\s+(?:"([^"]+)"|(\S+))', re.IGNORECASE | re.MULTILINE)
RANGE_PATTERN = r"^(#|[A-Za-z](-[A-Za-z])?)(,(#|[A-Za-z](-[A-Za-z])?))*$"
_TAG_KEYS = {
    "title": "title",
    "tit2": "title",
    "©nam": "title",
    "artist": "artist",
    "tpe1": "artist",
    "author": "artist",
    "©art": "artist",
    "album": "album",
    "talb": "album",
    "wm/albumtitle": "album",
    "©alb": "album",
}


class TransientFileError(OSError):
    """The file could not be read for a reason that may pass (I/O error, a lock)."""


class TemplateError(ValueError):
    pass


def check(name: str, status: CheckStatus, message: str = "") -> dict[str, Any]:
    return {"name": name, "status": status.value, "message": message[:1000]}


@dataclass
class Inspection:
    """What the checks found about one file."""

    sha256: str
    size: int
    mtime_ns: int
    info: TrackInfo | None
    checks: list[dict[str, Any]] = field(default_factory=list)
    reason: QuarantineReason | None = None  # the first hard failure
    message: str = ""

    def fail(self, name: str, reason: QuarantineReason, message: str) -> None:
        self.checks.append(check(name, CheckStatus.failed, message))
        if self.reason is None:
            self.reason, self.message = reason, message

    @property
    def tags(self) -> dict[str, Any]:
        return tags_of(self.info)


def tags_of(info: TrackInfo | None) -> dict[str, Any]:
    if info is None:
        return {}
    return {
        "title": info.title,
        "artist": info.artist_display,
        "artists": info.artists,
        "album": info.album,
        "album_artist": info.album_artist,
        "track": info.track_number,
        "disc": info.disc_number,
        "disc_total": info.disc_total,
        "year": info.year,
        "genre": ", ".join(info.genres) or None,
        "duration": round(info.duration, 3),
        "format": info.format,
        "codec": info.codec,
    }


def file_identity(path: Path) -> tuple[int, int, str]:
    """(size, mtime_ns, sha256) of a regular file; `TransientFileError` when it cannot be read."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            raise TransientFileError(f"{path} is not a regular file")
        return info.st_size, info.st_mtime_ns, sha256_of(path)
    except TransientFileError:
        raise
    except OSError as exc:
        raise TransientFileError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def _present_tags(path: Path) -> set[str]:
    """Which of title/artist/album the file carries; raises what mutagen raises."""
    audio = mutagen.File(path, easy=True)
    if audio is None or audio.tags is None:
        return set()
    names = audio.tags.keys()  # Vorbis comments iterate as pairs; keys() is uniform
    keys = {str(key).lower() for key in names}
    return {_TAG_KEYS[key] for key in keys if key in _TAG_KEYS}


def inspect_audio(path: Path, root: Path, *, sha256: str, size: int, mtime_ns: int) -> Inspection:
    """Run the file checks on an audio file below `root` (inbound, staging or quarantine)."""
    result = Inspection(sha256=sha256, size=size, mtime_ns=mtime_ns, info=None)
    if not inside(root, path):
        result.fail(
            "path_safety", QuarantineReason.path_safety, "The file lies outside its folder."
        )
        return result
    try:
        info = read_track(str(path), size, str(root))
    except TrackUnreadable as exc:
        if exc.code == "unreadable":
            raise TransientFileError(exc.message) from exc
        reason = (
            QuarantineReason.ffmpeg_failure
            if exc.code == "corrupt"
            else QuarantineReason.unsupported_container
        )
        result.fail("probe", reason, exc.message)
        return result
    result.info = info
    result.checks.append(check("probe", CheckStatus.passed, f"{info.format} ({info.codec})"))
    try:
        present = _present_tags(path)
    except Exception as exc:
        result.fail("tags", QuarantineReason.tag_parse_error, f"The tags cannot be parsed: {exc}")
        return result
    missing = [name for name in ("title", "artist", "album") if name not in present]
    if missing:
        message = f"Missing tags: {', '.join(missing)} (taken from the file's path)."
        result.checks.append(check("tags", CheckStatus.warning, message))
    else:
        result.checks.append(check("tags", CheckStatus.passed))
    problems = bounds_problems(info)
    if problems:
        result.fail("bounds", QuarantineReason.validation_bounds, "; ".join(problems))
    else:
        result.checks.append(check("bounds", CheckStatus.passed))
    folder_disc = DISC_FOLDER.match(path.parent.name)
    if folder_disc is not None:
        number = int(folder_disc.group(1))
        if info.disc_number is not None and info.disc_number != number:
            message = f"The folder '{path.parent.name}' says disc {number}, the tag disc "
            message += f"{info.disc_number}."
            result.checks.append(check("disc_folder", CheckStatus.warning, message))
        else:
            result.checks.append(check("disc_folder", CheckStatus.passed))
    return result


def bounds_problems(info: TrackInfo) -> list[str]:
    problems = []
    if not MIN_SECONDS <= info.duration <= MAX_SECONDS:
        problems.append(f"duration {info.duration:.2f} s is outside 1 s–6 h")
    if info.track_number is not None and not 1 <= info.track_number <= 999:
        problems.append(f"track {info.track_number} is outside 1–999")
    if info.disc_number is not None and not 1 <= info.disc_number <= 99:
        problems.append(f"disc {info.disc_number} is outside 1–99")
    next_year = datetime.now(UTC).year + 1
    if info.year is not None and not 1000 <= info.year <= next_year:
        problems.append(f"year {info.year} is outside 1000–{next_year}")
    return problems


def cue_references(path: Path) -> list[str]:
    """The audio file names a cue sheet lists (`FILE "name" WAVE`)."""
    raw = path.read_bytes()[: 1024 * 1024]
    text = raw.decode("utf-8", "replace").lstrip("\ufeff")
    return [quoted or bare for quoted, bare in CUE_FILE.findall(text)]


def missing_cue_audio(path: Path) -> list[str]:
    names = cue_references(path)
    if not names:
        return ["(no FILE line)"]
    return [name for name in names if not (path.parent / Path(name).name).is_file()]


# ---------------------------------------------------------------- organised paths


def validate_template(template: str) -> list[tuple[str, str | None, str]]:
    """The template's pieces: (literal, field, format spec); `TemplateError` when it names an
    unknown field, is absolute, or does not end with `.{ext}`."""
    if template.startswith(("/", "\\")) or not template.endswith(".{ext}"):
        raise TemplateError("The path template must be relative and end with '.{ext}'.")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"The path template cannot be read: {exc}") from exc
    pieces: list[tuple[str, str | None, str]] = []
    for literal, name, spec, _conversion in parsed:
        if name is not None and name not in TEMPLATE_FIELDS:
            raise TemplateError(f"The path template names an unknown field '{name}'.")
        pieces.append((literal, name, spec or ""))
    return pieces


def template_values(tags: dict[str, Any], extension: str, stem: str) -> dict[str, Any]:
    """The template's values from a file's tags, with the fallbacks for missing ones."""
    artists = tags.get("artists") or []
    return {
        "album_artist": tags.get("album_artist") or (artists[0] if artists else None),
        "artist": tags.get("artist") or None,
        "album": tags.get("album") or None,
        "year": tags.get("year"),
        "disc": tags.get("disc") or 1,
        "track": tags.get("track") or 0,
        "title": tags.get("title") or stem,
        "genre": (tags.get("genre") or "").split(",")[0].strip() or None,
        "ext": extension.lstrip(".").lower(),
    }


FALLBACKS = {
    "album_artist": "Unknown Artist",
    "artist": "Unknown Artist",
    "album": "Unknown Album",
    "year": "0000",
    "title": "Untitled",
    "genre": "Unknown Genre",
    "ext": "bin",
}


def render_path(template: str, values: dict[str, Any]) -> Path:
    """The organised relative path: tag values cannot add folders (their separators are
    replaced before the template's own `/` split the result) and every component is
    sanitised."""
    parts: list[str] = []
    for literal, name, spec in validate_template(template):
        parts.append(literal)
        if name is None:
            continue
        value = values.get(name)
        if value is None or value == "":
            value = FALLBACKS.get(name, "")
        try:
            rendered = format(value, spec)
        except (TypeError, ValueError):
            rendered = str(value)
        parts.append(rendered.replace("/", "_").replace("\\", "_"))
    components = [c for c in "".join(parts).split("/") if c.strip()]
    return Path(*[safe_component(component) for component in components])


# ---------------------------------------------------------------- library rules


def initial_of(album_artist: str) -> str:
    """The letter an album artist files under ("The Beatles" → "b"); `#` for digits and other
    characters."""
    key = sort_key(album_artist)
    first = key[:1]
    return first if "a" <= first <= "z" else "#"


def range_matches(artist_range: str | None, album_artist: str) -> bool:
    if artist_range is None:
        return True
    initial = initial_of(album_artist)
    for part in artist_range.lower().split(","):
        if part == "#":
            if initial == "#":
                return True
        elif "-" in part:
            low, high = part.split("-", 1)
            if initial != "#" and low <= initial <= high:
                return True
        elif part == initial:
            return True
    return False


# ---------------------------------------------------------------- tag corrections

_EASY_NAMES = {
    "title": "title",
    "artist": "artist",
    "album": "album",
    "album_artist": "albumartist",
    "track": "tracknumber",
    "disc": "discnumber",
    "year": "date",
    "genre": "genre",
}
_ASF_NAMES = {
    "title": "Title",
    "artist": "Author",
    "album": "WM/AlbumTitle",
    "album_artist": "WM/AlbumArtist",
    "track": "WM/TrackNumber",
    "disc": "WM/PartOfSet",
    "year": "WM/Year",
    "genre": "WM/Genre",
}


def write_corrections(path: Path, corrections: dict[str, Any]) -> None:
    """Write corrected tags into the file (mutagen), keeping every other tag. WAV and AIFF
    carry an ID3 chunk; WMA its ASF attributes; the rest mutagen's "easy" names."""
    from mutagen.easyid3 import EasyID3

    values = {key: str(value) for key, value in corrections.items() if value is not None}
    suffix = path.suffix.lower()
    if suffix in (".wav", ".aiff", ".aif"):
        audio: Any = mutagen.File(path)
        if audio.tags is None:
            audio.add_tags()
        easy: Any = EasyID3()  # type: ignore[no-untyped-call]
        easy._EasyID3__id3 = audio.tags  # the ID3 chunk inside the RIFF/IFF container
        for key, value in values.items():
            easy[_EASY_NAMES[key]] = [value]
        audio.save()
        return
    if suffix == ".wma":
        audio = mutagen.File(path)
        for key, value in values.items():
            audio[_ASF_NAMES[key]] = [value]
        audio.save()
        return
    audio = mutagen.File(path, easy=True)
    if audio is None:
        raise TagWriteError("The file's tags cannot be written (unknown container).")
    if audio.tags is None:
        audio.add_tags()
    for key, value in values.items():
        audio[_EASY_NAMES[key]] = [value]
    audio.save()


class TagWriteError(ValueError):
    pass
