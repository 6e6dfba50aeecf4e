"""How workflows deliver to a content-distribution target. The target's own retry schedule
is enforced by the activity (each failure names the next delay; past the schedule it fails
with DeliveryExhausted), so the retry policy only sets a floor and a generous safety bound."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.http.options import CallOptions

DELIVER = CallOptions(
    system="target",
    # A target may take up to 300 s (its timeout_s), plus a short rate-limit wait.
    start_to_close=timedelta(minutes=6),
    give_up=timedelta(days=40),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(hours=10),
        maximum_attempts=0,
    ),
    expected=timedelta(minutes=5),
)
