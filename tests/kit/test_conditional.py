"""`kit.conditional`: Range parsing (RFC 9110 §14), If-None-Match / If-Modified-Since and
If-Range decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from cinesonic.kit.conditional import (
    ByteRange,
    InvalidRange,
    RangeNotSatisfiable,
    Validators,
    file_etag,
    is_not_modified,
    parse_range,
    range_applies,
)

MODIFIED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
VALIDATORS = Validators(etag="abc123", last_modified=MODIFIED)


def headers(**values: str) -> Headers:
    return Headers({name.replace("_", "-"): value for name, value in values.items()})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-", (0, 1000)),
        ("bytes=0-0", (0, 1)),
        ("bytes=10-20", (10, 21)),
        ("bytes=-500", (500, 1000)),
        ("bytes=-5000", (0, 1000)),
        ("bytes=990-5000", (990, 1000)),
        ("bytes=999-", (999, 1000)),
        ("BYTES = 10 - 20", (10, 21)),
        ("bytes=0-9,10-19", (0, 20)),  # touching ranges coalesce
        ("bytes=5-15,0-9", (0, 16)),  # overlapping, out of order
        ("bytes=0-9, 2000-3000", (0, 10)),  # an unsatisfiable one is dropped
    ],
)
def test_satisfiable_ranges(header: str, expected: tuple[int, int]) -> None:
    assert parse_range(header, 1000) == ByteRange(*expected, 1000)


@pytest.mark.parametrize("header", [None, "items=0-5", "bytes=0-9,20-29"])
def test_ranges_answered_whole(header: str | None) -> None:
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0", "bytes=1000-,2000-"]
)
def test_unsatisfiable_ranges_are_416(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        parse_range(header, 1000)
    assert not isinstance(raised.value, InvalidRange)
    assert raised.value.status_code == 416
    assert raised.value.headers == {"Content-Range": "bytes */1000", "Accept-Ranges": "bytes"}


@pytest.mark.parametrize(
    "header", ["bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=20-10", "bytes=1-2-3", "bytes=,"]
)
def test_malformed_ranges_are_416_invalid_range(header: str) -> None:
    with pytest.raises(InvalidRange) as raised:
        parse_range(header, 1000)
    assert raised.value.code == "invalid_range"
    assert raised.value.headers is not None
    assert raised.value.headers["Content-Range"] == "bytes */1000"


@given(size=st.integers(1, 10_000), first=st.integers(0, 20_000), length=st.integers(1, 20_000))
def test_a_range_never_leaves_the_file(size: int, first: int, length: int) -> None:
    try:
        result = parse_range(f"bytes={first}-{first + length - 1}", size)
    except RangeNotSatisfiable:
        assert first >= size
        return
    assert result is not None
    assert 0 <= result.start < result.end <= size
    assert result.content_range == f"bytes {result.start}-{result.end - 1}/{size}"


def test_if_none_match_uses_the_weak_comparison() -> None:
    assert is_not_modified(headers(if_none_match='"abc123"'), VALIDATORS)
    assert is_not_modified(headers(if_none_match='W/"abc123"'), VALIDATORS)
    assert is_not_modified(headers(if_none_match='"x", "abc123"'), VALIDATORS)
    assert is_not_modified(headers(if_none_match="*"), VALIDATORS)
    assert not is_not_modified(headers(if_none_match='"other"'), VALIDATORS)
    assert not is_not_modified(headers(if_none_match="abc123"), VALIDATORS)  # unquoted: invalid


def test_if_none_match_decides_alone_when_sent() -> None:
    later = format_datetime(MODIFIED + timedelta(days=1), usegmt=True)
    sent = headers(if_none_match='"other"', if_modified_since=later)
    assert not is_not_modified(sent, VALIDATORS)


def test_if_modified_since() -> None:
    same = format_datetime(MODIFIED, usegmt=True)
    earlier = format_datetime(MODIFIED - timedelta(seconds=1), usegmt=True)
    future = format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
    assert is_not_modified(headers(if_modified_since=same), VALIDATORS)
    assert not is_not_modified(headers(if_modified_since=earlier), VALIDATORS)
    assert not is_not_modified(headers(if_modified_since=future), VALIDATORS)
    assert not is_not_modified(headers(if_modified_since="yesterday"), VALIDATORS)


def test_if_range_needs_the_strong_tag_or_the_exact_date() -> None:
    assert range_applies(headers(), VALIDATORS)
    assert range_applies(headers(if_range='"abc123"'), VALIDATORS)
    assert not range_applies(headers(if_range='W/"abc123"'), VALIDATORS)
    assert not range_applies(headers(if_range='"stale"'), VALIDATORS)
    assert range_applies(headers(if_range=format_datetime(MODIFIED, usegmt=True)), VALIDATORS)
    earlier = format_datetime(MODIFIED - timedelta(hours=1), usegmt=True)
    assert not range_applies(headers(if_range=earlier), VALIDATORS)
    weak = Validators(etag="abc123", last_modified=MODIFIED, weak=True)
    assert not range_applies(headers(if_range='"abc123"'), weak)


def test_file_etag_changes_with_each_part() -> None:
    base = file_etag("/m/a.flac", 1000, 1)
    assert base == file_etag("/m/a.flac", 1000, 1)
    assert (
        len(
            {
                base,
                file_etag("/m/b.flac", 1000, 1),
                file_etag("/m/a.flac", 1001, 1),
                file_etag("/m/a.flac", 1000, 2),
            }
        )
        == 4
    )
