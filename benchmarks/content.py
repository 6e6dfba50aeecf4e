"""Part 5: content distribution — approval to every target beside its floor, then a target
down for a (time-compressed) hour.

1. *Throughput and latency.* Product items are seeded in the Amplience simulator (Draft) and
   moved to 'Approved' through its control API; the simulator sends its own signed webhook to
   the API's receiver, which signal-with-starts the item's ContentDistributionWorkflow; the
   workflow reads and routes the version (`plan_distribution`) and delivers it to the route's
   three targets and two channels in the webhook target simulator (`deliver_to_target`). An
   item's latency runs from the approval (just before the control call) to the last of its
   five messages received by the webhook target (its receive time, this machine's clock, so
   polling adds nothing). At most `content_window` items are approved but not yet delivered
   everywhere. The floor is the same path without Temporal: the simulator's webhooks pointed
   at `benchmarks.content_floor` (verify, read the version over HTTP, `plan_for`, sign and POST
   every message with the same WebhookSender), in alternating halves (floor, Temporal, floor,
   Temporal) so drift on the machine hits both.
2. *Outage.* One target answers 503 to everything (the webhook target's `down` knob) for an
   hour, compressed `content_compression` times (the bench stack's bundle compresses the
   targets' retry schedules as much, `benchmarks.content_bundle`), while `outage_items` items
   are approved at an even pace. The other targets must get every item during the outage
   (their latency is reported); after recovery the down target must get every item exactly
   once (the simulator keeps each webhook-id once and counts redeliveries); none lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from temporalio.client import Client

from benchmarks.content_bundle import HOUR_S, compressed_schedule
from benchmarks.content_floor import FLOOR_AMPLIENCE_PATH
from benchmarks.harness import Target
from benchmarks.monitor import ProcessMonitor
from benchmarks.options import BenchOptions
from benchmarks.stats import latency_summary, rate
from benchmarks.ticker import ticking
from devstack.distribution import distribution, endpoint_name
from docflow.settings import Settings

Progress = Callable[[str], None]
PRODUCT = "https://schema.docflow.example/product.json"
ROUTE = "products"  # three targets, two channels
DOWN_TARGET = "B2B_NETWORK"
CONTROL_IN_FLIGHT = 8  # seed / approve calls at once
POLL_S = 0.25
SETTLE_S = 120.0  # after the last approval of a throughput half, how long is waited
WORKFLOW = 'WorkflowType = "ContentDistributionWorkflow"'
PATHS = ("floor", "temporal")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def product(tag: str, index: int) -> dict[str, Any]:
    """A product every target's mapping takes (sku, title, price, currency, ...)."""
    return {
        "_meta": {"schema": PRODUCT},
        "sku": f"BC-{tag}-{index}",
        "title": f"Bench product {index}",
        "description": "A product of the content benchmark",
        "price": 10.0 + index % 90,
        "currency": "EUR",
        "url": f"https://cdn.example.com/bench/{tag}/{index}.jpg",
    }


# ------------------------------------------------------------------ the simulators
class ContentSims:
    """The Amplience and webhook target simulators' control APIs, as this phase uses them."""

    def __init__(self, target: Target, http: httpx.AsyncClient) -> None:
        self.amp = f"{target.amplience_url}/_control"
        self.sink = f"{target.webhook_target_url}/_control"
        self.http = http

    async def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, url, **kwargs)
        response.raise_for_status()
        return response.json()

    async def seed(self, tag: str, index: int) -> str:
        """A Draft product; its id."""
        body = {
            "label": f"Bench product {tag} {index}",
            "body": product(tag, index),
            "locale": "en-GB",
            "workflow_state": "Draft",
        }
        return str((await self._json("POST", f"{self.amp}/items", json=body))["id"])

    async def approve(self, item_id: str) -> float:
        """Move the item to 'Approved' (the simulator sends the webhook); when (epoch s)."""
        at = time.time()
        await self._json("POST", f"{self.amp}/items/{item_id}/workflow", json={"state": "Approved"})
        return at

    async def webhooks_to(self, url: str) -> None:
        await self._json("PUT", f"{self.amp}/webhook", json={"url": url})

    async def webhook_summary(self) -> dict[str, Any]:
        """The hub's approval webhooks so far, by state (one attempt each, as Amplience)."""
        params = {"summary": True, "event_type": "dynamic-content.content-item.workflow.updated"}
        result: dict[str, Any] = await self._json("GET", f"{self.amp}/webhooks", params=params)
        return result

    async def endpoint(self, name: str, **knobs: Any) -> None:
        """Set an endpoint's knobs (replaced whole; its secret and inbox are kept)."""
        await self._json("PUT", f"{self.sink}/endpoints/{name}", json=knobs)

    async def endpoints(self) -> dict[str, dict[str, Any]]:
        found = await self._json("GET", f"{self.sink}/endpoints")
        return {e["endpoint"]: e for e in found["results"]}

    async def deliveries(self, since: datetime) -> list[dict[str, Any]]:
        params = {"raw": False, "since": since.isoformat()}
        found = await self._json("GET", f"{self.sink}/deliveries", params=params)
        results: list[dict[str, Any]] = found["results"]
        return results


class DeliveryWatch:
    """Polls the webhook target: (item, endpoint) -> first received (epoch s) and copies."""

    def __init__(self, sims: ContentSims, endpoints: list[str]) -> None:
        self.sims = sims
        self.endpoints = endpoints
        self.at: dict[tuple[str, str], float] = {}
        self.copies: dict[tuple[str, str], int] = {}
        self._since = datetime.now(UTC)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> DeliveryWatch:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.read()

    async def read(self, since: datetime | None = None) -> None:
        newest = self._since
        for message in await self.sims.deliveries(since or self._since):
            data = message["payload"].get("data") or {}
            item = data.get("item_id")
            if not isinstance(item, str):
                continue
            key = (item, message["endpoint"])
            received = datetime.fromisoformat(message["received_at"])
            self.at[key] = received.timestamp()
            self.copies[key] = int(message["deliveries"])
            newest = max(newest, received)
        self._since = newest  # inclusive: a message received in the same instant is read again

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                await self.read()
            await asyncio.sleep(POLL_S)

    def last(self, item: str, endpoints: list[str] | None = None) -> float | None:
        """When the last of the item's messages arrived; None while one is missing."""
        times = [self.at.get((item, e)) for e in endpoints or self.endpoints]
        if any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    def complete(self, item: str) -> bool:
        return self.last(item) is not None

    async def wait(self, items: list[str], deadline: float) -> None:
        while time.monotonic() < deadline:
            if all(self.complete(i) for i in items):
                return
            await asyncio.sleep(POLL_S)


@dataclass
class PathRun:
    """Items approved along one path, and when each was approved (epoch s)."""

    path: str
    approved: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(
        self, watch: DeliveryWatch, targets: list[str], others: list[str]
    ) -> dict[str, Any]:
        """Per item: approved → the last of the three targets, of the endpoints other than
        the outage's down one, and of all five."""
        latencies: dict[str, list[float]] = {"targets": [], "others": [], "all": []}
        for item, at in self.approved.items():
            for name, endpoints in (("targets", targets), ("others", others), ("all", None)):
                last = watch.last(item, endpoints)
                if last is not None:
                    latencies[name].append(max(0.0, last - at))
        delivered = len(latencies["all"])
        return {
            "path": self.path,
            "approved": len(self.approved),
            "approve_failures": self.failures[:5],
            "delivered_everywhere": delivered,
            "lost": len(self.approved) - delivered,
            "wall_s": round(self.wall_s, 2),
            "items_per_s": rate(delivered, self.wall_s),
            "approved_to_targets_ms": latency_summary(latencies["targets"]),
            "approved_to_all_ms": latency_summary(latencies["all"]),
            "approved_to_others_ms": latency_summary(latencies["others"]),
        }


# ------------------------------------------------------------------ the phase
class ContentPhase:
    def __init__(
        self,
        options: BenchOptions,
        target: Target,
        client: Client,
        http: httpx.AsyncClient,
        monitor: ProcessMonitor,
        progress: Progress,
        tag: str,
    ) -> None:
        self.o = options
        self.client = client
        self.monitor = monitor
        self.progress = progress
        self.tag = tag
        self.sims = ContentSims(target, http)
        self.receiver_url = f"{target.api_url}/webhooks/amplience"
        self.floor_url = f"{target.api_url}{FLOOR_AMPLIENCE_PATH}"
        config = distribution(Settings())
        route = next(r for r in config.routes if r.name == ROUTE)
        self.targets = [endpoint_name(config.targets[t].endpoint) for t in route.targets]
        self.channels = [endpoint_name(config.targets[t].endpoint) for t in route.notify]
        self.endpoints = self.targets + self.channels
        self.down = endpoint_name(config.targets[DOWN_TARGET].endpoint)
        self.others = [e for e in self.endpoints if e != self.down]

    async def run(self) -> dict[str, Any]:
        rss_before = self.monitor.current_rss_mb()
        throughput = await self.throughput()
        paced = await self.paced()
        outage = await self.outage()
        phases = (
            "content_floor",
            "content_temporal",
            "content_paced_floor",
            "content_paced_temporal",
            "content_outage",
        )
        peak = max(self.monitor.peak_rss_by_phase.get(p, 0.0) for p in phases)
        failed = await self.client.count_workflows(
            f'{WORKFLOW} AND DocflowStatus = "integration_failed"'
        )
        return {
            "content": {
                **throughput,
                "paced": paced,
                "outage": outage,
                "integration_failed_workflows": failed.count,
                "worker_rss_mb": {
                    "before": rss_before,
                    "peak": peak,
                    "after": self.monitor.current_rss_mb(),
                },
            },
            "content_items_per_s": throughput["temporal"]["items_per_s"],
            "content_floor_items_per_s": throughput["floor"]["items_per_s"],
            "content_lost": throughput["temporal"]["lost"] + paced["temporal"]["lost"],
            "content_outage_lost": outage["lost"],
            "content_outage_duplicates": outage["down_target"]["duplicates"],
            "content_worker_peak_rss_mb": peak,
        }

    async def _seed(self, tag: str, count: int) -> list[str]:
        gate = asyncio.Semaphore(CONTROL_IN_FLIGHT)

        async def one(index: int) -> str:
            async with gate:
                return await self.sims.seed(tag, index)

        return list(await asyncio.gather(*(one(i) for i in range(count))))

    # -------------------------------------------------------------- throughput
    async def throughput(self) -> dict[str, Any]:
        o = self.o
        n = max(2, o.content_items)
        warm = max(1, o.warmup)
        self.progress(f"content: seeding {2 * (n + warm)} Draft products in Amplience")
        items = {
            path: await self._seed(f"{self.tag}-{path[0].upper()}", n)
            for path in ("floor", "temporal")
        }
        warm_items = {
            path: await self._seed(f"{self.tag}-W{path[0].upper()}", warm)
            for path in ("floor", "temporal")
        }
        runs = {path: PathRun(path) for path in ("floor", "temporal")}
        async with DeliveryWatch(self.sims, self.endpoints) as watch:
            try:
                self.progress(f"content: warm-up, {warm} items along each path")
                for path in ("floor", "temporal"):
                    await self._use(path)
                    await self._windowed(PathRun(path), warm_items[path], watch)
                half = n // 2
                for part in (slice(0, half), slice(half, None)):
                    for path in ("floor", "temporal"):
                        chosen = items[path][part]
                        self.progress(
                            f"content: {len(chosen)} items through the "
                            + (
                                "floor (no Temporal)"
                                if path == "floor"
                                else "receiver and workflows"
                            )
                            + f", at most {o.content_window} undelivered"
                        )
                        await self._use(path)
                        with self.monitor.phase(f"content_{path}"):
                            await self._windowed(runs[path], chosen, watch)
            finally:
                await self.sims.webhooks_to(self.receiver_url)
        summaries = {
            path: run.summary(watch, self.targets, self.others) for path, run in runs.items()
        }
        return {
            "items_per_path": n,
            "window": o.content_window,
            "targets": self.targets,
            "channels": self.channels,
            **summaries,
            "temporal_vs_floor_ratio": round(
                summaries["temporal"]["items_per_s"] / summaries["floor"]["items_per_s"], 3
            )
            if summaries["floor"]["items_per_s"]
            else 0.0,
            "amplience_workflow_webhooks": await self.sims.webhook_summary(),
        }

    async def _use(self, path: str) -> None:
        await self.sims.webhooks_to(self.floor_url if path == "floor" else self.receiver_url)

    async def _windowed(self, run: PathRun, items: list[str], watch: DeliveryWatch) -> None:
        """Approve every item, keeping at most `content_window` approved but not delivered
        everywhere; then wait until all are (or SETTLE_S). The run's wall time runs from the
        first approval to the last message received."""
        gate = asyncio.Semaphore(CONTROL_IN_FLIGHT)
        window = self.o.content_window

        async def approve(item: str) -> None:
            async with gate:
                try:
                    run.approved[item] = await self.sims.approve(item)
                except httpx.HTTPError as exc:
                    run.failures.append(f"{item}: {type(exc).__name__}: {exc}"[:300])

        started = time.time()
        tasks: list[asyncio.Task[None]] = []
        issued = 0
        while issued < len(items):
            done = sum(1 for i in items[:issued] if watch.complete(i))
            take = max(0, min(len(items) - issued, done + window - issued))
            tasks += [asyncio.create_task(approve(i)) for i in items[issued : issued + take]]
            issued += take
            await asyncio.sleep(POLL_S / 5)
        await asyncio.gather(*tasks)
        await watch.wait(items, time.monotonic() + SETTLE_S)
        await watch.read()
        lasts = [t for t in (watch.last(i) for i in items) if t is not None]
        run.wall_s += (max(lasts) if lasts else time.time()) - started

    # -------------------------------------------------------------- paced latency
    def _outage_rate(self) -> float:
        """Approvals per second during the outage: its items over the compressed hour."""
        return self.o.outage_items * self.o.content_compression / HOUR_S

    async def paced(self) -> dict[str, Any]:
        """Latency without a window: `content_paced_items` approvals per path, open loop at
        the outage's rate, every target up (the baseline the outage is compared with)."""
        n = self.o.content_paced_items
        per_second = self._outage_rate()
        self.progress(f"content: seeding {2 * n} Draft products for the paced runs")
        items = {path: await self._seed(f"{self.tag}-P{path[0].upper()}", n) for path in PATHS}
        runs = {path: PathRun(path) for path in PATHS}
        async with DeliveryWatch(self.sims, self.endpoints) as watch:
            try:
                for path in PATHS:
                    self.progress(f"content: {n} approvals at {per_second:.3g}/s, {path} path")
                    await self._use(path)
                    run = runs[path]
                    with self.monitor.phase(f"content_paced_{path}"):
                        started = time.time()
                        await self._paced(items[path], n / per_second, run.approved, run.failures)
                        await watch.wait(items[path], time.monotonic() + SETTLE_S)
                        await watch.read()
                    lasts = [t for t in (watch.last(i) for i in items[path]) if t is not None]
                    run.wall_s = (max(lasts) if lasts else time.time()) - started
            finally:
                await self.sims.webhooks_to(self.receiver_url)
        return {
            "rate_per_s": round(per_second, 2),
            "items_per_path": n,
            **{path: run.summary(watch, self.targets, self.others) for path, run in runs.items()},
        }

    # -------------------------------------------------------------- outage
    async def outage(self) -> dict[str, Any]:
        o = self.o
        m = o.outage_items
        outage_s = HOUR_S / o.content_compression
        others = self.others
        self.progress(f"content: seeding {m} Draft products for the outage")
        items = await self._seed(f"{self.tag}-O", m)
        approved: dict[str, float] = {}
        failures: list[str] = []
        self.progress(
            f"content: {self.down} down for an hour compressed {o.content_compression:g}x "
            f"({outage_s:g} s); approving {m} items meanwhile"
        )
        async with DeliveryWatch(self.sims, self.endpoints) as watch:
            with self.monitor.phase("content_outage"):
                await self.sims.endpoint(self.down, down=True)
                down_at = time.time()
                await self._paced(items, outage_s, approved, failures)
                await asyncio.sleep(max(0.0, down_at + outage_s - time.time()))
                # Before the call: a delivery the lifted knob lets through may arrive before
                # the call returns, and must not count as one during the outage.
                up_at = time.time()
                await self.sims.endpoint(self.down, down=False)
                others_at_recovery = sum(1 for i in items if watch.last(i, others) is not None)
                self.progress(
                    f"content: {self.down} back after {up_at - down_at:.1f} s; the others "
                    f"have {others_at_recovery}/{m}; waiting for it to drain"
                )
                # The standard schedule's fifth attempt is 2 h 35 min after the first: an
                # item first refused 25 min into the outage waits about 2 h past recovery.
                drain_bound = 3 * HOUR_S / o.content_compression + 60
                async with ticking(
                    f"content: {self.down} delivered",
                    m,
                    self._counter(watch, items, [self.down]),
                    self.progress,
                ):
                    await watch.wait(items, time.monotonic() + drain_bound)
        await watch.read(since=datetime.fromtimestamp(down_at, UTC))
        attempts = (await self.sims.endpoints())[self.down]["attempts"]
        mine = set(items)
        return self._outage_summary(
            items, approved, failures, watch, others, down_at, up_at, others_at_recovery
        ) | {
            "down_target_answers": _answers(attempts, down_at, up_at, mine),
        }

    def _counter(
        self, watch: DeliveryWatch, items: list[str], endpoints: list[str]
    ) -> Callable[[], Awaitable[int]]:
        async def count() -> int:
            return sum(1 for i in items if watch.last(i, endpoints) is not None)

        return count

    async def _paced(
        self, items: list[str], seconds: float, approved: dict[str, float], failures: list[str]
    ) -> None:
        """Open loop: one approval every `seconds / len(items)`."""

        async def one(item: str) -> None:
            try:
                approved[item] = await self.sims.approve(item)
            except httpx.HTTPError as exc:
                failures.append(f"{item}: {type(exc).__name__}: {exc}"[:300])

        tasks = []
        started = time.perf_counter()
        for index, item in enumerate(items):
            delay = started + index * seconds / len(items) - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(item)))
        await asyncio.gather(*tasks)

    def _outage_summary(
        self,
        items: list[str],
        approved: dict[str, float],
        failures: list[str],
        watch: DeliveryWatch,
        others: list[str],
        down_at: float,
        up_at: float,
        others_at_recovery: int,
    ) -> dict[str, Any]:
        o = self.o
        other_latency, during = [], []
        down_latency, after_recovery, early = [], [], 0
        copies: list[int] = []
        for item, at in approved.items():
            last_other = watch.last(item, others)
            if last_other is not None:
                other_latency.append(last_other - at)
                if last_other < up_at:
                    during.append(last_other - at)
            got = watch.at.get((item, self.down))
            if got is not None:
                copies.append(watch.copies.get((item, self.down), 1))
                if got < up_at:
                    early += 1
                else:
                    after_recovery.append(got - up_at)
                down_latency.append(got - at)
        delivered = sum(1 for i in items if watch.complete(i))
        drain = max(after_recovery) if after_recovery else 0.0
        return {
            "items": len(items),
            "compression": o.content_compression,
            "outage_s": round(up_at - down_at, 2),
            "retry_schedule_s": compressed_schedule(o.content_compression),
            "approved": len(approved),
            "approve_failures": failures[:5],
            "down_endpoint": self.down,
            "other_endpoints": others,
            "others": {
                "delivered": sum(1 for i in items if watch.last(i, others) is not None),
                "delivered_during_outage": others_at_recovery,
                "approved_to_all_ms": latency_summary(other_latency),
                "approved_to_all_during_outage_ms": latency_summary(during),
            },
            "down_target": {
                "delivered": len(copies),
                "delivered_before_recovery": early,
                "exactly_once": sum(1 for c in copies if c == 1),
                "duplicates": sum(c - 1 for c in copies),
                "recovery_to_delivered_ms": latency_summary(after_recovery),
                "approved_to_delivered_ms": latency_summary(down_latency),
                "drain_s": round(drain, 2),
                "drain_compressed_hours": round(drain * o.content_compression / HOUR_S, 2),
            },
            "delivered_everywhere": delivered,
            "lost": len(items) - delivered,
        }


def _answers(
    attempts: list[dict[str, Any]], down_at: float, up_at: float, mine: set[str]
) -> dict[str, int]:
    """The down endpoint's answers to this run's items (webhook-id `item:version:target`):
    during the outage and after."""
    counts = {"during_outage": 0, "after_recovery": 0}
    for attempt in attempts:
        if str(attempt.get("webhook_id") or "").split(":", 1)[0] not in mine:
            continue
        at = _epoch(attempt["at"])
        if at >= down_at:
            counts["during_outage" if at < up_at else "after_recovery"] += 1
    return counts
