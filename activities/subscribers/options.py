"""How workflows call the ECM relay's subscriber activities.

A relay attempt is ONE HTTP attempt: the workflow runs the subscriber's schedule itself (each
attempt is logged with status, latency and excerpt in the document's history and status), so
the activity's own retries only cover a worker crash mid-attempt.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.http.options import CallOptions

ATTEMPT = CallOptions(
    system="subscriber",
    # A subscriber may take up to 120 s (its timeout_s), plus a short rate-limit wait.
    start_to_close=timedelta(minutes=3),
    give_up=timedelta(minutes=30),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=1),
        maximum_attempts=0,
        non_retryable_error_types=["SubscriptionNotFound", "EndpointNotAllowed"],
    ),
)

# Telling a subscriber's workflow about its health, or replaying an endpoint's failures.
CONTROL = CallOptions(
    system="temporal",
    start_to_close=timedelta(minutes=5),
    give_up=timedelta(hours=1),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=1),
        maximum_attempts=0,
    ),
)

# Reading this environment's subscriptions (who gets an operational event).
CONFIG = CallOptions(
    system="docflow",
    start_to_close=timedelta(minutes=1),
    give_up=timedelta(hours=6),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=5),
        maximum_attempts=0,
    ),
    expected=timedelta(minutes=2),
)
