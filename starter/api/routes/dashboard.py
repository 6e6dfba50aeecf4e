"""The records dashboard (`/dashboard`) and its Prometheus twin (`/metrics`).

The page is static HTML, CSS and a small vanilla-JS module served from
`starter/api/static/dashboard/` (packaged in the wheel; nothing loads from elsewhere). It holds
no data itself: in the browser it asks once for an API key or bearer token (kept in the tab's
sessionStorage, never in a cookie), sends it as `Authorization: Bearer` to
`GET /v1/records/figures` (scope `records:read`, figures over the caller's scope only) and draws
the figures as hand-written SVG charts with table fallbacks. `GET /dashboard/config.json` gives
the page what is not secret: the Temporal Web UI base and namespace for its links and the
refresh interval.

`/metrics` serves the same figures as Prometheus gauges, computed over every record (an
unrestricted scope) by a custom collector and cached for `METRICS_TTL_S` so scrapes are cheap.

Auth of `/metrics`: none, by choice. Prometheus scrapes without credentials by default, and the
exposition holds only aggregate counts labelled by process type, state, age bucket and delivery
target: no business keys, workspace ids, names or people. Expose it only where the scraper
reaches it: the API binds to 127.0.0.1 by default (`api.host`); behind an ingress, route
`/metrics` to the internal network only (or block it there).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from temporalio.envconfig import ClientConfig

from docflow.models.records import DashboardFigures, RecordQuery, RecordScope
from docflow.records.store import RecordStore
from docflow.settings import Settings
from starter.api.context import api_context
from starter.api.records_store import get_store
from starter.api.routes.records import RecordsUnavailable

log = logging.getLogger("docflow.api")
STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "dashboard"
STATIC_URL = "/dashboard/static"
REFRESH_S = 30
METRICS_TTL_S = 5.0
# Every record, for the operators' metrics: all source systems, all tenants.
UNRESTRICTED = RecordScope(source_systems=["*"], tenants=["*"])
AGE_BUCKETS = ("under_1h", "under_1d", "under_7d", "over_7d")

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Own scripts and styles only; the API and downloads (blob:) on this origin.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'",
}

router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    """The page, its assets, its config and /metrics on `app`."""
    app.include_router(router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="dashboard-static")


# ------------------------------------------------------------------ the page
@router.get("/dashboard")
async def dashboard_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS)


@router.get("/dashboard/config.json")
async def dashboard_config(request: Request) -> JSONResponse:
    settings = api_context(request).settings
    config = {
        "figures_url": "/v1/records/figures",
        "processes_url": "/v1/records/processes",
        "workspace_url": "/v1/records/workspaces/{id}",
        "temporal_ui_url": settings.temporal.ui_url.rstrip("/"),
        "temporal_namespace": temporal_namespace(settings),
        "refresh_seconds": REFRESH_S,
    }
    return JSONResponse(config, headers={"Cache-Control": "no-store"})


def temporal_namespace(settings: Settings) -> str:
    """The namespace the API's client uses (TEMPORAL_NAMESPACE / temporal.toml), for links."""
    try:
        config = ClientConfig.load_client_connect_config(profile=settings.temporal.env_profile)
    except Exception:
        return "default"
    return str(config.get("namespace") or "default")


# ------------------------------------------------------------------ /metrics
class FiguresCollector(Collector):
    """The dashboard's figures as gauges (one snapshot; `collect` does no I/O)."""

    def __init__(self, figures: DashboardFigures, seconds: float) -> None:
        self.figures = figures
        self.seconds = seconds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        f = self.figures
        processes = GaugeMetricFamily(
            "docflow_processes",
            "Processes by type and current state.",
            labels=["process_type", "state"],
        )
        for count in f.by_state:
            process_type, _, state = count.key.partition("/")
            processes.add_metric([process_type, state], count.count)
        yield processes

        ages = GaugeMetricFamily(
            "docflow_open_process_age_bucket",
            "Open processes by type and time in their current state "
            "(under_1h, under_1d, under_7d, over_7d; not cumulative).",
            labels=["process_type", "bucket"],
        )
        for age in f.ages:
            for bucket in AGE_BUCKETS:
                ages.add_metric([age.process_type, bucket], getattr(age, bucket))
        yield ages

        yield GaugeMetricFamily(
            "docflow_approvals_overdue",
            "Open processes waiting on a person past their deadline.",
            value=f.approvals_overdue,
        )

        turnaround = GaugeMetricFamily(
            "docflow_signature_turnaround_hours",
            "Signature turnaround (started to completed) of recently completed signings.",
            labels=["quantile"],
        )
        for quantile, hours in (("0.5", f.turnaround.p50_hours), ("0.9", f.turnaround.p90_hours)):
            if hours is not None:
                turnaround.add_metric([quantile], hours)
        yield turnaround

        failures = GaugeMetricFamily(
            "docflow_delivery_failures",
            "Deliveries a downstream target refused or gave up on.",
            labels=["target"],
        )
        for count in f.delivery_failures:
            failures.add_metric([count.key], count.count)
        yield failures

        yield GaugeMetricFamily(
            "docflow_retention_holds_active",
            "Retention holds in force.",
            value=f.active_holds,
        )
        yield GaugeMetricFamily(
            "docflow_records_figures_seconds",
            "How long computing these figures took.",
            value=self.seconds,
        )


class FiguresCache:
    """The unrestricted figures, computed at most once per `ttl` seconds (one at a time)."""

    def __init__(
        self,
        compute: Callable[[], Awaitable[DashboardFigures]],
        ttl: float = METRICS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self._ttl = ttl
        self._clock = clock
        self._lock = asyncio.Lock()
        self._value: tuple[DashboardFigures, float] | None = None
        self._at = 0.0

    async def get(self) -> tuple[DashboardFigures, float]:
        """The figures and how long computing them took."""
        async with self._lock:
            if self._value is None or self._clock() - self._at >= self._ttl:
                started = time.perf_counter()
                figures = await self._compute()
                self._value = (figures, time.perf_counter() - started)
                self._at = self._clock()
            return self._value


async def compute_figures(
    store: RecordStore, query: RecordQuery, scope: RecordScope, now: datetime | None = None
) -> DashboardFigures:
    """`store.figures(...)` off the event loop (the store is synchronous)."""
    return await run_in_threadpool(store.figures, query, scope, now=now or datetime.now(UTC))


async def records_store(request: Request) -> RecordStore:
    """The app's read model, through the shared accessor (it may open and migrate it)."""
    store = await run_in_threadpool(get_store, request)
    assert isinstance(store, RecordStore), "the app's records store is the read model's"
    return store


async def _figures_cache(request: Request) -> FiguresCache:
    state = request.app.state
    cache: FiguresCache | None = getattr(state, "dashboard_metrics_cache", None)
    if cache is None:
        store = await records_store(request)
        cache = FiguresCache(lambda: compute_figures(store, RecordQuery(), UNRESTRICTED))
        state.dashboard_metrics_cache = cache
    return cache


def exposition(figures: DashboardFigures, seconds: float) -> bytes:
    """The Prometheus text exposition of `figures`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FiguresCollector(figures, seconds))
    return generate_latest(registry)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    try:
        figures, seconds = await (await _figures_cache(request)).get()
    except OperationalError as exc:
        log.warning("records database unavailable for /metrics: %s", exc)
        raise RecordsUnavailable() from exc
    return Response(
        exposition(figures, seconds),
        media_type=CONTENT_TYPE_LATEST,
        headers={"Cache-Control": "no-store"},
    )
