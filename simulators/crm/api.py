"""HTTP surface of the CRM simulator: docflow's status reports, records, and their inspection."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from simulators.crm.sim import CrmConfig, CrmSim
from simulators.kit.control import control_router, simulator_app
from simulators.kit.faults import fault_gate
from simulators.kit.inbox import receive_signed
from simulators.notifications import notification_routes


def _sim(request: Request) -> CrmSim:
    sim: CrmSim = request.app.state.sim
    return sim


def _api_routes() -> APIRouter:
    router = APIRouter(dependencies=[Depends(fault_gate)])

    @router.post("/webhooks/docflow", response_model=None)
    async def docflow_report(request: Request) -> dict[str, Any] | JSONResponse:
        sim = _sim(request)
        outcome = await receive_signed(request, sim.reports)
        if isinstance(outcome, JSONResponse):
            return outcome
        message, new = outcome
        if new:
            sim.apply_report(message.payload)
        return {"status": "accepted" if new else "duplicate", "webhook_id": message.webhook_id}

    @router.get("/api/records/{record_type}/{record_id}", response_model=None)
    async def get_record(
        record_type: str, record_id: str, request: Request
    ) -> dict[str, Any] | JSONResponse:
        record = _sim(request).records.get((record_type, record_id))
        if record is None:
            return JSONResponse({"error": "record not found"}, status_code=404)
        return record

    @router.put("/api/records/{record_type}/{record_id}")
    async def put_record(
        record_type: str,
        record_id: str,
        request: Request,
        fields: dict[str, Any] = Body(...),  # noqa: B008
    ) -> dict[str, Any]:
        records = _sim(request).records
        record = records.setdefault((record_type, record_id), {})
        record.update(fields)
        record.update({"type": record_type, "id": record_id})
        return record

    return router


def _control_routes() -> APIRouter:
    router = control_router()

    @router.get("/reports")
    async def control_reports(request: Request, business_key: str | None = None) -> dict[str, Any]:
        inbox = _sim(request).reports
        items = [
            m
            for m in inbox.messages.values()
            if business_key in (None, m.payload.get("business_key"))
        ]
        result = inbox.summary(items)
        result["by_business_key"] = dict(
            Counter(str(m.payload.get("business_key")) for m in inbox.messages.values())
        )
        return result

    @router.get("/records")
    async def control_records(request: Request) -> dict[str, Any]:
        records = list(_sim(request).records.values())
        return {"count": len(records), "results": records}

    return router


def create_app(config: CrmConfig | None = None) -> FastAPI:
    """The CRM simulator with the notification service on the same port.

    Its state is `app.state.sim` (a CrmSim); `app.state.notifications` is the CrmSim's.
    """
    sim = CrmSim(config or CrmConfig())
    app = simulator_app(
        "CRM and notification simulator",
        sim,
        _api_routes(),
        notification_routes(),
        _control_routes(),
        error_body=lambda status, message: {"error": message},
    )
    app.state.notifications = sim.notifications
    return app
