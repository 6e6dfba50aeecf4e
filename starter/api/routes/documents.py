"""Document routes under /v1/documents: upload bytes into the document store.

Every process carries document references; uploading first keeps process starts small.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from docflow.models import DocumentRef
from starter.api.auth import Principal, Scope, require
from starter.api.context import api_context
from starter.api.errors import InvalidRequest, error_responses
from starter.api.uploads import file_part, is_multipart, read_upload, store_upload, version_part

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
    responses=error_responses(401, 403, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "The document, usually a PDF.",
                            },
                            "version": {
                                "type": "integer",
                                "minimum": 1,
                                "default": 1,
                                "description": "Business version of the document.",
                            },
                        },
                    }
                }
            },
        }
    },
)
async def upload_document(
    request: Request,
    principal: Annotated[Principal, Depends(require(Scope.START))],
) -> DocumentRef:
    # The form is read here, after authentication: a declared File/Form parameter would make
    # FastAPI parse the whole upload before the caller is known.
    if not is_multipart(request):
        raise InvalidRequest("upload a document as multipart/form-data with a 'file' part")
    async with request.form(max_files=1, max_fields=10) as form:
        upload = file_part(form)
        data = await read_upload(request, upload)
        version = await version_part(form) or 1
        store = api_context(request).store
        document = await store_upload(store, upload, data, version)
    log.info("document %s v%d stored for %s", document.filename, version, principal.subject)
    return document
