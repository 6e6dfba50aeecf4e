"""Operator routes: list signing processes with filters, repair them one at a time (redeliver)
and in batches by filter or query. Every list and batch is limited to what the caller may see
(`starter.api.access.visibility_clause`)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from temporalio.client import WorkflowExecution

from docflow import search_attributes as sa
from docflow.models import UpdateAccepted
from starter.api.access import Act, all_of, authorized, visibility_clause
from starter.api.auth import Principal, Scope, require
from starter.api.errors import InsufficientScope, InvalidRequest, NotPermitted, error_responses
from starter.api.operator_schemas import (
    BatchBody,
    BatchItem,
    BatchResult,
    ListQuery,
    ProcessFilters,
    ProcessListItem,
    ProcessPage,
    RedeliverBody,
)
from starter.api.params import IdempotencyKey, request_id
from starter.api.routes.signing import BusinessKey, Processes
from starter.api.uploads import json_body, json_request_body
from starter.processes.base import ProcessError, ProcessNotFound, ProcessRuleViolation
from starter.processes.signing import FailingStep, InvalidQuery, SigningProcesses

# Bodies these routes read themselves (after authenticating), for the OpenAPI components.
OPENAPI_MODELS: list[type[BaseModel]] = [RedeliverBody, BatchBody]

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/v1")

# Where each batch action can apply: the batch selects only those processes.
_APPLIES_TO = {
    "retry": f'{sa.STATUS.name} = "archive_exception"',
    "abandon": f'{sa.STATUS.name} = "archive_exception"',
    "redeliver": f'{sa.ATTENTION.name} = "{sa.REPORT_DEAD_LETTERED}"',
    "cancel": "",
}
_BATCH_CONCURRENCY = 8


def _cursor_out(token: bytes | None) -> str | None:
    return base64.urlsafe_b64encode(token).decode() if token else None


def _cursor_in(cursor: str | None) -> bytes | None:
    if not cursor:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode())
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("cursor is not one this API returned") from exc


def _query(principal: Principal, filters: ProcessFilters, raw: str | None = None) -> str:
    if raw and not principal.sees_every_source:
        raise InsufficientScope("only support (every source system) may pass a raw query")
    return all_of(visibility_clause(principal), filters.clause(), raw or "")


async def _page(
    processes: SigningProcesses, query: str, limit: int, cursor: str | None
) -> tuple[list[WorkflowExecution], str | None]:
    try:
        found, token = await processes.list_page(query, page_size=limit, cursor=_cursor_in(cursor))
    except InvalidQuery as exc:
        raise InvalidRequest(exc.message) from exc
    return found, _cursor_out(token)


def _item(processes: SigningProcesses, execution: WorkflowExecution) -> ProcessListItem:
    attrs = execution.typed_search_attributes
    key = attrs.get(sa.BUSINESS_KEY) or execution.id.removeprefix("signing-")
    return ProcessListItem(
        business_key=key,
        workflow_id=execution.id,
        run_id=execution.run_id,
        execution_status=execution.status.name.title() if execution.status else "Unknown",
        state=attrs.get(sa.STATUS),
        stage=attrs.get(sa.STAGE),
        document_type=attrs.get(sa.DOCUMENT_TYPE),
        source_system=attrs.get(sa.SOURCE_SYSTEM),
        since=attrs.get(sa.SINCE),
        deadline=attrs.get(sa.DEADLINE),
        attention=attrs.get(sa.ATTENTION),
        web_ui_url=processes.web_ui_url(key, execution.run_id),
    )


@router.get(
    "/signing-processes",
    tags=["operations"],
    summary="List signing processes (filters, cursor paging)",
    description="Only processes the caller may see: an application's own source systems, "
    "every one for support, the ones a person takes part in. Newest first.",
    response_model=ProcessPage,
    responses=error_responses(401, 403, 422, 503),
)
async def list_signing_processes(
    principal: Annotated[Principal, Depends(require(Scope.READ))],
    processes: Processes,
    params: Annotated[ListQuery, Query()],
) -> ProcessPage:
    query = _query(principal, params)
    found, next_cursor = await _page(processes, query, params.limit, params.cursor)
    return ProcessPage(items=[_item(processes, e) for e in found], next_cursor=next_cursor)


@router.post(
    "/signing-processes/{business_key}/redeliveries",
    tags=["exceptions"],
    summary="Redeliver a dead-lettered status report",
    description="When the source never accepted the outcome report (attention "
    "`report_dead_lettered`): deliver it again, after fixing the source's endpoint.",
    response_model=UpdateAccepted,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    openapi_extra=json_request_body("RedeliverBody"),
)
async def redeliver(
    request: Request,
    business_key: BusinessKey,
    principal: Annotated[Principal, Depends(require(Scope.CORRECT))],
    processes: Processes,
    idempotency_key: IdempotencyKey = None,
) -> UpdateAccepted:
    await authorized(processes, business_key, principal, Act.MANAGE)
    body = await json_body(request, RedeliverBody)  # read only once the caller may act
    accepted = await processes.redeliver(
        business_key,
        principal.subject,
        body.comment,
        request_id=request_id(principal, idempotency_key),
    )
    log.info("redelivery of %s by %s accepted", business_key, principal.subject)
    return accepted


@router.post(
    "/signing-processes/{business_key}/steps/retry-now",
    tags=["exceptions"],
    summary="Run the retrying steps now",
    description="Every step of the process that is being retried (attention `step_retrying`) "
    "skips its backoff: its attempt count starts again and the next attempt runs at once "
    "(Temporal's activity reset). Use it after fixing the cause (a credential, an endpoint). "
    "Answers the steps that were reset, with their last error.",
    response_model=list[FailingStep],
    responses=error_responses(401, 403, 404, 422, 503),
)
async def retry_steps_now(
    business_key: BusinessKey,
    principal: Annotated[Principal, Depends(require(Scope.CORRECT))],
    processes: Processes,
) -> list[FailingStep]:
    await authorized(processes, business_key, principal, Act.MANAGE)
    reset = await processes.retry_steps_now(business_key, principal.subject)
    log.info(
        "retry now of %s by %s: %s",
        business_key,
        principal.subject,
        ", ".join(step.activity for step in reset) or "nothing was retrying",
    )
    return reset


@router.post(
    "/signing-processes/batch",
    tags=["operations"],
    summary="Apply one repair to many processes (by filters or query)",
    description="Retry or abandon archive exceptions, redeliver dead-lettered reports, or "
    "cancel, for every matching running process the caller may act on — at most `limit` per "
    "call; `next_cursor` continues. Each process answers applied or refused (with its "
    "reason). With `Idempotency-Key`, repeating a call applies nothing twice. Needs "
    "`processes:cancel` for cancel, `processes:correct` otherwise.",
    response_model=BatchResult,
    responses=error_responses(401, 403, 422, 503),
    openapi_extra=json_request_body("BatchBody"),
)
async def batch(
    request: Request,
    principal: Annotated[Principal, Depends(require(Scope.CORRECT, Scope.CANCEL))],
    processes: Processes,
    idempotency_key: IdempotencyKey = None,
) -> BatchResult:
    body = await json_body(request, BatchBody)  # read only once the caller is known
    needed = Scope.CANCEL if body.action == "cancel" else Scope.CORRECT
    if needed.value not in principal.scopes:
        raise InsufficientScope(f"{principal.subject} lacks scope {needed.value}")
    if not principal.source_systems:  # a person sees what they approve, but manages nothing
        raise NotPermitted(f"{principal.subject} does not act for any source system")
    if body.action == "cancel" and not body.reason:
        raise InvalidRequest("a batch cancel needs a reason")
    if body.filters.is_empty() and not body.query:
        raise InvalidRequest("a batch needs filters or a query (it never means 'everything')")
    query = all_of(
        _query(principal, body.filters, body.query),
        _APPLIES_TO[body.action],
        'ExecutionStatus = "Running"',
    )
    found, next_cursor = await _page(processes, query, body.limit, body.cursor)
    gate = asyncio.Semaphore(_BATCH_CONCURRENCY)

    async def apply(execution: WorkflowExecution) -> BatchItem:
        key = _item(processes, execution).business_key
        # Per process, so a repeated batch (same key) is applied once by each workflow.
        each = request_id(principal, f"{idempotency_key}:{key}" if idempotency_key else None)
        async with gate:
            try:
                accepted = await _act(processes, body, principal.subject, key, each)
            except (ProcessRuleViolation, ProcessNotFound, ProcessError) as exc:
                return BatchItem(business_key=key, outcome="refused", detail=exc.message)
        return BatchItem(business_key=key, outcome="applied", detail=accepted.detail)

    results = list(await asyncio.gather(*(apply(e) for e in found)))
    applied = sum(r.outcome == "applied" for r in results)
    log.info(
        "batch %s by %s: %d applied, %d refused",
        body.action,
        principal.subject,
        applied,
        len(results) - applied,
    )
    return BatchResult(action=body.action, results=results, next_cursor=next_cursor)


async def _act(
    processes: SigningProcesses, body: BatchBody, actor: str, key: str, request_id: str | None
) -> UpdateAccepted:
    if body.action in ("retry", "abandon"):
        return await processes.repair(key, actor, body.action, body.comment, request_id=request_id)
    if body.action == "redeliver":
        return await processes.redeliver(key, actor, body.comment, request_id=request_id)
    return await processes.cancel(key, actor, body.reason, request_id=request_id)
