"""HTTP surface of the mail-archive simulator: list messages by case reference, download a
message (message/rfc822) or an attachment; `/_control` seeds cases and injects faults."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse

from simulators.kit.control import control_router, simulator_app
from simulators.kit.faults import fault_gate
from simulators.kit.listing import listing_gate, outage_routes, page
from simulators.mail_archive.sim import MailArchiveConfig, MailArchiveSim, MailSeed


def _sim(request: Request) -> MailArchiveSim:
    sim: MailArchiveSim = request.app.state.sim
    return sim


def _api_routes() -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(fault_gate), Depends(listing_gate)])

    @router.get("/messages")
    async def list_messages(
        request: Request,
        case_reference: str = Query(min_length=1, max_length=200),
        cursor: str | None = None,
        limit: int | None = Query(default=None, ge=1),
    ) -> dict[str, Any]:
        messages = _sim(request).cases.get(case_reference, [])
        chunk, next_cursor = page(messages, cursor, limit)
        return {"items": [m.to_json() for m in chunk], "next_cursor": next_cursor}

    @router.get("/messages/{message_id}/raw", response_model=None)
    async def raw_message(message_id: str, request: Request) -> Response:
        sim = _sim(request)
        message = sim.messages.get(message_id)
        if message is None:
            return JSONResponse({"error": f"message {message_id} not found"}, status_code=404)
        sim.downloads += 1
        return Response(message.raw, media_type="message/rfc822")

    @router.get("/attachments/{attachment_id}", response_model=None)
    async def attachment(attachment_id: str, request: Request) -> Response:
        sim = _sim(request)
        found = sim.attachments.get(attachment_id)
        if found is None:
            return JSONResponse({"error": f"attachment {attachment_id} not found"}, status_code=404)
        sim.downloads += 1
        return Response(found.content, media_type=found.content_type)

    return router


def _control_routes() -> APIRouter:
    router = control_router()
    outage_routes(router)

    @router.post("/seed")
    async def seed(body: MailSeed, request: Request) -> dict[str, Any]:
        messages = _sim(request).seed(body)
        return {
            "case_reference": body.case_reference,
            "messages": len(messages),
            "attachments": sum(len(m.attachments) for m in messages),
            "items": len(messages) + sum(len(m.attachments) for m in messages),
        }

    @router.get("/cases")
    async def cases(request: Request) -> dict[str, Any]:
        return _sim(request).summary()

    return router


def create_app(config: MailArchiveConfig | None = None) -> FastAPI:
    """The mail-archive simulator; its state is `app.state.sim` (a MailArchiveSim)."""
    return simulator_app(
        "Mail archive simulator",
        MailArchiveSim(config or MailArchiveConfig()),
        _api_routes(),
        _control_routes(),
        error_body=lambda status, message: {"error": message},
    )
