"""Per-worker rate limits of outbound endpoints (targets, subscribers): one token bucket per id.

A delivery waits for its turn inside the activity when the wait is short; a longer backlog
raises RateLimited with the wait, which the activity turns into a retry after that delay
(so a worker slot is not held for minutes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

MAX_WAIT_S = 5.0


class RateLimited(Exception):
    """The target's rate limit leaves no turn soon enough; try again after `retry_after`."""

    def __init__(self, key: str, retry_after: timedelta) -> None:
        super().__init__(f"rate limit of {key!r}: next turn in {retry_after.total_seconds():.1f} s")
        self.key = key
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets holding one second's worth of calls (at least one). A caller takes a
    token; when none is left it reserves the next one (the bucket goes negative) and waits,
    so concurrent callers queue in order."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_wait_s: float = MAX_WAIT_S,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._max_wait_s = max_wait_s
        self._buckets: dict[str, _Bucket] = {}

    def reserve(self, key: str, rate_per_s: float) -> float:
        """Take a turn; the seconds to wait for it. Raises RateLimited past `max_wait_s`
        (taking nothing)."""
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be positive, not {rate_per_s}")
        now = self._clock()
        capacity = max(1.0, rate_per_s)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate_per_s)
        bucket.updated = now
        wait = max(0.0, (1.0 - bucket.tokens) / rate_per_s)
        if wait > self._max_wait_s:
            raise RateLimited(key, timedelta(seconds=wait))
        bucket.tokens -= 1.0
        return wait

    async def acquire(self, key: str, rate_per_s: float) -> float:
        """Wait for a turn (returns the seconds waited); raises RateLimited for a long wait."""
        wait = self.reserve(key, rate_per_s)
        if wait > 0:
            await self._sleep(wait)
        return wait
