"""Until the records API lands: `GET /v1/records/figures` as its contract describes it
(records:read, the caller's source systems, RecordQuery from the query string)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from docflow.models.records import RecordQuery, RecordScope
from starter.api.auth import Principal, require

router = APIRouter()


@router.get("/v1/records/figures")
async def figures(
    request: Request,
    caller: Annotated[Principal, Depends(require("records:read"))],  # type: ignore[arg-type]
    process_type: Annotated[list[str], Query()] = [],  # noqa: B006
    source_system: Annotated[list[str], Query()] = [],  # noqa: B006
    outcome: str | None = None,
    started_from: datetime | None = None,
    started_to: datetime | None = None,
    workspace_id: int | None = None,
) -> JSONResponse:
    query = RecordQuery.model_validate(
        {
            "process_type": process_type,
            "source_system": source_system,
            "outcome": outcome,
            "started_from": started_from,
            "started_to": started_to,
            "workspace_id": workspace_id,
        }
    )
    scope = RecordScope(source_systems=sorted(caller.source_systems))
    store = request.app.state.records_store
    result = await run_in_threadpool(store.figures, query, scope, now=datetime.now(UTC))
    return JSONResponse(result.model_dump(mode="json"))


def install(app: FastAPI) -> None:
    if not any(getattr(r, "path", "") == "/v1/records/figures" for r in app.routes):
        app.include_router(router)
