"""The docflow HTTP API: `create_app(settings, temporal, store)` wires auth, routes and errors.

`temporal` may be a connected client or a coroutine function that connects; the latter is
called on first use, so the API starts (and answers 503) while Temporal is down.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from docflow.docstore import DocumentStore
from docflow.settings import Settings
from starter.api.auth import Authenticator
from starter.api.context import ApiContext, TemporalConnection, TemporalSource
from starter.api.errors import error_json, install_error_handlers
from starter.api.receivers import core_signature
from starter.api.routes import documents, health, operations, signing

log = logging.getLogger("docflow.api")

# Multipart framing and form fields on top of the document itself.
UPLOAD_OVERHEAD_BYTES = 1024 * 1024

TAGS = [
    {"name": "signing processes", "description": "Start, read and cancel document signing."},
    {"name": "approvals", "description": "Internal approval: decisions and revised documents."},
    {"name": "exceptions", "description": "Fix signature exceptions (bounces, errors)."},
    {
        "name": "operations",
        "description": "Operators: list with filters, repair many processes in one call.",
    },
    {"name": "documents", "description": "Upload documents into the document store."},
    {"name": "webhooks", "description": "Callbacks from external systems (signed, verified)."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


class ContentLengthLimit:
    """Refuses oversized bodies before they are read (the handlers re-check after reading)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                    response = error_json(413, "payload_too_large", "request body too large")
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(settings: Settings, temporal: TemporalSource, store: DocumentStore) -> FastAPI:
    app = FastAPI(
        title="docflow API",
        version="1.0.0",
        summary="Durable document signing: approval, e-signature, archive, status back.",
        description="Business applications start signing processes and read their status; "
        "approvers decide; support corrects exceptions; Core Signature calls back. "
        "Authenticate with `X-API-Key` or `Authorization: Bearer` (API key or OIDC token).",
        openapi_tags=TAGS,
    )
    app.state.docflow = ApiContext(
        settings=settings,
        store=store,
        temporal=TemporalConnection(temporal),
        auth=Authenticator(settings),
        event_hash_key=settings.secret(settings.core_signature.event_hash_key).encode(),
    )
    install_error_handlers(app)
    app.add_middleware(
        ContentLengthLimit, limit=settings.api.max_upload_bytes + UPLOAD_OVERHEAD_BYTES
    )
    app.include_router(documents.router)
    app.include_router(operations.router)
    app.include_router(signing.router)
    app.include_router(core_signature.router)
    app.include_router(health.router)
    _document_extra_models(app, [*signing.OPENAPI_MODELS, *core_signature.OPENAPI_MODELS])
    return app


def _document_extra_models(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Add models that routes reference by hand (JSON-or-multipart bodies) to the components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in model_schema.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components.setdefault(model.__name__, model_schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
