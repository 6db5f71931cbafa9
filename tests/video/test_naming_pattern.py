"""Episode names in their common shape are read by a pattern, without guessit; the answer must
be guessit's (what the pattern cannot read alike goes to guessit)."""

from __future__ import annotations

import pytest

from cinesonic.video import naming

READ_BY_PATTERN = [
    "Show (2019)/Season 01/Show - S01E02 - The Title.mkv",
    "Show (2019)/Season 01/Show.S01E03E04.mkv",
    "Show 0001/Season 02/Show 0001 - S02E05 - Title.mkv",
    "Show 0001/Season 02/Show 0001.S02E05E06.mkv",
    "Breaking Bad/Season 05/Breaking Bad - S05E14 - Ozymandias.mkv",
    "Breaking Bad/Season 05/Breaking.Bad.S05E14.mkv",
    "The Office (2005)/Season 02/The Office - S02E01-E02 - The Dundies.mkv",
    "Severance/Season 01/Severance - S01E01 - Good News About Hell.mp4",
    "Doctor Who (2005)/Specials/Doctor Who - S00E01 - The Christmas Invasion.mkv",
    "Show/Show - S01E01 - Pilot.mkv",
    "Show/Season 01/Show - S01E01 - It's Always Sunny.mkv",
    "Show/Season 01/Show S01E01.mkv",
    "Show/Season 01/s01e01.mkv",
]
LEFT_TO_GUESSIT = [
    "Show.S01E02E03.mkv",  # no show folder: the show comes from the name
    "Show/Season 01/Show - S01E01 - Part 2.mkv",
    "Show/Season 01/Show - S01E01 - 1080p.mkv",
    "Show/Season 01/Show.S01E01.1080p.WEB.x264.mkv",
    "Show/Season 01/Show - S01E01 - Pilot (Extended).mkv",
    "Show/Season 01/Show - S01E01 - 2001.mkv",
    "Show/Season 01/Show.2024.03.05.mkv",
    "Season 01/Show - S01E01.mkv",
]


def _by_guessit(path: str, monkeypatch: pytest.MonkeyPatch) -> naming.ParsedName:
    with monkeypatch.context() as patched:
        patched.setattr(naming, "_episode_by_pattern", lambda parts: None)
        return naming.parse_episode(path)


def _fields(parsed: naming.ParsedName) -> tuple[object, ...]:
    return (
        parsed.kind,
        parsed.title,
        parsed.year,
        parsed.season,
        parsed.episodes,
        parsed.air_date,
        parsed.episode_title,
        parsed.screen_size,
        parsed.review_reason,
    )


@pytest.mark.parametrize("path", READ_BY_PATTERN)
def test_the_pattern_reads_what_guessit_reads(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    quick = naming._episode_by_pattern(path.split("/"))
    assert quick is not None
    assert quick.guessed["read_by"] == "pattern"
    assert _fields(naming.parse_episode(path)) == _fields(_by_guessit(path, monkeypatch))


@pytest.mark.parametrize("path", LEFT_TO_GUESSIT)
def test_other_shapes_are_left_to_guessit(path: str) -> None:
    assert naming._episode_by_pattern(path.split("/")) is None
    assert "read_by" not in naming.parse_episode(path).guessed
