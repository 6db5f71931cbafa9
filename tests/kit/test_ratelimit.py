"""`RateLimiter` on memory counters and, when `CINESONIC_TEST_REDIS_URL` is set, on Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from cinesonic.errors import RateLimited
from cinesonic.kit.ratelimit import RateDecision, RateLimiter
from tests.conftest import REDIS_URL, wait_out_minute_boundary

STORAGES = [
    pytest.param(None, id="memory"),
    pytest.param(
        REDIS_URL,
        id="redis",
        marks=pytest.mark.skipif(REDIS_URL is None, reason="CINESONIC_TEST_REDIS_URL is unset"),
    ),
]


@pytest.fixture(params=STORAGES)
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    wait_out_minute_boundary()  # these tests count hits against "N/minute" rules
    # A prefix of its own, so runs sharing one Redis never see each other's counters.
    yield RateLimiter(request.param, prefix=f"cinesonic-test-{uuid.uuid4().hex[:12]}")


async def test_hits_within_the_limit_pass_and_count_down(limiter: RateLimiter) -> None:
    decisions = [await limiter.hit("3/minute", "scope", "1.2.3.4") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert {d.limit for d in decisions} == {3}


async def test_hit_over_the_limit_is_refused_with_retry_after(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit("3/minute", "scope", "1.2.3.4")
    decision = await limiter.hit("3/minute", "scope", "1.2.3.4")
    assert not decision.allowed
    assert decision.remaining == 0
    assert 1 <= int(decision.headers()["Retry-After"]) <= 60


async def test_keys_are_counted_apart(limiter: RateLimiter) -> None:
    for _ in range(2):
        await limiter.hit("2/minute", "scope", "1.2.3.4")
    assert not (await limiter.hit("2/minute", "scope", "1.2.3.4")).allowed
    assert (await limiter.hit("2/minute", "scope", "5.6.7.8")).allowed
    assert (await limiter.hit("2/minute", "other", "1.2.3.4")).allowed


async def test_check_raises_rate_limited_carrying_the_headers(limiter: RateLimiter) -> None:
    await limiter.check("1/minute", "login", "1.2.3.4")
    with pytest.raises(RateLimited) as error:
        await limiter.check("1/minute", "login", "1.2.3.4", message="Slow down.")
    assert error.value.message == "Slow down."
    assert error.value.headers is not None
    assert error.value.headers["RateLimit-Limit"] == "1"
    assert int(error.value.headers["Retry-After"]) >= 1


async def test_reset_frees_the_budget(limiter: RateLimiter) -> None:
    await limiter.hit("1/minute", "scope", "1.2.3.4")
    await limiter.reset("1/minute", "scope", "1.2.3.4")
    assert (await limiter.hit("1/minute", "scope", "1.2.3.4")).allowed


async def test_disabled_limiter_always_allows() -> None:
    limiter = RateLimiter(enabled=False)
    decisions = [await limiter.hit("1/hour", "scope", "1.2.3.4") for _ in range(5)]
    assert all(d.allowed for d in decisions)
    assert decisions[-1].remaining == 1


def test_allowed_decision_sends_no_retry_after() -> None:
    headers = RateDecision(allowed=True, limit=5, remaining=4, reset_after=30).headers()
    assert headers == {"RateLimit-Limit": "5", "RateLimit-Remaining": "4", "RateLimit-Reset": "30"}


def test_refused_decision_asks_to_wait_at_least_a_second() -> None:
    headers = RateDecision(allowed=False, limit=5, remaining=0, reset_after=0).headers()
    assert headers["Retry-After"] == "1"
