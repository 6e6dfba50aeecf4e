"""How workflows call business systems' process APIs and read the lifecycle rules: timeouts,
retry schedule, give-up. Plain data (no I/O), safe to import through the workflow sandbox."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.http.options import CallOptions

# The activities classify errors (4xx non-retryable; 408/429/5xx/timeouts retryable with
# Retry-After), so one schedule fits every call.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)

# Start a process: the workflow id is the idempotency key, so a retry after a lost answer is
# the same process. An ERP down for a day gives up: the action fails and support is told.
START = CallOptions(
    system="business-system",
    start_to_close=timedelta(seconds=60),
    give_up=timedelta(hours=24),
    retry=RETRY,
    expected=timedelta(minutes=10),
)

# One read of a process (confirming a result event); the poll's clock is the workflow's.
READ = CallOptions(
    system="business-system",
    start_to_close=timedelta(seconds=30),
    give_up=timedelta(hours=1),
    retry=RETRY,
    expected=timedelta(minutes=5),
)

# The poll for a finished process (`await_business_process`): its retry policy is replaced by
# the poll clock (workflow kit, await_outcome); this gives the per-attempt timeout.
POLL = CallOptions(
    system="business-system",
    start_to_close=timedelta(seconds=30),
    give_up=timedelta(days=7),
    retry=RETRY,
)

# The lifecycle rules as configured (local files): a broken bundle is retried for an hour
# while an operator fixes it.
RESOLVE = CallOptions(
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
