"""A small HTTP client for docflow's own API, used by the CLI, the demo and the benchmarks."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

import httpx

from docflow.models import (
    DocumentRef,
    Signer,
    SigningRequest,
    SigningStatus,
    UpdateAccepted,
)
from docflow.models.approvals import RepairAction


class DocflowApiError(RuntimeError):
    """The API answered with an error; `status` and `message` come from its JSON body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class DocflowApiClient:
    def __init__(
        self, base_url: str, api_key: str, *, http: httpx.AsyncClient | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=30.0)
        self._headers = {"X-API-Key": api_key}

    async def __aenter__(self) -> DocflowApiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def as_principal(self, api_key: str) -> DocflowApiClient:
        """The same connection pool, another caller (e.g. an approver's key)."""
        return DocflowApiClient(self.base_url, api_key, http=self._http)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any API call: the JSON answer, or DocflowApiError with the API's message."""
        return await self._call(method, path, **kwargs)

    async def _call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        response = await self._http.request(
            method, f"{self.base_url}{path}", headers={**self._headers, **(headers or {})}, **kwargs
        )
        if response.status_code >= 400:
            raise DocflowApiError(response.status_code, _error_message(response))
        return response.json()

    async def start(
        self,
        request: SigningRequest,
        content: bytes,
        *,
        filename: str = "contract.pdf",
        content_type: str = "application/pdf",
    ) -> dict[str, Any]:
        """Start (or find) the process for `request.business_key`, uploading the document."""
        return await self._call(
            "POST",
            "/v1/signing-processes",
            files={"file": (filename, content, content_type)},
            data={"request": request.model_dump_json()},
        )

    async def upload(
        self,
        content: bytes,
        *,
        filename: str,
        content_type: str = "application/pdf",
        version: int = 1,
    ) -> DocumentRef:
        body = await self._call(
            "POST",
            "/v1/documents",
            files={"file": (filename, content, content_type)},
            data={"version": str(version)},
        )
        return DocumentRef.model_validate(body)

    async def status(self, business_key: str) -> SigningStatus:
        body = await self._call("GET", f"/v1/signing-processes/{business_key}")
        return SigningStatus.model_validate(body)

    async def decide(
        self, business_key: str, decision: str, *, comment: str = "", stage: str | None = None
    ) -> UpdateAccepted:
        payload: dict[str, Any] = {"decision": decision, "comment": comment}
        if stage:
            payload["stage"] = stage
        body = await self._call(
            "POST", f"/v1/signing-processes/{business_key}/decisions", json=payload
        )
        return UpdateAccepted.model_validate(body)

    async def submit_new_version(
        self, business_key: str, content: bytes, *, filename: str, version: int, comment: str = ""
    ) -> UpdateAccepted:
        body = await self._call(
            "POST",
            f"/v1/signing-processes/{business_key}/versions",
            files={"file": (filename, content, "application/pdf")},
            data={"version": str(version), "comment": comment},
        )
        return UpdateAccepted.model_validate(body)

    async def repair(
        self, business_key: str, action: RepairAction, comment: str = ""
    ) -> UpdateAccepted:
        body = await self._call(
            "POST",
            f"/v1/signing-processes/{business_key}/repairs",
            json={"action": action, "comment": comment},
        )
        return UpdateAccepted.model_validate(body)

    async def correct(
        self,
        business_key: str,
        *,
        signers: list[Signer] | None = None,
        document: DocumentRef | None = None,
        comment: str = "",
    ) -> UpdateAccepted:
        payload: dict[str, Any] = {"comment": comment}
        if signers is not None:
            payload["signers"] = [s.model_dump(mode="json") for s in signers]
        if document is not None:
            payload["document"] = document.model_dump(mode="json")
        body = await self._call(
            "POST", f"/v1/signing-processes/{business_key}/corrections", json=payload
        )
        return UpdateAccepted.model_validate(body)

    async def redeliver(self, business_key: str, comment: str = "") -> UpdateAccepted:
        body = await self._call(
            "POST",
            f"/v1/signing-processes/{business_key}/redeliveries",
            json={"comment": comment},
        )
        return UpdateAccepted.model_validate(body)

    async def retry_steps_now(self, business_key: str) -> list[dict[str, Any]]:
        """Skip the backoff of the process's retrying steps; the steps that were reset."""
        result: list[dict[str, Any]] = await self._call(
            "POST", f"/v1/signing-processes/{business_key}/steps/retry-now"
        )
        return result

    async def list_processes(self, **filters: Any) -> dict[str, Any]:
        """One page of `GET /v1/signing-processes` (filters, `limit`, `cursor`)."""
        params = {k: v for k, v in filters.items() if v is not None}
        result: dict[str, Any] = await self._call("GET", "/v1/signing-processes", params=params)
        return result

    async def batch(
        self, action: str, *, idempotency_key: str | None = None, **body: Any
    ) -> dict[str, Any]:
        """`POST /v1/signing-processes/batch`: one action on a page of matching processes."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        result: dict[str, Any] = await self._call(
            "POST",
            "/v1/signing-processes/batch",
            json={"action": action, **{k: v for k, v in body.items() if v is not None}},
            headers=headers,
        )
        return result

    async def cancel(self, business_key: str, reason: str) -> UpdateAccepted:
        body = await self._call(
            "POST", f"/v1/signing-processes/{business_key}/cancel", json={"reason": reason}
        )
        return UpdateAccepted.model_validate(body)


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        return response.text[:200] or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return str(body)[:200]
