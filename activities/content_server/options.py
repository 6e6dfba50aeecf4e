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
