"""The benchmark stack's configuration: a copy of the checkout's bundles in which every
content-distribution target keeps the standard retry schedule with time compressed, and a rate
limit that does not bind.

"A target down for an hour" cannot take an hour in a benchmark: with compression C, an hour
passes in 3600 / C seconds, and so do the schedule's delays (Standard Webhooks: immediately,
5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), so the down target's deliveries outlast the outage
the way they would in production. The per-worker rate limit (10/s by default) is lifted to
`BENCH_RATE_LIMIT_PER_S` so that items/s measure the system, not the configured limit.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from devstack.distribution import BUNDLE_FILE
from docflow.config.distribution import STANDARD_SCHEDULE_S

BENCH_RATE_LIMIT_PER_S = 10_000.0
HOUR_S = 3600.0


def compressed_schedule(compression: float) -> list[float]:
    """The standard schedule's delays divided by `compression` (milliseconds kept)."""
    return [round(delay / compression, 3) for delay in STANDARD_SCHEDULE_S]


def bench_config_dir(source: Path, profile: str, into: Path, compression: float) -> Path:
    """Copy every profile's bundle from `source` under `into` (a non-production bundle is
    checked against the prod one beside it) and rewrite `profile`'s targets; the new config
    directory."""
    config_dir = into / "config"
    shutil.copytree(source, config_dir, dirs_exist_ok=True)
    path = config_dir / profile / BUNDLE_FILE
    bundle = json.loads(path.read_text())
    for target in bundle["targets"].values():
        target["retry_schedule_s"] = compressed_schedule(compression)
        target["rate_limit_per_s"] = BENCH_RATE_LIMIT_PER_S
    path.write_text(json.dumps(bundle, indent=2) + "\n")
    return config_dir
