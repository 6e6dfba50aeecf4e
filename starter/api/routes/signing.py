"""Signing routes under /v1/signing-processes: start, decide, new version, correct, cancel, read.

Handlers authenticate, parse and hand over to `SigningProcesses`; the workflow decides.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel

from docflow.correlation import BUSINESS_KEY_PATTERN
from docflow.models import SigningRequest, UpdateAccepted
from docflow.repairs import signing_repairs
from starter.api.access import Act, authorized
from starter.api.auth import Principal, Scope, require
from starter.api.context import api_context, signing_processes
from starter.api.errors import InvalidRequest, NotPermitted, error_responses
from starter.api.operator_schemas import SigningProcessView
from starter.api.params import IdempotencyKey, request_id
from starter.api.schemas import (
    CancelBody,
    CorrectionBody,
    DecisionBody,
    NewVersionBody,
    RepairBody,
    StartedProcess,
    StartSigningProcess,
)
from starter.api.uploads import (
    file_part,
    is_multipart,
    json_body,
    json_request_body,
    parse_body,
    read_upload,
    store_upload,
    text_part,
    version_part,
)
from starter.processes.signing import SigningProcesses

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/v1")

BusinessKey = Annotated[
    str,
    Path(
        pattern=BUSINESS_KEY_PATTERN,
        description="The caller's business key the process was started with.",
        examples=["SFDC-Q-1001"],
    ),
]
Processes = Annotated[SigningProcesses, Depends(signing_processes)]


def _binary_part(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "binary", "description": description}


# Routes below that take JSON *or* multipart read the request themselves; these describe
# both bodies in the OpenAPI document (the models are added to components by app.py).
_START_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/StartSigningProcess"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["request", "file"],
                    "properties": {
                        "request": {"$ref": "#/components/schemas/SigningRequest"},
                        "file": _binary_part("The document to sign."),
                        "version": {"type": "integer", "minimum": 1, "default": 1},
                    },
                },
                "encoding": {"request": {"contentType": "application/json"}},
            },
        },
    }
}
_VERSION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/NewVersionBody"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": _binary_part("The revised document."),
                        "version": {
                            "type": "integer",
                            "minimum": 2,
                            "description": "Defaults to the current version + 1.",
                        },
                        "comment": {"type": "string"},
                    },
                },
            },
        },
    }
}
OPENAPI_MODELS: list[type[BaseModel]] = [
    StartSigningProcess,
    SigningRequest,
    NewVersionBody,
    DecisionBody,
    CorrectionBody,
    RepairBody,
    CancelBody,
]


# ------------------------------------------------------------------ helpers
def _may_start(principal: Principal, request: SigningRequest) -> None:
    """An application starts processes for its own source systems only."""
    if not principal.acts_for(request.source.system):
        raise NotPermitted(
            f"{principal.subject} does not act for source system '{request.source.system}'"
        )


# ------------------------------------------------------------------- routes
@router.post(
    "/signing-processes",
    tags=["signing processes"],
    summary="Start a signing process",
    description="JSON with a document uploaded before, or multipart with the `file` and the "
    "`request` (SigningRequest JSON). Starting twice with the same business key and the "
    "same request returns the existing run (200, `created: false`) and never starts a second "
    "one; the same key with a different request is refused (409, naming the fields that differ).",
    status_code=201,
    response_model=StartedProcess,
    responses={
        200: {"model": StartedProcess, "description": "The business key already had a run."},
        201: {"description": "A new process was started."},
        **error_responses(401, 403, 409, 413, 415, 422, 503),
    },
    openapi_extra=_START_BODY,
)
async def start_signing_process(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require(Scope.START))],
) -> StartedProcess:
    context = api_context(request)
    if is_multipart(request):
        async with request.form(max_files=1, max_fields=10) as form:
            raw_request = await text_part(form, "request")
            if raw_request is None:
                raise InvalidRequest("multipart body needs a 'request' part (SigningRequest JSON)")
            signing_request = parse_body(SigningRequest, raw_request, "request")
            _may_start(principal, signing_request)
            upload = file_part(form)
            data = await read_upload(request, upload)
            version = await version_part(form) or 1
            document = await store_upload(context.store, upload, data, version)
            processes = await context.processes()
    else:
        body = parse_body(StartSigningProcess, await request.body(), "body")
        signing_request, document = body.request, body.document
        _may_start(principal, signing_request)
        processes = await context.processes()

    result = await processes.start(signing_request, document, principal.subject)
    key = signing_request.business_key
    if not result.created:
        response.status_code = 200
    log.info(
        "start %s by %s: %s",
        key,
        principal.subject,
        "started" if result.created else "already running or finished, same run returned",
    )
    base = context.settings.api.public_url.rstrip("/")
    return StartedProcess(
        workflow_id=result.workflow_id,
        run_id=result.run_id,
        created=result.created,
        status_url=f"{base}/v1/signing-processes/{quote(key, safe='')}",
        web_ui_url=processes.web_ui_url(key, result.run_id),
    )


@router.get(
    "/signing-processes/{business_key}",
    tags=["signing processes"],
    summary="Status and audit trail of a process",
    description="With the steps being retried (their last error) and the exact CLI command "
    "and API call of each repair that applies now.",
    response_model=SigningProcessView,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_signing_process(
    business_key: BusinessKey,
    principal: Annotated[Principal, Depends(require(Scope.READ))],
    processes: Processes,
) -> SigningProcessView:
    status = await authorized(processes, business_key, principal, Act.READ)
    log.info("status of %s read by %s: %s", business_key, principal.subject, status.state.value)
    return SigningProcessView.model_validate(
        {
            **status.model_dump(),
            "failing_steps": await processes.failing_steps(business_key),
            "repairs": signing_repairs(business_key, status.state.value, status.attention_reason),
        }
    )


@router.post(
    "/signing-processes/{business_key}/decisions",
    tags=["approvals"],
    summary="Approve, reject or request changes",
    description="Recorded for the authenticated caller, who must be an approver of the open "
    "stage. The process refuses (409) a decision that does not fit its state.",
    response_model=UpdateAccepted,
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
    openapi_extra=json_request_body("DecisionBody"),
)
async def decide(
    request: Request,
    business_key: BusinessKey,
    principal: Annotated[Principal, Depends(require(Scope.DECIDE))],
    processes: Processes,
    idempotency_key: IdempotencyKey = None,
) -> UpdateAccepted:
    await authorized(processes, business_key, principal, Act.DECIDE)
    body = await json_body(request, DecisionBody)  # read only once the caller is known
    accepted = await processes.decide(
        business_key,
        principal.subject,
        body.decision,
        body.comment,
        body.stage,
        request_id=request_id(principal, idempotency_key),
    )
    log.info(
        "decision %s on %s by %s accepted (%s)",
        body.decision.value,
        business_key,
        principal.subject,
        accepted.detail,
    )
    return accepted


@router.post(
    "/signing-processes/{business_key}/versions",
    tags=["approvals"],
    summary="Submit a revised document",
    description="After changes were requested: multipart with the `file` (version defaults to "
    "the current one + 1), or JSON naming a document uploaded before. Approval restarts.",
    response_model=UpdateAccepted,
    responses=error_responses(401, 403, 404, 409, 413, 415, 422, 503),
    openapi_extra=_VERSION_BODY,
)
async def submit_new_version(
    request: Request,
    business_key: BusinessKey,
    principal: Annotated[Principal, Depends(require(Scope.START, Scope.CORRECT))],
    processes: Processes,
    idempotency_key: IdempotencyKey = None,
) -> UpdateAccepted:
    await authorized(processes, business_key, principal, Act.MANAGE)
    if is_multipart(request):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = file_part(form)
            data = await read_upload(request, upload)
            version = await version_part(form)
            comment = await text_part(form, "comment") or ""
            if version is None:
                version = await processes.next_document_version(business_key)
            document = await store_upload(api_context(request).store, upload, data, version)
    else:
        body = parse_body(NewVersionBody, await request.body(), "body")
        document, comment = body.document, body.comment
    accepted = await processes.submit_new_version(
        business_key,
        principal.subject,
        document,
        comment,
        request_id=request_id(principal, idempotency_key),
    )
    log.info(
        "new version v%d of %s by %s accepted", document.version, business_key, principal.subject
    )
    return accepted


@router.post(
    "/signing-processes/{business_key}/corrections",
    tags=["exceptions"],
    summary="Resolve a signature exception",
    description="New signers and/or a new document version (uploaded before); the signature "
    "request is cancelled and sent again.",
    response_model=UpdateAccepted,
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
    openapi_extra=json_request_body("CorrectionBody"),
)
async def correct(
    request: Request,
    business_key: BusinessKey,
    principal: Annotated[Principal, Depends(require(Scope.CORRECT))],
    processes: Processes,
    idempotency_key: IdempotencyKey = None,
) -> UpdateAccepted:
    await authorized(processes, business_key, principal, Act.MANAGE)
    body = await json_body(request, CorrectionBody)  # read only once the caller is known
    accepted = await processes.correct(
        business_key,
        principal.subject,
        body.signers,
        body.document,
        body.comment,
        request_id=request_id(principal, idempotency_key),
    )
    log.info("correction of %s by %s accepted", business_key, principal.subject)
    return accepted


@router.post(
    "/signing-processes/{business_key}/repairs",
    tags=["exceptions"],
    summary="Retry or abandon a step that gave up",
    description="When archiving gave up (the process is `archive_exception`): `retry` after "
    "fixing the cause in Extended ECM, or `abandon` (the process ends failed and is reported).",
    response_model=UpdateAccepted,
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
    openapi_extra=json_request_body("RepairBody"),
)
async def repair(
    request: Request,
    business_key: BusinessKey,
    principal: Annotated[Principal, Depends(require(Scope.CORRECT))],
    processes: Processes,
    idempotency_key: IdempotencyKey = None,
) -> UpdateAccepted:
    await authorized(processes, business_key, principal, Act.MANAGE)
    body = await json_body(request, RepairBody)  # read only once the caller is known
    accepted = await processes.repair(
        business_key,
        principal.subject,
        body.action,
        body.comment,
        request_id=request_id(principal, idempotency_key),
    )
    log.info("repair (%s) of %s by %s accepted", body.action, business_key, principal.subject)
    return accepted


@router.post(
    "/signing-processes/{business_key}/cancel",
    tags=["signing processes"],
    summary="Cancel a process",
    description="Cancels the process and any open signature request; refused once signed.",
    response_model=UpdateAccepted,
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
    openapi_extra=json_request_body("CancelBody"),
)
async def cancel(
    request: Request,
    business_key: BusinessKey,
    principal: Annotated[Principal, Depends(require(Scope.CANCEL))],
    processes: Processes,
    idempotency_key: IdempotencyKey = None,
) -> UpdateAccepted:
    await authorized(processes, business_key, principal, Act.MANAGE)
    body = await json_body(request, CancelBody)  # read only once the caller is known
    accepted = await processes.cancel(
        business_key,
        principal.subject,
        body.reason,
        request_id=request_id(principal, idempotency_key),
    )
    log.info("cancel of %s by %s accepted: %s", business_key, principal.subject, body.reason)
    return accepted
