"""The worker-wide publish limiter: Amplience allows publish + unpublish together 100 times a
minute per hub, and answers 429 past it. Every publish of a worker takes a token first, so a
burst of master data stays under the limit instead of leaning on 429 back-off (which still
applies when other workers or people publish on the same hub)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class PublishLimiter:
    """A token bucket of `limit` tokens refilled evenly over `window_s`.

    `acquire` takes a token, waiting for it when it comes within `max_wait_s`; a caller that
    would wait longer takes nothing and is told how long to wait instead (the activity raises
    a retryable error with that delay: Temporal's retry waits, no attempt holds a slot).
    """

    def __init__(
        self,
        limit: int = 100,
        window_s: float = 60.0,
        *,
        max_wait_s: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be at least 1 and window_s positive")
        self._capacity = float(limit)
        self._rate = limit / window_s
        self._max_wait_s = max_wait_s
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(limit)
        self._at = clock()

    async def acquire(self) -> float | None:
        """None once a token is taken; else the seconds to wait before asking again."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        wait = (1 - self._tokens) / self._rate  # reservations already made wait before this
        if wait > self._max_wait_s:
            return wait
        self._tokens -= 1  # reserved: the token that refills by then is this caller's
        await self._sleep(wait)
        return None
