"""The benchmark stack's ECM event subscriptions: the checkout's `ecm-events.json` with a
third subscriber, time compressed, and rate limits that do not bind.

- *A third subscriber* (`records-archive`, on the webhook target simulator like the others)
  takes what erp-finance and project-portal take (created, versions, approvals), so every
  bench event is relayed to three systems. Only the bench's copy has it: `config/dev` and
  `tests/config/local` are unchanged.
- *Time compressed C times*: "a subscriber down for an hour" cannot take an hour in a
  benchmark. Every subscription keeps the standard Standard Webhooks schedule (immediately,
  5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — `benchmarks.content_bundle.compressed_schedule`),
  the hold of a document's events (`ordering.hold_s`) and the disable-after-failing time
  (5 days) are divided by C, so an hour's outage passes in 3600 / C seconds and no message
  is dead-lettered by a schedule shorter than the outage (the dev bundle's 10 short retries
  would be). The hold, divided too, keeps its role (events held after the last arrival and
  relayed in ECM's order) without making the latency figure the configured 2 s.
- *Rate limits* (20/s per worker and subscriber by default) are lifted to
  `BENCH_RATE_LIMIT_PER_S`, so events/s measure the system, not the configured limit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.content_bundle import BENCH_RATE_LIMIT_PER_S, compressed_schedule
from devstack.distribution import ECM_FILE

THIRD_SUBSCRIBER = "records-archive"
THIRD_SECRET = "value:whsec_YmVuY2gtcmVjb3Jkcy1hcmNoaXZlLXNlY3JldC0xMjM0"
RELAYED_TYPES = ["node.created", "node.version_added", "node.approved"]
FIVE_DAYS_S = 5 * 24 * 3600.0


def compressed_hold(hold_s: float, compression: float) -> float:
    return round(hold_s / compression, 4)


def rewrite_ecm_bundle(config_dir: Path, profile: str, compression: float) -> dict[str, Any]:
    """Rewrite `profile`'s `ecm-events.json` under `config_dir` (the bench's copy); the
    compressed figures the report quotes."""
    path = config_dir / profile / ECM_FILE
    bundle = json.loads(path.read_text())
    subscriptions: dict[str, Any] = bundle.setdefault("subscriptions", {})
    model = subscriptions.get("erp-finance") or next(iter(subscriptions.values()))
    endpoint = model["endpoint"].rsplit("/", 1)[0] + f"/{THIRD_SUBSCRIBER}"
    subscriptions[THIRD_SUBSCRIBER] = {
        "description": "Benchmark only: a records archive taking documents' lifecycle events",
        "endpoint": endpoint,
        "secret": THIRD_SECRET,
        "allowed_hosts": list(model["allowed_hosts"]),
        "event_types": list(RELAYED_TYPES),
    }
    schedule = compressed_schedule(compression)
    for subscription in subscriptions.values():
        subscription["retry_schedule_s"] = schedule
        subscription["rate_limit_per_s"] = BENCH_RATE_LIMIT_PER_S
        subscription["disable_after_s"] = round(
            float(subscription.get("disable_after_s", FIVE_DAYS_S)) / compression, 3
        )
    ordering = bundle.setdefault("ordering", {})
    configured_hold = float(ordering.get("hold_s", 2.0))
    ordering["hold_s"] = compressed_hold(configured_hold, compression)
    path.write_text(json.dumps(bundle, indent=2) + "\n")
    return {
        "compression": compression,
        "retry_schedule_s": schedule,
        "hold_s": ordering["hold_s"],
        "configured_hold_s": configured_hold,
        "subscriptions": sorted(subscriptions),
    }
