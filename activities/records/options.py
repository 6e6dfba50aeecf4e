"""How every process writes the read model: a local database, retried for a week.

Plain data (no I/O), safe to import through the workflow sandbox.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.http.options import CallOptions

# A write is one short transaction. The database may be down or migrating for a while: the
# process goes on meanwhile (only its end waits for its last write), and a write given up
# after a week is repaired by the next change or `docflow records backfill`.
RECORD = CallOptions(
    system="read model",
    start_to_close=timedelta(seconds=30),
    give_up=timedelta(days=7),
    retry=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=2),
    ),
    heartbeat=None,
)
