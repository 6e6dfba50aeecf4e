"""Amplience OAuth: client credentials in the form body (not HTTP Basic), ~300 s tokens."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from activities.http.oauth import ClientCredentialsTokenProvider

# Amplience's own SDK refreshes 30 s before expiry.
REFRESH_MARGIN_S = 30.0


def token_provider(
    http: httpx.AsyncClient,
    auth_url: str,
    client_id: str,
    client_secret: str,
    *,
    timeout_s: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
) -> ClientCredentialsTokenProvider:
    """Tokens cached until 30 s before expiry; concurrent callers share one fetch."""
    return ClientCredentialsTokenProvider(
        http,
        auth_url,
        client_id,
        client_secret,
        system="amplience-oauth",
        refresh_margin_s=REFRESH_MARGIN_S,
        timeout_s=timeout_s,
        auth_method="client_secret_post",
        clock=clock,
    )
