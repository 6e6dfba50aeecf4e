"""HTTP surface of the ERP simulator: the business system's routes, the transaction history
(`/api/transactions`, bearer API key), and `/_control/transactions` to seed and inspect it.

Business processes (bearer API key, fault gate):
- `POST /api/processes` + header `Idempotency-Key` (required, at most 200 characters; else 400),
  body `{process: "invoice_processing"|"contract_activation"|"procurement_release",
  reference (1..200), document: {node_id, version|null, name}, business_object:
  {ext_system_id, bo_type, bo_id}|null, data: {} (at most 16 KiB as JSON)}` → 201 and the
  process (`Location: /api/processes/{id}`); the same key again → 200, the same process,
  `Idempotent-Replayed: true` (with another process kind or reference: 409); an unknown
  process or an invalid body → 422 `{"error", "detail"}`.
- `GET /api/processes/{id}` (404 unknown), `GET /api/processes[?reference=]` → `{"items"}`.

Control: `POST /_control/processes/faults` `{fail_next, reason, fail_process, duration_ms,
lose_answer_next}`,
`GET /_control/processes[?reference=]` (counts and every process), `PUT
/_control/processes/events-url` `{url}` (where finish events go; None: the events URL);
`/_control/events/flush` waits for running processes and their events too.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from simulators.erp.processes import MAX_IDEMPOTENCY_KEY, ProcessFaults, parse_start
from simulators.erp.sim import MAX_TRANSACTIONS, ErpConfig, ErpSim
from simulators.kit.business_api import (
    EventsTarget,
    business_api_routes,
    business_control_routes,
)
from simulators.kit.business_objects import RecordError
from simulators.kit.control import simulator_app
from simulators.kit.faults import fault_gate


class Unauthorized(Exception):
    """No or a wrong bearer key."""


def _sim(request: Request) -> ErpSim:
    sim: ErpSim = request.app.state.sim
    return sim


async def require_api_key(request: Request) -> None:
    """FastAPI dependency: `Authorization: Bearer <api_key>`."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = _sim(request).config.api_key
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), expected):
        raise Unauthorized


def _error(exc: RecordError) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.status)


def _transaction_routes() -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(fault_gate), Depends(require_api_key)])

    @router.get("/transactions", response_model=None)
    async def list_transactions(
        request: Request,
        case_reference: str = Query(min_length=1, max_length=200),
        cursor: str | None = None,
        limit: int | None = Query(default=None, ge=1),
    ) -> dict[str, Any] | JSONResponse:
        try:
            items, next_cursor = _sim(request).page(case_reference, cursor, limit)
        except RecordError as exc:
            return _error(exc)
        return {"items": [t.to_json() for t in items], "next_cursor": next_cursor}

    @router.get("/transactions/{transaction_id}/document", response_model=None)
    async def statement(transaction_id: str, request: Request) -> Response:
        try:
            found = _sim(request).statement(transaction_id)
        except RecordError as exc:
            return _error(exc)
        return Response(
            found.document,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{found.document_no}.pdf"',
                "ETag": f'"{found.sha256}"',
            },
        )

    return router


def _process_routes() -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(fault_gate), Depends(require_api_key)])

    @router.post("/processes", response_model=None)
    async def start_process(request: Request) -> JSONResponse:
        key = request.headers.get("idempotency-key", "").strip()
        if not key or len(key) > MAX_IDEMPOTENCY_KEY:
            return JSONResponse(
                {
                    "error": "The Idempotency-Key header is required "
                    f"(1..{MAX_IDEMPOTENCY_KEY} characters)."
                },
                status_code=400,
            )
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "The body is not valid JSON."}, status_code=400)
        try:
            start = parse_start(payload)
        except ValueError as exc:
            return JSONResponse(
                {"error": "invalid process start", "detail": str(exc)}, status_code=422
            )
        sim = _sim(request)
        try:
            process, new = sim.start_process(start, key)
        except RecordError as exc:
            return _error(exc)
        if new and sim.lose_answer():
            return JSONResponse({"error": "Gateway Timeout"}, status_code=504)
        headers = {"Location": f"/api/processes/{process.id}"}
        if not new:
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(process.to_json(), status_code=201 if new else 200, headers=headers)

    @router.get("/processes/{process_id}", response_model=None)
    async def get_process(process_id: str, request: Request) -> dict[str, Any] | JSONResponse:
        try:
            return _sim(request).process(process_id).to_json()
        except RecordError as exc:
            return _error(exc)

    @router.get("/processes")
    async def list_processes(
        request: Request, reference: str | None = Query(default=None, max_length=200)
    ) -> dict[str, Any]:
        return {"items": [p.to_json() for p in _sim(request).find_processes(reference)]}

    return router


class SeedTransactions(BaseModel):
    case_reference: str = Field(min_length=1, max_length=200)
    count: int = Field(ge=0, le=MAX_TRANSACTIONS)


def _control_routes() -> APIRouter:
    router = business_control_routes(
        flush=lambda sim, timeout_s: sim.settle(timeout_s),
        filters=("process_id", "process", "reference"),
    )

    @router.post("/processes/faults")
    async def process_faults(body: ProcessFaults, request: Request) -> dict[str, Any]:
        """How the next processes end (replaced whole; reset clears it): the next `fail_next`
        starts (of `fail_process` only, when set) fail with `reason`; `duration_ms` sets how
        long new processes run (None: `process_duration_ms` of the config)."""
        sim = _sim(request)
        sim.configure_processes(body)
        return sim.processes_summary()["faults"]

    @router.put("/processes/events-url")
    async def process_events_url(body: EventsTarget, request: Request) -> dict[str, Any]:
        """Where finish events go from now on (until reset); None: to the events URL."""
        sim = _sim(request)
        sim.process_events_url = body.url
        return {"process_events_url": sim.process_events_url, "events_url": sim.events_url}

    @router.get("/processes")
    async def inspect_processes(request: Request, reference: str | None = None) -> dict[str, Any]:
        """Starts per kind, replays (the same Idempotency-Key again), statuses, references
        started more than once, the faults, and every process (with its key and data)."""
        sim = _sim(request)
        return {
            **sim.processes_summary(),
            "results": [p.detail() for p in sim.find_processes(reference)],
        }

    @router.post("/transactions", response_model=None)
    async def seed(body: SeedTransactions, request: Request) -> dict[str, Any]:
        history = _sim(request).seed_transactions(body.case_reference, body.count)
        return {
            "case_reference": body.case_reference,
            "count": len(history),
            "results": [t.to_json() for t in history],
        }

    @router.get("/transactions")
    async def inspect(request: Request, case_reference: str | None = None) -> dict[str, Any]:
        """Seeded histories, listings served, and statement downloads per transaction."""
        sim = _sim(request)
        cases = {
            ref: [{**t.to_json(), "downloads": sim.downloads[t.id]} for t in history]
            for ref, history in sim.histories.items()
            if case_reference in (None, ref)
        }
        return {
            "listings": sim.listings,
            "downloads": sum(sim.downloads.values()),
            "cases": {ref: {"count": len(items), "results": items} for ref, items in cases.items()},
        }

    return router


def create_app(config: ErpConfig | None = None) -> FastAPI:
    """The ERP simulator; its state is `app.state.sim` (an ErpSim)."""
    sim = ErpSim(config or ErpConfig())
    app = simulator_app(
        "ERP simulator (SAP S/4HANA)",
        sim,
        business_api_routes([Depends(require_api_key)]),
        _transaction_routes(),
        _process_routes(),
        _control_routes(),
        error_body=lambda status, message: {"error": message},
    )

    async def unauthorized(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"error": "Missing or invalid API key."},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="erp"'},
        )

    app.add_exception_handler(Unauthorized, unauthorized)
    return app
