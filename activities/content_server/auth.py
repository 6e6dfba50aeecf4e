"""Content Server ticket authentication: `POST /v1/auth`, then the `OTCSTicket` header."""

from __future__ import annotations

import asyncio
import logging

import httpx

from activities.http.errors import AuthenticationError, raise_for_response, transport_errors

logger = logging.getLogger(__name__)

TICKET_HEADER = "OTCSTicket"


class OtcsTicketAuth:
    """Holds one ticket; picks up refreshed tickets from responses; re-authenticates on demand."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        username: str,
        password: str,
        *,
        system: str = "content-server",
        timeout_s: float = 30.0,
    ) -> None:
        self._http = http
        self._auth_url = base_url.rstrip("/") + "/v1/auth"
        self._username = username
        self._password = password
        self._system = system
        self._timeout_s = timeout_s
        self._ticket: str | None = None
        self._lock = asyncio.Lock()
        self.logins = 0

    async def ticket(self) -> str:
        if self._ticket is not None:
            return self._ticket
        async with self._lock:
            if self._ticket is None:
                self._ticket = await self._login()
            return self._ticket

    def invalidate(self, ticket: str | None = None) -> None:
        """Forget the ticket (after a 401); with `ticket`, only if it is still the current one."""
        if ticket is None or self._ticket == ticket:
            self._ticket = None

    def observe(self, response: httpx.Response) -> None:
        """Keep the refreshed ticket Content Server may send back with any response."""
        refreshed = response.headers.get(TICKET_HEADER)
        if refreshed and response.status_code != 401:
            self._ticket = refreshed

    async def _login(self) -> str:
        with transport_errors(self._system):
            response = await self._http.post(
                self._auth_url,
                data={"username": self._username, "password": self._password},
                timeout=self._timeout_s,
            )
        raise_for_response(self._system, response)
        ticket = response.json().get("ticket")
        if not isinstance(ticket, str) or not ticket:
            raise AuthenticationError(self._system, "/v1/auth answered without a ticket")
        self.logins += 1
        logger.debug("authenticated to Content Server as %s", self._username)
        return ticket
