"""Progress lines during the long phases (10,000 processes take tens of minutes)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from temporalio.service import RPCError

PROGRESS_EVERY_S = 30.0


@contextlib.asynccontextmanager
async def ticking(
    what: str,
    total: int,
    count: Callable[[], Awaitable[int]],
    progress: Callable[[str], None],
    every_s: float = PROGRESS_EVERY_S,
) -> AsyncIterator[None]:
    """While the body runs, say every `every_s` how many of `total` are `what` so far."""

    async def tick() -> None:
        began = time.monotonic()
        while True:
            await asyncio.sleep(every_s)
            try:
                done = await count()
            except RPCError as exc:  # visibility busy: skip this line, not the phase
                progress(f"{what}: count unavailable ({exc.message})")
                continue
            elapsed = time.monotonic() - began
            progress(f"{what}: {done}/{total} after {elapsed:.0f} s ({done / elapsed:.1f}/s)")

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
