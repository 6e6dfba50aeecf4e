"""Heartbeats for every activity while it runs, so a crashed worker's attempt is retried fast.

Without a heartbeat timeout, an attempt on a worker that died is only retried when its
start-to-close timeout expires (minutes). With one, Temporal notices within seconds. The
activities themselves stay free of heartbeat code: this worker interceptor beats on their
behalf, at a third of the heartbeat timeout, only for attempts that run that long.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)


class HeartbeatInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _HeartbeatingActivity(next)


class _HeartbeatingActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        timeout = activity.info().heartbeat_timeout
        if not timeout or timeout <= timedelta(0):
            return await super().execute_activity(input)
        beating = asyncio.create_task(_beat(timeout.total_seconds() / 3))
        try:
            return await super().execute_activity(input)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating


async def _beat(every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        activity.heartbeat()


def beat(*details: Any) -> None:
    """Report progress now (per item of a batch), besides the interceptor's beats; nothing
    outside an activity."""
    if activity.in_activity():
        activity.heartbeat(*details)
