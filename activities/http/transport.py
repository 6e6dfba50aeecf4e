"""Requests under a credential the server may expire at any time (bearer token, ticket).

The server is the judge of expiry, so a 401 drops the credential and the request is sent
once more with a fresh one; a second 401 means the credentials themselves are refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from activities.http.errors import raise_for_response, transport_errors


@dataclass(frozen=True)
class Credential:
    """Where the current credential comes from, how it is dropped, and how it is sent."""

    current: Callable[[], Awaitable[str]]
    # Called with the value the server refused, so concurrent callers that saw the same
    # stale value cause one refresh, not one each.
    invalidate: Callable[[str], None]
    header: str = "Authorization"
    scheme: str = ""  # e.g. "Bearer"; empty sends the bare value (an OTCS ticket)

    def headers(self, value: str) -> dict[str, str]:
        return {self.header: f"{self.scheme} {value}" if self.scheme else value}


class AuthenticatedTransport:
    """One system's requests over the shared pool, each under its current credential."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        credential: Credential,
        *,
        system: str,
        timeout_s: float,
    ) -> None:
        self._http = http
        self._credential = credential
        self._system = system
        self._timeout_s = timeout_s

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The answer as is (a second 401 stays a 401): for callers with their own error rules.

        Timeouts and connection failures raise RetryableServiceError.
        """
        value = await self._credential.current()
        response = await self._send_once(method, url, value, **kwargs)
        if response.status_code == 401:
            self._credential.invalidate(value)
            response = await self._send_once(
                method, url, await self._credential.current(), **kwargs
            )
        return response

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A 2xx answer, or the matching ExternalServiceError (AuthenticationError on a
        second 401)."""
        response = await self.send(method, url, **kwargs)
        raise_for_response(self._system, response)
        return response

    async def _send_once(self, method: str, url: str, value: str, **kwargs: Any) -> httpx.Response:
        headers = {**self._credential.headers(value), "Accept": "application/json"}
        with transport_errors(self._system):
            return await self._http.request(
                method, url, headers=headers, timeout=self._timeout_s, **kwargs
            )
