"""The retry schedule, pure: delays by attempt, jitter, Retry-After, exhaustion."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from activities.http.schedule import MAX_RETRY_AFTER, describe, next_delay

SCHEDULE = (0, 5, 300, 1800)


def no_jitter() -> float:
    return 0.5


@pytest.mark.parametrize(("attempt", "seconds"), [(1, 5), (2, 300), (3, 1800)])
def test_the_delay_before_the_next_attempt(attempt: int, seconds: float) -> None:
    assert next_delay(SCHEDULE, attempt, jitter=0.1, rand=no_jitter) == timedelta(seconds=seconds)


def test_past_the_last_attempt_the_schedule_is_spent() -> None:
    assert next_delay(SCHEDULE, 4) is None
    assert next_delay(SCHEDULE, 9, retry_after=timedelta(seconds=1)) is None
    assert next_delay((0,), 1) is None
    with pytest.raises(ValueError):
        next_delay(SCHEDULE, 0)


def test_jitter_stays_within_its_share_and_is_reproducible() -> None:
    seeded = random.Random(42)
    delays = [next_delay(SCHEDULE, 2, jitter=0.2, rand=seeded.random) for _ in range(200)]
    assert all(d is not None and 240 <= d.total_seconds() <= 360 for d in delays)
    assert len({d for d in delays}) > 100
    again = random.Random(42)
    assert next_delay(SCHEDULE, 2, jitter=0.2, rand=again.random) == delays[0]
    assert next_delay(SCHEDULE, 2, jitter=0.2, rand=lambda: 0.0) == timedelta(seconds=240)


def test_retry_after_wins_when_it_is_longer() -> None:
    longer = timedelta(seconds=60)
    assert next_delay(SCHEDULE, 1, retry_after=longer, rand=no_jitter) == longer
    shorter = timedelta(seconds=1)
    assert next_delay(SCHEDULE, 2, retry_after=shorter, rand=no_jitter) == timedelta(seconds=300)


def test_retry_after_is_capped_at_a_day() -> None:
    huge = timedelta(days=30)
    assert next_delay(SCHEDULE, 1, retry_after=huge, rand=no_jitter) == MAX_RETRY_AFTER


def test_describe() -> None:
    assert describe((0, 5, 300, 1800, 7200, 0.2)) == "0 s, 5 s, 5 min, 30 min, 2 h, 0.2 s"
