"""CRM / source-system simulator plus the notification service (support queue, reminders).

Both receivers verify Standard Webhooks signatures and collapse redeliveries by webhook-id,
as section 6 of external-apis.md asks of every receiver of docflow's messages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from standardwebhooks import Webhook

from simulators.kit.faults import FaultInjector, FaultSettings, fault_gate, install_fault_handler
from simulators.kit.server import quiet_client_disconnects


class CrmConfig(BaseModel):
    seed: int = 0
    webhook_secret: str = "whsec_ZGV2LWNybS13ZWJob29rLXNlY3JldC0xMjM0"
    notifications_secret: str = "whsec_ZGV2LW5vdGlmaWNhdGlvbnMtc2VjcmV0LTEy"
    records: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, description="Initial records: type -> id -> fields."
    )
    faults: FaultSettings = Field(default_factory=FaultSettings)


@dataclass
class Received:
    """One verified message."""

    webhook_id: str
    idempotency_key: str | None
    received_at: datetime
    payload: dict[str, Any]
    deliveries: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "webhook_id": self.webhook_id,
            "idempotency_key": self.idempotency_key,
            "received_at": self.received_at.isoformat(),
            "deliveries": self.deliveries,
            "payload": self.payload,
        }


@dataclass
class Inbox:
    """A Standard Webhooks receiver's memory: verified messages, duplicates, rejections."""

    name: str
    secret: str
    messages: dict[str, Received] = field(default_factory=dict)
    _by_key: dict[str, Received] = field(default_factory=dict)
    duplicates: int = 0
    rejected: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def receive(self, body: bytes, headers: dict[str, str]) -> tuple[Received, bool]:
        """Verify and store; returns (message, is_new). Raises ValueError if not authentic."""
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except Exception as exc:  # the library raises several types for malformed headers
            self.rejected += 1
            self.rejections.append(
                {
                    "at": datetime.now(UTC).isoformat(),
                    "reason": str(exc) or type(exc).__name__,
                    "webhook_id": headers.get("webhook-id"),
                }
            )
            raise ValueError(str(exc) or "invalid signature") from None
        if not isinstance(payload, dict):
            payload = {"value": payload}
        webhook_id = headers["webhook-id"]
        key = headers.get("idempotency-key")
        seen = self._by_key.get(webhook_id) or (self._by_key.get(key) if key else None)
        if seen is not None:
            seen.deliveries += 1
            self.duplicates += 1
            return seen, False
        message = Received(webhook_id, key, datetime.now(UTC), payload)
        self.messages[webhook_id] = message
        self._by_key[webhook_id] = message
        if key:
            self._by_key[key] = message
        return message, True

    def summary(self, items: list[Received]) -> dict[str, Any]:
        return {
            "count": len(items),
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejections": self.rejections,
            "results": [m.to_json() for m in items],
        }


class CrmSim:
    """All state of the CRM and notification simulators; reachable as `app.state.sim`."""

    def __init__(self, config: CrmConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.reset()

    def reset(self) -> None:
        self.reports = Inbox("reports", self.config.webhook_secret)
        self.notifications = Inbox("notifications", self.config.notifications_secret)
        self.records: dict[tuple[str, str], dict[str, Any]] = {
            (record_type, record_id): {**fields, "type": record_type, "id": record_id}
            for record_type, by_id in self.config.records.items()
            for record_id, fields in by_id.items()
        }
        self.faults.configure(self.config.faults)

    def apply_report(self, report: dict[str, Any]) -> None:
        """Copy a docflow status report onto its source record; late reports never regress."""
        source = report.get("source")
        if not isinstance(source, dict):
            return
        record_type, record_id = source.get("record_type"), source.get("record_id")
        if not record_type or not record_id:
            return
        record = self.records.setdefault(
            (str(record_type), str(record_id)), {"type": record_type, "id": record_id}
        )
        occurred_at = _parse_time(report.get("occurred_at"))
        last = _parse_time(record.get("signature_status_at"))
        if occurred_at and last and occurred_at < last:
            return
        record.update(
            {
                "signature_status": report.get("outcome"),
                "signature_status_at": report.get("occurred_at"),
                "signature_reason": report.get("reason", ""),
                "docflow_business_key": report.get("business_key"),
                "signature_completed_at": report.get("completed_at"),
                "workspace_id": report.get("workspace_id"),
                "archived_node_id": report.get("archived_node_id"),
                "updated_at": datetime.now(UTC).isoformat(),
            }
        )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sim(request: Request) -> CrmSim:
    sim: CrmSim = request.app.state.sim
    return sim


async def _receive(request: Request, inbox: Inbox) -> tuple[Received, bool] | JSONResponse:
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        return inbox.receive(body, headers)
    except ValueError as exc:
        return JSONResponse(
            {"error": "invalid webhook signature", "detail": str(exc)}, status_code=401
        )


def _api_routes() -> APIRouter:
    router = APIRouter(dependencies=[Depends(fault_gate)])

    @router.post("/webhooks/docflow", response_model=None)
    async def docflow_report(request: Request) -> dict[str, Any] | JSONResponse:
        sim = _sim(request)
        outcome = await _receive(request, sim.reports)
        if isinstance(outcome, JSONResponse):
            return outcome
        message, new = outcome
        if new:
            sim.apply_report(message.payload)
        return {"status": "accepted" if new else "duplicate", "webhook_id": message.webhook_id}

    @router.post("/notifications", response_model=None)
    async def notification(request: Request) -> dict[str, Any] | JSONResponse:
        outcome = await _receive(request, _sim(request).notifications)
        if isinstance(outcome, JSONResponse):
            return outcome
        message, new = outcome
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
    router = APIRouter(prefix="/_control", tags=["control"])

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

    @router.get("/notifications")
    async def control_notifications(
        request: Request, kind: str | None = None, business_key: str | None = None
    ) -> dict[str, Any]:
        inbox = _sim(request).notifications
        items = [
            m
            for m in inbox.messages.values()
            if kind in (None, m.payload.get("kind"))
            and business_key in (None, m.payload.get("business_key"))
        ]
        return inbox.summary(items)

    @router.get("/records")
    async def control_records(request: Request) -> dict[str, Any]:
        records = list(_sim(request).records.values())
        return {"count": len(records), "results": records}

    @router.get("/faults")
    async def get_faults(request: Request) -> dict[str, Any]:
        return _sim(request).faults.snapshot()

    @router.put("/faults")
    async def put_faults(body: FaultSettings, request: Request) -> dict[str, Any]:
        sim = _sim(request)
        sim.faults.configure(body)
        return sim.faults.snapshot()

    @router.post("/reset")
    async def reset(request: Request) -> dict[str, Any]:
        _sim(request).reset()
        return {"reset": True}

    return router


def create_app(config: CrmConfig | None = None) -> FastAPI:
    """The CRM + notification simulator; its state is `app.state.sim` (a CrmSim)."""
    sim = CrmSim(config or CrmConfig())

    app = FastAPI(title="CRM and notification simulator")
    app.state.sim = sim
    app.include_router(_api_routes())
    app.include_router(_control_routes())
    install_fault_handler(app, lambda status, message: {"error": message})
    quiet_client_disconnects(app)
    return app
