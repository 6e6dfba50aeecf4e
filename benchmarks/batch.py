"""Run many documents through a driver with bounded concurrency; time each and the batch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")
POLL_INTERVAL_S = 0.05


@dataclass
class BatchResult:
    latencies_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def done(self) -> int:
        return len(self.latencies_s)

    def extend(self, other: BatchResult) -> None:
        """Add another batch run after this one (walls add up)."""
        self.latencies_s += other.latencies_s
        self.failures += other.failures
        self.wall_s += other.wall_s


async def run_batch(
    items: Sequence[T], concurrency: int, drive: Callable[[T], Awaitable[None]]
) -> BatchResult:
    """`drive` every item, at most `concurrency` at once; a failure is recorded, not raised."""
    result = BatchResult()
    gate = asyncio.Semaphore(concurrency)

    async def one(item: T) -> None:
        async with gate:
            started = time.perf_counter()
            try:
                await drive(item)
            except Exception as exc:
                result.failures.append(f"{item}: {type(exc).__name__}: {exc}"[:300])
                return
            result.latencies_s.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(item) for item in items))
    result.wall_s = time.perf_counter() - started
    return result


async def poll_until(check: Callable[[], Awaitable[bool]], *, within_s: float, what: str) -> None:
    """Call `check` every POLL_INTERVAL_S until it is true; TimeoutError after `within_s`."""
    deadline = time.monotonic() + within_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not {what} after {within_s:.0f} s")
        await asyncio.sleep(POLL_INTERVAL_S)
