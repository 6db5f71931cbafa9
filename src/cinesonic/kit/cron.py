"""Five-field cron expressions (minute hour day-of-month month day-of-week), UTC.

Supports `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n` and `a-b/n`; day-of-week 0-6
with 0 = Sunday (7 also means Sunday). As in classic cron, when both day fields are restricted
a time matches if either does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _parse_field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in {part!r}")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            start_text, end_text = base.split("-", 1)
            start, end = int(start_text), int(end_text)
        else:
            start = end = int(base)
            if step_text:
                end = high
        if high == 6 and end == 7:  # allow 7 for Sunday
            values.add(0)
            end = 6
            start = min(start, 6) if start != 7 else 0
        if start < low or end > high or start > end:
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> Cron:
        fields = expression.split()
        if len(fields) != 5:
            raise ValueError(f"cron needs 5 fields, got {len(fields)}: {expression!r}")
        minutes, hours, days, months, weekdays = (
            _parse_field(f, lo, hi) for f, (lo, hi) in zip(fields, _BOUNDS, strict=True)
        )
        return cls(
            expression,
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted=fields[2] != "*",
            weekdays_restricted=fields[4] != "*",
        )

    def matches(self, moment: datetime) -> bool:
        if moment.minute not in self.minutes or moment.hour not in self.hours:
            return False
        return moment.month in self.months and self._day_matches(moment)

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after `moment` (searches up to ~4 years)."""
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = moment + timedelta(days=4 * 366)
        while candidate <= limit:
            if candidate.month not in self.months:
                month = candidate.month % 12 + 1
                year = candidate.year + (candidate.month == 12)
                candidate = candidate.replace(year=year, month=month, day=1, hour=0, minute=0)
            elif not self._day_matches(candidate):
                candidate = (candidate + timedelta(days=1)).replace(hour=0, minute=0)
            elif candidate.hour not in self.hours:
                candidate = (candidate + timedelta(hours=1)).replace(minute=0)
            elif candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
            else:
                return candidate
        raise ValueError(f"cron {self.expression!r} never matches")

    def _day_matches(self, moment: datetime) -> bool:
        day_ok = moment.day in self.days
        weekday_ok = (moment.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok
