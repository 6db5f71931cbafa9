from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cinesonic.kit.cron import Cron

SATURDAY = datetime(2026, 11, 21, 10, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("*/15 * * * *", datetime(2026, 11, 21, 10, 15, tzinfo=UTC)),
        ("30 4 * * 1-5", datetime(2026, 11, 23, 4, 30, tzinfo=UTC)),
        ("0 0 29 2 *", datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
        ("0 12 1 * 0", datetime(2026, 11, 22, 12, 0, tzinfo=UTC)),  # day OR weekday
        ("5,10 10 * * *", datetime(2026, 11, 21, 10, 10, tzinfo=UTC)),
        ("0 0 * * 7", datetime(2026, 11, 22, 0, 0, tzinfo=UTC)),  # 7 is Sunday too
    ],
)
def test_next_after(expression: str, expected: datetime) -> None:
    assert Cron.parse(expression).next_after(SATURDAY) == expected


@pytest.mark.parametrize("expression", ["* * * *", "61 * * * *", "*/0 * * * *", "5-2 * * * *"])
def test_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        Cron.parse(expression)
