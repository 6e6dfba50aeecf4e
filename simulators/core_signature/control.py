"""Control API of the Core Signature simulator: play the humans, inject faults, inspect."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request

from simulators.core_signature.config import AutopilotSettings, TemplateSeed
from simulators.core_signature.models import DocumentState, SignerAction, not_found
from simulators.core_signature.sim import CoreSignatureSim, current_sim, iso
from simulators.kit.control import Outbound, control_router


def control_routes() -> APIRouter:
    # Flushing waits for conversions and autopilot actions too, not only the callbacks.
    router = control_router(
        Outbound(
            "callbacks",
            dispatcher=lambda sim: sim.callbacks,
            flush=lambda sim, timeout_s: sim.settle(timeout_s),
            filters=("document_uuid",),
        )
    )

    def human(
        act: Callable[[CoreSignatureSim, DocumentState, SignerAction], None],
    ) -> Callable[[str, Request, SignerAction | None], Awaitable[dict[str, Any]]]:
        async def endpoint(
            doc_uuid: str, request: Request, body: SignerAction | None = None
        ) -> dict[str, Any]:
            sim = current_sim(request)
            doc = sim.document(doc_uuid)
            act(sim, doc, body or SignerAction())
            return sim.document_json(doc)

        return endpoint

    actions: dict[str, Callable[[CoreSignatureSim, DocumentState, SignerAction], None]] = {
        "view": lambda sim, doc, a: sim.view(doc, a.email),
        "sign": lambda sim, doc, a: sim.sign(doc, a.email),
        "decline": lambda sim, doc, a: sim.decline(doc, a.email, a.reason),
        "bounce": lambda sim, doc, a: sim.bounce(doc, a.email),
        "expire": lambda sim, doc, a: sim.expire(doc),
        "sending-error": lambda sim, doc, a: sim.sending_error(doc),
        "convert-error": lambda sim, doc, a: sim.convert_error(doc),
        "download": lambda sim, doc, a: sim.download(doc),
        "forward": lambda sim, doc, a: sim.signer_event(doc, a.email, "signer_forwarded"),
        "signer-download": lambda sim, doc, a: sim.signer_event(doc, a.email, "signer_downloaded"),
        "receive": lambda sim, doc, a: sim.signer_event(doc, a.email, "signrequest_received"),
    }
    for name, act in actions.items():
        router.add_api_route(
            f"/documents/{{doc_uuid}}/{name}",
            human(act),
            methods=["POST"],
            name=f"control_{name.replace('-', '_')}",
        )

    @router.get("/documents")
    async def control_documents(request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        return {
            "count": len(sim.documents),
            "results": [
                {
                    "uuid": d.uuid,
                    "external_id": d.external_id,
                    "name": d.name,
                    "status": d.status,
                    "signature_request": d.signrequest.uuid if d.signrequest else None,
                    "signers": [
                        {"email": s.email, "signed": s.signed, "declined": s.declined}
                        for s in (d.signrequest.signers if d.signrequest else [])
                    ],
                    "created": iso(d.created),
                }
                for d in sim.documents.values()
            ],
        }

    @router.get("/documents/{doc_uuid}")
    async def control_document(doc_uuid: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        return sim.document_json(sim.document(doc_uuid))

    @router.get("/signature-requests")
    async def control_signature_requests(request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        per_external_id: Counter[str] = Counter()
        results = []
        for sr in sim.signature_requests.values():
            doc = sim.documents[sr.document_uuid]
            per_external_id[doc.external_id or doc.uuid] += 1
            results.append(
                {
                    "uuid": sr.uuid,
                    "document_uuid": doc.uuid,
                    "external_id": doc.external_id,
                    "status": doc.status,
                    "cancelled": sr.cancelled,
                    "signers": [s.email for s in sr.signers],
                    "created": iso(sr.created),
                }
            )
        return {
            "count": len(results),
            "count_by_external_id": dict(per_external_id),
            "rejected_duplicates_by_external_id": dict(sim.rejected_signature_requests),
            "results": results,
        }

    @router.get("/events")
    async def control_events(request: Request, document_uuid: str | None = None) -> dict[str, Any]:
        sim = current_sim(request)
        events = [e for e in sim.events if document_uuid in (None, e.document_uuid)]
        # The API's Event resource plus the callback body as it was sent.
        results = [{**sim.event_json(e), "callback": e.payload} for e in events]
        return {"count": len(events), "results": results}

    @router.post("/events/{event_uuid}/redeliver")
    async def control_redeliver(event_uuid: str, request: Request) -> dict[str, Any]:
        """Send an event's original callback again, e.g. to test late or stale duplicates."""
        sim = current_sim(request)
        event = next((e for e in sim.events if e.uuid == event_uuid), None)
        first = next(
            (d for d in sim.callbacks.deliveries if event and d.id in event.delivery_ids), None
        )
        if event is None or first is None:
            raise not_found()
        again = sim.callbacks.redeliver(first)
        event.delivery_ids.append(again.id)
        return again.to_json()

    @router.get("/autopilot")
    async def get_autopilot(request: Request) -> dict[str, Any]:
        return current_sim(request).autopilot.model_dump()

    @router.put("/autopilot")
    async def put_autopilot(body: AutopilotSettings, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        sim.autopilot = body
        return body.model_dump()

    @router.get("/templates")
    async def control_templates(request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        base = str(request.base_url).rstrip("/")
        results = [sim.template_json(t, base) for t in sim.templates.values()]
        return {"count": len(results), "results": results}

    @router.post("/templates", status_code=201)
    async def control_add_template(body: TemplateSeed, request: Request) -> dict[str, Any]:
        """Make a template, as someone would in the web UI (e.g. one a promotion missed)."""
        sim = current_sim(request)
        return sim.template_json(sim.add_template(body), str(request.base_url).rstrip("/"))

    @router.delete("/templates/{name_or_uuid}")
    async def control_remove_template(name_or_uuid: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        found = [t for t in sim.templates.values() if name_or_uuid in (t.uuid, t.name)]
        if not found:
            raise not_found()
        for template in found:
            del sim.templates[template.uuid]
        return {"removed": [t.uuid for t in found]}

    @router.post("/tokens/revoke")
    async def revoke_tokens(request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        revoked = len(sim.tokens)
        sim.tokens.clear()
        return {"revoked": revoked}

    return router
