"""OAuth2 client-credentials tokens: fetched once, cached until shortly before they expire."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import BaseModel

from activities.http.errors import raise_for_response, transport_errors

logger = logging.getLogger(__name__)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: float = 3600


# How the client authenticates at the token endpoint (RFC 7591 names): HTTP Basic for
# OpenText's identity service (Core Signature), the form body for Amplience.
ClientAuthMethod = Literal["client_secret_basic", "client_secret_post"]


@dataclass(frozen=True)
class _CachedToken:
    value: str
    refresh_at: float


class ClientCredentialsTokenProvider:
    """Bearer tokens for one client id; concurrent callers share a single fetch."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        system: str = "oauth",
        refresh_margin_s: float = 60.0,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        auth_method: ClientAuthMethod = "client_secret_basic",
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._form = {"grant_type": "client_credentials"}
        self._auth: httpx.BasicAuth | None = None
        if auth_method == "client_secret_post":
            self._form |= {"client_id": client_id, "client_secret": client_secret}
        else:
            self._auth = httpx.BasicAuth(client_id, client_secret)
        self._system = system
        self._refresh_margin_s = refresh_margin_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._cached: _CachedToken | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def token(self) -> str:
        """A valid access token, from the cache or freshly fetched."""
        cached = self._cached
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.value
        async with self._lock:
            cached = self._cached
            if cached is not None and self._clock() < cached.refresh_at:
                return cached.value
            self._cached = await self._fetch()
            return self._cached.value

    def invalidate(self, token: str | None = None) -> None:
        """Drop the cached token (after a 401). With `token`, only if it is still the cached one,
        so callers that saw the same stale token trigger one refresh, not several."""
        if self._cached is not None and (token is None or self._cached.value == token):
            self._cached = None

    async def _fetch(self) -> _CachedToken:
        with transport_errors(self._system):
            response = await self._http.post(
                self._token_url,
                data=self._form,
                auth=self._auth,
                headers={"Accept": "application/json"},
                timeout=self._timeout_s,
            )
        raise_for_response(self._system, response)
        parsed = TokenResponse.model_validate(response.json())
        self.fetches += 1
        # Refresh a little early, but never later than halfway through a short-lived token.
        margin = min(self._refresh_margin_s, parsed.expires_in / 2)
        logger.debug("fetched %s token valid for %.0f s", self._system, parsed.expires_in)
        return _CachedToken(parsed.access_token, self._clock() + parsed.expires_in - margin)
