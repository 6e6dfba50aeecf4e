"""How workflows call the validation activity: it reads local files, so attempts are short; a
broken bundle is retried for an hour while an operator fixes it, then the process gives up."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.http.options import CallOptions

VALIDATE = CallOptions(
    system="docflow-config",
    start_to_close=timedelta(seconds=30),
    give_up=timedelta(hours=1),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=2),
    ),
    expected=timedelta(minutes=5),
)
