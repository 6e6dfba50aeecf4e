"""HTTP surface of the ERP simulator: the business system's routes, the transaction history
(`/api/transactions`, bearer API key), and `/_control/transactions` to seed and inspect it."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from simulators.erp.sim import MAX_TRANSACTIONS, ErpConfig, ErpSim
from simulators.kit.business_api import business_api_routes, business_control_routes
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


class SeedTransactions(BaseModel):
    case_reference: str = Field(min_length=1, max_length=200)
    count: int = Field(ge=0, le=MAX_TRANSACTIONS)


def _control_routes() -> APIRouter:
    router = business_control_routes()

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
