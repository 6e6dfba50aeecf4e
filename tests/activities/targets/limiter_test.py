"""The per-worker token buckets, pure: an injected clock and sleep."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from activities.http.limiter import RateLimited, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_a_burst_of_one_second_then_turns_in_order() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    assert [limiter.reserve("erp", 4) for _ in range(4)] == [0, 0, 0, 0]
    assert [limiter.reserve("erp", 4) for _ in range(3)] == pytest.approx([0.25, 0.5, 0.75])
    # Each target has its own bucket.
    assert limiter.reserve("portal", 4) == 0


def test_tokens_come_back_with_time_up_to_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(2):
        limiter.reserve("erp", 2)
    assert limiter.reserve("erp", 2) == pytest.approx(0.5)
    clock.now += 60  # a long pause refills the bucket, but only to one second's worth
    assert [limiter.reserve("erp", 2) for _ in range(3)] == pytest.approx([0, 0, 0.5])


def test_a_slow_rate_still_allows_one_call() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, max_wait_s=5)
    assert limiter.reserve("b2b", 0.5) == 0
    assert limiter.reserve("b2b", 0.5) == pytest.approx(2.0)
    assert limiter.reserve("b2b", 0.5) == pytest.approx(4.0)


def test_a_wait_past_the_bound_raises_without_taking_a_turn() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, max_wait_s=5)
    for _ in range(3):
        limiter.reserve("b2b", 0.5)
    with pytest.raises(RateLimited) as limited:
        limiter.reserve("b2b", 0.5)
    assert limited.value.retry_after == timedelta(seconds=6)
    clock.now += 2  # nothing was taken: after 2 s the wait is 4 s again
    assert limiter.reserve("b2b", 0.5) == pytest.approx(4.0)
    with pytest.raises(ValueError):
        limiter.reserve("b2b", 0)


async def test_acquire_sleeps_for_its_turn() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    waits = await asyncio.gather(*(limiter.acquire("erp", 2) for _ in range(4)))
    assert waits == pytest.approx([0, 0, 0.5, 1.0])
    assert clock.slept == pytest.approx([0.5, 1.0])
