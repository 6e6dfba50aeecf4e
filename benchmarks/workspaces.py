"""Part 4: business workspaces — many live objects, then change latency beside its floor.

1. *Many live objects.* The CRM simulator creates N Accounts (its control API); each change
   is one signed event to the API's receiver, which signal-with-starts the object's
   BusinessObjectWorkflow; the workflow plans and provisions the workspace in the Content
   Server simulator and writes the workspace id back to the CRM through a delivery child.
   At most `workspace_window` objects are created but not yet written back, so the CRM's
   sender never piles up more events than the system takes (its retries would run out).
   "None lost" is checked three ways: visibility counts every object's workflow running in
   `in_sync`, the Content Server binds a workspace to each bo id, and the CRM record holds
   that same workspace id.
2. *Change latency.* Existing objects are renamed in the CRM at a paced rate; each change's
   latency runs from the CRM's change (its event's `occurred_at`) to the Content Server's
   write of the new value (the simulator's category-write log, on the same machine's clock,
   so polling adds nothing). The floor is the same path without Temporal: the CRM's events are
   pointed at `benchmarks.workspace_floor` (verify, map, `set_categories`), in alternating
   halves (floor, Temporal, floor, Temporal) so drift on the machine hits both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory

from benchmarks.actions import BILLED, count_actions
from benchmarks.harness import Target
from benchmarks.monitor import ProcessMonitor
from benchmarks.options import BenchOptions
from benchmarks.stats import latency_summary, rate
from benchmarks.ticker import ticking
from benchmarks.workspace_floor import FLOOR_EVENTS_PATH, FLOOR_WORKSPACES_PATH
from docflow.temporal import business_object_workflow_id

Progress = Callable[[str], None]
SYSTEM, BO_TYPE = "SFDC", "Account"
OWNERS = [f"{user}@example.com" for user in ("alice", "bob", "carol", "dave", "jane.doe")]
REGIONS = ("EMEA", "AMER", "APAC")
CREATES_IN_FLIGHT = 8  # HTTP creates at once (the window bounds objects, not requests)
WINDOW_POLL_S = 0.25
COUNT_POLL_S = 1.0
CHANGES_POLL_S = 0.2
SETTLE_S = 60.0  # after the last change, how long an unapplied one is waited for
ACTION_SAMPLE = 50  # objects whose histories are counted (and traced, for changes)
IN_SYNC = 'DocflowStatus = "in_sync"'
RUNNING = 'ExecutionStatus = "Running"'
CHILD_INITIATED = EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
SIGNALED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
TASK_STARTED = EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
TASK_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
ACTIVITY_SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
ACTIVITY_STARTED = EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def account_fields(tag: str, index: int) -> dict[str, str]:
    """A mapped Account: required fields, an owner the members directory knows."""
    return {
        "name": f"BW {tag} {index}",
        "account_number": f"BW-{tag}-{index}",
        "owner": OWNERS[index % len(OWNERS)],
        "region": REGIONS[index % len(REGIONS)],
        "status": "Active",
    }


# ------------------------------------------------------------------ the simulators
class Simulators:
    """The CRM and Content Server simulators' control APIs, as this phase uses them."""

    def __init__(self, target: Target, http: httpx.AsyncClient) -> None:
        self.crm = f"{target.crm_url}/_control"
        self.otcs = f"{target.content_server_url}/_control"
        self.http = http

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.http.request(method, url, **kwargs)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def create(self, bo_id: str, fields: dict[str, str]) -> float:
        """Create the Account; when the CRM made the change (epoch seconds)."""
        body = await self._json(
            "POST", f"{self.crm}/objects/{BO_TYPE}", json={"bo_id": bo_id, "fields": fields}
        )
        return _epoch(body["event"]["occurred_at"])

    async def rename(self, bo_id: str, name: str) -> tuple[int, float]:
        """One business change; its version and when the CRM made it."""
        body = await self._json(
            "PATCH", f"{self.crm}/objects/{BO_TYPE}/{bo_id}", json={"fields": {"name": name}}
        )
        return int(body["event"]["version"]), _epoch(body["event"]["occurred_at"])

    async def events_to(self, url: str) -> None:
        await self._json("PUT", f"{self.crm}/events/url", json={"url": url})

    async def written_back(self, prefix: str, detail: bool = False) -> dict[str, Any]:
        params = {"bo_type": BO_TYPE, "field": "workspace_id", "prefix": prefix, "detail": detail}
        return await self._json("GET", f"{self.crm}/writebacks", params=params)

    async def bound(self, prefix: str, detail: bool = False) -> dict[str, Any]:
        params = {"ext_system_id": SYSTEM, "bo_type": BO_TYPE, "prefix": prefix, "detail": detail}
        return await self._json("GET", f"{self.otcs}/bindings", params=params)

    async def events_summary(self) -> dict[str, Any]:
        """The CRM's event deliveries so far: by state, by attempts, every answer."""
        return await self._json("GET", f"{self.crm}/events", params={"summary": True})

    async def category_writes(self, after: int) -> dict[str, Any]:
        params = {"after": after, "limit": 10_000}
        return await self._json("GET", f"{self.otcs}/categories/changes", params=params)


# ------------------------------------------------------------------ change runs
@dataclass(frozen=True)
class Change:
    bo_id: str
    workspace_id: int
    name: str
    version: int
    changed_at: float  # the CRM's change, epoch seconds


@dataclass
class ChangeRun:
    """Changes sent along one path, and when each value reached the Content Server."""

    path: str
    per_second: float
    changes: list[Change] = field(default_factory=list)
    send_failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    events: dict[str, Any] = field(default_factory=dict)  # the CRM's deliveries of them

    def summary(self, written: dict[tuple[int, str], float]) -> dict[str, Any]:
        latencies: list[float] = []
        superseded = 0
        not_applied: list[str] = []
        newest: dict[int, int] = {}  # workspace -> newest version applied
        for change in self.changes:
            if (change.workspace_id, change.name) in written:
                newest[change.workspace_id] = max(
                    newest.get(change.workspace_id, 0), change.version
                )
        for change in self.changes:
            at = written.get((change.workspace_id, change.name))
            if at is not None:
                latencies.append(max(0.0, at - change.changed_at))
            elif newest.get(change.workspace_id, 0) > change.version:
                superseded += 1  # a newer version was applied first: last writer wins
            else:
                not_applied.append(f"{change.bo_id} v{change.version} {change.name!r}")
        return {
            "path": self.path,
            "rate_per_s": self.per_second,
            "sent": len(self.changes),
            "send_failures": self.send_failures[:5],
            "applied": len(latencies),
            "superseded": superseded,
            "not_applied": len(not_applied),
            "not_applied_examples": not_applied[:5],
            "sending_s": round(self.wall_s, 2),
            "crm_events": self.events,
            "latency_ms": latency_summary(latencies),
        }


class CategoryWatch:
    """Polls the Content Server's category-write log: (workspace, value) -> first written."""

    def __init__(self, sims: Simulators, value_prefix: str) -> None:
        self.sims = sims
        self.prefix = value_prefix
        self.written: dict[tuple[int, str], float] = {}
        self._after = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Skip the writes so far (only what comes now counts), then poll."""
        while True:
            page = await self.sims.category_writes(self._after)
            self._after = int(page["next"])
            if not page["results"]:
                break
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.read()

    async def read(self) -> None:
        while True:
            page = await self.sims.category_writes(self._after)
            for entry in page["results"]:
                at = _epoch(entry["at"])
                for value in entry["values"].values():
                    if isinstance(value, str) and value.startswith(self.prefix):
                        self.written.setdefault((int(entry["node_id"]), value), at)
            self._after = int(page["next"])
            if not page["results"]:
                return

    async def _poll(self) -> None:
        while True:
            await self.read()
            await asyncio.sleep(CHANGES_POLL_S)

    async def wait_for(self, changes: list[Change], within_s: float) -> None:
        """Until every change's value (or a newer version's) was written, or time is up."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            newest: dict[int, int] = {}
            for c in changes:
                if (c.workspace_id, c.name) in self.written:
                    newest[c.workspace_id] = max(newest.get(c.workspace_id, 0), c.version)
            if all(
                (c.workspace_id, c.name) in self.written
                or newest.get(c.workspace_id, 0) > c.version
                for c in changes
            ):
                return
            await asyncio.sleep(CHANGES_POLL_S)


# ------------------------------------------------------------------ the phase
class WorkspacesPhase:
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
        self.target = target
        self.client = client
        self.monitor = monitor
        self.progress = progress
        self.tag = tag
        self.sims = Simulators(target, http)
        self.http = http
        self.prefix = f"001BW{tag}"  # every bo id of this run: 18 characters, like SFDC's
        self.ids = [f"{self.prefix}{i:07d}" for i in range(options.workspaces)]
        self.warm_prefix = f"001BX{tag}"  # the warm-up's, outside every count of the run
        self.bindings: dict[str, int] = {}  # bo_id -> workspace id, once provisioned
        self._seq = 0  # the next change's number (its name is unique in the run)
        self.receiver_url = f"{target.api_url}/webhooks/business-objects/{SYSTEM}"
        self.floor_url = f"{target.api_url}{FLOOR_EVENTS_PATH.format(system=SYSTEM)}"

    async def run(self) -> dict[str, Any]:
        provision = await self.provision()
        changes = await self.changes()
        peak = max(provision["worker_rss_mb"]["peak"], changes["worker_rss_mb_peak"])
        return {
            "workspaces": {**provision, "changes": changes},
            "workspaces_lost": provision["lost"],
            "workspace_changes_lost": changes["temporal"]["not_applied"],
            "workspaces_worker_peak_rss_mb": peak,
        }

    # -------------------------------------------------------------- provisioning
    def _query(self, *conditions: str) -> str:
        prefix = business_object_workflow_id(SYSTEM, BO_TYPE, self.prefix)
        return " AND ".join(
            [
                'WorkflowType = "BusinessObjectWorkflow"',
                f'WorkflowId STARTS_WITH "{prefix}"',
                *conditions,
            ]
        )

    async def _count(self, *conditions: str) -> int:
        return (await self.client.count_workflows(self._query(*conditions))).count

    async def _written_back(self, prefix: str | None = None) -> int:
        return int((await self.sims.written_back(prefix or self.prefix))["count"])

    async def _warm_up(self) -> None:
        """A few objects first (not counted): the worker's start, imports, the Content Server
        ticket and the mapping are not the measured objects' cost."""
        count = max(1, self.o.warmup)
        ids = [f"{self.warm_prefix}{i:07d}" for i in range(count)]
        self.progress(f"workspaces: warm-up, {count} objects")
        await self._create_all(ids, self.warm_prefix, {}, [])
        deadline = time.monotonic() + 120
        while await self._written_back(self.warm_prefix) < count:
            if time.monotonic() > deadline:
                raise RuntimeError("workspaces warm-up: objects not written back in 120 s")
            await asyncio.sleep(WINDOW_POLL_S)

    async def provision(self) -> dict[str, Any]:
        n = len(self.ids)
        o = self.o
        bound_s = 120 + n * 0.5
        await self._warm_up()
        rss_before = self.monitor.current_rss_mb()
        events_before = await self.sims.events_summary()
        created_at: dict[str, float] = {}
        failures: list[str] = []
        self.progress(
            f"workspaces: creating {n} Accounts in the CRM "
            f"(at most {o.workspace_window} not yet written back)"
        )
        with self.monitor.phase("workspaces_provision"):
            started = time.monotonic()
            async with ticking("workspaces: written back", n, self._written_back, self.progress):
                await self._create_all(self.ids, self.prefix, created_at, failures)
                creates_s = time.monotonic() - started
                counts = await self._wait_provisioned(n, started + bound_s)
            provision_s = time.monotonic() - started
        self.progress(
            f"workspaces: {counts['written_back']}/{n} written back, {counts['in_sync']} in "
            f"sync after {provision_s:.1f} s; checking each object"
        )
        check = await self._check(created_at)
        events = events_delta(events_before, await self.sims.events_summary())
        self.progress(f"workspaces: idle {o.rest_seconds:g} s, then the worker's RSS at rest")
        await asyncio.sleep(o.rest_seconds)
        rss_rest = self.monitor.current_rss_mb()
        live = await self._count(RUNNING)
        step = max(1, n // ACTION_SAMPLE)
        actions = await self._actions(self.ids[::step][:ACTION_SAMPLE])
        return {
            "objects": n,
            "window": o.workspace_window,
            "create_failures": failures[:5],
            "created": len(created_at),
            "creates_s": round(creates_s, 1),
            "all_provisioned_s": round(provision_s, 1),
            "provisioned_per_s": rate(check["provisioned"], provision_s),
            **counts,
            **check,
            "live_workflows": live,
            "worker_rss_mb": {
                "before": rss_before,
                "peak": self.monitor.peak_rss_by_phase.get("workspaces_provision", 0.0),
                "at_rest": rss_rest,
            },
            "actions_per_object": actions,
            "crm_events": events,
            "lost": n - check["provisioned"],
        }

    async def _create_all(
        self, ids: list[str], prefix: str, created_at: dict[str, float], failures: list[str]
    ) -> None:
        """Create every Account, keeping at most `workspace_window` not yet written back."""
        gate = asyncio.Semaphore(CREATES_IN_FLIGHT)

        async def create(index: int, bo_id: str) -> None:
            async with gate:
                try:
                    created_at[bo_id] = await self.sims.create(
                        bo_id, account_fields(self.tag, index)
                    )
                except httpx.HTTPError as exc:
                    failures.append(f"{bo_id}: {type(exc).__name__}: {exc}"[:300])

        tasks: list[asyncio.Task[None]] = []
        issued = 0
        while issued < len(ids):
            room = await self._written_back(prefix) + self.o.workspace_window - issued
            for index in range(issued, min(len(ids), issued + max(0, room))):
                tasks.append(asyncio.create_task(create(index, ids[index])))
            issued += max(0, min(room, len(ids) - issued))
            await asyncio.sleep(WINDOW_POLL_S)
        await asyncio.gather(*tasks)

    async def _wait_provisioned(self, n: int, deadline: float) -> dict[str, int]:
        """Until the CRM holds every write-back, the Content Server binds every object and
        visibility counts every workflow in sync — or the deadline."""
        while True:
            counts = {
                "written_back": await self._written_back(),
                "bound": int((await self.sims.bound(self.prefix))["count"]),
                "in_sync": await self._count(RUNNING, IN_SYNC),
            }
            if min(counts.values()) >= n or time.monotonic() > deadline:
                return counts
            await asyncio.sleep(COUNT_POLL_S)

    async def _check(self, created_at: dict[str, float]) -> dict[str, Any]:
        """Each object: bound in the Content Server, the same workspace id written back."""
        bound = (await self.sims.bound(self.prefix, detail=True)).get("results", {})
        written = (await self.sims.written_back(self.prefix, detail=True)).get("results", {})
        to_bound, to_written, mismatched = [], [], []
        provisioned = 0
        for bo_id in self.ids:
            binding, back = bound.get(bo_id), written.get(bo_id)
            if binding is None or back is None:
                continue
            if back["value"] != binding["workspace_id"]:
                mismatched.append(bo_id)
                continue
            provisioned += 1
            if bo_id in created_at:
                to_bound.append(_epoch(binding["created"]) - created_at[bo_id])
                to_written.append(_epoch(back["updated_at"]) - created_at[bo_id])
        self.bindings = {bo_id: int(b["workspace_id"]) for bo_id, b in bound.items()}
        workspaces = {b["workspace_id"] for b in bound.values()}
        return {
            "provisioned": provisioned,
            "distinct_workspaces": len(workspaces),
            "mismatched_write_backs": mismatched[:5],
            "create_to_bound_ms": latency_summary(to_bound),
            "create_to_written_back_ms": latency_summary(to_written),
        }

    async def _histories(self, bo_ids: list[str]) -> dict[str, Histories]:
        """Each object's workflow history so far, and its delivery children's."""
        found: dict[str, Histories] = {}
        for bo_id in bo_ids:
            workflow_id = business_object_workflow_id(SYSTEM, BO_TYPE, bo_id)
            history = await self.client.get_workflow_handle(workflow_id).fetch_history()
            children = []
            for event in history.events:
                if event.event_type == CHILD_INITIATED:
                    child = event.start_child_workflow_execution_initiated_event_attributes
                    handle = self.client.get_workflow_handle(child.workflow_id)
                    children.append(await handle.fetch_history())
            found[bo_id] = Histories(history, children)
        return found

    async def _actions(self, bo_ids: list[str]) -> dict[str, float]:
        return actions_per_object(await self._histories(bo_ids))

    # ------------------------------------------------------------------ changes
    async def changes(self) -> dict[str, Any]:
        """The paced renames at `change_rate`, then at a tenth of it (latency without
        queueing), each through the floor and the workflows in alternating halves."""
        o, bindings = self.o, self.bindings
        objects = [bo_id for bo_id in self.ids if bo_id in bindings]
        if not objects:
            raise RuntimeError("no workspace was provisioned: nothing to change")
        random.Random(7).shuffle(objects)  # the workflow cache sees them in no helpful order
        known = await self.http.put(
            f"{self.target.api_url}{FLOOR_WORKSPACES_PATH}",
            json={f"{SYSTEM}/{BO_TYPE}/{bo_id}": bindings[bo_id] for bo_id in objects},
        )
        known.raise_for_status()
        # Actions per change and the stages: histories, before and after, of objects the
        # Temporal halves change — half of the sample from each rate's run. Changes are
        # numbered from 0 in order: each run's halves 1 and 3 are its Temporal ones.
        sample: list[str] = []
        first = 0
        for per_second in (o.change_rate, o.change_rate / 10):
            per_half = _per_half(per_second, o.change_seconds)
            seqs = [first + q for h in (1, 3) for q in range(h * per_half, (h + 1) * per_half)]
            hit = list(dict.fromkeys(objects[q % len(objects)] for q in seqs))
            sample += [b for b in hit if b not in sample][: ACTION_SAMPLE // 2]
            first += 4 * per_half
        before = await self._actions(sample)
        watch = CategoryWatch(self.sims, f"BW {self.tag} ")
        await watch.start()
        try:
            paced = await self._rate_runs(o.change_rate, objects, watch, "")
            low = await self._rate_runs(o.change_rate / 10, objects, watch, "_low")
        finally:
            await self.sims.events_to(self.receiver_url)
            await watch.stop()
        traced = await self._histories(sample)
        after = actions_per_object(traced)
        in_sample = set(sample)
        temporal = paced["temporal"].changes + low["temporal"].changes
        sampled_changes = sum(1 for c in temporal if c.bo_id in in_sample)
        summaries = {
            suffix: {
                "rate_per_s": runs["temporal"].per_second,
                **{
                    path: self._summary(run, watch, f"workspaces_changes_{path}{suffix}")
                    for path, run in runs.items()
                },
                "temporal_stages": change_stages(traced, runs["temporal"].changes, watch.written),
            }
            for suffix, runs in (("", paced), ("_low", low))
        }
        return {
            **summaries[""],
            "seconds_per_path": o.change_seconds,
            "objects_changed": len(
                {c.bo_id for r in (*paced.values(), *low.values()) for c in r.changes}
            ),
            "low_rate": summaries["_low"],
            "traced_objects": len(sample),
            "actions_per_change": _per_change(before, after, sampled_changes),
            "worker_rss_mb_peak": max(
                self.monitor.peak_rss_by_phase.get(f"workspaces_changes_temporal{s}", 0.0)
                for s in ("", "_low")
            ),
            "worker_rss_mb_after": self.monitor.current_rss_mb(),
        }

    def _summary(self, run: ChangeRun, watch: CategoryWatch, phase: str) -> dict[str, Any]:
        summary = run.summary(watch.written)
        cpu = self.monitor.cpu_by_phase.get(phase, {})
        sent = max(1, summary["sent"])
        summary["cpu_ms_per_change"] = {
            k: round(v * 1000 / sent, 1) for k, v in cpu.items() if k != "wall_s"
        }
        return summary

    async def _rate_runs(
        self, per_second: float, objects: list[str], watch: CategoryWatch, suffix: str
    ) -> dict[str, ChangeRun]:
        """Renames at `per_second` for `change_seconds` per path: floor, Temporal, floor,
        Temporal; each half waits until its changes are written (or SETTLE_S)."""
        per_half = _per_half(per_second, self.o.change_seconds)
        runs = {path: ChangeRun(path, per_second) for path in ("floor", "temporal")}
        for path in ("floor", "temporal", "floor", "temporal"):
            await self.sims.events_to(self.floor_url if path == "floor" else self.receiver_url)
            self.progress(
                f"workspaces: {per_half} renames at {per_second:g}/s through the "
                f"{'floor (no Temporal)' if path == 'floor' else 'receiver and workflows'}"
            )
            events_before = await self.sims.events_summary()
            with self.monitor.phase(f"workspaces_changes_{path}{suffix}"):
                await self._paced(runs[path], objects, self._seq, per_half)
                await watch.wait_for(runs[path].changes, SETTLE_S)
            self._seq += per_half
            delta = events_delta(events_before, await self.sims.events_summary())
            runs[path].events = events_delta({}, delta, runs[path].events)
        return runs

    async def _paced(self, run: ChangeRun, objects: list[str], first: int, count: int) -> None:
        """Open loop: one rename every 1/rate s, round robin over the objects; a run that is
        sent in several halves adds up."""

        async def one(seq: int) -> None:
            bo_id = objects[seq % len(objects)]
            name = f"BW {self.tag} {seq % len(objects)} r{seq}"
            try:
                version, changed_at = await self.sims.rename(bo_id, name)
            except httpx.HTTPError as exc:
                run.send_failures.append(f"{bo_id}: {type(exc).__name__}: {exc}"[:300])
                return
            run.changes.append(Change(bo_id, self.bindings[bo_id], name, version, changed_at))

        tasks = []
        started = time.perf_counter()
        for i in range(count):
            delay = started + i / run.per_second - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(first + i)))
        await asyncio.gather(*tasks)
        run.wall_s += time.perf_counter() - started


def _per_half(per_second: float, seconds: float) -> int:
    return max(1, int(per_second * seconds / 2))


def _per_change(
    before: dict[str, float], after: dict[str, float], changes: int
) -> dict[str, float]:
    """Mean actions a sampled object's workflow added per change it took (Temporal path)."""
    if changes <= 0:
        return {}
    sampled = after.get("sampled", 0.0) or 1.0
    return {
        k: round((after[k] - before.get(k, 0.0)) * sampled / changes, 2)
        for k in after
        if k != "sampled" and after[k] != before.get(k, 0.0)
    }


@dataclass(frozen=True)
class Histories:
    workflow: WorkflowHistory
    children: list[WorkflowHistory]


def actions_per_object(histories: dict[str, Histories]) -> dict[str, float]:
    """Mean actions per object of its workflow so far, its delivery children's as `child_*`
    (a child's start is the parent's `child_starts`)."""
    per_object: list[Counter[str]] = []
    for found in histories.values():
        counts = count_actions(found.workflow)
        counts["child_starts"] = len(found.children)
        for child in found.children:
            for key, value in count_actions(child).items():
                if key != "starts":
                    counts[f"child_{key}"] += value
        per_object.append(counts)
    if not per_object:
        return {"total": 0.0, "sampled": 0}
    keys = sorted({k for c in per_object for k in c})
    mean = {k: round(sum(c[k] for c in per_object) / len(per_object), 2) for k in keys}
    billed = [*BILLED, "child_starts", *(f"child_{k}" for k in BILLED if k != "starts")]
    mean["total"] = round(sum(mean.get(k, 0.0) for k in billed), 2)
    mean["sampled"] = len(per_object)
    return mean


def _seconds(event: HistoryEvent) -> float:
    return float(event.event_time.ToMicroseconds()) / 1e6


def change_stages(
    histories: dict[str, Histories],
    changes: list[Change],
    written: dict[tuple[int, str], float],
) -> dict[str, Any]:
    """Where a Temporal-path change spends its time, from the sampled workflows' histories
    (the server's clock, this machine's): CRM change → signal in the history → the workflow
    task that took it started → completed (the activity scheduled) → the activity started →
    the value written in the Content Server."""
    by_version = {(c.bo_id, c.version): c for c in changes}
    stages: dict[str, list[float]] = {
        "crm_to_signal": [],
        "signal_to_workflow_task": [],
        "workflow_task": [],
        "activity_queue": [],
        "activity_to_written": [],
    }
    for bo_id, found in histories.items():
        events = list(found.workflow.events)
        for index, event in enumerate(events):
            if event.event_type != SIGNALED:
                continue
            signal = event.workflow_execution_signaled_event_attributes
            if signal.signal_name != "business_object_event" or not signal.input.payloads:
                continue
            version = json.loads(signal.input.payloads[0].data).get("version")
            change = by_version.get((bo_id, version))
            at = written.get((change.workspace_id, change.name)) if change else None
            if change is None or at is None:
                continue
            later = events[index + 1 :]
            task = next((e for e in later if e.event_type == TASK_STARTED), None)
            done = next((e for e in later if e.event_type == TASK_COMPLETED), None)
            scheduled = next(
                (
                    e
                    for e in later
                    if e.event_type == ACTIVITY_SCHEDULED
                    and e.activity_task_scheduled_event_attributes.activity_type.name
                    == "update_workspace_metadata"
                ),
                None,
            )
            started = scheduled and next(
                (
                    e
                    for e in later
                    if e.event_type == ACTIVITY_STARTED
                    and e.activity_task_started_event_attributes.scheduled_event_id
                    == scheduled.event_id
                ),
                None,
            )
            if task is None or done is None or scheduled is None or started is None:
                continue
            stages["crm_to_signal"].append(_seconds(event) - change.changed_at)
            stages["signal_to_workflow_task"].append(_seconds(task) - _seconds(event))
            stages["workflow_task"].append(_seconds(done) - _seconds(task))
            stages["activity_queue"].append(_seconds(started) - _seconds(scheduled))
            stages["activity_to_written"].append(at - _seconds(started))
    result: dict[str, Any] = {"changes_traced": len(stages["crm_to_signal"])}
    result |= {f"{name}_ms": latency_summary(values) for name, values in stages.items()}
    return result


def events_delta(
    before: dict[str, Any], after: dict[str, Any], plus: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The deliveries between two summaries (a delivery still pending in `before` and done
    in `after` moves between states: counts by state are of the deliveries' state at the
    end), plus another delta when given."""
    result: dict[str, Any] = {"count": after.get("count", 0) - before.get("count", 0)}
    result["count"] += (plus or {}).get("count", 0)
    for key in ("by_state", "by_attempts", "answers"):
        counts = Counter(after.get(key, {}))
        counts.subtract(before.get(key, {}))
        counts.update((plus or {}).get(key, {}))
        result[key] = {k: v for k, v in sorted(counts.items()) if v}
    return result
