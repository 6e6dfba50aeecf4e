"""HTTP calls to OpenText Core Signature (SignRequest-style REST API, OAuth2 bearer token)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import BaseModel

from activities.core_signature.models import (
    CancelResult,
    CsDocument,
    CsEvent,
    CsSignatureRequest,
    CsTemplate,
    Page,
)
from activities.http.errors import raise_for_response, transport_errors
from activities.http.transport import AuthenticatedTransport, Credential

SYSTEM = "core-signature"
# Template lists are short (made by hand in the web UI); this bounds a misbehaving `next`.
MAX_TEMPLATE_PAGES = 50


class TokenProvider(Protocol):
    async def token(self) -> str: ...

    def invalidate(self, token: str | None = None) -> None: ...


class SignerSpec(BaseModel):
    """One signer as the signature-request call takes it."""

    email: str
    first_name: str = ""
    last_name: str = ""
    order: int = 0
    needs_to_sign: bool = True


class CoreSignatureClient:
    """Documents, signature requests and events; a 401 refreshes the token once and retries."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        token_provider: TokenProvider,
        *,
        timeout_s: float = 30.0,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/") + "/"
        self._timeout_s = timeout_s
        self._transport = AuthenticatedTransport(
            http,
            Credential(token_provider.token, token_provider.invalidate, scheme="Bearer"),
            system=SYSTEM,
            timeout_s=timeout_s,
        )

    # ------------------------------------------------------------ documents
    async def create_document(
        self,
        *,
        content: bytes,
        filename: str,
        external_id: str,
        events_callback_url: str | None = None,
        auto_expire_days: int | None = None,
    ) -> CsDocument:
        body: dict[str, Any] = {
            "file_from_content": base64.b64encode(content).decode("ascii"),
            "file_from_content_name": filename,
            "external_id": external_id,
        }
        if events_callback_url:
            body["events_callback_url"] = events_callback_url
        if auto_expire_days is not None:
            body["auto_expire_days"] = auto_expire_days
        response = await self._request("POST", "api/v1/documents/", json=body)
        return CsDocument.model_validate(response.json())

    async def find_documents_by_external_id(self, external_id: str) -> list[CsDocument]:
        response = await self._request(
            "GET", "api/v1/documents/", params={"external_id": external_id}
        )
        page = Page[CsDocument].model_validate(response.json())
        # The filter is exact in the API; checking again costs nothing and guards proxies.
        return [d for d in page.results if d.external_id == external_id]

    async def get_document(self, document_uuid: str) -> CsDocument:
        response = await self._request("GET", f"api/v1/documents/{document_uuid}/")
        return CsDocument.model_validate(response.json())

    # --------------------------------------------------- signature requests
    async def create_signature_request(
        self,
        *,
        document_url: str,
        signers: Sequence[SignerSpec],
        from_email: str,
        subject: str,
        message: str = "",
        who: str = "o",
        send_reminders: bool = True,
    ) -> CsSignatureRequest:
        body = {
            "document": document_url,
            "signers": [s.model_dump() for s in signers],
            "from_email": from_email,
            "subject": subject,
            "message": message,
            "who": who,
            "send_reminders": send_reminders,
        }
        response = await self._request("POST", "api/v1/signature-requests/", json=body)
        return CsSignatureRequest.model_validate(response.json())

    async def cancel_signature_request(self, signature_request_uuid: str) -> CancelResult:
        response = await self._request(
            "POST", f"api/v1/signature-requests/{signature_request_uuid}/cancel_signrequest/"
        )
        return CancelResult.model_validate(response.json() if response.content else {})

    async def resend(self, signature_request_uuid: str) -> str:
        response = await self._request(
            "POST",
            f"api/v1/signature-requests/{signature_request_uuid}/resend_signrequest_email/",
        )
        body = response.json() if response.content else {}
        return str(body.get("detail", "")) if isinstance(body, dict) else ""

    # ---------------------------------------------------------------- events
    async def list_events(
        self,
        *,
        document_uuid: str | None = None,
        event_type: str | None = None,
        page: int = 1,
        limit: int = 50,
    ) -> Page[CsEvent]:
        params: dict[str, str | int] = {"page": page, "limit": limit}
        if document_uuid:
            params["document__uuid"] = document_uuid
        if event_type:
            params["event_type"] = event_type
        response = await self._request("GET", "api/v1/events/", params=params)
        return Page[CsEvent].model_validate(response.json())

    # ------------------------------------------------------------- templates
    async def list_templates(self, *, limit: int = 100) -> list[CsTemplate]:
        """Every template of the team (`GET /templates/`, all pages)."""
        templates: list[CsTemplate] = []
        for page in range(1, MAX_TEMPLATE_PAGES + 1):
            response = await self._request(
                "GET", "api/v1/templates/", params={"page": page, "limit": limit}
            )
            parsed = Page[CsTemplate].model_validate(response.json())
            templates.extend(parsed.results)
            if not parsed.next:
                break
        return templates

    # -------------------------------------------------------------- download
    async def download(self, url: str) -> bytes:
        """Fetch a temporary file URL (signed PDF, signing log). The bearer token goes only to
        Core Signature's own host; pre-signed storage URLs carry their own authorisation."""
        absolute = urljoin(self._base_url, url)
        if _same_origin(absolute, self._base_url):
            response = await self._request("GET", absolute)
        else:
            with transport_errors(SYSTEM):
                response = await self._http.get(absolute, timeout=self._timeout_s)
            raise_for_response(SYSTEM, response)
        return response.content

    # ------------------------------------------------------------- transport
    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self._transport.request(method, urljoin(self._base_url, path), **kwargs)


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc) == (pb.scheme, pb.netloc)
