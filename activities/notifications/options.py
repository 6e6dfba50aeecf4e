"""How every workflow calls the notification service: timeouts, retry schedule, give-up.

Plain data (no I/O), safe to import through the workflow sandbox.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.http.options import CallOptions

# A message that arrives an hour late has lost its point; the workflow decides what a
# give-up means (today: the run fails; the workflow kit will make it best-effort).
NOTIFY = CallOptions(
    system="notifications",
    start_to_close=timedelta(seconds=30),
    give_up=timedelta(hours=1),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=2),
        maximum_interval=timedelta(minutes=1),
    ),
)
