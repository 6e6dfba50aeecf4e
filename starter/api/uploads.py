"""Request bodies that routes read themselves: JSON or multipart with an uploaded document.

Shared by every route that accepts a document, so size limits and error messages are the same.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload

from docflow.docstore import DocumentStore
from docflow.filetypes import DocumentTypeError, check_document, safe_filename
from docflow.models import DocumentRef
from docflow.models.documents import MAX_VERSION
from docflow.models.signing import CALLER_INPUT
from starter.api.context import api_context
from starter.api.errors import InvalidRequest, PayloadTooLarge, UnsupportedDocument

Model = TypeVar("Model", bound=BaseModel)


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


def parse_body(model: type[Model], raw: bytes | str, where: str) -> Model:
    """Validate JSON text as `model`; errors are located under `where` like FastAPI's own."""
    try:
        return model.model_validate_json(raw, context={CALLER_INPUT: True})
    except ValidationError as exc:
        errors = [{**error, "loc": (where, *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from exc


def json_request_body(model: str) -> dict[str, Any]:
    """`openapi_extra` of a route that reads its JSON body itself, after authenticating
    (FastAPI would read a declared body parameter before running the auth dependency);
    `model` must be among the models the app adds to the OpenAPI components."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        }
    }


async def json_body(request: Request, model: type[Model]) -> Model:
    """The JSON body as `model`; routes call it after authenticating, never before."""
    return parse_body(model, await request.body(), "body")


async def read_upload(request: Request, upload: StarletteUpload) -> bytes:
    """The uploaded bytes, refused if empty or over the configured limit."""
    limit = api_context(request).settings.api.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the document exceeds {limit} bytes")
    if not data:
        raise InvalidRequest("the uploaded document is empty")
    return data


async def store_upload(
    store: DocumentStore, upload: StarletteUpload, data: bytes, version: int
) -> DocumentRef:
    """Store uploaded bytes under a plain file name, once their signature matches their claims."""
    filename = safe_filename(upload.filename or "")
    try:
        content_type = check_document(data, filename, upload.content_type or "")
    except DocumentTypeError as exc:
        raise UnsupportedDocument(str(exc)) from exc
    return await store.put(data, filename=filename, content_type=content_type, version=version)


def file_part(form: FormData) -> StarletteUpload:
    part = form.get("file")
    if not isinstance(part, StarletteUpload):
        raise InvalidRequest("multipart body needs a 'file' part")
    return part


async def text_part(form: FormData, name: str) -> str | None:
    part = form.get(name)
    if isinstance(part, StarletteUpload):  # e.g. curl -F request=@request.json
        return (await part.read()).decode()
    return part


async def version_part(form: FormData) -> int | None:
    raw = await text_part(form, "version")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_VERSION:
        raise InvalidRequest(f"'version' must be an integer from 1 to {MAX_VERSION}")
    return int(raw)
