"""Part 6: the ECM event relay — events relayed to three subscribers beside their floor, event
→ delivered latency, then one subscriber down for a (time-compressed) hour.

Events are submitted the cheapest realistic way: the load generator signs docflow's ECM event
contract (Standard Webhooks, the bundle's ECM secret) and POSTs it, as the Content Server's
event handler would, to the API's receiver (`POST /webhooks/ecm`: verify, parse,
`submit_event` = signal-with-start of the document's EcmDocumentWorkflow) — or, for the floor,
to `POST /bench/bare-ecm` (`benchmarks.ecm_floor`: the same verification and parsing, a bare
signal-with-start, then one signed POST per subscriber, inline). No Content Server node is
involved: every document's first event is its creation, so the relay never reads the audit
trail, and the names match no lifecycle rule. A document's events are sent in its order
(each waits for the previous one's answer), documents interleaved.

1. *Throughput.* `ecm_documents` documents per path, `ecm_events_per_document` events each
   (created, versions added, approved), at most `ecm_window` events sent but not yet received
   by all three subscribers (erp-finance, project-portal and the bench bundle's
   records-archive on the webhook target simulator); halves alternate (floor, Temporal,
   floor, Temporal) after a warm-up. events/s = events received by all three over the time
   from the half's first send to its last receipt.
2. *Latency.* `ecm_paced_events` per path sent open loop at `ecm_paced_rate`: an event's
   latency runs from just before its POST to the last of the three subscribers' receive
   times (the simulator's clock, this machine's; polling adds nothing).
3. *Outage* (with `--faults` or `--ecm-outage`, or on its own when the compressed hour and
   its drain fit in about a minute): project-portal answers 503 to everything for an hour
   compressed `ecm_compression` times while `ecm_outage_events` events about
   `ecm_outage_documents` documents are sent at an even pace; it is back when the compressed
   hour has passed and the receiver has taken the last of them (so every event arrives while
   it is down). Every event must reach every subscriber exactly once (webhook-id; the
   simulator counts redeliveries) and, per document, in the document's order (arrival order
   at each subscriber against the events' order and the relay's `sequence`); none lost. The
   worker's peak RSS is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from benchmarks.content_bundle import HOUR_S, compressed_schedule
from benchmarks.ecm_bundle import THIRD_SUBSCRIBER, compressed_hold
from benchmarks.ecm_floor import FLOOR_ECM_PATH
from benchmarks.harness import Target
from benchmarks.monitor import ProcessMonitor
from benchmarks.options import BenchOptions
from benchmarks.stats import latency_summary, rate, ratio
from benchmarks.ticker import ticking
from devstack.distribution import subscriptions
from docflow.ecm_intake import submit_event
from docflow.models.ecm_events import (
    DocumentEventsStatus,
    EcmEvent,
    EcmNode,
    EndpointHealth,
    document_workflow_id,
    subscriber_workflow_id,
)
from docflow.settings import Settings
from starter.processes.ecm_events import EcmWebhook, event_from_webhook

Progress = Callable[[str], None]
Key = tuple[int, str, int]  # (node id, event type, version): one event
SUBSCRIBERS = ["erp-finance", "project-portal", THIRD_SUBSCRIBER]
DOWN = "project-portal"
RECEIVER_PATH = "/webhooks/ecm"
NODE_BASE = 900_000_000  # far above the Content Server simulator's node ids
WORKSPACE = {"id": 990_001, "ext_system_id": "SAP", "bo_type": "Supplier", "bo_id": "V-BENCH"}
FOLDER = 990_002
AUDIT_EVENT = {"node.created": 1, "node.version_added": 28, "node.approved": 265}
HTTP_IN_FLIGHT = 32  # event POSTs at once
POLL_S = 0.25
OUTAGE_POLL_S = 1.0
SETTLE_S = 120.0  # after a run's last send, how long undelivered events are waited for
SEND_TRIES = 10  # a 503 (Temporal busy) or a refused connection is sent again, as a sender does
OUTAGE_WITHOUT_FAULTS_S = 60.0  # the outage runs without --faults when it fits in this
PATHS = ("floor", "temporal")
# The latency runs also hand events straight to the intake with no hold (`submit_event`,
# hold_s=0), to tell the relay's own latency from the hold's.
NO_HOLD = "temporal_no_hold"
PACED_PATHS = (*PATHS, NO_HOLD)
DOCUMENT_WORKFLOW = 'WorkflowType = "EcmDocumentWorkflow"'
TRACED_DOCUMENTS = 30  # documents of the paced temporal run whose histories are read
E = EventType


def _at(event: HistoryEvent) -> float:
    return float(event.event_time.ToMicroseconds()) / 1e6


def trace_history(events: list[HistoryEvent]) -> dict[str, list[float]]:
    """Where a document workflow's time goes (server clock, seconds): each workflow task's
    and activity's queue wait (scheduled → started) and run (started → completed), by kind,
    the hold timers, and each signal → the first relay activity scheduled after it."""
    by_id = {e.event_id: e for e in events}
    spans: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        spans.setdefault(name, []).append(max(0.0, seconds))

    activity_of: dict[int, str] = {}
    signals: list[float] = []
    for event in events:
        kind = event.event_type
        if kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signals.append(_at(event))
        elif kind == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            scheduled = by_id.get(event.workflow_task_started_event_attributes.scheduled_event_id)
            if scheduled is not None:
                add("workflow_task_wait", _at(event) - _at(scheduled))
        elif kind == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            started = by_id.get(event.workflow_task_completed_event_attributes.started_event_id)
            if started is not None:
                add("workflow_task_run", _at(event) - _at(started))
        elif kind == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            activity_of[event.event_id] = name
            if name == "relay_to_subscriber" and signals:
                add("signal_to_first_relay_scheduled", _at(event) - signals.pop(0))
                signals.clear()
        elif kind == E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            scheduled = by_id.get(attrs.scheduled_event_id)
            if scheduled is not None:
                add(
                    f"{activity_of.get(attrs.scheduled_event_id)}_wait", _at(event) - _at(scheduled)
                )
        elif kind == E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs = event.activity_task_completed_event_attributes
            started = by_id.get(attrs.started_event_id)
            if started is not None:
                add(f"{activity_of.get(attrs.scheduled_event_id)}_run", _at(event) - _at(started))
        elif kind == E.EVENT_TYPE_TIMER_FIRED:
            started = by_id.get(event.timer_fired_event_attributes.started_event_id)
            if started is not None:
                add("hold_timer", _at(event) - _at(started))
    add("history_events", float(len(events)))
    return spans


@dataclass(frozen=True)
class BenchEvent:
    """One Content Server event of a bench document."""

    node: int
    index: int  # its place in the document's life
    type: str
    version: int

    @property
    def key(self) -> Key:
        return (self.node, self.type, self.version)

    def message_id(self) -> str:
        """The relay's webhook-id for it (`msg_` + the event key's digest)."""
        event = EcmEvent(
            type=self.type,
            node=EcmNode(id=self.node, version=self.version),
            audit_date="-",
            received_at=datetime.now(UTC),
        )
        return f"msg_{event.key_digest}"


def document_events(node: int, count: int) -> list[BenchEvent]:
    """A document's life in `count` events: created (v1), versions 2.. added, the last
    version approved."""
    events = [BenchEvent(node, 0, "node.created", 1)]
    for version in range(2, count):
        events.append(BenchEvent(node, len(events), "node.version_added", version))
    if count >= 2:
        events.append(BenchEvent(node, len(events), "node.approved", max(1, count - 1)))
    return events


def interleaved(documents: list[list[BenchEvent]]) -> list[BenchEvent]:
    """Every document's first event, then every second one, ...: documents interleaved, each
    in its own order."""
    longest = max((len(d) for d in documents), default=0)
    return [d[r] for r in range(longest) for d in documents if r < len(d)]


# ------------------------------------------------------------------ sending
class EventSender:
    """Signs docflow's ECM event contract with the bundle's secret and POSTs it."""

    def __init__(self, http: httpx.AsyncClient, secret: str) -> None:
        self.http = http
        self.webhook = Webhook(secret)
        self.statuses: Counter[str] = Counter()
        self.resent = 0
        self._gate = asyncio.Semaphore(HTTP_IN_FLIGHT)

    def _signed(self, event: BenchEvent) -> tuple[str, dict[str, str]]:
        now = datetime.now(UTC)
        body = json.dumps(
            {
                "type": event.type,
                "timestamp": now.isoformat(),
                "data": {
                    "node": {
                        "id": event.node,
                        "parent_id": FOLDER,
                        "name": f"Bench delivery note {event.node}.pdf",
                        "type": 144,
                        "version": event.version,
                    },
                    "workspace": WORKSPACE,
                    "audit": {
                        "event_type": AUDIT_EVENT.get(event.type),
                        "audit_date": now.isoformat(),
                    },
                    "version": event.version,
                },
            }
        )
        msg_id = f"msg_bench_{event.node}_{event.index}"
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.webhook.sign(msg_id, now, body),
            "content-type": "application/json",
        }
        return body, headers

    def event(self, event: BenchEvent) -> EcmEvent:
        """The event as the receiver would hand it to the intake."""
        body, headers = self._signed(event)
        raw = json.loads(body)
        message = EcmWebhook.model_validate(raw)
        return event_from_webhook(raw, message, headers["webhook-id"], datetime.now(UTC))

    async def submit(
        self, event: BenchEvent, client: Client, task_queue: str, environment: str
    ) -> float:
        """`submit_event` directly (signal-with-start), with no hold; when (epoch s)."""
        at = time.time()
        async with self._gate:
            await submit_event(
                client,
                self.event(event),
                task_queue=task_queue,
                environment=environment,
                hold_s=0.0,
            )
        self.statuses["submit_event"] += 1
        return at

    async def send(self, event: BenchEvent, url: str) -> float:
        """POST until taken (2xx); when it was first sent (epoch s)."""
        first: float | None = None
        async with self._gate:
            for tries in range(1, SEND_TRIES + 1):
                body, headers = self._signed(event)
                at = time.time()
                first = first if first is not None else at
                try:
                    response = await self.http.post(url, content=body, headers=headers)
                except httpx.TransportError as exc:
                    self.statuses[type(exc).__name__] += 1
                else:
                    self.statuses[str(response.status_code)] += 1
                    if response.is_success:
                        return first
                    if response.status_code not in (429, 500, 502, 503, 504):
                        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
                if tries < SEND_TRIES:
                    self.resent += 1
                    await asyncio.sleep(min(0.5 * tries, 3.0))
        raise RuntimeError(f"not taken after {SEND_TRIES} tries")


# ------------------------------------------------------------------ receiving
class RelayWatch:
    """Polls the webhook target: (endpoint, event) -> first received (epoch s), copies and
    the webhook-ids that carried it, for the bench's documents."""

    def __init__(self, sink_url: str, http: httpx.AsyncClient, poll_s: float = POLL_S) -> None:
        self.url = f"{sink_url}/_control/deliveries"
        self.http = http
        self.poll_s = poll_s
        self.at: dict[tuple[str, Key], float] = {}
        self.copies: dict[tuple[str, Key], int] = {}
        self.ids: dict[tuple[str, Key], set[str]] = {}
        self._since = datetime.now(UTC)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RelayWatch:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.read()

    async def messages(self, since: datetime, endpoint: str | None = None) -> list[dict[str, Any]]:
        """The bench's messages received since `since`, in arrival order per endpoint."""
        params: dict[str, Any] = {"raw": False, "since": since.isoformat()}
        if endpoint is not None:
            params["endpoint"] = endpoint
        response = await self.http.get(self.url, params=params)
        response.raise_for_status()
        found: list[dict[str, Any]] = []
        for message in response.json()["results"]:
            data = message["payload"].get("data") or {}
            node = data.get("node") if isinstance(data, dict) else None
            if isinstance(node, dict) and int(node.get("id") or 0) >= NODE_BASE:
                found.append(message)
        return found

    async def read(self, since: datetime | None = None) -> None:
        newest = self._since
        for message in await self.messages(since or self._since):
            key = (message["endpoint"], message_key(message))
            received = datetime.fromisoformat(message["received_at"])
            self.at[key] = received.timestamp()
            self.copies[key] = int(message["deliveries"])
            self.ids.setdefault(key, set()).add(message["webhook_id"])
            newest = max(newest, received)
        self._since = newest  # inclusive: a message received in the same instant is read again

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                await self.read()
            await asyncio.sleep(self.poll_s)

    def last(self, key: Key, endpoints: Iterable[str] = SUBSCRIBERS) -> float | None:
        """When the last of the endpoints received the event; None while one has not."""
        times = [self.at.get((e, key)) for e in endpoints]
        if any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    def complete(self, key: Key) -> bool:
        return self.last(key) is not None

    async def wait(self, keys: list[Key], deadline: float) -> None:
        while time.monotonic() < deadline:
            if all(self.complete(k) for k in keys):
                return
            await asyncio.sleep(self.poll_s)


def message_key(message: dict[str, Any]) -> Key:
    node = message["payload"]["data"]["node"]
    return (int(node["id"]), str(message["payload"].get("type")), int(node.get("version") or 0))


@dataclass
class PathRun:
    """Events sent along one path: when each was first sent (epoch s)."""

    path: str
    sent: dict[Key, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self, watch: RelayWatch) -> dict[str, Any]:
        latencies = [
            max(0.0, last - at)
            for key, at in self.sent.items()
            if (last := watch.last(key)) is not None
        ]
        return {
            "path": self.path,
            "sent": len(self.sent),
            "send_failures": self.failures[:5],
            "delivered_to_all": len(latencies),
            "lost": len(self.sent) + len(self.failures) - len(latencies),
            "wall_s": round(self.wall_s, 2),
            "events_per_s": rate(len(latencies), self.wall_s),
            "event_to_delivered_ms": latency_summary(latencies),
        }


# ------------------------------------------------------------------ the phase
class EcmPhase:
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
        self.http = http
        self.monitor = monitor
        self.progress = progress
        self.tag = tag
        self.sink = target.webhook_target_url
        self.urls = {
            "temporal": f"{target.api_url}{RECEIVER_PATH}",
            "floor": f"{target.api_url}{FLOOR_ECM_PATH}",
            NO_HOLD: NO_HOLD,
        }
        self.task_queue = target.task_queue
        settings = Settings()
        config = subscriptions(settings)
        if config.secret is None:
            raise RuntimeError("this environment's ecm-events.json takes no ECM webhooks")
        self.sender = EventSender(http, settings.secret(config.secret))
        self.configured_hold_s = config.ordering.hold_s
        self.environment = settings.profile
        self._next_node = NODE_BASE

    def _documents(self, count: int, events_each: int) -> list[list[BenchEvent]]:
        first, self._next_node = self._next_node, self._next_node + count
        return [document_events(first + i, events_each) for i in range(count)]

    def outage_runs(self) -> bool:
        """As asked (`--ecm-outage/--no-ecm-outage`); else with --faults, or when the hour
        compressed plus the schedule's drain (about two compressed hours) fit in a minute."""
        if self.o.ecm_outage is not None:
            return self.o.ecm_outage
        return self.o.faults or 3 * HOUR_S / self.o.ecm_compression <= OUTAGE_WITHOUT_FAULTS_S

    async def run(self) -> dict[str, Any]:
        rss_before = self.monitor.current_rss_mb()
        throughput = await self.throughput()
        paced = await self.paced()
        outage: dict[str, Any] = (
            await self.outage()
            if self.outage_runs()
            else {
                "ran": False,
                "reason": "skipped (--no-ecm-outage)"
                if self.o.ecm_outage is False
                else "takes more than a minute at this compression: run with --faults "
                "or --ecm-outage",
            }
        )
        phases = ["ecm_floor", "ecm_temporal", "ecm_outage"]
        phases += [f"ecm_paced_{path}" for path in PACED_PATHS]
        peak = max(self.monitor.peak_rss_by_phase.get(p, 0.0) for p in phases)
        failed = await self.client.count_workflows(
            f'{DOCUMENT_WORKFLOW} AND DocflowStatus = "relay_failed"'
        )
        result: dict[str, Any] = {
            "ecm": {
                "submission": "signed webhooks (docflow's ECM event contract) POSTed by the "
                "load generator: to /webhooks/ecm (Temporal path), to /bench/bare-ecm (floor); "
                "the no-hold latency run calls submit_event (the receiver's call) directly",
                "subscribers": SUBSCRIBERS,
                "bundle": {
                    "compression": self.o.ecm_compression,
                    "hold_s": compressed_hold(self.configured_hold_s, self.o.ecm_compression),
                    "configured_hold_s": self.configured_hold_s,
                    "retry_schedule_s": compressed_schedule(self.o.ecm_compression),
                },
                **throughput,
                "paced": paced,
                "outage": outage,
                "relay_failed_documents": failed.count,
                "sender": {"answers": dict(self.sender.statuses), "resent": self.sender.resent},
                "worker_rss_mb": {
                    "before": rss_before,
                    "peak": peak,
                    "after": self.monitor.current_rss_mb(),
                },
            },
            "ecm_events_per_s": throughput["temporal"]["events_per_s"],
            "ecm_floor_events_per_s": throughput["floor"]["events_per_s"],
            "ecm_lost": throughput["temporal"]["lost"]
            + paced["temporal"]["lost"]
            + paced[NO_HOLD]["lost"],
            "ecm_worker_peak_rss_mb": peak,
        }
        if outage.get("ran", True):
            result |= {
                "ecm_outage_lost": outage["lost"],
                "ecm_outage_duplicates": outage["duplicates"],
                "ecm_outage_redelivered": outage["redelivered"],
                "ecm_outage_out_of_order": outage["out_of_order"],
            }
        return result

    # -------------------------------------------------------------- sending runs
    async def _send(
        self, event: BenchEvent, url: str, run: PathRun, before: asyncio.Task[None] | None
    ) -> None:
        """Send after the document's previous event was answered (its order)."""
        if before is not None:
            await asyncio.wait({before})
        try:
            if url == NO_HOLD:
                run.sent[event.key] = await self.sender.submit(
                    event, self.client, self.task_queue, self.environment
                )
            else:
                run.sent[event.key] = await self.sender.send(event, url)
        except Exception as exc:  # counted: the event is lost to this run
            run.failures.append(f"{event.key}: {exc}"[:300])

    async def _windowed(
        self, run: PathRun, events: list[BenchEvent], url: str, watch: RelayWatch
    ) -> None:
        """Send every event, at most `ecm_window` sent but not received by all three; then
        wait until all are (or SETTLE_S). Wall time: first send → last receipt."""
        window = self.o.ecm_window
        chains: dict[int, asyncio.Task[None]] = {}
        tasks: list[asyncio.Task[None]] = []
        started = time.time()
        issued = done = 0
        while issued < len(events):
            while done < issued and watch.complete(events[done].key):
                done += 1
            pending = sum(1 for e in events[done:issued] if not watch.complete(e.key))
            take = max(0, min(len(events) - issued, window - pending))
            for event in events[issued : issued + take]:
                task = asyncio.create_task(self._send(event, url, run, chains.get(event.node)))
                chains[event.node] = task
                tasks.append(task)
            issued += take
            await asyncio.sleep(POLL_S / 5)
        await asyncio.gather(*tasks)
        await watch.wait([e.key for e in events], time.monotonic() + SETTLE_S)
        await watch.read()
        lasts = [t for t in (watch.last(e.key) for e in events) if t is not None]
        run.wall_s += (max(lasts) if lasts else time.time()) - started

    async def _paced(
        self, run: PathRun, events: list[BenchEvent], url: str, per_second: float
    ) -> None:
        """Open loop: one event every 1 / per_second s (a document's next one after its
        previous one was answered)."""
        chains: dict[int, asyncio.Task[None]] = {}
        tasks: list[asyncio.Task[None]] = []
        started = time.perf_counter()
        for index, event in enumerate(events):
            delay = started + index / per_second - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self._send(event, url, run, chains.get(event.node)))
            chains[event.node] = task
            tasks.append(task)
        await asyncio.gather(*tasks)

    # -------------------------------------------------------------- throughput
    async def throughput(self) -> dict[str, Any]:
        o = self.o
        each = o.ecm_events_per_document
        warm = {path: interleaved(self._documents(max(2, o.warmup), each)) for path in PATHS}
        measured = {path: self._documents(o.ecm_documents, each) for path in PATHS}
        runs = {path: PathRun(path) for path in PATHS}
        async with RelayWatch(self.sink, self.http) as watch:
            self.progress(f"ecm: warm-up, {len(warm['floor'])} events along each path")
            for path in PATHS:
                await self._windowed(PathRun(path), warm[path], self.urls[path], watch)
            half = o.ecm_documents // 2
            for part in (slice(0, half), slice(half, None)):
                for path in PATHS:
                    events = interleaved(measured[path][part])
                    self.progress(
                        f"ecm: {len(events)} events through the "
                        + ("floor (no relay)" if path == "floor" else "receiver and the relay")
                        + f" to 3 subscribers, at most {o.ecm_window} undelivered"
                    )
                    with self.monitor.phase(f"ecm_{path}"):
                        await self._windowed(runs[path], events, self.urls[path], watch)
        summaries = {path: run.summary(watch) for path, run in runs.items()}
        return {
            "documents_per_path": o.ecm_documents,
            "events_per_document": each,
            "window": o.ecm_window,
            **summaries,
            "temporal_vs_floor_ratio": ratio(
                summaries["temporal"]["events_per_s"], summaries["floor"]["events_per_s"]
            ),
        }

    # -------------------------------------------------------------- latency
    async def paced(self) -> dict[str, Any]:
        o = self.o
        each = o.ecm_events_per_document
        documents = max(1, -(-o.ecm_paced_events // each))
        runs = {path: PathRun(path) for path in PACED_PATHS}
        async with RelayWatch(self.sink, self.http) as watch:
            for path in PACED_PATHS:
                events = interleaved(self._documents(documents, each))[: o.ecm_paced_events]
                self.progress(f"ecm: {len(events)} events at {o.ecm_paced_rate:g}/s, {path} path")
                run = runs[path]
                with self.monitor.phase(f"ecm_paced_{path}"):
                    started = time.time()
                    await self._paced(run, events, self.urls[path], o.ecm_paced_rate)
                    await watch.wait([e.key for e in events], time.monotonic() + SETTLE_S)
                    await watch.read()
                lasts = [t for t in (watch.last(e.key) for e in events) if t is not None]
                run.wall_s = (max(lasts) if lasts else time.time()) - started
        return {
            "rate_per_s": o.ecm_paced_rate,
            "events_per_path": o.ecm_paced_events,
            **{path: run.summary(watch) for path, run in runs.items()},
            **{
                f"{path}_stages": await self._stages(
                    sorted({key[0] for key in runs[path].sent})[:TRACED_DOCUMENTS]
                )
                for path in ("temporal", NO_HOLD)
            },
        }

    async def _stages(self, nodes: list[int]) -> dict[str, Any]:
        """`trace_history` over the documents' histories: p50/p95/p99/max ms per span
        (`history_events`: per document, a count)."""
        spans: dict[str, list[float]] = {}
        for node in nodes:
            try:
                history = await self.client.get_workflow_handle(
                    document_workflow_id(node)
                ).fetch_history()
            except Exception:  # a trace is a bonus: a history that cannot be read is skipped
                continue
            for name, values in trace_history(list(history.events)).items():
                spans.setdefault(name, []).extend(values)
        counts = spans.pop("history_events", [])
        return {
            "documents": len(nodes),
            "history_events_per_document": round(sum(counts) / len(counts), 1) if counts else 0,
            **{name: latency_summary(values) for name, values in sorted(spans.items())},
        }

    # -------------------------------------------------------------- outage
    async def _endpoint(self, name: str, **knobs: Any) -> dict[str, Any]:
        url = f"{self.sink}/_control/endpoints/{name}"
        response = await self.http.request("PATCH" if knobs else "GET", url, json=knobs or None)
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found

    async def outage(self) -> dict[str, Any]:
        o = self.o
        outage_s = HOUR_S / o.ecm_compression
        each = max(1, o.ecm_outage_events // o.ecm_outage_documents)
        documents = self._documents(o.ecm_outage_documents, each)
        events = interleaved(documents)
        others = [s for s in SUBSCRIBERS if s != DOWN]
        run = PathRun("outage")
        self.progress(
            f"ecm: {DOWN} down for an hour compressed {o.ecm_compression:g}x ({outage_s:g} s); "
            f"{len(events)} events about {len(documents)} documents meanwhile"
        )
        poll_s = OUTAGE_POLL_S if len(events) >= 1000 else POLL_S
        async with RelayWatch(self.sink, self.http, poll_s) as watch:
            with self.monitor.phase("ecm_outage"):
                await self._endpoint(DOWN, down=True)
                down_at = time.time()
                async with ticking(
                    "ecm: events received by the other two",
                    len(events),
                    self._counter(watch, events, others),
                    self.progress,
                ):
                    await self._paced(run, events, self.urls["temporal"], len(events) / outage_s)
                    await asyncio.sleep(max(0.0, down_at + outage_s - time.time()))
                up_at = time.time()  # before the call: a delivery let through counts after it
                await self._endpoint(DOWN, down=False)
                at_recovery = {
                    name: sum(1 for e in events if watch.at.get((name, e.key)) is not None)
                    for name in SUBSCRIBERS
                }
                self.progress(
                    f"ecm: {DOWN} back after {up_at - down_at:.1f} s; received so far "
                    f"{json.dumps(at_recovery)} of {len(events)}; waiting for the drain"
                )
                # An event's first attempt up to 25 compressed minutes before recovery has
                # its fifth 2 h 35 min after it (the standard schedule): about two compressed
                # hours of drain, plus the backlog.
                bound = 3 * HOUR_S / o.ecm_compression + 120 + len(events) / 10
                async with ticking(
                    f"ecm: events received by {DOWN}",
                    len(events),
                    self._counter(watch, events, [DOWN]),
                    self.progress,
                ):
                    await watch.wait([e.key for e in events], time.monotonic() + bound)
            await watch.read(since=datetime.fromtimestamp(down_at, UTC))
        since = datetime.fromtimestamp(down_at - 1, UTC)
        order = {name: await self._order(watch, since, name, events) for name in SUBSCRIBERS}
        answers = await self._answers(events, down_at, up_at)
        health = await self._health(DOWN)
        summary = self._outage_summary(
            run, events, watch, others, down_at, up_at, at_recovery, order, answers, health
        )
        summary["redelivery_samples"] = await self._redeliveries(watch)
        return summary

    async def _redeliveries(self, watch: RelayWatch, limit: int = 5) -> list[dict[str, Any]]:
        """Messages a subscriber accepted more than once, with the relay's attempts at them
        (the document workflow's status): why they were sent again."""
        samples: list[dict[str, Any]] = []
        for (endpoint, key), copies in sorted(watch.copies.items()):
            if copies <= 1 or len(samples) >= limit:
                continue
            node, event_type, version = key
            attempts: list[dict[str, Any]] = []
            with contextlib.suppress(Exception):  # a diagnosis is a bonus
                status = await self.client.get_workflow_handle(document_workflow_id(node)).query(
                    "status", result_type=DocumentEventsStatus
                )
                for message in status.messages:
                    if message.subscription == endpoint and message.event_type == event_type:
                        attempts.append(
                            {
                                "event_key": message.event_key,
                                "rounds": message.rounds,
                                "attempts": [
                                    a.model_dump(mode="json", exclude_none=True)
                                    for a in message.attempts
                                ],
                            }
                        )
            samples.append(
                {
                    "endpoint": endpoint,
                    "event": [node, event_type, version],
                    "copies": copies,
                    "relay_messages": [
                        m for m in attempts if m["event_key"].endswith(f"v{version}")
                    ]
                    or attempts,
                }
            )
        return samples

    def _counter(
        self, watch: RelayWatch, events: list[BenchEvent], endpoints: list[str]
    ) -> Callable[[], Awaitable[int]]:
        async def count() -> int:
            return sum(1 for e in events if watch.last(e.key, endpoints) is not None)

        return count

    async def _order(
        self, watch: RelayWatch, since: datetime, endpoint: str, events: list[BenchEvent]
    ) -> dict[str, Any]:
        """Per document, the events in the order the subscriber accepted them: out of order
        when a later event of the document (its life, the relay's `sequence`) came first."""
        index = {e.key: e.index for e in events}
        arrivals: dict[int, list[tuple[int, int]]] = {}
        for message in await watch.messages(since, endpoint):
            key = message_key(message)
            if key in index:
                sequence = int(message["payload"]["data"].get("sequence") or 0)
                arrivals.setdefault(key[0], []).append((index[key], sequence))
        out_of_order = sequence_breaks = 0
        for got in arrivals.values():
            out_of_order += sum(1 for a, b in itertools.pairwise(got) if b[0] <= a[0])
            sequence_breaks += sum(1 for a, b in itertools.pairwise(got) if b[1] <= a[1])
        return {
            "documents": len(arrivals),
            "messages": sum(len(g) for g in arrivals.values()),
            "out_of_order": out_of_order,
            "sequence_not_increasing": sequence_breaks,
        }

    async def _answers(
        self, events: list[BenchEvent], down_at: float, up_at: float
    ) -> dict[str, Any]:
        """The down subscriber's answers to the outage's messages: during it, after it."""
        mine = {e.message_id() for e in events}
        attempts = (await self._endpoint(DOWN))["attempts"]
        during: Counter[int] = Counter()
        after: Counter[int] = Counter()
        for attempt in attempts:
            if attempt.get("webhook_id") not in mine:
                continue
            at = datetime.fromisoformat(attempt["at"]).timestamp()
            if at >= down_at:
                (during if at < up_at else after)[int(attempt["status"])] += 1
        return {
            "during_outage": {str(k): v for k, v in sorted(during.items())},
            "after_recovery": {str(k): v for k, v in sorted(after.items())},
        }

    async def _health(self, subscription: str) -> dict[str, Any]:
        """The subscriber's health afterwards, and how many reports its workflow got (the
        activities report changes of health, not every attempt)."""
        handle = self.client.get_workflow_handle(subscriber_workflow_id(subscription))
        try:
            health = await handle.query("health", result_type=EndpointHealth)
            history = await handle.fetch_history()
        except Exception as exc:  # no workflow: nothing went wrong with it (not expected)
            return {"state": "unknown", "error": str(exc)[:200]}
        reports = Counter(
            e.workflow_execution_signaled_event_attributes.signal_name
            for e in history.events
            if e.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        )
        return {
            **health.model_dump(mode="json"),
            "signals": dict(reports),
            "history_events": len(history.events),
        }

    def _outage_summary(
        self,
        run: PathRun,
        events: list[BenchEvent],
        watch: RelayWatch,
        others: list[str],
        down_at: float,
        up_at: float,
        at_recovery: dict[str, int],
        order: dict[str, dict[str, Any]],
        answers: dict[str, Any],
        health: dict[str, Any],
    ) -> dict[str, Any]:
        o = self.o
        others_latency, down_latency, after_recovery = [], [], []
        early = 0
        copies: list[int] = []
        extra_ids = 0
        for event in events:
            at = run.sent.get(event.key)
            last_other = watch.last(event.key, others)
            if at is not None and last_other is not None:
                others_latency.append(last_other - at)
            for name in SUBSCRIBERS:
                seen = watch.copies.get((name, event.key))
                if seen is not None:
                    copies.append(seen)
                    extra_ids += len(watch.ids.get((name, event.key), ())) - 1
            got = watch.at.get((DOWN, event.key))
            if got is not None:
                if got < up_at:
                    early += 1
                else:
                    after_recovery.append(got - up_at)
                if at is not None:
                    down_latency.append(got - at)
        delivered = sum(1 for e in events if watch.complete(e.key))
        drain = max(after_recovery) if after_recovery else 0.0
        return {
            "ran": True,
            "events": len(events),
            "documents": o.ecm_outage_documents,
            "events_per_document": len(events) // max(1, o.ecm_outage_documents),
            "compression": o.ecm_compression,
            "outage_s": round(up_at - down_at, 2),
            "rate_per_s": round(len(events) * o.ecm_compression / HOUR_S, 2),
            "sent": len(run.sent),
            "send_failures": run.failures[:5],
            "down_subscriber": DOWN,
            "other_subscribers": others,
            "received_at_recovery": at_recovery,
            "others": {
                "delivered": sum(1 for e in events if watch.last(e.key, others) is not None),
                "event_to_delivered_ms": latency_summary(others_latency),
            },
            "down": {
                "delivered": sum(1 for e in events if (DOWN, e.key) in watch.at),
                "delivered_before_recovery": early,
                "recovery_to_delivered_ms": latency_summary(after_recovery),
                "event_to_delivered_ms": latency_summary(down_latency),
                "drain_s": round(drain, 2),
                "drain_compressed_hours": round(drain * o.ecm_compression / HOUR_S, 2),
                "answers": answers,
                "health_after": {
                    k: health.get(k)
                    for k in ("state", "exhausted", "failing_since", "signals", "history_events")
                },
            },
            "order": order,
            "delivered_to_all": delivered,
            "lost": len(events) - delivered,
            # An event accepted as two messages (two webhook-ids): the subscriber acts twice.
            "duplicates": extra_ids,
            # The same webhook-id POSTed again after it was accepted: the subscriber's
            # dedupe by webhook-id absorbs it (Standard Webhooks is at least once).
            "redelivered": sum(c - 1 for c in copies),
            "out_of_order": sum(
                v["out_of_order"] + v["sequence_not_increasing"] for v in order.values()
            ),
        }
