"""Orchestrates one benchmark run: the stack process, the six parts, the report dict."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from benchmarks import callbacks as cb
from benchmarks.actions import actions_of
from benchmarks.bare import BARE_CALLBACK_PATH
from benchmarks.batch import BatchResult
from benchmarks.content import ContentPhase
from benchmarks.ecm import EcmPhase
from benchmarks.faults import run_fault_suite
from benchmarks.harness import StackProcess, Target
from benchmarks.machine import machine_info
from benchmarks.monitor import ProcessMonitor
from benchmarks.options import BenchOptions
from benchmarks.parked import COMPLETED, PARKED, ParkingLot, nda_docs
from benchmarks.pipeline import (
    FloorDriver,
    PipelineDriver,
    calibrate,
    floor_ids,
    pipeline_docs,
    run_tag,
)
from benchmarks.profiling import PySpy
from benchmarks.records import run_records
from benchmarks.stats import latency_summary, rate, ratio
from benchmarks.ticker import ticking
from benchmarks.workspaces import WorkspacesPhase
from docflow.settings import Settings
from docflow.temporal import signing_workflow_id

Progress = Callable[[str], None]
SIGNED_IN_FLIGHT = 100  # signed but unfinished processes at once (callbacks in flight)
AUTOPILOT_SIGNS = {"enabled": True, "action": "sign", "after_ms": 0, "rules": []}


async def run_benchmarks(options: BenchOptions, progress: Progress) -> dict[str, Any]:
    """Everything in the issue, against a fresh embedded stack; returns report.json's dict."""
    report: dict[str, Any] = {
        "quick": options.quick,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "sizes": _sizes(options),
    }
    data_dir = Path(tempfile.mkdtemp(prefix="docflow-bench-", dir=_memory_dir()))
    stack_phases = [p for p in options.phases if p != "records"]
    try:
        if stack_phases:
            await _stack_phases(options, progress, data_dir, report)
        if "records" in options.phases:  # no Temporal: its own servers, after the stack is down
            report.update(await run_records(options, progress, data_dir))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    if options.faults:
        progress("running the fault suite's long versions (tests/faults)")
        report["faults"] = run_fault_suite()
    report["goals"] = goals(report)
    return report


async def _stack_phases(
    options: BenchOptions, progress: Progress, data_dir: Path, report: dict[str, Any]
) -> None:
    """The phases that run against the embedded Temporal stack, into `report`."""
    report["temporal_db"] = str(data_dir / "temporal.db")
    progress(f"starting the stack process (data in {data_dir})")
    async with StackProcess(
        data_dir, options.content_compression, options.ecm_compression
    ) as stack:
        assert stack.target is not None and stack.client is not None
        target, client = stack.target, stack.client
        worker_pid = target.pids["worker"]
        assert worker_pid is not None
        processes = {
            "worker": worker_pid,
            "floor_worker": target.pids["floor_worker"],
            "api_and_simulators": target.pids["stack"],
            "temporal_server": target.pids["temporal"],
        }
        with ProcessMonitor(worker_pid, processes) as monitor:
            limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
            async with httpx.AsyncClient(timeout=60, limits=limits) as http:
                run = _Run(options, target, client, http, monitor, progress, data_dir)
                phases = {
                    "pipeline": run.pipeline,
                    "callbacks": run.callbacks,
                    "scale": run.scale,
                    "workspaces": run.workspaces,
                    "content": run.content,
                    "ecm": run.ecm,
                }
                for name, phase in phases.items():
                    if name in options.phases:
                        report.update(await phase())
        report["worker_peak_rss_mb"] = monitor.peak_rss_mb
        report["worker_peak_rss_mb_by_phase"] = monitor.peak_rss_by_phase
        report["rss_samples"] = monitor.samples
        report["cpu_seconds_by_phase"] = monitor.cpu_by_phase


def _memory_dir() -> str | None:
    """tmpfs when there is one: the dev server's SQLite file there measures Temporal's CPU,
    not the VM's disk (on this machine's disk B0 runs 3-4x slower, storage-bound)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def goals(report: dict[str, Any]) -> dict[str, bool]:
    """The issue's goals, for the phases that ran."""
    checks = {
        "pipeline_vs_floor_ratio >= 0.75": ("pipeline_vs_floor_ratio", lambda v: v >= 0.75),
        "callback_vs_bare_ratio >= 0.5": ("callback_vs_bare_ratio", lambda v: v >= 0.5),
        "callback_to_applied_p99_ms < 100 at 100/s": (
            "callback_to_applied_p99_ms",
            lambda v: v < 100,
        ),
        "worker_peak_rss_mb < 500": ("worker_peak_rss_mb", lambda v: v < 500),
        "parked_lost == 0": ("parked_lost", lambda v: v == 0),
        "workspaces_worker_peak_rss_mb < 500": (
            "workspaces_worker_peak_rss_mb",
            lambda v: v < 500,
        ),
        "workspaces_lost == 0": ("workspaces_lost", lambda v: v == 0),
        "workspace_changes_lost == 0": ("workspace_changes_lost", lambda v: v == 0),
        "content_worker_peak_rss_mb < 500": ("content_worker_peak_rss_mb", lambda v: v < 500),
        "content_lost == 0": ("content_lost", lambda v: v == 0),
        "content_outage_lost == 0": ("content_outage_lost", lambda v: v == 0),
        "content_outage_duplicates == 0": ("content_outage_duplicates", lambda v: v == 0),
        "ecm_worker_peak_rss_mb < 500": ("ecm_worker_peak_rss_mb", lambda v: v < 500),
        "ecm_lost == 0": ("ecm_lost", lambda v: v == 0),
        "ecm_outage_lost == 0": ("ecm_outage_lost", lambda v: v == 0),
        "ecm_outage_duplicates == 0": ("ecm_outage_duplicates", lambda v: v == 0),
        "ecm_outage_out_of_order == 0": ("ecm_outage_out_of_order", lambda v: v == 0),
        "records_api_errors == 0": ("records_api_errors", lambda v: v == 0),
    }
    return {goal: bool(met(report[key])) for goal, (key, met) in checks.items() if key in report}


def _sizes(options: BenchOptions) -> dict[str, Any]:
    return {
        k: v
        for k, v in vars(options).items()
        if k not in ("quick", "profile", "faults", "out_dir", "ecm_outage", "records_url")
    }


class _Run:
    """The five parts, sharing the stack, the clients and the process monitor."""

    def __init__(
        self,
        options: BenchOptions,
        target: Target,
        client: Client,
        http: httpx.AsyncClient,
        monitor: ProcessMonitor,
        progress: Progress,
        data_dir: Path,
    ) -> None:
        self.o = options
        self.target = target
        self.client = client
        self.http = http
        self.monitor = monitor
        self.progress = progress
        self.data_dir = data_dir
        self.tag = run_tag()
        self.lot = ParkingLot(target.api_url, target.core_signature_url, http, client)
        settings = Settings()
        self.hash_key = settings.secret(settings.core_signature.event_hash_key).encode()

    # ---------------------------------------------------------------- part 1
    async def pipeline(self) -> dict[str, Any]:
        o = self.o
        await self.lot.control("POST", "reset")
        await self.lot.control("PUT", "autopilot", AUTOPILOT_SIGNS)
        b1 = PipelineDriver(self.target.api_url, self.http, self.client)
        self.progress(f"warm-up: {o.warmup} pipeline documents, then calibrating the floor")
        warm = pipeline_docs(f"W1-{self.tag}", o.warmup)
        warm_result = await b1.run(warm, o.warmup)
        if warm_result.failures:
            raise RuntimeError(f"warm-up failed: {warm_result.failures[:3]}")
        shape = await calibrate(self.client, [d.key for d in warm])
        b0 = FloorDriver(self.client, shape)
        await b0.run(floor_ids(f"W0-{self.tag}", o.warmup), o.warmup)

        ids = floor_ids(f"B0-{self.tag}", o.docs)
        docs = pipeline_docs(f"B1-{self.tag}", o.docs)
        floor, pipe = BatchResult(), BatchResult()
        b0.polls = b1.polls = 0
        half = len(ids) // 2
        for part in (slice(0, half), slice(half, None)):  # B0, B1, B0, B1: drift hits both
            self.progress(f"B0 floor: {len(ids[part])} documents, {o.concurrency} in flight")
            with self.monitor.phase("B0_floor"):
                floor.extend(await b0.run(ids[part], o.concurrency))
            self.progress(f"B1 pipeline: {len(docs[part])} documents, {o.concurrency} in flight")
            with self.monitor.phase("B1_pipeline"):
                pipe.extend(await b1.run(docs[part], o.concurrency))
        polls = {"pipeline": round(b1.polls / o.docs, 1), "floor": round(b0.polls / o.docs, 1)}
        profile = await self._profiled_pass(b1) if o.profile else None

        self.progress("counting actions from the finished histories")
        done_ids = [signing_workflow_id(d.key) for d in docs]
        pipe_actions = await actions_of(self.client, done_ids)
        floor_actions = await actions_of(self.client, ids)
        floor_rate = rate(floor.done, floor.wall_s)
        pipe_rate = rate(pipe.done, pipe.wall_s)
        return {
            "floor_docs_per_s": floor_rate,
            "pipeline_docs_per_s": pipe_rate,
            "pipeline_vs_floor_ratio": ratio(pipe_rate, floor_rate),
            "e2e_latency_ms": latency_summary(pipe.latencies_s),
            "floor_e2e_latency_ms": latency_summary(floor.latencies_s),
            "actions_per_document": pipe_actions["total"],
            "actions_breakdown": pipe_actions,
            "floor_actions_per_document": floor_actions["total"],
            "floor_actions_breakdown": floor_actions,
            "floor_shape": shape.model_dump(),
            "approval_polls_per_document": polls,
            "pipeline_failures": pipe.failures[:5],
            "floor_failures": floor.failures[:5],
            "pipeline_completed": pipe.done,
            "floor_completed": floor.done,
            "profile": profile,
        }

    async def _profiled_pass(self, b1: PipelineDriver) -> dict[str, Any]:
        """Another B1 batch (not measured) with py-spy on the worker and the API process."""
        count = max(self.o.docs // 2, 10)
        spies = {
            "worker": PySpy(self.target.pids["worker"] or 0, self.data_dir / "worker.spy"),
            "api_and_simulators": PySpy(
                self.target.pids["stack"] or 0, self.data_dir / "stack.spy"
            ),
        }
        started = {name: await spy.start() for name, spy in spies.items()}
        if not any(started.values()):
            self.progress("py-spy is not available: no profile")
            return {"available": False}
        self.progress(f"profiled pass: {count} pipeline documents under py-spy")
        docs = pipeline_docs(f"P1-{self.tag}", count)
        with self.monitor.phase("B1_profiled"):
            result = await b1.run(docs, self.o.concurrency)
        summaries = {name: await spy.stop() for name, spy in spies.items()}
        return {
            "available": True,
            "documents": count,
            "docs_per_s_under_profiler": rate(result.done, result.wall_s),
            "rate_hz": 100,
            **summaries,
        }

    # ---------------------------------------------------------------- part 2
    async def callbacks(self) -> dict[str, Any]:
        o = self.o
        await self.lot.control("POST", "reset")  # autopilot off: the processes stay parked
        tag = f"CB-{self.tag}"
        self.progress(f"callbacks: parking {o.parked} processes")
        docs = nda_docs(tag, o.parked)
        await self.lot.start(docs, o.scale_concurrency)
        await self.lot.wait_parked(tag, o.parked, within_s=60 + o.parked * 0.5)
        parked = await self.lot.documents([d.key for d in docs])
        if not parked:
            raise RuntimeError("no process got parked for the callback runs")

        api = self.target.api_url
        self.progress(f"callbacks: {o.callbacks} to the bare endpoint, then to the receiver")
        with self.monitor.phase("callbacks_bare"):
            bare = await cb.fire(
                f"{api}{BARE_CALLBACK_PATH}",
                cb.callbacks_for(parked, o.callbacks, self.hash_key),
                o.callback_concurrency,
            )
        with self.monitor.phase("callbacks_receiver"):
            real = await cb.fire(
                f"{api}/webhooks/core-signature",
                cb.callbacks_for(parked, o.callbacks, self.hash_key),
                o.callback_concurrency,
            )
        count = int(o.paced_rate * o.paced_seconds)
        self.progress(f"callbacks: {count} at {o.paced_rate:g}/s, send -> applied")
        with self.monitor.phase("callbacks_paced"):
            paced_run = await cb.paced(
                f"{api}/webhooks/core-signature",
                cb.callbacks_for(parked, count, self.hash_key),
                o.paced_rate,
                self.client,
            )
        paced: dict[str, Any] = paced_run.summary()
        # The same at a tenth of the rate: the latency without queueing, for comparison.
        low_rate = o.paced_rate / 10
        low_count = max(10, int(low_rate * o.paced_seconds))
        self.progress(f"callbacks: {low_count} at {low_rate:g}/s, send -> applied")
        with self.monitor.phase("callbacks_paced_low"):
            low_run = await cb.paced(
                f"{api}/webhooks/core-signature",
                cb.callbacks_for(parked, low_count, self.hash_key),
                low_rate,
                self.client,
            )

        self.progress("callbacks: signing the parked processes so they finish")
        await self.lot.sign_and_finish(parked, SIGNED_IN_FLIGHT)
        finished = await self.lot.wait_completed(tag, len(parked), within_s=60 + o.parked * 0.5)
        return {
            "bare_callback_rps": bare.rps,
            "callback_rps": real.rps,
            "callback_vs_bare_ratio": ratio(real.rps, bare.rps),
            "callback_statuses": dict(real.statuses),
            "bare_callback_statuses": dict(bare.statuses),
            "callback_to_applied_ms": paced["latency_ms"],
            "callback_to_applied_p99_ms": paced["latency_ms"]["p99"],
            "callback_paced": paced,
            "callback_paced_low_rate": low_run.summary(),
            "callback_parked_finished": finished,
        }

    # ---------------------------------------------------------------- part 3
    async def scale(self) -> dict[str, Any]:
        o = self.o
        await self.lot.control("POST", "reset")
        tag = f"SC-{self.tag}"
        docs = nda_docs(tag, o.scale)
        bound = 120 + o.scale * 0.2
        self.progress(
            f"scale: starting {o.scale} processes through the Temporal client "
            f"({o.scale_concurrency} in flight)"
        )
        with self.monitor.phase("scale_park"):
            started = await self.lot.start_via_client(docs, o.scale_concurrency, self.data_dir)
            self.progress(
                f"scale: {started.done} started in {started.wall_s:.1f} s; waiting parked"
            )
            async with ticking(
                "scale: parked",
                o.scale,
                partial(self.lot.count, tag, PARKED),
                self.progress,
            ):
                parked_count = await self.lot.wait_parked(tag, o.scale, within_s=bound)
        park_wall = self.monitor.cpu_by_phase["scale_park"]["wall_s"]
        rss_parked = self.monitor.peak_rss_by_phase["scale_park"]
        self.progress(f"scale: {parked_count} parked after {park_wall:.1f} s; signing them all")
        with self.monitor.phase("scale_complete"):
            parked = await self.lot.documents([d.key for d in docs])
            async with ticking(
                "scale: completed",
                o.scale,
                partial(self.lot.count, tag, COMPLETED),
                self.progress,
            ):
                signed = await self.lot.sign_and_finish(parked, SIGNED_IN_FLIGHT)
                completed = await self.lot.wait_completed(tag, o.scale, within_s=bound)
        complete_wall = self.monitor.cpu_by_phase["scale_complete"]["wall_s"]
        self.progress(f"scale: {completed}/{o.scale} completed after {complete_wall:.1f} s")
        return {
            "scale": {
                "processes": o.scale,
                "started": started.done,
                "start_failures": started.failures[:5],
                "start_s": round(started.wall_s, 1),
                "starts_per_s": rate(started.done, started.wall_s),
                "start_call_latency_ms": latency_summary(started.latencies_s),
                "parked": parked_count,
                "all_parked_s": park_wall,
                "worker_rss_mb_while_parking": rss_parked,
                "signed_and_finished": signed.done,
                "finish_failures": signed.failures[:5],
                "signed_in_flight": SIGNED_IN_FLIGHT,
                "sign_to_completed_ms": latency_summary(signed.latencies_s),
                "completed": completed,
                "all_completed_s": complete_wall,
                "completions_per_s": rate(completed, complete_wall),
            },
            "parked_lost": o.scale - completed,
        }

    # ---------------------------------------------------------------- part 4
    async def workspaces(self) -> dict[str, Any]:
        phase = WorkspacesPhase(
            self.o, self.target, self.client, self.http, self.monitor, self.progress, self.tag
        )
        return await phase.run()

    # ---------------------------------------------------------------- part 5
    async def content(self) -> dict[str, Any]:
        phase = ContentPhase(
            self.o, self.target, self.client, self.http, self.monitor, self.progress, self.tag
        )
        return await phase.run()

    # ---------------------------------------------------------------- part 6
    async def ecm(self) -> dict[str, Any]:
        phase = EcmPhase(
            self.o, self.target, self.client, self.http, self.monitor, self.progress, self.tag
        )
        return await phase.run()
