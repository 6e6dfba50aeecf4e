"""Document routes under /v1/documents: upload bytes into the document store.

Every process carries document references; uploading first keeps process starts small.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from docflow.models import DocumentRef
from starter.api.auth import Principal, Scope, require
from starter.api.context import api_context
from starter.api.errors import error_responses
from starter.api.uploads import read_upload

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/v1")


@router.post(
    "/documents",
    tags=["documents"],
    summary="Upload a document",
    description="Stores the bytes in the document store and returns the reference that "
    "processes carry (content addressed: uploading the same bytes twice is harmless).",
    status_code=201,
    response_model=DocumentRef,
    responses=error_responses(401, 403, 413, 422),
)
async def upload_document(
    request: Request,
    file: Annotated[UploadFile, File(description="The document, usually a PDF.")],
    principal: Annotated[Principal, Depends(require(Scope.START))],
    version: Annotated[int, Form(ge=1, description="Business version of the document.")] = 1,
) -> DocumentRef:
    data = await read_upload(request, file)
    store = api_context(request).store
    document = await store.put(
        data,
        filename=file.filename or "document",
        content_type=file.content_type or "application/octet-stream",
        version=version,
    )
    log.info("document %s v%d stored for %s", document.filename, version, principal.subject)
    return document
