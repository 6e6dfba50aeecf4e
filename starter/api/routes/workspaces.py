"""Workspace routes: portal requests for structured workspaces, documents filed into a business
object's workspace (ECM keeps the authoritative copy), status and repairs of its process.

An application acts for its source systems only (the object's `ext_system_id`); support
(`'*'`) acts for all. An object the caller may not see is answered 404.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from docflow.models import DocumentRef, RepairRequest, UpdateAccepted
from docflow.models.workspaces import (
    BusinessObjectRef,
    DocumentFiling,
    FiledDocument,
    PortalWorkspaceRequest,
    ProvisionAnswer,
    WorkspaceStatus,
)
from starter.api.auth import Principal, Scope, require
from starter.api.context import api_context, business_objects
from starter.api.errors import InvalidRequest, NotFound, NotPermitted, error_responses
from starter.api.params import IdempotencyKey, request_id
from starter.api.schemas import RepairBody
from starter.api.uploads import (
    file_part,
    is_multipart,
    json_body,
    json_request_body,
    parse_body,
    read_upload,
    store_upload,
    text_part,
)
from starter.processes.workspaces import BusinessObjects, portal_object

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/v1")

Objects = Annotated[BusinessObjects, Depends(business_objects)]
_ID = r"^[A-Za-z0-9_.:@-]{1,200}$"
ExtSystem = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,200}$", examples=["SFDC"])]
BoType = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,200}$", examples=["Account"])]
BoId = Annotated[str, Path(pattern=_ID, examples=["0015g00000ACME"])]


class FileDocumentBody(BaseModel):
    """A document uploaded before (`POST /v1/documents`), to file for the business object."""

    document: DocumentRef
    document_type: str = Field(max_length=200, examples=["contract"])
    name: str | None = Field(default=None, max_length=200)
    metadata: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, max_length=100
    )
    source_record: str | None = Field(default=None, max_length=200, examples=["Opportunity/006X"])


class FilingPart(BaseModel):
    """The `filing` part of a multipart request (the `file` part is the document)."""

    document_type: str = Field(max_length=200)
    name: str | None = Field(default=None, max_length=200)
    metadata: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, max_length=100
    )
    source_record: str | None = Field(default=None, max_length=200)


_FILE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/FileDocumentBody"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["filing", "file"],
                    "properties": {
                        "filing": {"$ref": "#/components/schemas/FilingPart"},
                        "file": {"type": "string", "format": "binary"},
                    },
                },
                "encoding": {"filing": {"contentType": "application/json"}},
            },
        },
    }
}
OPENAPI_MODELS: list[type[BaseModel]] = [
    FileDocumentBody,
    FilingPart,
    PortalWorkspaceRequest,
    RepairBody,
]


def _object(ext_system_id: str, bo_type: str, bo_id: str) -> BusinessObjectRef:
    return BusinessObjectRef(ext_system_id=ext_system_id, bo_type=bo_type, bo_id=bo_id)


def _visible(principal: Principal, obj: BusinessObjectRef) -> None:
    if not principal.acts_for(obj.ext_system_id):
        raise NotFound(f"no workspace process for {obj.key}")


@router.post(
    "/workspace-requests",
    tags=["workspaces"],
    summary="Request a structured workspace (portal)",
    description="An onboarding, legal matter, capital project or supplier qualification "
    "request: the workspace is created from its type's template (folders, roles with "
    "members, permissions, document templates) and the answer carries its reference. A bad "
    "request is refused with every reason (422) and creates nothing. The same request id "
    "again returns the same workspace.",
    status_code=201,
    response_model=ProvisionAnswer,
    responses=error_responses(401, 403, 409, 413, 422, 503),
    openapi_extra=json_request_body("PortalWorkspaceRequest"),
)
async def request_workspace(
    request: Request,
    principal: Annotated[Principal, Depends(require(Scope.START))],
    idempotency_key: IdempotencyKey = None,
) -> ProvisionAnswer:
    context = api_context(request)
    body = await json_body(request, PortalWorkspaceRequest)
    obj = await portal_object(context.config, body)  # every reason, before anything starts
    if not principal.acts_for(obj.ext_system_id):
        raise NotPermitted(f"{principal.subject} does not act for '{obj.ext_system_id}'")
    objects = await context.business_objects()
    answer = await objects.provision(
        body, principal.subject, request_id(principal, idempotency_key)
    )
    if not answer.accepted:
        raise InvalidRequest("; ".join(answer.reasons))
    log.info("workspace request %s by %s: %s", obj.key, principal.subject, answer.workspace)
    return answer


@router.get(
    "/business-objects/{ext_system_id}/{bo_type}/{bo_id}",
    tags=["workspaces"],
    summary="The workspace process of a business object",
    description="Its workspace, the newest source version applied, changes applied and "
    "ignored (duplicates, stale versions), what it waits for, and its audit trail.",
    response_model=WorkspaceStatus,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def business_object_status(
    ext_system_id: ExtSystem,
    bo_type: BoType,
    bo_id: BoId,
    principal: Annotated[Principal, Depends(require(Scope.READ))],
    objects: Objects,
) -> WorkspaceStatus:
    obj = _object(ext_system_id, bo_type, bo_id)
    _visible(principal, obj)
    return await objects.status(obj)


@router.post(
    "/business-objects/{ext_system_id}/{bo_type}/{bo_id}/documents",
    tags=["workspaces"],
    summary="File a document for a business object",
    description="The document lands in the folder its type maps to in the object's "
    "workspace, with metadata and retention — as a new version when a document of that name "
    "exists with other bytes; the same bytes again change nothing. The source record gets "
    "the reference (node id, version, link), so the source keeps no second copy. JSON with a "
    "document uploaded before, or multipart with `file` and `filing`.",
    status_code=201,
    response_model=FiledDocument,
    responses={
        200: {"model": FiledDocument, "description": "The same bytes were already filed."},
        **error_responses(401, 403, 404, 409, 413, 415, 422, 503),
    },
    openapi_extra=_FILE_BODY,
)
async def file_document(
    request: Request,
    response: Response,
    ext_system_id: ExtSystem,
    bo_type: BoType,
    bo_id: BoId,
    principal: Annotated[Principal, Depends(require(Scope.START))],
    idempotency_key: IdempotencyKey = None,
) -> FiledDocument:
    context = api_context(request)
    obj = _object(ext_system_id, bo_type, bo_id)
    if not principal.acts_for(obj.ext_system_id):
        raise NotPermitted(f"{principal.subject} does not act for '{obj.ext_system_id}'")
    if is_multipart(request):
        async with request.form(max_files=1, max_fields=10) as form:
            raw = await text_part(form, "filing")
            if raw is None:
                raise InvalidRequest("multipart body needs a 'filing' part (FilingPart JSON)")
            part = parse_body(FilingPart, raw, "filing")
            upload = file_part(form)
            data = await read_upload(request, upload)
            document = await store_upload(context.store, upload, data, 1)
        body = FileDocumentBody(document=document, **part.model_dump())
    else:
        body = await json_body(request, FileDocumentBody)
    objects = await context.business_objects()
    filed = await objects.file_document(
        obj,
        DocumentFiling(
            document=body.document,
            document_type=body.document_type,
            name=body.name,
            metadata=body.metadata,
            source_record=body.source_record,
            actor=principal.subject,
        ),
        request_id(principal, idempotency_key),
    )
    if filed.outcome == "unchanged":
        response.status_code = 200
    log.info("%s filed for %s by %s: %s", filed.name, obj.key, principal.subject, filed.outcome)
    return filed


@router.post(
    "/business-objects/{ext_system_id}/{bo_type}/{bo_id}/repairs",
    tags=["exceptions"],
    summary="Retry or abandon a workspace step that gave up",
    description="When provisioning, a metadata update or closing gave up "
    "(`workspace_exception`): `retry` after fixing the cause in Extended ECM, or `abandon`.",
    response_model=UpdateAccepted,
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
    openapi_extra=json_request_body("RepairBody"),
)
async def repair_workspace(
    request: Request,
    ext_system_id: ExtSystem,
    bo_type: BoType,
    bo_id: BoId,
    principal: Annotated[Principal, Depends(require(Scope.CORRECT))],
    objects: Objects,
) -> UpdateAccepted:
    obj = _object(ext_system_id, bo_type, bo_id)
    _visible(principal, obj)
    body = await json_body(request, RepairBody)
    return await objects.repair(
        obj, RepairRequest(actor=principal.subject, action=body.action, comment=body.comment)
    )
