"""Case routes under /v1/cases: start a case's assembly, read its progress, retry a source.

Every case belongs to the CASES source system: a caller acting for it (or support, '*')
starts, sees and retries cases; anyone else is told a case does not exist. Handlers
authenticate, parse and hand over to `CaseProcesses`; the workflow decides.
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel

from docflow.config.bundle import BundleReader
from docflow.models import UpdateAccepted
from docflow.models.workspaces import CaseRequest, CaseStatus
from docflow.temporal import CASE_SYSTEM
from starter.api.auth import Principal, Scope, require
from starter.api.context import api_context
from starter.api.errors import NotPermitted, domain_error, error_responses
from starter.api.params import IdempotencyKey, request_id
from starter.api.schemas import StartedProcess
from starter.api.uploads import json_body, json_request_body
from starter.processes.base import InvalidProcessInput, ProcessNotFound
from starter.processes.cases import CaseProcesses, case_key, case_problems

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/v1")

_NAME = r"^[A-Za-z0-9_.:@-]+$"
CaseType = Annotated[
    str, Path(pattern=_NAME, max_length=200, description="The case type.", examples=["claims"])
]
CaseId = Annotated[
    str,
    Path(pattern=_NAME, max_length=200, description="The case's id.", examples=["CLM-2026-001"]),
]
Source = Annotated[
    str,
    Path(pattern=_NAME, max_length=200, description="A source of the case.", examples=["erp"]),
]
OPENAPI_MODELS: list[type[BaseModel]] = [CaseRequest]


def _reader(request: Request) -> BundleReader:
    # The API's one reader: the bundle is loaded once and reloaded when a file changes.
    return api_context(request).config


async def case_processes(request: Request) -> CaseProcesses:
    """The case helpers bound to a connected client (503 if Temporal is down)."""
    context = api_context(request)
    return CaseProcesses(
        await context.temporal.client(), context.settings, context.store, config=_reader(request)
    )


def _acting_for_cases(principal: Principal, case_type: str, case_id: str) -> None:
    """A caller who does not act for CASES is told the case does not exist (404)."""
    if not principal.acts_for(CASE_SYSTEM):
        raise domain_error(ProcessNotFound(f"no case for {case_key(case_type, case_id)}"))


@router.post(
    "/cases",
    tags=["cases"],
    summary="Assemble a case from its sources",
    description="Checked against this environment's case types, case sources and workspace "
    "mapping first: an unknown case type or source, a missing required field or an "
    "attachment not uploaded is refused (422) with every reason, and nothing starts. "
    "Accepted (202), the case gathers in the background; `status_url` shows its progress. "
    "The same case again with the same request returns its run (200).",
    status_code=202,
    response_model=StartedProcess,
    responses={
        200: {"model": StartedProcess, "description": "The case already had a run."},
        202: {"description": "The case's assembly started."},
        **error_responses(401, 403, 409, 413, 422, 503),
    },
    openapi_extra=json_request_body("CaseRequest"),
)
async def start_case(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require(Scope.START))],
) -> StartedProcess:
    body = await json_body(request, CaseRequest)  # read only once the caller is known
    if not principal.acts_for(CASE_SYSTEM):
        raise NotPermitted(f"{principal.subject} does not act for source system '{CASE_SYSTEM}'")
    # Refused before Temporal is even asked: nothing starts, every reason at once.
    if reasons := await case_problems(body, _reader(request), api_context(request).store):
        raise InvalidProcessInput("; ".join(reasons))
    processes = await case_processes(request)
    result = await processes.start(body, principal.subject)
    key = case_key(body.case_type, body.case_id)
    if not result.created:
        response.status_code = 200
    log.info(
        "case %s by %s: %s",
        key,
        principal.subject,
        "started" if result.created else "already running or finished, same run returned",
    )
    base = api_context(request).settings.api.public_url.rstrip("/")
    return StartedProcess(
        workflow_id=result.workflow_id,
        run_id=result.run_id,
        created=result.created,
        status_url=f"{base}/v1/cases/{quote(body.case_type, safe='')}/"
        f"{quote(body.case_id, safe='')}",
        web_ui_url=processes.web_ui_url(key, result.run_id),
    )


@router.get(
    "/cases/{case_type}/{case_id}",
    tags=["cases"],
    summary="Progress of a case",
    description="Sources done, items filed, what is missing (gaps) and until when it is "
    "retried automatically, the workspace, and the audit trail.",
    response_model=CaseStatus,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_case(
    request: Request,
    case_type: CaseType,
    case_id: CaseId,
    principal: Annotated[Principal, Depends(require(Scope.READ))],
) -> CaseStatus:
    _acting_for_cases(principal, case_type, case_id)  # before Temporal is asked anything
    processes = await case_processes(request)
    status = await processes.status(case_type, case_id)
    log.info("case %s read by %s: %s", status.business_key, principal.subject, status.state)
    return status


@router.post(
    "/cases/{case_type}/{case_id}/sources/{source}/retry",
    tags=["cases"],
    summary="Gather a missing source again",
    description="For a source that failed (the case is `assembled_with_gaps` and still "
    "open): gathered again now, recorded for the authenticated caller. The case refuses "
    "(409) a source it does not have, one that did not fail, or a case that has ended.",
    response_model=UpdateAccepted,
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def retry_source(
    request: Request,
    case_type: CaseType,
    case_id: CaseId,
    source: Source,
    principal: Annotated[Principal, Depends(require(Scope.CORRECT))],
    idempotency_key: IdempotencyKey = None,
) -> UpdateAccepted:
    _acting_for_cases(principal, case_type, case_id)  # before Temporal is asked anything
    processes = await case_processes(request)
    accepted = await processes.retry_source(
        case_type,
        case_id,
        source,
        principal.subject,
        request_id=request_id(principal, idempotency_key),
    )
    log.info(
        "retry of %s in case %s by %s accepted",
        source,
        case_key(case_type, case_id),
        principal.subject,
    )
    return accepted
