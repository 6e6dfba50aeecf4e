"""Health routes: liveness (`/healthz`) and readiness (`/readyz`: Temporal answers)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from starter.api.context import api_context
from starter.api.errors import ServiceUnavailable
from starter.api.schemas import Health

router = APIRouter(tags=["health"])

READINESS_TIMEOUT = timedelta(seconds=3)


@router.get("/healthz", summary="Liveness", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: Temporal is reachable",
    response_model=Health,
    responses={503: {"description": "Temporal is unreachable."}},
)
async def readyz(request: Request) -> Health:
    try:
        client = await api_context(request).temporal.client()
        await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), retry=False, timeout=READINESS_TIMEOUT
        )
    except Exception as exc:
        raise ServiceUnavailable("Temporal is unreachable") from exc
    return Health(status="ready")
