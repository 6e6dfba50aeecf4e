"""How workflows call the case sources (mail archive, forms portal, ERP history) and read the
case configuration: timeouts, retry schedule, give-up.

A source gives up after about an hour of failing attempts, so a dead source becomes a gap in
the case (retried on the case's own schedule, or by a person) rather than a call hanging for
a day. Plain data (no I/O), safe to import through the workflow sandbox.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.http.options import CallOptions

# The activities classify errors (4xx non-retryable; 429/5xx/timeouts retryable, Retry-After
# honoured), so one schedule fits every call to a source.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)

# One page of a source's listing (≤ 100 items, no content).
LIST = CallOptions(
    system="case-source",
    start_to_close=timedelta(minutes=1),
    give_up=timedelta(hours=1),
    retry=RETRY,
    expected=timedelta(minutes=10),
)

# Copy a batch (≤ 25 items) into the document store; the activity heartbeats per item.
FETCH = CallOptions(
    system="case-source",
    start_to_close=timedelta(minutes=10),
    give_up=timedelta(hours=1),
    retry=RETRY,
    expected=timedelta(minutes=15),
)

# The case type and sources as configured (local files): a broken bundle is retried for an
# hour while an operator fixes it.
PLAN = CallOptions(
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
