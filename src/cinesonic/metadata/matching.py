"""Which provider result a scanned title is: a confidence score per candidate, the best above a
threshold. Pure functions, no I/O.

Confidence (0–1) = 0.7 × title similarity + 0.3 × year agreement.

- Titles are compared normalised: accents and case folded (`kit.text.fold`), `&` read as
  `and`, punctuation dropped, a leading article (`The`, `A`, `Le`, …) ignored. Similarity is the
  better of the candidate's title and original title, as `difflib`'s ratio of the two strings.
- Year agreement: 1 for the same year, 0.7 one year apart (festival vs. theatrical release,
  a show's premiere across new year), 0 further apart, and 0.5 when either year is unknown.

So an exact title with the right year scores 1.0, without a year 0.85, with a year one off
0.91, and with a wrong year 0.7 — below the default threshold of 0.75, which is what keeps a
remake from being taken for the original. Among equal scores the more popular result wins.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

from cinesonic.kit.text import ARTICLES, fold
from cinesonic.metadata.schemas import MovieSummary, TvSummary

TITLE_WEIGHT = 0.7
YEAR_WEIGHT = 0.3
_PUNCTUATION = re.compile(r"[^\w\s]|_")


class MediaKind(enum.StrEnum):
    movie = "movie"
    tv = "tv"


@dataclass(frozen=True)
class ParsedTitle:
    """What a file name says: a title, perhaps a year, and whether it is a movie or a show."""

    title: str
    year: int | None
    kind: MediaKind


@dataclass(frozen=True)
class Candidate:
    tmdb_id: int
    title: str
    original_title: str | None
    year: int | None
    popularity: float
    kind: MediaKind


@dataclass(frozen=True)
class Match:
    candidate: Candidate
    confidence: float


def normalise_title(value: str) -> str:
    """The comparable form of a title: "The Lord of the Rings: The Fellowship" →
    "lord of the rings the fellowship"; "Amélie" → "amelie"; "Fast & Furious" → "fast and
    furious"."""
    folded = fold(value.replace("&", " and "))
    spaced = _PUNCTUATION.sub(" ", folded)
    words = " ".join(spaced.split())
    for article in ARTICLES:
        if words.startswith(article) and len(words) > len(article):
            return words[len(article) :]
    return words


def title_similarity(one: str, other: str) -> float:
    a, b = normalise_title(one), normalise_title(other)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def year_agreement(wanted: int | None, found: int | None) -> float:
    if wanted is None or found is None:
        return 0.5
    gap = abs(wanted - found)
    if gap == 0:
        return 1.0
    if gap == 1:
        return 0.7
    return 0.0


def confidence(parsed: ParsedTitle, candidate: Candidate) -> float:
    titles = [candidate.title]
    if candidate.original_title:
        titles.append(candidate.original_title)
    similarity = max(title_similarity(parsed.title, title) for title in titles)
    score = TITLE_WEIGHT * similarity + YEAR_WEIGHT * year_agreement(parsed.year, candidate.year)
    return round(score, 4)


def candidate_of(result: MovieSummary | TvSummary) -> Candidate:
    if isinstance(result, MovieSummary):
        return Candidate(
            tmdb_id=result.tmdb_id,
            title=result.title,
            original_title=result.original_title,
            year=result.year,
            popularity=result.popularity,
            kind=MediaKind.movie,
        )
    return Candidate(
        tmdb_id=result.tmdb_id,
        title=result.name,
        original_title=result.original_name,
        year=result.year,
        popularity=result.popularity,
        kind=MediaKind.tv,
    )


def rank(parsed: ParsedTitle, results: Iterable[MovieSummary | TvSummary]) -> list[Match]:
    """Every result of the parsed title's kind, best first (confidence, then popularity)."""
    matches = [
        Match(candidate, confidence(parsed, candidate))
        for candidate in map(candidate_of, results)
        if candidate.kind == parsed.kind
    ]
    matches.sort(key=lambda match: (match.confidence, match.candidate.popularity), reverse=True)
    return matches


def best_match(
    parsed: ParsedTitle, results: Iterable[MovieSummary | TvSummary], threshold: float
) -> Match | None:
    """The best result when its confidence reaches `threshold`; None when nothing does."""
    ranked = rank(parsed, results)
    if ranked and ranked[0].confidence >= threshold:
        return ranked[0]
    return None
