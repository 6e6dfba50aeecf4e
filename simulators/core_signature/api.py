"""HTTP surface of the Core Signature simulator: OAuth2 token, /api/v1, file links."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from simulators.core_signature.config import CoreSignatureConfig
from simulators.core_signature.control import control_routes
from simulators.core_signature.models import DocumentCreate, SignatureRequestCreate, SimError
from simulators.core_signature.sim import CoreSignatureSim, current_sim
from simulators.kit.control import simulator_app
from simulators.kit.faults import fault_gate


def _api_base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _require_bearer(request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SimError(401, {"detail": "Authentication credentials were not provided."})
    if not current_sim(request).token_valid(token.strip()):
        raise SimError(401, {"detail": "Invalid or expired token."})


def _paginate(
    request: Request,
    items: list[Any],
    render: Callable[[Any], dict[str, Any]],
    default_limit: int,
) -> dict[str, Any]:
    try:
        page = int(request.query_params.get("page", "1"))
        limit = min(int(request.query_params.get("limit", str(default_limit))), 100)
    except ValueError:
        raise SimError(404, {"detail": "Invalid page."}) from None
    if page < 1 or limit < 1 or (page > 1 and (page - 1) * limit >= len(items)):
        raise SimError(404, {"detail": "Invalid page."})
    chunk = items[(page - 1) * limit : page * limit]
    has_next = page * limit < len(items)
    return {
        "count": len(items),
        "next": str(request.url.include_query_params(page=page + 1)) if has_next else None,
        "previous": str(request.url.include_query_params(page=page - 1)) if page > 1 else None,
        "results": [render(item) for item in chunk],
    }


def _vendor_routes() -> APIRouter:
    router = APIRouter(dependencies=[Depends(fault_gate)])

    @router.post("/tenants/{tenant}/oauth2/token")
    async def oauth2_token(tenant: str, request: Request) -> JSONResponse:
        sim = current_sim(request)
        if tenant != sim.config.tenant:
            return JSONResponse(
                {"error": "invalid_request", "error_description": f"Unknown tenant '{tenant}'."},
                status_code=404,
            )
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        client_id, client_secret = _client_credentials(request, form)
        ok_id = hmac.compare_digest(client_id, sim.config.client_id)
        ok_secret = hmac.compare_digest(client_secret, sim.config.client_secret)
        if not (ok_id and ok_secret):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Bad client credentials."},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="oauth2"'},
            )
        return JSONResponse(sim.issue_token(), headers={"Cache-Control": "no-store"})

    @router.get("/_files/{doc_uuid}/{kind}")
    async def download_file(
        doc_uuid: str, kind: str, request: Request, expires: int = 0, token: str = ""
    ) -> Response:
        content = current_sim(request).file_bytes(doc_uuid, kind, expires, token)
        media = "application/pdf" if kind.endswith(".pdf") else "application/octet-stream"
        return Response(
            content,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{kind}"'},
        )

    return router


def _client_credentials(request: Request, form: Any) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
            return user, password
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
    return str(form.get("client_id", "")), str(form.get("client_secret", ""))


def _api_routes() -> APIRouter:
    router = APIRouter(
        prefix="/api/v1", dependencies=[Depends(fault_gate), Depends(_require_bearer)]
    )

    @router.post("/documents/", status_code=201)
    async def create_document(body: DocumentCreate, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        return sim.document_json(sim.create_document(body, _api_base(request)))

    @router.get("/documents/")
    async def list_documents(
        request: Request, external_id: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        sim = current_sim(request)
        docs = [
            d
            for d in sim.documents.values()
            if (external_id is None or d.external_id == external_id)
            and (status is None or d.status == status)
        ]
        return _paginate(request, docs, sim.document_json, sim.config.page_size)

    @router.get("/documents/{doc_uuid}/")
    async def get_document(doc_uuid: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        return sim.document_json(sim.document(doc_uuid))

    @router.post("/signature-requests/", status_code=201)
    async def create_signature_request(
        body: SignatureRequestCreate, request: Request
    ) -> dict[str, Any]:
        sim = current_sim(request)
        return sim.signrequest_json(sim.create_signature_request(body))

    @router.get("/signature-requests/{sr_uuid}/")
    async def get_signature_request(sr_uuid: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        return sim.signrequest_json(sim.signature_request(sr_uuid))

    # The vendor answers both actions 201 (its API schema: InlineResponse201, ...2011).
    @router.post("/signature-requests/{sr_uuid}/cancel_signrequest/", status_code=201)
    async def cancel_signature_request(sr_uuid: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        sim.cancel(sim.signature_request(sr_uuid))
        return {"detail": "OK", "cancelled": True}

    @router.post("/signature-requests/{sr_uuid}/resend_signrequest_email/", status_code=201)
    async def resend_signature_request(sr_uuid: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        sim.resend(sim.signature_request(sr_uuid))
        return {"detail": "OK"}

    @router.get("/templates/")
    async def list_templates(request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        base = _api_base(request)
        templates = sorted(sim.templates.values(), key=lambda t: t.name)
        return _paginate(
            request, templates, lambda t: sim.template_json(t, base), sim.config.page_size
        )

    @router.get("/templates/{template_uuid}/")
    async def get_template(template_uuid: str, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        return sim.template_json(sim.template(template_uuid), _api_base(request))

    @router.get("/events/")
    async def list_events(
        request: Request,
        document__uuid: str | None = None,
        document__external_id: str | None = None,
        event_type: str | None = None,
    ) -> dict[str, Any]:
        sim = current_sim(request)
        events = [
            e
            for e in sim.events
            if (document__uuid is None or e.document_uuid == document__uuid)
            and (event_type is None or e.event_type == event_type)
            and (
                document__external_id is None
                or e.payload["document"]["external_id"] == document__external_id
            )
        ]
        return _paginate(request, events, sim.event_json, sim.config.page_size)

    return router


def create_app(config: CoreSignatureConfig | None = None) -> FastAPI:
    """The Core Signature simulator; its state is `app.state.sim` (a CoreSignatureSim)."""
    app = simulator_app(
        "Core Signature simulator",
        CoreSignatureSim(config or CoreSignatureConfig()),
        _vendor_routes(),
        _api_routes(),
        control_routes(),
        error_body=lambda status, message: {"detail": message},
    )

    async def sim_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SimError)
        headers = {"WWW-Authenticate": 'Bearer realm="api"'} if exc.status == 401 else None
        return JSONResponse(exc.body, status_code=exc.status, headers=headers)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        # DRF reports field errors as {"field": ["message", ...]} with status 400.
        assert isinstance(exc, RequestValidationError)
        errors: dict[str, list[str]] = {}
        for error in exc.errors():
            loc = [str(part) for part in error.get("loc", ()) if part != "body"]
            errors.setdefault(loc[0] if loc else "non_field_errors", []).append(error["msg"])
        return JSONResponse(errors, status_code=400)

    app.add_exception_handler(SimError, sim_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    return app
