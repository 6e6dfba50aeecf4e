"""How every workflow calls Content Server: timeouts, retry schedule, when to give up.

Plain data (no I/O), safe to import through the workflow sandbox.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.http.options import CallOptions

# The activities classify errors themselves (4xx non-retryable, 429/5xx retryable with
# Retry-After as the next delay), so one schedule fits every call.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)

# Archiving (upload, new version, metadata, classification) and creating a workspace from a
# template (signing runs both with this preset today): an attempt may take minutes.
TRANSFER = CallOptions(
    system="content-server",
    start_to_close=timedelta(minutes=2),
    give_up=timedelta(hours=24),
    retry=RETRY,
    expected=timedelta(minutes=10),
)

# Single lookups and metadata writes: small form requests.
CALL = CallOptions(
    system="content-server",
    start_to_close=timedelta(seconds=30),
    give_up=timedelta(hours=24),
    retry=RETRY,
    expected=timedelta(minutes=10),
)

# Planning an ECM event (the bundle's rules; a rule's metadata read from Content Server).
PLAN_EVENT = CallOptions(
    system="content-server",
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

# One read of the watched workspaces' audit trails; a failed poll is retried at the next tick.
POLL_AUDIT = CallOptions(
    system="content-server",
    start_to_close=timedelta(minutes=10),
    give_up=timedelta(minutes=30),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=5),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=2),
        maximum_attempts=0,
        non_retryable_error_types=["BundleError", "AuthenticationError"],
    ),
    heartbeat=timedelta(minutes=1),
)
