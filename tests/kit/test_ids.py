"""uuid7: version 7 ids whose order is their order of creation."""

from __future__ import annotations

import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from cinesonic.kit.ids import uuid7


def timestamp_ms(value: uuid.UUID) -> int:
    return value.int >> 80


def test_ids_are_rfc_9562_version_7() -> None:
    value = uuid7()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_id_carries_the_creation_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= timestamp_ms(value) <= after + 1


@given(count=st.integers(min_value=2, max_value=2000))
def test_ids_made_in_a_row_sort_in_creation_order(count: int) -> None:
    made = [uuid7() for _ in range(count)]
    assert sorted(made) == made
    assert len(set(made)) == count


def test_ids_sort_the_same_as_integers_as_text_and_as_bytes() -> None:
    made = [uuid7() for _ in range(500)]
    assert sorted(made, key=str) == made
    assert sorted(made, key=lambda value: value.hex) == made
    assert sorted(made, key=lambda value: value.bytes) == made


def test_ids_made_milliseconds_apart_sort_by_time() -> None:
    first = uuid7()
    time.sleep(0.003)
    second = uuid7()
    assert timestamp_ms(first) < timestamp_ms(second)
    assert first < second


def test_ids_keep_random_bits() -> None:
    made = {uuid7().int & 0xFFFF_FFFF for _ in range(200)}
    assert len(made) > 190
