"""Aware UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from cinesonic.kit.timeutil import as_utc, utcnow


def test_utcnow_is_aware_utc() -> None:
    now = utcnow()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_naive_values_are_taken_as_utc() -> None:
    assert as_utc(datetime(2024, 5, 1, 12, 0)) == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_aware_values_are_converted_to_utc() -> None:
    paris_summer = timezone(timedelta(hours=2))
    converted = as_utc(datetime(2024, 5, 1, 14, 0, tzinfo=paris_summer))
    assert converted == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert converted.utcoffset() == timedelta(0)
