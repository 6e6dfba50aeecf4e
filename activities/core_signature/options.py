"""How every workflow calls Core Signature: timeouts, retry schedule, when to give up.

Plain data (no I/O), safe to import through the workflow sandbox.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.http.options import CallOptions

# The activities classify errors themselves (4xx non-retryable, 429/5xx retryable with
# Retry-After as the next delay), so one schedule fits every call.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
)

# Cancel, status and other small JSON requests. A process that only polls may give up sooner
# (`CALL.giving_up_after(...)`; signing's status poll uses one hour).
CALL = CallOptions(
    system="core-signature",
    start_to_close=timedelta(seconds=30),
    give_up=timedelta(hours=24),
    retry=RETRY,
    expected=timedelta(minutes=10),
)

# Calls that move PDFs: create_signature_request (uploads the document) and
# fetch_signed_artifacts (downloads two files), as signing runs them today.
TRANSFER = CallOptions(
    system="core-signature",
    start_to_close=timedelta(minutes=2),
    give_up=timedelta(hours=24),
    retry=RETRY,
    expected=timedelta(minutes=10),
)
