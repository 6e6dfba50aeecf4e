"""The docflow HTTP API: `create_app(settings, temporal, store)` wires auth, routes and errors.

`temporal` may be a connected client or a coroutine function that connects; the latter is
called on first use, so the API starts (and answers 503) while Temporal is down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docflow.config.versions import ConfigVersions
from docflow.docstore import DocumentStore
from docflow.settings import Settings
from starter.api.auth import Authenticator
from starter.api.context import ApiContext, TemporalConnection, TemporalSource
from starter.api.docs import document_operations, documented_app
from starter.api.errors import (
    MAX_JSON_BYTES,
    InvalidRequest,
    PayloadTooLarge,
    body_too_large,
    install_error_handlers,
)
from starter.api.receivers import amplience, business_objects, core_signature, ecm
from starter.api.receivers.core_signature import MAX_CALLBACK_BYTES
from starter.api.records_store import store_for
from starter.api.routes import (
    actions,
    cases,
    config,
    content,
    dashboard,
    documents,
    ecm_events,
    ecm_requests,
    health,
    master_data,
    operations,
    partner,
    portal,
    records,
    signing,
    workspaces,
)

log = logging.getLogger("docflow.api")

# Multipart framing and form fields on top of the document itself.
UPLOAD_OVERHEAD_BYTES = 1024 * 1024
# Every JSON body (start, decisions, corrections...): far above any real request.

TAGS = [
    {"name": "signing processes", "description": "Start, read and cancel document signing."},
    {"name": "approvals", "description": "Internal approval: decisions and revised documents."},
    {"name": "exceptions", "description": "Fix signature exceptions (bounces, errors)."},
    {
        "name": "operations",
        "description": "Operators: list with filters, repair many processes in one call.",
    },
    {
        "name": "workspaces",
        "description": "Business workspaces: portal requests, documents filed for business "
        "objects, the sync process of each object.",
    },
    {"name": "cases", "description": "Assemble service, claims and audit cases from sources."},
    {
        "name": "master data",
        "description": "Records of governed sources (PIM, ERP) into Amplience content items.",
    },
    {"name": "ecm requests", "description": "Review tasks and new versions requested in ECM."},
    {
        "name": "records",
        "description": "The read model for dashboards and auditors: process records, audit "
        "trails, approvals, holds, retention, figures, CSV exports, the access log.",
    },
    {"name": "documents", "description": "Upload documents into the document store."},
    {
        "name": "configuration",
        "description": "Configuration versions, promotions with approval, rollbacks.",
    },
    {
        "name": "approved content",
        "description": "Portals: the latest approved version of ECM documents and Amplience "
        "content, never an unapproved or superseded one.",
    },
    {
        "name": "partners",
        "description": "External parties: entitled documents, expiring links, inbox uploads.",
    },
    {"name": "webhooks", "description": "Callbacks from external systems (signed, verified)."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


class BodyTooLarge(StarletteHTTPException):
    """Raised by the counting `receive` once a body passes its route's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, body_too_large(limit))
        self.limit = limit


class BodyLimit:
    """Enforces each route's body limit while the body streams in, before anything buffers it.

    A declared `Content-Length` over the limit is refused before a byte is read; a chunked
    body is counted as it arrives (`receive` is wrapped), and the first chunk past the limit
    raises `BodyTooLarge`, answered 413 — so no handler, form parser or `request.body()`
    ever holds more than the limit. `limit_for(scope)` picks the limit per request.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[Scope], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                if value.isdigit():
                    response = PayloadTooLarge(BodyTooLarge(limit).detail).response()
                else:
                    response = InvalidRequest("invalid Content-Length").response()
                await response(scope, receive, send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            # Reached here only if no handler answered it (e.g. raised outside a route).
            if not started:
                await PayloadTooLarge(str(exc.detail)).response()(scope, receive, send)


def body_limit(settings: Settings) -> Callable[[Scope], int]:
    """Per-route limits: uploads get the document limit, the webhook and JSON bodies little."""
    upload_limit = settings.api.max_upload_bytes + UPLOAD_OVERHEAD_BYTES

    def limit_for(scope: Scope) -> int:
        path: str = scope.get("path", "")
        if path.startswith("/webhooks/"):
            return MAX_CALLBACK_BYTES
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if content_type.startswith(b"multipart/form-data") and _takes_uploads(path):
            return upload_limit
        return MAX_JSON_BYTES

    return limit_for


def _takes_uploads(path: str) -> bool:
    return (
        path in ("/v1/documents", "/v1/signing-processes")
        or path.startswith("/v1/partner/inbox/")
        or (
            path.startswith(("/v1/signing-processes/", "/v1/business-objects/", "/v1/ecm/nodes/"))
            and path.endswith(("/versions", "/documents"))
        )
    )


def create_app(settings: Settings, temporal: TemporalSource, store: DocumentStore) -> FastAPI:
    app = documented_app(
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
        config_versions=ConfigVersions(lambda: store_for(app.state, settings)),
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit_for=body_limit(settings))
    app.include_router(documents.router)
    app.include_router(operations.router)
    app.include_router(signing.router)
    app.include_router(cases.router)
    app.include_router(master_data.router)
    app.include_router(core_signature.router)
    app.include_router(workspaces.router)
    app.include_router(business_objects.router)
    app.include_router(content.router)
    app.include_router(amplience.router)
    app.include_router(ecm.router)
    app.include_router(ecm_events.router)
    app.include_router(health.router)
    app.include_router(actions.router)
    app.include_router(ecm_requests.router)
    app.include_router(portal.router)
    app.include_router(partner.router)
    app.include_router(records.router)
    app.include_router(config.router)
    dashboard.install(app)
    bodies = [
        *signing.OPENAPI_MODELS,
        *config.OPENAPI_MODELS,
        *operations.OPENAPI_MODELS,
        *workspaces.OPENAPI_MODELS,
        *cases.OPENAPI_MODELS,
        *content.OPENAPI_MODELS,
        *master_data.OPENAPI_MODELS,
        *ecm_events.OPENAPI_MODELS,
        *ecm_requests.OPENAPI_MODELS,
        *portal.OPENAPI_MODELS,
        *partner.OPENAPI_MODELS,
    ]
    _document_extra_models(
        app,
        [
            *bodies,
            *core_signature.OPENAPI_MODELS,
            *business_objects.OPENAPI_MODELS,
            *amplience.OPENAPI_MODELS,
            *ecm.OPENAPI_MODELS,
        ],
    )
    document_operations(app, body_models=bodies)
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
