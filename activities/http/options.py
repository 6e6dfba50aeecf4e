"""How a workflow calls one external system: timeouts, retry schedule and when to give up.

Each vendor package defines its presets next to its client (`activities/<vendor>/options.py`)
so every process calls a system the same way; the workflow kit (`workflows/kit/calls.py`)
turns a preset into activity options. Plain data, no I/O: safe to pass through the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from temporalio.common import RetryPolicy

# Activities heartbeat (activities.http.heartbeat.HeartbeatInterceptor) so an attempt on a
# worker that died is retried within this, not after its start-to-close timeout.
HEARTBEAT = timedelta(seconds=10)


@dataclass(frozen=True)
class CallOptions:
    """One kind of call to one system. `give_up` bounds all attempts together: past it the
    activity fails and the workflow kit turns that into a business outcome."""

    system: str
    start_to_close: timedelta
    give_up: timedelta
    retry: RetryPolicy
    heartbeat: timedelta | None = HEARTBEAT
    # How long the call takes when the system is healthy, retries included. A call still
    # running past it flags its process for attention (`step_retrying`) until it ends.
    expected: timedelta | None = None
    # A cancelled call resolves only once the activity has ended (an attempt in flight
    # finishes or stops first): for calls whose order at the receiver matters.
    wait_cancelled: bool = False

    def giving_up_after(self, give_up: timedelta) -> CallOptions:
        return replace(self, give_up=give_up)
