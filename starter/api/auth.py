"""Who is calling: API keys (`X-API-Key` or `Authorization: Bearer`) and optional OIDC JWTs.

The authenticated principal's subject is what decisions and cancellations are recorded for;
a route declares the scope it needs with `Depends(require(Scope.X))`.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from docflow.settings import ApiKeyConfig, OidcSettings, Settings
from starter.api.errors import (
    CREDENTIALS_REQUIRED,
    ApiError,
    InsufficientScope,
    NotAuthenticated,
    ServiceUnavailable,
)

# Asymmetric algorithms only: a JWKS never holds shared secrets, and "none" is never valid.
JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
JWT_LEEWAY_S = 30
ALL_SOURCES = "*"


class Scope(StrEnum):
    START = "processes:start"
    READ = "processes:read"
    DECIDE = "approvals:decide"
    CORRECT = "processes:correct"
    CANCEL = "processes:cancel"
    MASTER_DATA = "masterdata:write"
    CONTENT_READ = "content:read"  # portals: approved content (read-access.json)
    PARTNER = "partner"  # external parties: read-access.json names their subjects
    RECORDS_READ = "records:read"  # the read model: dashboards, auditors (GET /v1/records/…)
    CONFIG_READ = "config:read"  # configuration versions and promotions
    CONFIG_PROPOSE = "config:propose"  # propose a promotion, roll back
    CONFIG_RELEASE = "config:release"  # decide on promotions (release approvers)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: `subject` is the identity recorded in the audit trail."""

    subject: str
    name: str
    scopes: frozenset[str]
    source_systems: frozenset[str] = frozenset()

    @property
    def identity(self) -> str:
        """The subject compared case-insensitively (`Alice@Example.com` is alice@example.com)."""
        return self.subject.casefold()

    @property
    def sees_every_source(self) -> bool:
        return ALL_SOURCES in self.source_systems

    def acts_for(self, source_system: str) -> bool:
        """May this caller start, see and act on processes of `source_system`?"""
        return self.sees_every_source or source_system in self.source_systems


class Authenticator:
    """Checks API keys (constant time) and, if configured, OIDC access tokens."""

    def __init__(self, settings: Settings) -> None:
        # Resolved once: a missing secret is a configuration error that should stop startup.
        self._keys: list[tuple[ApiKeyConfig, bytes]] = [
            (config, settings.secret(config.key).encode()) for config in settings.api.api_keys
        ]
        self._oidc: OidcSettings | None = settings.api.oidc
        self._jwks = jwt.PyJWKClient(self._oidc.jwks_url) if self._oidc else None

    async def authenticate(self, api_key: str | None, bearer: str | None) -> Principal:
        if api_key:
            principal = self._by_api_key(api_key)
            if principal is None:
                raise NotAuthenticated("invalid API key", invalid_token=True)
            return principal
        if bearer:
            principal = self._by_api_key(bearer)
            if principal is not None:
                return principal
            if self._oidc is not None and bearer.count(".") == 2:
                return await self._by_jwt(bearer, self._oidc)
            raise NotAuthenticated("invalid bearer credential", invalid_token=True)
        raise NotAuthenticated(CREDENTIALS_REQUIRED)

    def _by_api_key(self, presented: str) -> Principal | None:
        candidate = presented.encode()
        match: ApiKeyConfig | None = None
        # Compare against every key so timing does not reveal how many were tried.
        for config, secret in self._keys:
            if hmac.compare_digest(candidate, secret) and match is None:
                match = config
        if match is None:
            return None
        return Principal(
            subject=match.subject,
            name=match.name,
            scopes=frozenset(match.scopes),
            source_systems=frozenset(match.source_systems),
        )

    async def _by_jwt(self, token: str, oidc: OidcSettings) -> Principal:
        assert self._jwks is not None
        try:
            # PyJWKClient fetches (and caches) the JWKS with blocking urllib: keep it off the loop.
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=JWT_ALGORITHMS,
                audience=oidc.audience,
                issuer=oidc.issuer,
                leeway=JWT_LEEWAY_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise ServiceUnavailable("identity provider keys are unreachable; retry later") from exc
        except jwt.PyJWTError as exc:
            raise NotAuthenticated(f"invalid token: {exc}", invalid_token=True) from exc
        subject = claims.get(oidc.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise NotAuthenticated(f"token has no '{oidc.subject_claim}' claim", invalid_token=True)
        raw = claims.get(oidc.scopes_claim, "")
        scopes = raw.split() if isinstance(raw, str) else [str(s) for s in raw or []]
        raw = claims.get(oidc.source_systems_claim, [])
        systems = raw.split() if isinstance(raw, str) else [str(s) for s in raw or []]
        return Principal(
            subject=subject,
            name=f"oidc:{subject}",
            scopes=frozenset(scopes),
            source_systems=frozenset(systems),
        )


_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="ApiKey", description="Issued per application."
)
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="Bearer",
    description="An API key, or an OIDC access token when OIDC is configured.",
)


# Each `require(...)` dependency → its scopes, so the OpenAPI document names what routes enforce.
_REQUIRED_SCOPES: dict[Callable[..., Any], tuple[Scope, ...]] = {}


# Told of every refusal (request, who, error) before it is raised, e.g. to an access log.
Refused = Callable[[Request, str, ApiError], Awaitable[None]]


def require(*scopes: Scope, refused: Refused | None = None) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: the authenticated principal, which must hold one of `scopes`."""

    async def principal(
        request: Request,
        api_key: Annotated[str | None, Security(_api_key)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> Principal:
        authenticator: Authenticator = request.app.state.docflow.auth
        try:
            caller = await authenticator.authenticate(
                api_key, bearer.credentials if bearer else None
            )
        except ApiError as exc:
            if refused is not None:
                await refused(request, "anonymous", exc)
            raise
        if caller.scopes.isdisjoint(scopes):
            error = InsufficientScope.lacking(caller.subject, scopes)
            if refused is not None:
                await refused(request, caller.subject, error)
            raise error
        return caller

    _REQUIRED_SCOPES[principal] = scopes
    return principal


def required_scopes(dependency: Callable[..., Any] | None) -> tuple[Scope, ...]:
    """The scopes a `require(...)` dependency accepts (any one of them); () for any other."""
    return _REQUIRED_SCOPES.get(dependency, ()) if dependency is not None else ()
