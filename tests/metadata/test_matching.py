"""Matching a scanned title to provider results: normalisation, scores, the threshold and the
popularity tie-break."""

from __future__ import annotations

import pytest

from cinesonic.metadata.matching import (
    MediaKind,
    ParsedTitle,
    best_match,
    candidate_of,
    confidence,
    normalise_title,
    rank,
    title_similarity,
    year_agreement,
)
from cinesonic.metadata.schemas import MovieSummary, TvSummary
from tests.metadata.fake_tmdb import MOVIES, SHOWS, _movie_summary, _show_summary

THRESHOLD = 0.75


def movie(tmdb_id: int) -> MovieSummary:
    return MovieSummary.model_validate(_movie_summary(MOVIES[tmdb_id]))


def show(tmdb_id: int) -> TvSummary:
    return TvSummary.model_validate(_show_summary(SHOWS[tmdb_id]))


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("The Matrix", "matrix"),
        ("THE MATRIX", "matrix"),
        ("Amélie", "amelie"),
        ("Fast & Furious", "fast and furious"),
        ("Léon: The Professional", "leon the professional"),
        ("Spider-Man: No Way Home", "spider man no way home"),
        ("Les Misérables", "miserables"),
        ("A", "a"),  # an article alone is the title
        ("  Breaking   Bad ", "breaking bad"),
        ("Æon Flux", "aeon flux"),
    ],
)
def test_titles_are_normalised(raw: str, normalised: str) -> None:
    assert normalise_title(raw) == normalised


def test_similarity_ignores_what_users_type_differently() -> None:
    assert title_similarity("the.matrix", "The Matrix") == 1.0
    assert title_similarity("Amelie", "Amélie") == 1.0
    assert 0.8 < title_similarity("Matrix Reloaded", "The Matrix Reloaded!") <= 1.0
    assert title_similarity("Inception", "Arrival") < 0.5
    assert title_similarity("", "Arrival") == 0.0


def test_year_agreement_allows_one_year_either_way() -> None:
    assert year_agreement(2010, 2010) == 1.0
    assert year_agreement(2010, 2011) == year_agreement(2010, 2009) == 0.7
    assert year_agreement(2010, 2012) == 0.0
    assert year_agreement(None, 2010) == year_agreement(2010, None) == 0.5


def test_confidence_weighs_title_and_year() -> None:
    inception = candidate_of(movie(27205))

    assert confidence(ParsedTitle("Inception", 2010, MediaKind.movie), inception) == 1.0
    assert confidence(ParsedTitle("Inception", None, MediaKind.movie), inception) == 0.85
    assert confidence(ParsedTitle("Inception", 2011, MediaKind.movie), inception) == 0.91
    assert confidence(ParsedTitle("Inception", 1994, MediaKind.movie), inception) == 0.7


def test_the_year_tells_a_title_from_its_namesake() -> None:
    results = [movie(329865), movie(1278)]

    newer = best_match(ParsedTitle("Arrival", 2016, MediaKind.movie), results, THRESHOLD)
    older = best_match(ParsedTitle("The Arrival", 1996, MediaKind.movie), results, THRESHOLD)

    assert newer is not None and newer.candidate.tmdb_id == 329865
    assert older is not None and older.candidate.tmdb_id == 1278  # by its original title
    assert newer.confidence == older.confidence == 1.0


def test_popularity_breaks_ties() -> None:
    # Without a year both "Arrival"s score alike: the more popular wins.
    ranked = rank(ParsedTitle("Arrival", None, MediaKind.movie), [movie(1278), movie(329865)])

    assert [match.candidate.tmdb_id for match in ranked] == [329865, 1278]
    assert ranked[0].confidence == ranked[1].confidence


def test_nothing_below_the_threshold_is_a_match() -> None:
    results = [movie(27205), movie(603)]

    assert best_match(ParsedTitle("Arrival", 2016, MediaKind.movie), results, THRESHOLD) is None
    # The right title in the wrong decade is not trusted either (a remake, a namesake).
    assert best_match(ParsedTitle("Inception", 1980, MediaKind.movie), results, THRESHOLD) is None
    assert best_match(ParsedTitle("Inception", 2010, MediaKind.movie), [], THRESHOLD) is None


def test_only_results_of_the_parsed_kind_are_considered() -> None:
    mixed = [movie(603), show(1396), show(95396)]

    match = best_match(ParsedTitle("Breaking Bad", 2008, MediaKind.tv), mixed, THRESHOLD)
    ranked = rank(ParsedTitle("Severance", None, MediaKind.tv), mixed)

    assert match is not None and match.candidate.tmdb_id == 1396
    assert match.candidate.kind is MediaKind.tv
    assert [m.candidate.tmdb_id for m in ranked] == [95396, 1396]
    assert rank(ParsedTitle("The Matrix", 1999, MediaKind.tv), [movie(603)]) == []
