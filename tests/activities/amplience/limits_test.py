"""The worker-wide publish limiter: a burst up to the limit passes, then callers wait their
turn, and one that would wait too long is told when to come back."""

from __future__ import annotations

from activities.amplience.limits import PublishLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_a_burst_up_to_the_limit_passes_then_callers_wait_their_turn() -> None:
    clock = Clock()
    limiter = PublishLimiter(100, 60.0, max_wait_s=2.0, clock=clock, sleep=clock.sleep)
    assert [await limiter.acquire() for _ in range(100)] == [None] * 100
    assert clock.slept == []
    assert await limiter.acquire() is None  # waits 0.6 s for the next token
    assert [round(s, 6) for s in clock.slept] == [0.6]
    assert await limiter.acquire() is None
    assert round(clock.now, 6) == 1.2


async def test_a_caller_that_would_wait_too_long_is_told_when_to_come_back() -> None:
    clock = Clock()
    limiter = PublishLimiter(2, 60.0, max_wait_s=5.0, clock=clock, sleep=clock.sleep)
    assert await limiter.acquire() is None and await limiter.acquire() is None
    wait = await limiter.acquire()
    assert wait is not None and round(wait) == 30 and clock.slept == []
    clock.now += 30
    assert await limiter.acquire() is None  # the token refilled meanwhile
