"""HTTP surface of a simulated business system (CRM, ERP), over `BusinessSystemSim`.

Vendor side (fault gate): `POST /webhooks/docflow` for docflow's signed messages, and
`GET/PUT /api/records/{type}/{id}` (a PUT is a business change: it emits an event).

Control side (`/_control`, never faulted):
- `GET /records`, `GET /reports` (the signing reports, as the CRM always listed them);
- `GET /objects[?bo_type=]`, `GET /objects/{type}/{id}` (fields, docflow's writes, events);
- `POST /objects/{type}` create, `PATCH /objects/{type}/{id}` update (merge),
  `POST /objects/{type}/{id}/status` status change, `DELETE /objects/{type}/{id}` delete —
  each bumps the version and emits one event; `?deliver=false` keeps the event unsent
  (send it later with replay `same_id=true`: an out-of-order delivery);
- `POST /objects/{type}/{id}/replay?version=N[&same_id=true]` re-sends a version's event
  with a new webhook-id (or the same one), past the delivery faults;
- `GET /events`, `/events/flush`, `/events/faults` (the kit's outbound routes),
  `PUT /events/url` points the events elsewhere at run time;
- `GET /messages[?type=&object=&limit=]` the last messages from docflow and what they did;
- `GET /writebacks[?bo_type=&field=workspace_id&prefix=&detail=]` how many records docflow
  wrote a field into (with `detail`: each one's value and time), for counting at scale.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from simulators.kit.business_objects import (
    BusinessSystemSim,
    EmittedEvent,
    FieldValue,
    ObjectId,
    RecordError,
    iso,
)
from simulators.kit.control import Outbound, control_router
from simulators.kit.faults import fault_gate
from simulators.kit.inbox import SignatureRejected, signature_rejected, signed_headers


class Attachment(BaseModel):
    """A file the source record holds (docflow may file it and have the copy deleted)."""

    model_config = ConfigDict(extra="allow")

    name: str
    size: int = 0
    sha256: str | None = None


class ObjectCreate(BaseModel):
    bo_id: ObjectId | None = Field(default=None, description="None: the system makes one up.")
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list)


class ObjectUpdate(BaseModel):
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(
        default_factory=list, description="Merged by name into the record's attachments."
    )


class StatusChange(BaseModel):
    status: str


class EventsTarget(BaseModel):
    url: str | None


def _sim(request: Request) -> BusinessSystemSim:
    sim: BusinessSystemSim = request.app.state.sim
    return sim


def _error(exc: RecordError) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.status)


def business_api_routes(dependencies: Sequence[DependsParam] = ()) -> APIRouter:
    """Docflow's messages and the records API; `dependencies` guard `/api/records` (auth)."""
    router = APIRouter(dependencies=[Depends(fault_gate)])

    @router.post("/webhooks/docflow", response_model=None)
    async def docflow_message(request: Request) -> JSONResponse:
        sim = _sim(request)
        body, headers = await request.body(), signed_headers(request)
        try:
            payload = sim.reports.verify(body, headers)  # the raw body, before anything else
        except SignatureRejected as exc:
            return signature_rejected(exc)
        status, answer = sim.accept(payload, body, headers)
        return JSONResponse(answer, status_code=status)

    @router.get(
        "/api/records/{record_type}/{record_id}",
        response_model=None,
        dependencies=list(dependencies),
    )
    async def get_record(
        record_type: str, record_id: str, request: Request
    ) -> dict[str, Any] | JSONResponse:
        record = _sim(request).records.get((record_type, record_id))
        if record is None or record.deleted:
            return JSONResponse({"error": "record not found"}, status_code=404)
        return record.view()

    @router.put(
        "/api/records/{record_type}/{record_id}",
        response_model=None,
        dependencies=list(dependencies),
    )
    async def put_record(
        record_type: str,
        record_id: ObjectId,
        request: Request,
        fields: dict[str, FieldValue] = Body(...),  # noqa: B008
    ) -> dict[str, Any] | JSONResponse:
        """Merge fields into a record (created if new): a business change, so one event."""
        sim = _sim(request)
        try:
            existing = sim.records.get((record_type, record_id))
            if existing is None or existing.deleted:
                record, _ = sim.create(record_type, fields, bo_id=record_id, origin="api")
            else:
                record, _ = sim.update(record_type, record_id, fields)
        except RecordError as exc:
            return _error(exc)
        return record.view()

    return router


def business_control_routes(
    *,
    flush: Callable[[Any, float], Awaitable[bool]] | None = None,
    filters: tuple[str, ...] = (),
) -> APIRouter:
    """The kit's `/_control` router with the business system's knobs; a system with events of
    its own adds their `filters` (delivery meta fields) and a `flush` that waits for them."""
    router = control_router(
        Outbound(
            "events",
            dispatcher=lambda sim: sim.events,
            flush=flush,
            filters=("bo_type", "bo_id", "version", "replay_of", *filters),
        )
    )

    @router.put("/events/url")
    async def events_url(body: EventsTarget, request: Request) -> dict[str, Any]:
        """Where events go from now on (until reset); None keeps them unsent."""
        sim = _sim(request)
        sim.events_url = body.url
        return {"events_url": sim.events_url}

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
        records = [r.view() for r in _sim(request).records.values() if not r.deleted]
        return {"count": len(records), "results": records}

    @router.get("/messages")
    async def control_messages(
        request: Request,
        type: str | None = None,
        object: str | None = Query(default=None, description="'SFDC/Account/001...'"),
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> dict[str, Any]:
        sim = _sim(request)
        found = [m for m in sim.messages if type in (None, m.type) and object in (None, m.object)][
            -limit:
        ]
        return {
            "count": len(found),
            "duplicates": sim.reports.duplicates + sim.workspace_messages.duplicates,
            "rejected": sim.reports.rejected,
            "by_outcome": dict(Counter(m.outcome.split(":")[0] for m in found)),
            "results": [m.to_json() for m in found],
        }

    @router.get("/objects")
    async def list_objects(request: Request, bo_type: str | None = None) -> dict[str, Any]:
        sim = _sim(request)
        found = [r.detail() for r in sim.records.values() if bo_type in (None, r.bo_type)]
        return {
            "ext_system_id": sim.system,
            "object_types": sim.config.object_types,
            "events_url": sim.events_url,
            "count": len(found),
            "results": found,
        }

    @router.get("/writebacks")
    async def control_writebacks(
        request: Request,
        bo_type: str | None = None,
        field: str = Query(default="workspace_id", description="What docflow wrote."),
        prefix: str | None = Query(default=None, description="Only bo_ids starting with it."),
        detail: bool = Query(default=False, description="List each record, not just count."),
    ) -> dict[str, Any]:
        """Records docflow wrote `field` into (cheap: no events, no fields). With `detail`,
        each record's value and when docflow last wrote to it, keyed by bo_id."""
        found = [
            r
            for r in _sim(request).records.values()
            if bo_type in (None, r.bo_type)
            and (prefix is None or r.bo_id.startswith(prefix))
            and r.writeback.get(field) is not None
        ]
        result: dict[str, Any] = {"field": field, "count": len(found)}
        if detail:
            result["results"] = {
                r.bo_id: {"value": r.writeback[field], "updated_at": r.writeback.get("updated_at")}
                for r in found
            }
        return result

    @router.get("/objects/{bo_type}/{bo_id}", response_model=None)
    async def get_object(
        bo_type: str, bo_id: str, request: Request
    ) -> dict[str, Any] | JSONResponse:
        record = _sim(request).records.get((bo_type, bo_id))
        if record is None:
            return JSONResponse({"error": f"no {bo_type} {bo_id}"}, status_code=404)
        return record.detail()

    @router.post("/objects/{bo_type}", response_model=None, status_code=201)
    async def create_object(
        bo_type: str, body: ObjectCreate, request: Request, deliver: bool = True
    ) -> dict[str, Any] | JSONResponse:
        try:
            record, event = _sim(request).create(
                bo_type,
                body.fields,
                bo_id=body.bo_id,
                attachments=[a.model_dump(exclude_none=True) for a in body.attachments],
                deliver=deliver,
            )
        except RecordError as exc:
            return _error(exc)
        return _changed(record.detail(), event)

    @router.patch("/objects/{bo_type}/{bo_id}", response_model=None)
    async def update_object(
        bo_type: str, bo_id: str, body: ObjectUpdate, request: Request, deliver: bool = True
    ) -> dict[str, Any] | JSONResponse:
        try:
            record, event = _sim(request).update(
                bo_type,
                bo_id,
                body.fields,
                attachments=[a.model_dump(exclude_none=True) for a in body.attachments],
                deliver=deliver,
            )
        except RecordError as exc:
            return _error(exc)
        return _changed(record.detail(), event)

    @router.post("/objects/{bo_type}/{bo_id}/status", response_model=None)
    async def change_status(
        bo_type: str, bo_id: str, body: StatusChange, request: Request, deliver: bool = True
    ) -> dict[str, Any] | JSONResponse:
        try:
            record, event = _sim(request).change_status(
                bo_type, bo_id, body.status, deliver=deliver
            )
        except RecordError as exc:
            return _error(exc)
        return _changed(record.detail(), event)

    @router.delete("/objects/{bo_type}/{bo_id}", response_model=None)
    async def delete_object(
        bo_type: str, bo_id: str, request: Request, deliver: bool = True
    ) -> dict[str, Any] | JSONResponse:
        try:
            record, event = _sim(request).delete(bo_type, bo_id, deliver=deliver)
        except RecordError as exc:
            return _error(exc)
        return _changed(record.detail(), event)

    @router.post("/objects/{bo_type}/{bo_id}/replay", response_model=None)
    async def replay(
        bo_type: str,
        bo_id: str,
        request: Request,
        version: int | None = Query(default=None, description="Default: the newest."),
        same_id: bool = Query(default=False, description="Re-send the original webhook-id."),
    ) -> dict[str, Any] | JSONResponse:
        try:
            event, delivery = _sim(request).replay(bo_type, bo_id, version, same_id=same_id)
        except RecordError as exc:
            return _error(exc)
        return {
            "webhook_id": delivery.event_id,
            "replay_of": event.webhook_id,
            "type": event.type,
            "version": event.version,
            "occurred_at": iso(event.occurred_at),
            "delivery": delivery.to_json(),
        }

    return router


def _changed(record: dict[str, Any], event: EmittedEvent) -> dict[str, Any]:
    return {"record": record, "event": event.to_json()}
