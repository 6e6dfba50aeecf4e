"""HTTP calls to one business system's process API: start a process, read it.

`POST {endpoint}` with `Authorization: Bearer <key>` and `Idempotency-Key`: 201 a new
process, 200 the one this key started before (never a second one); `GET {endpoint}/{id}`.
Errors are the shared `ExternalServiceError`s: 401/403 refused credentials, 409 the key was
used for another process, other 4xx permanent, 408/429/5xx/timeouts retryable.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from activities.business_processes.models import StartBody
from activities.http.errors import RetryableServiceError, raise_for_response, transport_errors
from docflow.models.business_processes import BusinessProcess, ProcessStart


class BusinessProcessClient:
    """One system's process API under its bearer key, over the shared pool."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        system: str,
        url: str,
        api_key: str,
        timeout_s: float = 30.0,
    ) -> None:
        self.system = system
        self._http = http
        self._url = url.rstrip("/")
        self._api_key = api_key
        self._timeout_s = timeout_s

    async def start(self, start: ProcessStart) -> tuple[BusinessProcess, bool]:
        """The process (and True when this call created it): the same idempotency key
        answers the process it started before."""
        body = StartBody.of(start).model_dump(mode="json")
        response = await self._send(
            "POST",
            self._url,
            json=body,
            headers={"Idempotency-Key": start.idempotency_key},
        )
        return self._process(response), response.status_code == 201

    async def get(self, process_id: str) -> BusinessProcess:
        response = await self._send("GET", f"{self._url}/{quote(process_id, safe='')}")
        return self._process(response)

    async def _send(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        sent = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json",
            **(headers or {}),
        }
        with transport_errors(self.system):
            response = await self._http.request(
                method, url, headers=sent, timeout=self._timeout_s, **kwargs
            )
        raise_for_response(self.system, response)
        return response

    def _process(self, response: httpx.Response) -> BusinessProcess:
        try:
            return BusinessProcess.model_validate(response.json())
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError, ValueError) as exc:
            # A proxy's error page or a half-deployed system: may well pass on retry.
            path = response.request.url.path
            raise RetryableServiceError(
                self.system, f"{response.request.method} {path}: not a process: {str(exc)[:200]}"
            ) from exc
