"""Partner download links: signed, expiring tokens for one party and one approved version.

A token binds the party id, the content (source, object id, version), that version's SHA-256,
an expiry and a nonce; it is HMAC-SHA256 with `records.link_key` (`docflow.signed_tokens`,
its own domain). The API mints them (`POST /v1/partner/links`) and verifies them
(`GET /v1/links/{token}`); the store decides whether the version is still the approved one.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from pydantic import BaseModel, Field, ValidationError

from docflow.models.records import ContentSource
from docflow.signed_tokens import SignedTokens, TamperedToken

_DOMAIN = b"docflow-partner-link.v1:"
_SOURCES: dict[str, ContentSource] = {"e": "ecm", "a": "amplience"}
_CODES = {source: code for code, source in _SOURCES.items()}


class PartnerLinkError(Exception):
    """The link cannot be used; the message is safe to show whoever presented it."""

    code = "invalid_link"


class ForgedLink(PartnerLinkError):
    code = "invalid_link"


class ExpiredLink(PartnerLinkError):
    code = "link_expired"

    def __init__(self, message: str, claims: LinkClaims) -> None:
        super().__init__(message)
        self.claims = claims


class LinkClaims(BaseModel):
    party: str = Field(min_length=1, max_length=64)
    source: ContentSource
    object_id: str = Field(min_length=1, max_length=128)
    version: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    expires_at: datetime
    nonce: str = Field(min_length=8, max_length=64)


class PartnerLinks:
    """Mints and verifies partner links with one key; URLs under `public_url`."""

    def __init__(self, key: str | bytes, public_url: str) -> None:
        self._tokens = SignedTokens(key, _DOMAIN, what="partner link key")
        self._base = public_url.rstrip("/")

    def mint(self, claims: LinkClaims) -> str:
        return self._tokens.seal(
            [
                claims.party,
                _CODES[claims.source],
                claims.object_id,
                claims.version,
                claims.sha256,
                int(claims.expires_at.timestamp()),
                claims.nonce,
            ]
        )

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(12)

    def url(self, token: str) -> str:
        return f"{self._base}/v1/links/{token}"

    def verify(self, token: str, now: datetime | None = None) -> LinkClaims:
        """The claims of a genuine, unexpired token; ForgedLink or ExpiredLink otherwise."""
        try:
            fields = self._tokens.open(token)
        except TamperedToken:
            raise ForgedLink("this link has been altered or was not issued by docflow") from None
        try:
            party, source, object_id, version, sha256, expires, nonce = fields
            claims = LinkClaims(
                party=party,
                source=_SOURCES[source],
                object_id=object_id,
                version=version,
                sha256=sha256,
                expires_at=datetime.fromtimestamp(expires, UTC),
                nonce=nonce,
            )
        except (ValueError, TypeError, KeyError, ValidationError, OverflowError, OSError):
            raise ForgedLink("this link is not a valid docflow link") from None
        if (now or datetime.now(UTC)) >= claims.expires_at:
            raise ExpiredLink("this link has expired", claims)
        return claims
