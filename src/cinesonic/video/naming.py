"""What a video file's name and folders say: movie title and year, or show, season, episode(s)
or air date — by guessit, given the library's kind — plus the rules for files a library skips
(extras, samples, trailers) and for subtitle files beside a video.

Pure functions over paths (no disk access), run in the scanner's reader processes. A name that
says too little still gives an item, titled from the file name, flagged for review.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

VIDEO_EXTENSIONS = frozenset(
    {".mkv", ".mp4", ".m4v", ".webm", ".avi", ".ts", ".m2ts", ".mov", ".wmv", ".mpg", ".mpeg"}
)
SUBTITLE_EXTENSIONS = frozenset({".srt", ".ass", ".ssa", ".vtt", ".sub"})
ARTWORK_EXTENSIONS = (".jpg", ".jpeg", ".png")
POSTER_NAMES = ("poster", "folder", "cover")  # in order of preference
BACKDROP_NAMES = ("fanart", "backdrop", "background")
# Folders of bonus material (Jellyfin's and Plex's names): never a movie or an episode.
EXTRA_FOLDERS = frozenset(
    {
        "extras",
        "extra",
        "featurettes",
        "trailers",
        "samples",
        "sample",
        "behind the scenes",
        "deleted scenes",
        "interviews",
        "scenes",
        "shorts",
        "other",
    }
)
_EXTRA_SUFFIX = re.compile(
    r"(?:^|[-._ ])(?:sample|trailer|featurette|behindthescenes|deleted|interview)$",
    re.IGNORECASE,
)
_SEASON_FOLDER = re.compile(r"^(?:season|series|saison|staffel)[ ._-]*(\d{1,4})$", re.IGNORECASE)
_SPECIALS_FOLDER = re.compile(r"^specials?$", re.IGNORECASE)
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,4})?$", re.IGNORECASE)
# What guessit is asked to find: fewer properties make it about twice as fast.
GUESS_PROPERTIES = [
    "title",
    "year",
    "season",
    "episode",
    "episode_title",
    "date",
    "screen_size",
    "edition",
    "part",
    "type",
    "container",
]


@dataclass(slots=True)
class ParsedName:
    kind: str  # movie | episode
    title: str
    year: int | None = None
    season: int | None = None
    episodes: list[int] = field(default_factory=list)
    air_date: date | None = None
    episode_title: str | None = None
    screen_size: str | None = None
    review_reason: str | None = None
    guessed: dict[str, Any] = field(default_factory=dict)  # guessit's answer, JSON-safe

    @property
    def needs_review(self) -> bool:
        return self.review_reason is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "year": self.year,
            "season": self.season,
            "episodes": self.episodes,
            "air_date": self.air_date.isoformat() if self.air_date else None,
            "episode_title": self.episode_title,
            "screen_size": self.screen_size,
            "guessit": self.guessed,
        }


def is_extra(relative_path: str) -> bool:
    """A sample, trailer or bonus file (by its folders or its name), skipped by scans."""
    parts = relative_path.replace("\\", "/").split("/")
    if any(part.lower() in EXTRA_FOLDERS for part in parts[:-1]):
        return True
    stem = os.path.splitext(parts[-1])[0]
    return _EXTRA_SUFFIX.search(stem) is not None


def _json_safe(value: Any) -> Any:
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _guess(name: str, kind: str) -> dict[str, Any]:
    from guessit import guessit  # imported in the reader processes only

    found = guessit(name, {"type": kind, "includes": GUESS_PROPERTIES})
    return {str(key): _json_safe(value) for key, value in found.items()}


def _as_int(value: Any) -> int | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _stem(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    return re.sub(r"[._]+", " ", stem).strip() or stem


def parse_movie(relative_path: str) -> ParsedName:
    """`Movie (Year)/Movie (Year).mkv`, `Movie.Year.1080p.BluRay.x264.mkv`, …"""
    parts = relative_path.replace("\\", "/").split("/")
    guessed = _guess("/".join(parts[-2:]), "movie")
    title = str(guessed.get("title") or "").strip()
    year = _as_int(guessed.get("year"))
    parsed = ParsedName("movie", title or _stem(relative_path), year=year, guessed=guessed)
    parsed.screen_size = guessed.get("screen_size")
    if not title:
        parsed.review_reason = "No title could be read from the file name."
    elif year is None:
        parsed.review_reason = "No year in the name: the title alone may match another movie."
    return parsed


_FOLDER_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)$")


def _title_and_year(folder: str) -> tuple[str, int | None]:
    """`Show (2019)` → ("Show", 2019)."""
    match = _FOLDER_YEAR.match(folder.strip())
    if match is None:
        return folder.strip(), None
    return match.group(1).strip(), int(match.group(2))


def _season_of_folder(parts: list[str]) -> int | None:
    for part in reversed(parts[:-1]):
        if _SPECIALS_FOLDER.match(part):
            return 0
        match = _SEASON_FOLDER.match(part)
        if match:
            return int(match.group(1))
    return None


# The common shape of an episode's file name: anything (the show, again), `SxxEyy`, more
# episodes (`E03`, `-E03`), then nothing or ` - Title`. Release names (`.1080p.WEB.x264`) and
# everything else go to guessit.
_EPISODE_NAME = re.compile(
    r"^.*?(?:^|[ ._-])[Ss](?P<season>\d{1,2})[Ee](?P<first>\d{1,3})"
    r"(?P<more>(?:-?[Ee]\d{1,3})*)"
    r"(?:\s+-\s+(?P<title>[^.\[\]{}]*[^\d\s.\[\]{}][^.\[\]{}]*))?\s*$"
)
_MORE_EPISODES = re.compile(r"[Ee](\d{1,3})")
# Words guessit reads as something other than a title: such names go to guessit.
_RELEASE_WORDS = re.compile(
    r"\b(?:\d{3,4}[pi]|[xh]\.?26[45]|hevc|av1|web(?:-?dl|rip)?|hdtv|blu-?ray|[bh]drip|dvdrip"
    r"|remux|proper|repack|internal|part\s*\d+|pt\.?\s*\d+|cd\s*\d+|disc\s*\d+"
    r"|extended|uncut|unrated|remastered|theatrical|limited|director'?s)\b",
    re.IGNORECASE,
)


def _episode_by_pattern(parts: list[str]) -> ParsedName | None:
    """`Show [(Year)]/[Season NN/]<name> SxxEyy[Eyy…][ - Title].ext` read without guessit,
    which costs far more (it reads three path levels per file). None for any other shape:
    the show must be a folder, and the name must hold nothing guessit could read more from."""
    if len(parts) < 2 or _season_of_folder([parts[0], ""]) is not None:
        return None
    match = _EPISODE_NAME.match(os.path.splitext(parts[-1])[0])
    if match is None:
        return None
    show, show_year = _title_and_year(parts[0])
    if not show:
        return None
    season = int(match.group("season"))
    numbers = [int(match.group("first"))]
    numbers += [int(number) for number in _MORE_EPISODES.findall(match.group("more"))]
    title = (match.group("title") or "").strip() or None
    if title is not None and _RELEASE_WORDS.search(title):
        return None
    guessed: dict[str, Any] = {"title": show, "season": season, "episode": numbers}
    if title:
        guessed["episode_title"] = title
    return ParsedName(
        "episode",
        show,
        year=show_year,
        season=season,
        episodes=sorted(set(numbers)),
        episode_title=title,
        guessed={**guessed, "read_by": "pattern"},
    )


def parse_episode(relative_path: str) -> ParsedName:
    """`Show/Season 01/Show - S01E02 - Title.mkv`, `Show.S01E02E03.mkv`, `Show.2024.03.05.mkv`,
    specials (`Season 00`, `Specials`, `S00E01`). The show is the first folder below the root
    when there is one, else the name's title. The common shape is read by a pattern
    (`_episode_by_pattern`), the rest by guessit."""
    parts = relative_path.replace("\\", "/").split("/")
    quick = _episode_by_pattern(parts)
    if quick is not None:
        return quick
    guessed = _guess("/".join(parts[-3:]), "episode")
    show, show_year = "", None
    if len(parts) > 1 and _season_of_folder([parts[0], ""]) is None:
        show, show_year = _title_and_year(parts[0])
    show = show or str(guessed.get("title") or "").strip()
    episodes = guessed.get("episode")
    listed = episodes if isinstance(episodes, list) else [episodes]
    numbers = [number for number in map(_as_int, listed) if number is not None]
    season = _as_int(guessed.get("season"))
    folder_season = _season_of_folder(parts)
    air_date = None
    raw_date = guessed.get("date")
    if isinstance(raw_date, str):
        try:
            air_date = date.fromisoformat(raw_date)
        except ValueError:
            air_date = None
    if season is None:
        season = folder_season if folder_season is not None else (1 if numbers else None)
    parsed = ParsedName(
        "episode",
        show or _stem(relative_path),
        year=show_year or _as_int(guessed.get("year")),
        season=season,
        episodes=sorted({int(n) for n in numbers}),
        air_date=air_date,
        episode_title=guessed.get("episode_title"),
        screen_size=guessed.get("screen_size"),
        guessed=guessed,
    )
    if not show:
        parsed.review_reason = "No show title could be read from the folders or the name."
    elif not parsed.episodes and air_date is None:
        parsed.review_reason = "No episode number or air date in the name."
        parsed.episode_title = parsed.episode_title or _stem(relative_path)
    if parsed.season is None:
        parsed.season = air_date.year if air_date is not None else 0
    return parsed


def parse(relative_path: str, library_kind: str) -> ParsedName:
    if library_kind == "tvshows":
        return parse_episode(relative_path)
    return parse_movie(relative_path)


# ---------------------------------------------------------------- sidecar subtitles


def sidecar_of(video_stem: str, subtitle_name: str) -> dict[str, Any] | None:
    """`Movie (2010).en.srt`, `Movie (2010).en.forced.ass`, `Movie (2010).vtt` beside
    `Movie (2010).mkv`: the subtitle's language, format and forced flag; None when the file
    is not this video's."""
    stem, extension = os.path.splitext(subtitle_name)
    if extension.lower() not in SUBTITLE_EXTENSIONS:
        return None
    if stem != video_stem and not stem.startswith(video_stem + "."):
        return None
    language: str | None = None
    forced = False
    for token in stem[len(video_stem) :].split(".")[1:]:
        lowered = token.lower()
        if lowered == "forced":
            forced = True
        elif lowered in ("sdh", "cc", "hi", "default"):
            continue
        elif language is None and _LANGUAGE.match(lowered):
            language = lowered
    return {"language": language, "format": extension[1:].lower(), "forced": forced}


def artwork_kind(name: str) -> str | None:
    """`poster` or `backdrop` for a folder's artwork file name (`poster.jpg`, `fanart.png`)."""
    stem, extension = os.path.splitext(name.lower())
    if extension not in ARTWORK_EXTENSIONS:
        return None
    if stem in POSTER_NAMES:
        return "poster"
    if stem in BACKDROP_NAMES:
        return "backdrop"
    return None
