"""HTTP surface of the forms-portal simulator: list submissions by case reference, download a
submission's PDF; `/_control` seeds cases and injects faults."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse

from simulators.forms_portal.sim import FormsPortalConfig, FormsPortalSim, FormsSeed
from simulators.kit.control import control_router, simulator_app
from simulators.kit.faults import fault_gate
from simulators.kit.listing import listing_gate, outage_routes, page


def _sim(request: Request) -> FormsPortalSim:
    sim: FormsPortalSim = request.app.state.sim
    return sim


def _api_routes() -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(fault_gate), Depends(listing_gate)])

    @router.get("/submissions")
    async def list_submissions(
        request: Request,
        case_reference: str = Query(min_length=1, max_length=200),
        cursor: str | None = None,
        limit: int | None = Query(default=None, ge=1),
    ) -> dict[str, Any]:
        submissions = _sim(request).cases.get(case_reference, [])
        chunk, next_cursor = page(submissions, cursor, limit)
        return {"items": [s.to_json() for s in chunk], "next_cursor": next_cursor}

    @router.get("/submissions/{submission_id}/pdf", response_model=None)
    async def submission_pdf(submission_id: str, request: Request) -> Response:
        sim = _sim(request)
        found = sim.submissions.get(submission_id)
        if found is None:
            return JSONResponse({"error": f"submission {submission_id} not found"}, status_code=404)
        sim.downloads += 1
        return Response(found.pdf, media_type="application/pdf")

    return router


def _control_routes() -> APIRouter:
    router = control_router()
    outage_routes(router)

    @router.post("/seed")
    async def seed(body: FormsSeed, request: Request) -> dict[str, Any]:
        submissions = _sim(request).seed(body)
        return {
            "case_reference": body.case_reference,
            "submissions": len(submissions),
            "items": len(submissions),
        }

    @router.get("/cases")
    async def cases(request: Request) -> dict[str, Any]:
        return _sim(request).summary()

    return router


def create_app(config: FormsPortalConfig | None = None) -> FastAPI:
    """The forms-portal simulator; its state is `app.state.sim` (a FormsPortalSim)."""
    return simulator_app(
        "Forms portal simulator",
        FormsPortalSim(config or FormsPortalConfig()),
        _api_routes(),
        _control_routes(),
        error_body=lambda status, message: {"error": message},
    )
