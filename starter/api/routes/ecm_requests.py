"""ECM request routes under /v1/ecm: external applications ask for a review task on a document
or a new version of a node; reviewers decide; requesters read how their request fared.

The caller acts for one source system (the requester): it is named in the body (or is the
caller's only system) and gets the signed callbacks at the endpoint configured for it —
callers never choose where docflow sends data. Another system's requests do not exist for a
caller (404); a reviewer sees the tasks assigned to them.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from docflow.config.ecm_requests import EcmRequests, MetadataProblem, map_metadata
from docflow.models import Decision, UpdateAccepted
from docflow.models.ecm_requests import (
    MAX_METADATA_CATEGORIES,
    MAX_METADATA_FIELDS,
    MAX_METADATA_VALUE,
    MAX_NODE_ID,
    MAX_VERSION_NUMBER,
    REQUEST_ID_PATTERN,
    SYSTEM_PATTERN,
    ContentUpdateAnswer,
    ContentUpdateOutcome,
    ContentUpdateResult,
    ReviewDecisionBody,
    ReviewTaskAnswer,
    ReviewTaskBody,
    ReviewTaskStatus,
    request_key,
)
from starter.api.access import may_see
from starter.api.auth import Principal, Scope, require
from starter.api.context import api_context
from starter.api.errors import (
    InvalidRequest,
    NotPermitted,
    PayloadTooLarge,
    domain_error,
    error_responses,
)
from starter.api.params import IdempotencyKey
from starter.api.params import request_id as scoped_request_id
from starter.api.uploads import file_part, json_body, json_request_body, store_upload, text_part
from starter.processes.base import ProcessNotFound
from starter.processes.ecm_requests import EcmContentUpdates, EcmReviewTasks, review_input

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/v1/ecm")

System = Annotated[str, Path(pattern=SYSTEM_PATTERN, examples=["SFDC"])]
RequestId = Annotated[str, Path(pattern=REQUEST_ID_PATTERN, examples=["REQ-1001"])]
NodeIdPath = Annotated[int, Path(ge=1, le=MAX_NODE_ID, examples=[41234])]
OPENAPI_MODELS: list[type[BaseModel]] = [ReviewTaskBody, ReviewDecisionBody]
Scalar = str | int | float | bool | None
_METADATA = TypeAdapter(dict[str, dict[str, Scalar]])

_UPDATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "base_version", "request_id"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "base_version": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "The latest version you saw; a newer one in ECM "
                            "is a conflict (409).",
                        },
                        "request_id": {"type": "string", "pattern": REQUEST_ID_PATTERN},
                        "system": {"type": "string", "pattern": SYSTEM_PATTERN},
                        "metadata": {
                            "type": "string",
                            "description": 'JSON: {"<category>": {"<field>": value}}, the '
                            "categories and fields of ecm-requests.json.",
                        },
                    },
                }
            }
        },
    }
}


# ------------------------------------------------------------------ helpers
def requester(principal: Principal, named: str | None) -> str:
    """The system the caller requests for: the one named (which it must act for), else its
    only system."""
    if named is not None:
        if not principal.acts_for(named):
            raise NotPermitted(f"{principal.subject} does not act for source system '{named}'")
        return named
    systems = sorted(principal.source_systems - {"*"})
    if len(systems) != 1 or principal.sees_every_source:
        raise InvalidRequest("name the requesting 'system' (you act for several or none)")
    return systems[0]


async def _config(request: Request) -> EcmRequests:
    bundle = await api_context(request).config.current()
    return bundle.get(EcmRequests)


async def review_tasks(request: Request) -> EcmReviewTasks:
    context = api_context(request)
    return EcmReviewTasks(await context.temporal.client(), context.settings)


async def content_updates(request: Request) -> EcmContentUpdates:
    context = api_context(request)
    return EcmContentUpdates(await context.temporal.client(), context.settings)


def _base(request: Request) -> str:
    return api_context(request).settings.api.public_url.rstrip("/")


def _q(value: str) -> str:
    return quote(value, safe="")


async def _visible_task(
    tasks: EcmReviewTasks, system: str, request_id: str, principal: Principal
) -> ReviewTaskStatus:
    """The task, if the caller acts for its requester or is one of its reviewers (else 404)."""
    missing = domain_error(ProcessNotFound(f"no ECM review task {request_key(system, request_id)}"))
    if not principal.acts_for(system) and principal.source_systems:
        raise missing
    status = await tasks.status(system, request_id)
    if not may_see(principal, status.requester, status.participants):
        raise missing
    return status


# ------------------------------------------------------------ review tasks
@router.post(
    "/review-tasks",
    tags=["ecm requests"],
    summary="Ask for a review task on a document in ECM",
    description="People review one version of a document (the latest unless named): "
    "assignees with an any/all quorum, deadline, reminder, escalation and expiry (defaults "
    "and maxima from ecm-requests.json). The decision is written to the document as its "
    "status category and sent to your system as a signed `ecm.review.completed` callback; an "
    "unknown node ends 'refused', reported the same way. The same request_id again returns "
    "the same task (200); with another body it is 409.",
    status_code=201,
    response_model=ReviewTaskAnswer,
    responses={
        200: {"model": ReviewTaskAnswer, "description": "This request_id already had a task."},
        **error_responses(401, 403, 409, 413, 422, 503),
    },
    openapi_extra=json_request_body("ReviewTaskBody"),
)
async def request_review(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require(Scope.START))],
) -> ReviewTaskAnswer:
    body = await json_body(request, ReviewTaskBody)  # read only once the caller is known
    system = requester(principal, body.system)
    task = review_input(
        await _config(request), api_context(request).settings, body, system, principal.subject
    )
    tasks = await review_tasks(request)
    started = await tasks.start(task)
    if not started.created:
        response.status_code = 200
    log.info("ECM review %s by %s: %s", task.key, principal.subject, started.created and "started")
    return ReviewTaskAnswer(
        workflow_id=started.workflow_id,
        created=started.created,
        status_url=f"{_base(request)}/v1/ecm/review-tasks/{_q(system)}/{_q(body.request_id)}",
        status=await tasks.status(system, body.request_id),
    )


@router.get(
    "/review-tasks/{system}/{request_id}",
    tags=["ecm requests"],
    summary="A review task: state, reviewers, decision, status written, audit trail",
    response_model=ReviewTaskStatus,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def review_status(
    request: Request,
    system: System,
    request_id: RequestId,
    principal: Annotated[Principal, Depends(require(Scope.READ, Scope.START))],
) -> ReviewTaskStatus:
    return await _visible_task(await review_tasks(request), system, request_id, principal)


@router.post(
    "/review-tasks/{system}/{request_id}/decision",
    tags=["ecm requests"],
    summary="Approve, reject or request changes on a review task",
    description="Recorded for the authenticated caller, who must be a reviewer of the task "
    "(the proposer never is). A decision that does not fit the task's state is 409.",
    response_model=UpdateAccepted,
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
    openapi_extra=json_request_body("ReviewDecisionBody"),
)
async def decide_review(
    request: Request,
    system: System,
    request_id: RequestId,
    principal: Annotated[Principal, Depends(require(Scope.DECIDE))],
    idempotency_key: IdempotencyKey = None,
) -> UpdateAccepted:
    tasks = await review_tasks(request)
    status = await _visible_task(tasks, system, request_id, principal)
    if principal.identity not in status.participants:
        raise NotPermitted(f"{principal.subject} is not a reviewer of {status.business_key}")
    body = await json_body(request, ReviewDecisionBody)
    accepted = await tasks.decide(
        system,
        request_id,
        principal.subject,
        Decision(body.decision),
        body.comment,
        idempotency_key=scoped_request_id(principal, idempotency_key),
    )
    log.info("ECM review %s: %s by %s", status.business_key, body.decision, principal.subject)
    return accepted


# ---------------------------------------------------------- content updates
@router.post(
    "/nodes/{node_id}/versions",
    tags=["ecm requests"],
    summary="Add a new version of a document in ECM",
    description="Multipart: `file` (size limit and accepted types checked), `base_version` "
    "(the latest version you saw), `request_id` (your idempotency key), optional `metadata` "
    "(category values, the categories and fields ecm-requests.json allows: others are 422) "
    "and `system`. 201 with the new version; 409 with `current_version` when your base "
    "version is stale (nothing is written); 404 for an unknown node; 202 with the status URL "
    "when it takes longer than the configured wait. The same request_id again returns the "
    "same result and never adds a second version. Your system also gets a signed "
    "`ecm.content.updated` callback.",
    status_code=201,
    response_model=ContentUpdateAnswer,
    responses={
        202: {"model": ContentUpdateAnswer, "description": "Still running: see status_url."},
        **error_responses(401, 403, 404, 409, 413, 415, 422, 503),
    },
    openapi_extra=_UPDATE_BODY,
)
async def update_content(
    request: Request,
    node_id: NodeIdPath,
    principal: Annotated[Principal, Depends(require(Scope.START))],
) -> JSONResponse:
    context = api_context(request)
    config = await _config(request)
    limit = min(config.update.max_file_bytes, context.settings.api.max_upload_bytes)
    async with request.form(max_files=1, max_fields=10) as form:
        system = requester(principal, await _optional(form, "system", SYSTEM_PATTERN))
        if system not in config.requesters:
            raise InvalidRequest(f"{system} may not request work in ECM in this environment")
        request_id = await _required(form, "request_id", REQUEST_ID_PATTERN)
        base_version = _version(await text_part(form, "base_version"))
        metadata = _metadata(await text_part(form, "metadata"))
        try:
            map_metadata(config.update, metadata)
        except MetadataProblem as exc:
            raise InvalidRequest(f"metadata: {exc}") from exc
        upload = file_part(form)
        data = await _read(upload, limit)
        document = await store_upload(context.store, upload, data, base_version + 1)
    updates = await content_updates(request)
    await updates.start(
        system=system,
        request_id=request_id,
        node_id=node_id,
        base_version=base_version,
        document=document,
        metadata=metadata,
        started_by=principal.subject,
    )
    result = await updates.result(system, request_id, config.update.wait_for_result)
    answer = ContentUpdateAnswer(
        workflow_id=updates.workflow_id(request_key(system, request_id)),
        status_url=f"{_base(request)}/v1/ecm/updates/{_q(system)}/{_q(request_id)}",
        result=result,
    )
    log.info(
        "ECM update %s of node %s by %s: %s",
        request_key(system, request_id),
        node_id,
        principal.subject,
        result.outcome if result else "running",
    )
    return update_response(answer, result)


# How an update that did not add a version is answered (anything else: 502, ECM gave up).
UPDATE_REFUSALS = {
    ContentUpdateOutcome.CONFLICT: (409, "version_conflict"),
    ContentUpdateOutcome.REFUSED: (404, "node_not_found"),
}


def update_response(
    answer: ContentUpdateAnswer, result: ContentUpdateResult | None
) -> JSONResponse:
    """201 with the new version, 202 while running, else the error beside the result."""
    body = answer.model_dump(mode="json")
    if result is None:
        return JSONResponse(body, status_code=202)
    outcome = result.outcome
    if outcome is ContentUpdateOutcome.UPDATED:
        return JSONResponse(body, status_code=201)
    status, code = (
        UPDATE_REFUSALS.get(outcome, (502, "update_failed")) if outcome else (502, "update_failed")
    )
    error = {"code": code, "message": result.reason or f"the update ended {outcome}"}
    return JSONResponse(
        {"error": error, "current_version": result.current_version, **body}, status_code=status
    )


@router.get(
    "/updates/{system}/{request_id}",
    tags=["ecm requests"],
    summary="A content update: outcome, new or current version, audit trail",
    response_model=ContentUpdateResult,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def update_status(
    request: Request,
    system: System,
    request_id: RequestId,
    principal: Annotated[Principal, Depends(require(Scope.READ, Scope.START))],
) -> ContentUpdateResult:
    if not principal.acts_for(system):
        raise domain_error(
            ProcessNotFound(f"no ECM content update {request_key(system, request_id)}")
        )
    return await (await content_updates(request)).status(system, request_id)


# ------------------------------------------------------------- form parts
async def _optional(form: Any, name: str, pattern: str) -> str | None:
    raw = await text_part(form, name)
    if raw is None or raw == "":
        return None
    if not re.fullmatch(pattern, raw):
        raise InvalidRequest(f"'{name}' must match {pattern}")
    return raw


async def _required(form: Any, name: str, pattern: str) -> str:
    value = await _optional(form, name, pattern)
    if value is None:
        raise InvalidRequest(f"multipart body needs a '{name}' part")
    return value


def _version(raw: str | None) -> int:
    if raw is None or not raw.isdigit() or not 1 <= int(raw) <= MAX_VERSION_NUMBER:
        raise InvalidRequest(f"'base_version' must be an integer from 1 to {MAX_VERSION_NUMBER}")
    return int(raw)


def _metadata(raw: str | None) -> dict[str, dict[str, Scalar]]:
    if raw is None or raw == "":
        return {}
    try:
        metadata = _METADATA.validate_json(raw)
    except (ValidationError, json.JSONDecodeError) as exc:
        raise InvalidRequest(
            'metadata must be a JSON object {"<category>": {"<field>": value}}'
        ) from exc
    if len(metadata) > MAX_METADATA_CATEGORIES:
        raise InvalidRequest(f"metadata: at most {MAX_METADATA_CATEGORIES} categories")
    for name, fields in metadata.items():
        if len(fields) > MAX_METADATA_FIELDS:
            raise InvalidRequest(f"metadata.{name}: at most {MAX_METADATA_FIELDS} fields")
        for field, value in fields.items():
            if isinstance(value, str) and len(value) > MAX_METADATA_VALUE:
                raise InvalidRequest(
                    f"metadata.{name}.{field}: at most {MAX_METADATA_VALUE} characters"
                )
    return metadata


async def _read(upload: StarletteUpload, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the document exceeds {limit} bytes")
    if not data:
        raise InvalidRequest("the uploaded document is empty")
    return data
