"""Sizes of a benchmark run: `quick` (a smoke check of a few minutes) or full; and which
phases run (all by default)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PHASES = ("pipeline", "callbacks", "scale", "workspaces", "content", "ecm", "records")


@dataclass(frozen=True)
class BenchOptions:
    quick: bool = False
    docs: int = 200  # B0 and B1 measured documents each
    concurrency: int = 20  # documents in flight in B0 and B1
    warmup: int = 5
    parked: int = 200  # processes parked for the callback runs
    callbacks: int = 2000  # requests per throughput run (bare, then real receiver)
    callback_concurrency: int = 32
    paced_rate: float = 100.0  # callbacks per second in the latency run
    paced_seconds: float = 10.0
    scale: int = 10_000  # processes parked at once in part 3
    scale_concurrency: int = 50  # HTTP starts / signatures in flight in part 3
    workspaces: int = 10_000  # business objects created (and kept live) in part 4
    workspace_window: int = 100  # objects created but not yet written back, at most
    change_rate: float = 50.0  # renames per second in the change-latency runs
    change_seconds: float = 60.0  # length of the change runs of each path (floor, Temporal)
    rest_seconds: float = 10.0  # idle after provisioning before the worker's RSS "at rest"
    content_items: int = 1000  # items approved per path (Temporal, floor) in part 5
    content_window: int = 50  # items approved but not yet delivered everywhere, at most
    content_paced_items: int = 200  # per path, approved at the outage's rate, all targets up
    outage_items: int = 1000  # items approved while one target is down
    content_compression: float = 30.0  # time compression: an hour's outage takes 3600/C s
    ecm_documents: int = 250  # documents per path (throughput), each with its events
    ecm_events_per_document: int = 4  # created, versions, approved
    ecm_window: int = 100  # events submitted but not yet delivered to all three, at most
    ecm_paced_events: int = 200  # per path, open loop at ecm_paced_rate (latency)
    ecm_paced_rate: float = 5.0  # events per second in the latency runs
    ecm_outage_events: int = 10_000  # events arriving while one subscriber is down
    ecm_outage_documents: int = 1000  # the documents they are about
    ecm_compression: float = 30.0  # the ECM subscriptions' schedules and hold, and the outage
    ecm_outage: bool | None = None  # None: with --faults, or when it fits in about a minute
    records: int = 100_000  # process records seeded into the read model in part 7
    records_batch: int = 5000  # changes per bulk_apply call (one transaction each)
    records_rate: float = 200.0  # requests per second, open loop, records API and its floor
    records_seconds: float = 30.0  # length of each open-loop run
    records_connections: int = 64  # senders (connections) of the open loop
    records_probe: int = 20  # requests of each kind alone, one at a time (unloaded cost)
    records_url: str | None = None  # None: SQLite in the run's directory
    records_download_clients: int = 4  # concurrent downloads (portal, static server)
    records_download_seconds: float = 10.0  # per file, mode and server
    phases: tuple[str, ...] = PHASES
    profile: bool = False
    faults: bool = False
    out_dir: Path = BENCH_DIR

    @classmethod
    def preset(cls, quick: bool, **overrides: Any) -> BenchOptions:
        """The full or quick sizes, with any explicitly given value on top."""
        base = cls()
        if quick:
            base = replace(
                base,
                quick=True,
                docs=10,
                concurrency=5,
                warmup=2,
                parked=20,
                callbacks=100,
                callback_concurrency=16,
                paced_seconds=1.0,
                scale=50,
                workspaces=500,
                change_seconds=10.0,
                content_items=100,
                content_paced_items=50,
                outage_items=100,
                content_compression=360.0,
                ecm_documents=50,
                ecm_paced_events=50,
                ecm_outage_events=200,
                ecm_outage_documents=50,
                ecm_compression=360.0,
                records=5000,
                records_seconds=5.0,
                records_download_seconds=2.0,
            )
        given = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(given.get("phases", ())) - set(PHASES)
        if unknown:
            raise ValueError(f"unknown phase {', '.join(sorted(unknown))} (phases: {PHASES})")
        return replace(base, **given)
