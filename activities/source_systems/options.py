"""How workflows report to a source system: the Standard Webhooks-like schedule, retrying for
three days (5 s, 20 s, 80 s ... up to every 2 h) before the report is given up."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.http.options import CallOptions

REPORT = CallOptions(
    system="source-system",
    start_to_close=timedelta(seconds=30),
    give_up=timedelta(days=3),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=5),
        backoff_coefficient=4.0,
        maximum_interval=timedelta(hours=2),
    ),
    expected=timedelta(minutes=30),
)
