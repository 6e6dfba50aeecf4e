"""Delayed actions of a simulator (a conversion finishing, a publishing job completing): run
later on the event loop, cancelled on reset, awaited by `settle` together with the outbound
deliveries they cause."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from simulators.kit.delivery import CallbackDispatcher


class Timers:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def later(self, delay_ms: int, action: Callable[[], None]) -> None:
        """Run `action` after `delay_ms` milliseconds."""

        async def run() -> None:
            await asyncio.sleep(delay_ms / 1000)
            action()

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    async def settle(self, outbound: CallbackDispatcher, timeout_s: float) -> bool:
        """Wait until no action and no delivery of `outbound` is pending; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return await outbound.wait_idle(max(0.0, deadline - loop.time()))
