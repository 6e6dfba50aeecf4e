"""HTTP surface of the webhook target: `POST /{endpoint}` and its control knobs.

Subscribers: `POST /{endpoint}` (each name its own secret and knobs). Control:
`GET /_control/endpoints`, `GET|PUT|PATCH /_control/endpoints/{endpoint}` (PUT replaces the
knobs and creates a new endpoint, with its secret; PATCH changes only those given),
`GET /_control/endpoints/{endpoint}/received[?after=N]` (arrival order, per document, duplicate
webhook-ids), `GET /_control/deliveries[?endpoint=&raw=&since=]` (the messages themselves).
A signed `docflow.ping` is answered 200 unless the endpoint is down or gone, and not recorded.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from simulators.kit.control import control_router, simulator_app
from simulators.kit.faults import fault_gate
from simulators.kit.inbox import SignatureRejected, signature_rejected, signed_headers
from simulators.webhook_target.sim import (
    Endpoint,
    EndpointChanges,
    EndpointSettings,
    WebhookTargetConfig,
    WebhookTargetSim,
)

# docflow's health-check message: signed like a delivery, not one.
PING_TYPE = "docflow.ping"


def _sim(request: Request) -> WebhookTargetSim:
    sim: WebhookTargetSim = request.app.state.sim
    return sim


def _no_endpoint(name: str) -> JSONResponse:
    return JSONResponse({"error": f"no endpoint {name!r}"}, status_code=404)


def _knob_refusal(target: Endpoint, payload: Any) -> JSONResponse | None:
    """The answer the rate limit and required fields give an authentic attempt (None: accept
    it); scripted answers come first."""
    if target.over_rate_limit(time.monotonic()):
        return JSONResponse(
            {"error": "rate limit exceeded"}, status_code=429, headers={"Retry-After": "1"}
        )
    missing = target.missing_fields(payload)
    if missing:
        errors = [{"field": f, "message": "is required"} for f in missing]
        return JSONResponse({"errors": errors}, status_code=422)
    return None


def _receiver_routes() -> APIRouter:
    router = APIRouter(dependencies=[Depends(fault_gate)])

    @router.post("/{endpoint}", response_model=None)
    async def deliver(endpoint: str, request: Request) -> dict[str, Any] | JSONResponse:
        target = _sim(request).endpoints.get(endpoint)
        if target is None:
            return _no_endpoint(endpoint)
        if target.settings.latency_ms:
            await asyncio.sleep(target.settings.latency_ms / 1000)
        headers = signed_headers(request)
        webhook_id = headers.get("webhook-id")
        if target.settings.gone:
            target.answered(webhook_id, 410)
            return JSONResponse({"error": "endpoint gone"}, status_code=410)
        if target.settings.down:
            target.answered(webhook_id, 503)
            return JSONResponse({"error": "service unavailable"}, status_code=503)
        # Verify the raw body before anything else looks at it.
        body = await request.body()
        try:
            payload = target.inbox.verify(body, headers)
        except SignatureRejected as exc:
            target.answered(webhook_id, 401)
            return signature_rejected(exc)
        if isinstance(payload, dict) and payload.get("type") == PING_TYPE:
            # A health check (a promotion's live validation): answered, never stored nor
            # counted, and the scripted answers stay for the business messages.
            return JSONResponse({"status": "pong", "webhook_id": webhook_id}, 200)
        answer = target.script.popleft() if target.script else None
        if answer is None:
            refusal = _knob_refusal(target, payload)
            if refusal is not None:
                target.answered(webhook_id, refusal.status_code)
                return refusal
        status = answer.status if answer else 200
        target.answered(webhook_id, status)
        if status >= 300:
            assert answer is not None
            extra = {"webhook-delivery": "abort-message"} if answer.abort else {}
            if answer.retry_after_s is not None:
                extra["Retry-After"] = str(answer.retry_after_s)
            content = answer.body if answer.body is not None else {"error": f"scripted {status}"}
            return JSONResponse(content, status, headers=extra)
        message, new = target.inbox.store(payload, body, headers)
        return JSONResponse(
            {"status": "accepted" if new else "duplicate", "webhook_id": message.webhook_id},
            status,
        )

    return router


def _control_routes() -> APIRouter:
    router = control_router()

    @router.get("/endpoints")
    async def endpoints(request: Request) -> dict[str, Any]:
        found = _sim(request).endpoints.values()
        return {"count": len(found), "results": [e.to_json() for e in found]}

    @router.put("/endpoints/{endpoint}", response_model=None)
    async def configure(
        endpoint: str, body: EndpointSettings, request: Request
    ) -> dict[str, Any] | JSONResponse:
        try:
            return _sim(request).configure(endpoint, body).to_json()
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)

    @router.get("/endpoints/{endpoint}", response_model=None)
    async def endpoint_view(endpoint: str, request: Request) -> dict[str, Any] | JSONResponse:
        target = _sim(request).endpoints.get(endpoint)
        return _no_endpoint(endpoint) if target is None else target.to_json()

    @router.patch("/endpoints/{endpoint}", response_model=None)
    async def change(
        endpoint: str, body: EndpointChanges, request: Request
    ) -> dict[str, Any] | JSONResponse:
        """Change only the knobs given (`{"down": false}`: the subscriber is back)."""
        try:
            return _sim(request).change(endpoint, body).to_json()
        except KeyError:
            return _no_endpoint(endpoint)

    @router.get("/endpoints/{endpoint}/received", response_model=None)
    async def received(
        endpoint: str, request: Request, after: int = Query(default=0, ge=0)
    ) -> dict[str, Any] | JSONResponse:
        """The subscriber's accepted messages in arrival order, compact (webhook-id, type,
        `data.node.id` / `.version`), per document, and the webhook-ids accepted more than
        once: enough to check per-document order and exactly-once. `after`: skip the first
        N (poll with the answer's `next`)."""
        target = _sim(request).endpoints.get(endpoint)
        return _no_endpoint(endpoint) if target is None else target.received(after)

    @router.get("/deliveries", response_model=None)
    async def deliveries(
        request: Request,
        endpoint: str | None = None,
        raw: bool = True,
        since: datetime | None = None,
    ) -> dict[str, Any] | JSONResponse:
        """What arrived (each webhook-id once), per endpoint or across all of them; `raw`
        false leaves out the headers and body as received, `since` the messages received
        before it (a load generator's poll)."""
        sim = _sim(request)
        if endpoint is not None and endpoint not in sim.endpoints:
            return _no_endpoint(endpoint)
        chosen = [sim.endpoints[endpoint]] if endpoint else list(sim.endpoints.values())
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        results = [
            {"endpoint": e.name, **m.to_json(raw=raw)}
            for e in chosen
            for m in e.inbox.messages.values()
            if since is None or m.received_at >= since
        ]
        return {
            "count": len(results),
            "duplicates": sum(e.inbox.duplicates for e in chosen),
            "rejected": sum(e.inbox.rejected for e in chosen),
            "results": results,
        }

    return router


def create_app(config: WebhookTargetConfig | None = None) -> FastAPI:
    """The webhook target; its state is `app.state.sim` (a WebhookTargetSim)."""
    return simulator_app(
        "Webhook target simulator",
        WebhookTargetSim(config or WebhookTargetConfig()),
        _control_routes(),
        _receiver_routes(),
        error_body=lambda status, message: {"error": message},
    )
