"""A delivery retry schedule (a target's, a subscriber's): the delay before the next attempt,
or None when the schedule is spent. Pure; the randomness for the jitter is injectable."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import timedelta

# A receiver's Retry-After is honoured up to this; beyond it the schedule's own delay stands.
MAX_RETRY_AFTER = timedelta(days=1)


def next_delay(
    schedule_s: Sequence[float],
    attempt: int,
    *,
    jitter: float = 0.0,
    retry_after: timedelta | None = None,
    rand: Callable[[], float] = random.random,
) -> timedelta | None:
    """The delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed.

    `schedule_s[i]` is the delay before attempt i + 1, so a schedule of n delays allows n
    attempts; after the n-th, None. The delay varies by ± `jitter` of itself (`rand` gives
    [0, 1)), and is at least the receiver's `Retry-After` (capped at MAX_RETRY_AFTER).
    """
    if attempt < 1:
        raise ValueError(f"attempts count from 1, not {attempt}")
    if attempt >= len(schedule_s):
        return None
    base = schedule_s[attempt]
    delay = max(0.0, base * (1 + jitter * (2 * rand() - 1)))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER).total_seconds())
    return timedelta(seconds=delay)


def describe(schedule_s: Sequence[float]) -> str:
    """`0 s, 2 s, 5 min, 2 h` — the schedule as people read it."""

    def one(seconds: float) -> str:
        if seconds >= 3600 and seconds % 3600 == 0:
            return f"{seconds / 3600:g} h"
        if seconds >= 60 and seconds % 60 == 0:
            return f"{seconds / 60:g} min"
        return f"{seconds:g} s"

    return ", ".join(one(s) for s in schedule_s)
