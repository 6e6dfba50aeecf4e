"""How a promotion calls its activities. Plain data (no I/O), safe through the sandbox."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.http.options import CallOptions

# Reading the candidate, diffing and validating it: local work, retried briefly (a database
# or document store restarting), then the promotion is refused with the reason.
CHECK = CallOptions(
    system="configuration",
    start_to_close=timedelta(minutes=1),
    give_up=timedelta(minutes=30),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
    ),
    heartbeat=None,
)
# The live checks call every system the bundle names, each with its own timeout; an
# unreachable system is a failed check in the report, not an activity failure.
LIVE = CallOptions(
    system="live systems",
    start_to_close=timedelta(minutes=5),
    give_up=timedelta(hours=1),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=5),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=1),
    ),
    heartbeat=None,
)
# Applying is one transaction; the database may be down for a while: keep trying for a day.
APPLY = CallOptions(
    system="configuration",
    start_to_close=timedelta(seconds=30),
    give_up=timedelta(days=1),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=2),
    ),
    heartbeat=None,
)
