"""Progress lines during long benchmark phases."""

from __future__ import annotations

import asyncio

from temporalio.service import RPCError, RPCStatusCode

from benchmarks.ticker import ticking


async def test_says_how_far_it_got_until_the_phase_ends() -> None:
    lines: list[str] = []
    three_said = asyncio.Event()
    counts = iter([3, 7])

    def say(line: str) -> None:
        lines.append(line)
        if len(lines) == 3:
            three_said.set()

    async def count() -> int:
        try:
            return next(counts)
        except StopIteration:
            raise RPCError("visibility busy", RPCStatusCode.UNAVAILABLE, b"") from None

    async with ticking("parked", 10, count, say, every_s=0.05):
        await asyncio.wait_for(three_said.wait(), timeout=5)
    said = len(lines)
    await asyncio.sleep(0.15)  # the phase is over: no more lines

    assert lines[0].startswith("parked: 3/10 after ")
    assert lines[1].startswith("parked: 7/10 after ")
    assert lines[2] == "parked: count unavailable (visibility busy)"
    assert len(lines) == said
