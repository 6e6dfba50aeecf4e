"""How every workflow calls Amplience: timeouts, retry schedule, when to give up.

Plain data (no I/O), safe to import through the workflow sandbox. Amplience documents no
`Retry-After` for its 429s (publish + unpublish: 100 per minute), so the back-off is the
retry policy's own: exponential, doubling from 2 s up to 2 minutes.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.http.options import CallOptions

# The activities classify errors (4xx non-retryable, 429/5xx retryable), as Core Signature's.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
)

# Reads, creates, PATCHes (with their conflict re-reads) and workflow moves.
CALL = CallOptions(
    system="amplience",
    start_to_close=timedelta(seconds=60),
    give_up=timedelta(hours=24),
    retry=RETRY,
    expected=timedelta(minutes=5),
)

# Publish and follow the publishing job to COMPLETED or FAILED (polls inside the attempt).
PUBLISH = CallOptions(
    system="amplience",
    start_to_close=timedelta(minutes=6),
    give_up=timedelta(hours=24),
    retry=RETRY,
    expected=timedelta(minutes=15),
)

# Content Delivery 2 reads by downstream-facing processes.
DELIVERY = CallOptions(
    system="amplience",
    start_to_close=timedelta(seconds=30),
    give_up=timedelta(hours=1),
    retry=RETRY,
    expected=timedelta(minutes=2),
)
