"""Part 7: the records API (the read model) and portal content, each beside its floor.

1. Seed a RecordStore (SQLite in the run's directory, or `--records-url`) with N process
   records through `bulk_apply` in batches: several process types, source systems, states,
   workspaces, documents, each with a few audit entries and an approval (some with a hold).
2. Serve the real API app in a child process (`benchmarks.records_floor api`, uvicorn) with an
   API key whose `records:read` covers a subset of the source systems, and drive an open loop
   at a fixed rate: list queries with filters, next pages, single records, figures. Latency is
   measured from each request's *scheduled* time (no coordinated omission).
3. The floor in the same run and the same server process: the same open loop against
   `GET /bench/records-floor/{key}`, one primary-key SELECT on the same database.
4. Content: approved versions (1 MiB and 20 MiB) put in the document store the portal route
   reads its cache from, downloaded whole and by Range with N concurrent clients from
   `GET /v1/portal/documents/{node}`, beside a bare Starlette `StaticFiles` server (same
   uvicorn, its own child process) serving the same files.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.options import BenchOptions
from benchmarks.records_floor import FLOOR_PATH, READY_MARKER
from benchmarks.stats import latency_summary, percentile, rate, ratio
from devstack.embedded import PROJECT_ROOT
from docflow.docstore import LocalDocumentStore
from docflow.models.records import (
    DECISION_KIND,
    HOLD_APPLIED_KIND,
    ApprovedVersion,
    AuditRow,
    ProcessChange,
    RecordFacts,
)
from docflow.records.store import RecordStore

Progress = Callable[[str], None]
RECORDS_KEY = "bench-records-key"
PORTAL_KEY = "bench-portal-key"
SOURCE_SYSTEMS = ("SFDC", "SAP", "PIM", "WEB", "ARIBA")
VISIBLE_SYSTEMS = ("SFDC", "SAP", "PIM")  # the API key's records:read covers these only
STATES: dict[str, tuple[str, ...]] = {
    "signing": ("awaiting_approval", "awaiting_signature", "completed", "rejected"),
    "workspace": ("provisioning", "live", "written_back"),
    "case": ("open", "in_review", "closed"),
    "ecm_relay": ("delivering", "delivered"),
    "distribution": ("planning", "delivering", "delivered", "failed"),
}
CLOSED_STATES = {"completed", "rejected", "written_back", "closed", "delivered", "failed"}
WORKSPACES = 2000
DOCUMENTS_PER_WORKSPACE = 20
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_DAYS = 330
SECONDS_APART = SPAN_DAYS * 86400 // 100_000  # 100,000 records span the year
SERVER_START_TIMEOUT_S = 60
MIB = 2**20
# The open loop's mix: (kind, weight).
MIX: tuple[tuple[str, int], ...] = (
    ("list_type_state", 28),
    ("list_source_dates", 18),
    ("list_document", 10),
    ("list_workspace", 10),
    ("next_page", 12),
    ("record", 19),
    ("figures", 3),
)
CONTENT_FILES = {"1mib": (90_000_001, 1 * MIB), "20mib": (90_000_002, 20 * MIB)}
RANGE_BYTES = 256 * 1024
LOW_RATE_DIVISOR = 5  # the API's second open loop runs at a fifth of the rate


# ------------------------------------------------------------------ seeding
def _process_change(n: int) -> ProcessChange:
    """Process n: deterministic, spread over types, systems, states, workspaces, a year."""
    rnd = random.Random(n)
    ptype = list(STATES)[n % len(STATES)]
    state = STATES[ptype][rnd.randrange(len(STATES[ptype]))]
    source = SOURCE_SYSTEMS[(n // len(STATES)) % len(SOURCE_SYSTEMS)]
    workspace = 10_000 + n % WORKSPACES
    node = 1_000_000 + (n % (WORKSPACES * DOCUMENTS_PER_WORKSPACE))
    started = EPOCH + timedelta(seconds=n * SECONDS_APART % (SPAN_DAYS * 86400))
    closed = state in CLOSED_STATES
    at = started + timedelta(hours=1 + rnd.randrange(72))
    key = f"p-{n:07d}"
    audit = [
        AuditRow(seq=0, at=started, kind="started", actor=f"app:{source.lower()}"),
        AuditRow(seq=1, at=started + timedelta(minutes=5), kind="state", actor="docflow"),
        AuditRow(
            seq=2,
            at=started + timedelta(minutes=30),
            kind=DECISION_KIND,
            actor=f"approver{n % 50}@example.com",
            data={
                "decision": "approve" if n % 7 else "reject",
                "comment": "ok",
                "stage": "legal",
            },
        ),
    ]
    if n % 500 == 0:
        audit.append(
            AuditRow(
                seq=3,
                at=at,
                kind=HOLD_APPLIED_KIND,
                actor="legal@example.com",
                data={"hold": f"hold-{n // 500 % 20}"},
            )
        )
    return ProcessChange(
        process_key=key,
        workflow_id=f"{ptype}-{key}",
        run_id=key,
        process_type=ptype,
        business_key=f"BK-{n}",
        version=1,
        at=at,
        started_at=started,
        state=state,
        closed=closed,
        since=started,
        facts=RecordFacts(
            source_system=source,
            tenant="eu",
            document_node_id=node,
            document_version=1 + n % 3,
            document_name=f"contract-{n}.pdf",
            workspace_id=workspace,
            business_object_type="Account",
            business_object_id=f"ACC-{n % 5000}",
            retention_class=n % 4 or None,
        ),
        audit=audit,
    )


def _changes(start: int, stop: int) -> Iterator[ProcessChange]:
    for n in range(start, stop):
        yield _process_change(n)


def seed_records(store: RecordStore, count: int, batch: int, progress: Progress) -> dict[str, Any]:
    """`count` processes through `bulk_apply`, `batch` per call (one transaction each)."""
    started = time.monotonic()
    applied = 0
    next_note = started + 10
    for start in range(0, count, batch):
        applied += store.bulk_apply(_changes(start, min(start + batch, count)))
        if time.monotonic() >= next_note:
            next_note += 10
            progress(f"records: seeded {applied}/{count}")
    wall = time.monotonic() - started
    return {
        "records": count,
        "applied": applied,
        "batch": batch,
        "seconds": round(wall, 1),
        "records_per_s": rate(applied, wall),
        "audit_entries_per_record": 3,
        "holds": len(range(0, count, 500)),
    }


def seed_content(store: RecordStore, data_dir: Path) -> dict[str, tuple[int, bytes]]:
    """Approved ECM versions in the read model and their bytes in the document store (where
    the portal route finds its cache by SHA-256); the same files for the static server."""
    docstore = LocalDocumentStore(data_dir / "documents")
    static = data_dir / "static"
    static.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[int, bytes]] = {}
    for name, (node, size) in CONTENT_FILES.items():
        data = b"%PDF-1.7\n" + random.Random(size).randbytes(size - 9)
        sha = hashlib.sha256(data).hexdigest()
        asyncio.run(docstore.put(data, filename=f"{name}.pdf", content_type="application/pdf"))
        (static / f"{name}.pdf").write_bytes(data)
        approved = ApprovedVersion(
            source="ecm",
            object_id=str(node),
            version=1,
            name=f"{name}.pdf",
            mime_type="application/pdf",
            sha256=sha,
            approved_at=EPOCH,
            approved_by="approver@example.com",
            workspace_id=10_000,
        )
        change = _process_change(0).model_copy(
            update={
                "process_key": f"content-{name}",
                "run_id": f"content-{name}",
                "facts": RecordFacts(
                    source_system="SFDC", document_node_id=node, approved=[approved]
                ),
                "audit": [],
            }
        )
        store.apply(change)
        store.set_version_digest("ecm", str(node), 1, sha, len(data))
        files[name] = (node, data)
    return files


# ------------------------------------------------------------------ servers
class ChildServer:
    """`python -m benchmarks.records_floor <mode> <arg>`; stops when its stdin closes."""

    def __init__(self, mode: str, arg: str, log: Path) -> None:
        self.mode, self.arg, self.log = mode, arg, log
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""
        self.pid = 0

    async def __aenter__(self) -> ChildServer:
        await self.start()
        return self

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "benchmarks.records_floor",
                self.mode,
                self.arg,
                cwd=PROJECT_ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        async with asyncio.timeout(SERVER_START_TIMEOUT_S):
            while True:
                line = (await self.process.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"records bench server ({self.mode}) died; see {self.log}")
                if line.startswith(READY_MARKER):
                    info = json.loads(line.removeprefix(READY_MARKER))
                    self.url, self.pid = info["url"], info["pid"]
                    return

    async def __aexit__(self, *exc: object) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            process.kill()
            await process.wait()


class ServerSampler:
    """CPU seconds and RSS (sampled every 200 ms) of a server process during a run."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.rss: list[int] = []
        self._task: asyncio.Task[None] | None = None
        self._cpu0 = 0.0
        self._wall0 = 0.0
        self._others0 = 0.0
        self._loadgen0 = 0.0
        self._load0 = (0.0, 0.0, 0.0)
        self.result: dict[str, Any] = {}

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    @staticmethod
    def _others() -> float:
        """CPU seconds of the machine outside the server and this load generator."""
        machine = psutil.cpu_times()
        busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
        own = psutil.Process().cpu_times()
        return float(busy - own.user - own.system)

    async def _sample(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                self.rss.append(self.process.memory_info().rss)
            await asyncio.sleep(0.2)

    async def __aenter__(self) -> ServerSampler:
        self._cpu0, self._wall0 = self._cpu(), time.monotonic()
        self._others0 = self._others()
        self._loadgen0 = sum(psutil.Process().cpu_times()[:2])
        self._load0 = os.getloadavg()
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        wall = time.monotonic() - self._wall0
        cpu = self._cpu() - self._cpu0
        others = self._others() - self._others0 - cpu
        loadgen = sum(psutil.Process().cpu_times()[:2]) - self._loadgen0
        self.result = {
            "loadgen_cpu_pct": round(100 * loadgen / wall, 1) if wall > 0 else 0.0,
            # Cores busy with anything else (other engineers' tests, the other server...).
            "other_cores_busy": round(others / wall, 2) if wall > 0 else 0.0,
            "server_cpu_s": round(cpu, 2),
            "server_cpu_pct": round(100 * cpu / wall, 1) if wall > 0 else 0.0,
            "server_rss_mb_peak": round(max(self.rss, default=0) / MIB, 1),
            "server_rss_mb_end": round((self.rss[-1] if self.rss else 0) / MIB, 1),
            "load_average_before": [round(v, 2) for v in self._load0],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        }


# ------------------------------------------------------------------ open loop
@dataclass
class Catalog:
    """What the load generator asks about: visible keys, documents, workspaces."""

    keys: list[str]
    documents: list[int]
    workspaces: list[int]

    @classmethod
    def of(cls, count: int) -> Catalog:
        visible = [n for n in range(count) if _process_source(n) in VISIBLE_SYSTEMS]
        documents = sorted(
            {1_000_000 + n % (WORKSPACES * DOCUMENTS_PER_WORKSPACE) for n in visible}
        )
        workspaces = sorted({10_000 + n % WORKSPACES for n in visible})
        return cls([f"p-{n:07d}" for n in visible], documents, workspaces)


def _process_source(n: int) -> str:
    return SOURCE_SYSTEMS[(n // len(STATES)) % len(SOURCE_SYSTEMS)]


@dataclass
class RequestMaker:
    """The next request of each kind, at random from the catalog; cursors from answers."""

    catalog: Catalog
    rnd: random.Random = field(default_factory=lambda: random.Random(7))
    cursors: deque[str] = field(default_factory=lambda: deque(maxlen=500))

    def kind(self) -> str:
        return self.rnd.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]

    def request(self, kind: str) -> tuple[str, dict[str, Any]]:
        r = self.rnd
        if kind == "next_page" and not self.cursors:
            kind = "list_workspace"
        if kind == "list_type_state":
            ptype = r.choice(list(STATES))
            return "/v1/records/processes", {
                "process_type": ptype,
                "state": r.choice(STATES[ptype]),
                "limit": 50,
            }
        if kind == "list_source_dates":
            start = EPOCH + timedelta(days=r.randrange(SPAN_DAYS - 14))
            return "/v1/records/processes", {
                "source_system": r.choice(VISIBLE_SYSTEMS),
                "started_from": start.isoformat(),
                "started_to": (start + timedelta(days=r.choice((1, 7, 14)))).isoformat(),
                "order": "started",
                "limit": 50,
            }
        if kind == "list_document":
            return "/v1/records/processes", {"document_node_id": r.choice(self.catalog.documents)}
        if kind == "list_workspace":
            return "/v1/records/processes", {
                "workspace_id": r.choice(self.catalog.workspaces),
                "limit": 50,
            }
        if kind == "next_page":
            path, params = json.loads(self.cursors.popleft())
            return path, params
        if kind == "record":
            return f"/v1/records/processes/{r.choice(self.catalog.keys)}", {}
        if kind == "figures":
            return "/v1/records/figures", {"process_type": r.choice(list(STATES))}
        raise ValueError(kind)

    def learn(self, path: str, params: dict[str, Any], response: httpx.Response) -> None:
        if path != "/v1/records/processes" or response.status_code != 200:
            return
        cursor = response.json().get("next_cursor")
        if cursor:
            self.cursors.append(json.dumps([path, {**params, "cursor": cursor}]))


@dataclass
class LoadResult:
    """Per kind: latencies from the scheduled time, statuses."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    service: list[float] = field(default_factory=list)  # from send, for comparison
    late_starts: list[float] = field(default_factory=list)  # load generator lag
    sent: int = 0
    schedule_s: float = 0.0  # from the first scheduled request to the last
    wall_s: float = 0.0  # from the first scheduled request to the last answer
    unfinished: int = 0  # still unanswered when the drain ended (counted as errors)

    def summary(self, target_rate: float) -> dict[str, Any]:
        everything = [v for values in self.latencies.values() for v in values]
        ok = sum(self.statuses[s] for s in self.statuses if s.startswith("2"))
        return {
            "target_rate_per_s": target_rate,
            "requests": self.sent,
            "schedule_s": round(self.schedule_s, 2),
            "wall_s": round(self.wall_s, 2),
            "offered_rate_per_s": rate(self.sent, self.schedule_s),
            # Answers per second until the last one: below the offered rate, the server
            # could not keep up and this is what it sustained.
            "achieved_rate_per_s": rate(self.sent - self.unfinished, self.wall_s),
            "completed_2xx_per_s": rate(ok, self.wall_s),
            "unfinished": self.unfinished,
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(self.errors),
            "statuses": dict(self.statuses),
            "latency_ms": _summary(everything),
            "service_time_ms": _summary(self.service),
            "generator_lag_ms": _summary(self.late_starts),
            "by_kind": {
                kind: {"requests": len(values), "latency_ms": _summary(values)}
                for kind, values in sorted(self.latencies.items())
            },
        }


def _summary(seconds: list[float]) -> dict[str, float]:
    out = latency_summary(seconds)
    out["p90"] = round(percentile([s * 1000 for s in seconds], 90), 1)
    return {k: out[k] for k in ("p50", "p90", "p95", "p99", "max")}


Request = Callable[[], tuple[str, str, dict[str, Any]]]


async def open_loop(
    http: httpx.AsyncClient,
    base_url: str,
    next_request: Request,
    target_rate: float,
    seconds: float,
    learn: Callable[[str, dict[str, Any], httpx.Response], None] | None = None,
    drain_s: float = 300.0,
    connections: int = 64,
) -> LoadResult:
    """Requests on a fixed clock (the i-th at t0 + i/rate), each timed from its scheduled
    moment: a slow server delays answers, never the schedule. `connections` senders take
    due requests from a queue (a request waiting for a free sender waits on the clock, as it
    would in the server's queue); answers are awaited at most `drain_s` after the last
    request was due."""
    result = LoadResult()
    count = max(1, int(target_rate * seconds))
    interval = 1 / target_rate
    due: asyncio.Queue[tuple[float, str, str, dict[str, Any]] | None] = asyncio.Queue()
    last_done = 0.0

    async def sender() -> None:
        nonlocal last_done
        while (item := await due.get()) is not None:
            scheduled, kind, path, params = item
            sent = time.perf_counter()
            result.late_starts.append(max(0.0, sent - scheduled))
            try:
                response = await http.get(base_url + path, params=params)
                status = str(response.status_code)
                if learn is not None:
                    learn(path, params, response)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            done = time.perf_counter()
            last_done = max(last_done, done)
            result.statuses[status] += 1
            if not status.startswith("2"):
                result.errors[kind] += 1
            result.latencies.setdefault(kind, []).append(done - scheduled)
            result.service.append(done - sent)

    senders = [asyncio.create_task(sender()) for _ in range(connections)]
    t0 = time.perf_counter() + 0.05
    for i in range(count):
        scheduled = t0 + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        kind, path, params = next_request()
        due.put_nowait((scheduled, kind, path, params))
        result.sent += 1
    for _ in senders:
        due.put_nowait(None)
    result.schedule_s = max(count - 1, 1) * interval
    _, pending = await asyncio.wait(senders, timeout=drain_s)
    for task in pending:  # unanswered: errors, and no longer load on the next run
        task.cancel()
    answered = sum(result.statuses.values())
    result.unfinished = result.sent - answered
    if result.unfinished:
        result.statuses["unfinished"] += result.unfinished
        result.errors["unfinished"] += result.unfinished
    result.wall_s = (time.perf_counter() if result.unfinished else last_done) - t0
    return result


# ------------------------------------------------------------------ downloads
async def closed_loop_downloads(
    http: httpx.AsyncClient,
    url: str,
    clients: int,
    seconds: float,
    headers: Callable[[], dict[str, str]],
    expect_status: int,
) -> dict[str, Any]:
    """`clients` loops each downloading `url` back to back for `seconds`; MB/s and req/s."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    received = 0
    errors = 0

    async def client() -> None:
        nonlocal received, errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                response = await http.get(url, headers=headers())
                ok = response.status_code == expect_status
                received += len(response.content)
            except httpx.HTTPError:
                ok = False
            if not ok:
                errors += 1
            latencies.append(time.perf_counter() - started)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - t0
    return {
        "requests": len(latencies),
        "errors": errors,
        "mb_per_s": round(received / MIB / wall, 1) if wall > 0 else 0.0,
        "requests_per_s": rate(len(latencies), wall),
        "latency_ms": latency_summary(latencies),
    }


# ------------------------------------------------------------------ the phase
class RecordsPhase:
    """Seeding, the open loop against the records API and its floor, content downloads."""

    def __init__(self, options: BenchOptions, progress: Progress, data_dir: Path) -> None:
        self.o = options
        self.progress = progress
        self.data_dir = data_dir / "records"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.url = options.records_url or f"sqlite:///{self.data_dir / 'records.db'}"

    async def run(self) -> dict[str, Any]:
        o = self.o
        store = RecordStore(self.url)
        try:
            await asyncio.to_thread(store.migrate)
            self.progress(f"records: seeding {o.records} process records ({store.dialect})")
            seeding = await asyncio.to_thread(
                seed_records, store, o.records, o.records_batch, self.progress
            )
            files = await asyncio.to_thread(seed_content, store, self.data_dir)
        finally:
            store.close()
        self.progress(f"records: seeded at {seeding['records_per_s']}/s; serving the API")
        config = {
            "data_dir": str(self.data_dir),
            "records_url": self.url,
            "api_keys": [
                {
                    "name": "bench-records",
                    "key": f"value:{RECORDS_KEY}",
                    "subject": "app:records-bench",
                    "scopes": ["records:read"],
                    "source_systems": list(VISIBLE_SYSTEMS),
                },
                {
                    "name": "bench-portal",
                    "key": f"value:{PORTAL_KEY}",
                    "subject": "app:portal-bench",
                    "scopes": ["content:read"],
                    "source_systems": [],
                },
            ],
        }
        config_path = self.data_dir / "server.json"
        config_path.write_text(json.dumps(config))
        log = self.data_dir / "server.log"
        connections = o.records_connections
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        api = ChildServer("api", str(config_path), log)
        static = ChildServer("static", str(self.data_dir / "static"), log)
        async with (
            contextlib.AsyncExitStack() as servers,
            httpx.AsyncClient(timeout=60, limits=limits) as http,
        ):
            servers.push_async_exit(api.__aexit__)
            servers.push_async_exit(static.__aexit__)
            started = await asyncio.gather(api.start(), static.start(), return_exceptions=True)
            for outcome in started:
                if isinstance(outcome, BaseException):
                    raise outcome
            load = await self._load(http, api)
            content = await self._content(http, api, static, files)
        records: dict[str, Any] = {
            "database": store.dialect,
            "seeding": seeding,
            "mix": dict(MIX),
            "visible_source_systems": list(VISIBLE_SYSTEMS),
            "source_systems": list(SOURCE_SYSTEMS),
            **load,
            "content": content,
        }
        api_run, floor_run = records["api"], records["floor"]
        return {
            "records": records,
            "records_api_p99_ms": api_run["latency_ms"]["p99"],
            "records_api_errors": api_run["errors"],
            "records_api_vs_floor_p99_ratio": ratio(
                api_run["latency_ms"]["p99"], floor_run["latency_ms"]["p99"]
            ),
        }

    async def _load(self, http: httpx.AsyncClient, api: ChildServer) -> dict[str, Any]:
        o = self.o
        catalog = Catalog.of(o.records)
        maker = RequestMaker(catalog)
        auth = {"X-API-Key": RECORDS_KEY}
        http.headers.update(auth)

        def api_request() -> tuple[str, str, dict[str, Any]]:
            kind = maker.kind()
            path, params = maker.request(kind)
            return kind, path, params

        floor_rnd = random.Random(11)

        def floor_request() -> tuple[str, str, dict[str, Any]]:
            return "pk_select", f"{FLOOR_PATH}/{floor_rnd.choice(catalog.keys)}", {}

        warm = max(10, int(o.records_rate * min(2.0, o.records_seconds)))
        self.progress(f"records: warm-up, {warm} requests to each")
        await open_loop(
            http,
            api.url,
            api_request,
            o.records_rate,
            warm / o.records_rate,
            maker.learn,
            connections=o.records_connections,
        )
        await open_loop(
            http,
            api.url,
            floor_request,
            o.records_rate,
            warm / o.records_rate,
            connections=o.records_connections,
        )

        runs: dict[str, dict[str, Any]] = {}
        low_rate = o.records_rate / LOW_RATE_DIVISOR
        plan = (
            ("floor", floor_request, None, o.records_rate),
            ("api_low_rate", api_request, maker.learn, low_rate),
            ("api", api_request, maker.learn, o.records_rate),
        )
        for name, make, learn, at in plan:
            if name == "api_low_rate":
                runs["api_unloaded_by_kind"] = await self._unloaded(http, api, maker)
            self.progress(f"records: {name}, open loop at {at:g}/s for {o.records_seconds:g} s")
            async with ServerSampler(api.pid) as sampler:
                result = await open_loop(
                    http,
                    api.url,
                    make,
                    at,
                    o.records_seconds,
                    learn,
                    connections=o.records_connections,
                )
            runs[name] = result.summary(at) | sampler.result
            summary = runs[name]
            self.progress(
                f"records: {name}: p50 {summary['latency_ms']['p50']} ms, p99 "
                f"{summary['latency_ms']['p99']} ms, offered {summary['offered_rate_per_s']}/s, "
                f"answered {summary['achieved_rate_per_s']}/s, {summary['errors']} errors"
            )
        return runs

    async def _unloaded(
        self, http: httpx.AsyncClient, api: ChildServer, maker: RequestMaker
    ) -> dict[str, Any]:
        """Each request kind alone, one at a time: what it costs without any queueing."""
        self.progress(f"records: each request kind alone, {self.o.records_probe} one at a time")
        out: dict[str, Any] = {}
        for kind, _ in MIX:
            seconds: list[float] = []
            errors = 0
            for _ in range(self.o.records_probe):
                path, params = maker.request(kind)
                started = time.perf_counter()
                response = await http.get(api.url + path, params=params)
                seconds.append(time.perf_counter() - started)
                errors += response.status_code >= 300
                maker.learn(path, params, response)
            out[kind] = {"requests": len(seconds), "errors": errors, "ms": _summary(seconds)}
        return out

    async def _content(
        self,
        http: httpx.AsyncClient,
        api: ChildServer,
        static: ChildServer,
        files: dict[str, tuple[int, bytes]],
    ) -> dict[str, Any]:
        o = self.o
        rnd = random.Random(5)
        out: dict[str, Any] = {
            "clients": o.records_download_clients,
            "seconds_per_run": o.records_download_seconds,
            "range_bytes": RANGE_BYTES,
            "files_mb": {name: round(len(data) / MIB, 1) for name, (_, data) in files.items()},
        }
        portal = {"X-API-Key": PORTAL_KEY}
        for name, (node, data) in files.items():
            size = len(data)

            def whole() -> dict[str, str]:
                return portal

            def ranged(size: int = size) -> dict[str, str]:
                start = rnd.randrange(0, size - RANGE_BYTES)
                return {**portal, "Range": f"bytes={start}-{start + RANGE_BYTES - 1}"}

            runs = {
                "full": (whole, 200),
                "range": (ranged, 206),
            }
            for mode, (headers, status) in runs.items():
                pair: dict[str, Any] = {}
                for server, url in (
                    ("static", f"{static.url}/static/{name}.pdf"),
                    ("portal", f"{api.url}/v1/portal/documents/{node}"),
                ):
                    self.progress(
                        f"records: content {name} {mode} from {server}, "
                        f"{o.records_download_clients} clients, {o.records_download_seconds:g} s"
                    )
                    async with ServerSampler(api.pid if server == "portal" else static.pid) as s:
                        figures = await closed_loop_downloads(
                            http,
                            url,
                            o.records_download_clients,
                            o.records_download_seconds,
                            headers,
                            status,
                        )
                    pair[server] = figures | s.result
                pair["portal_vs_static_mb_ratio"] = ratio(
                    pair["portal"]["mb_per_s"], pair["static"]["mb_per_s"]
                )
                pair["portal_vs_static_rps_ratio"] = ratio(
                    pair["portal"]["requests_per_s"], pair["static"]["requests_per_s"]
                )
                out[f"{name}_{mode}"] = pair
        return out


async def run_records(
    options: BenchOptions, progress: Progress, data_dir: Path | None
) -> dict[str, Any]:
    """The phase on its own (no Temporal stack): in `data_dir`, or a temporary directory."""
    if data_dir is not None:
        return await RecordsPhase(options, progress, data_dir).run()
    with tempfile.TemporaryDirectory(prefix="docflow-records-bench-") as tmp:
        return await RecordsPhase(options, progress, Path(tmp)).run()
