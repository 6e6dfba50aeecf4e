"""Approvers' action links: signed, expiring tokens for one decision of one person.

A token binds one principal, process (business key), approval stage (name and index), cycle
(the document version up for approval, with its SHA-256), the action the link names and an
expiry, plus a nonce. It is HMAC-SHA256 over that compact payload with `api.action_link_key`,
both base64url. Only the notification activity mints tokens and only the API's action page
verifies them: the key never enters a workflow's input or history. Single use is the
workflow's rule (a person decides once per stage), and the nonce is the decision's
idempotency id, so a double submit applies once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field, ValidationError

from docflow.models import ApprovalActionFacts, Decision
from docflow.signed_tokens import MAX_TOKEN_LENGTH, NONCE_BYTES, SignedTokens, TamperedToken

# Tokens are minted for one purpose; the prefix keeps another HMAC use of the key apart.
_DOMAIN = b"docflow-action-link.v1:"
__all__ = ["MAX_TOKEN_LENGTH", "NONCE_BYTES", "ActionClaims", "ActionLinks"]
_ACTIONS = {"a": Decision.APPROVE, "r": Decision.REJECT, "c": Decision.REQUEST_CHANGES}
_CODES = {decision: code for code, decision in _ACTIONS.items()}


class ActionLinkError(Exception):
    """The link cannot be used; the message is safe to show the person who opened it."""


class TamperedLink(ActionLinkError):
    """Not a token docflow minted: malformed, or the signature does not match."""


class ExpiredLink(ActionLinkError):
    """A genuine token whose stage deadline has passed."""

    def __init__(self, message: str, claims: ActionClaims) -> None:
        super().__init__(message)
        self.claims = claims


class ActionClaims(BaseModel):
    """What a verified token says: who may take which decision where, until when."""

    principal: str
    business_key: str
    stage: str
    stage_index: int = Field(ge=0)
    version: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    action: Decision
    expires_at: datetime
    nonce: str = Field(min_length=8, max_length=64)

    @property
    def request_id(self) -> str:
        """The decision's idempotency id: one per link, so a double submit applies once."""
        return f"action-link:{self.nonce}"


class ActionLinks:
    """Mints and verifies action tokens with one key; builds the links under `public_url`."""

    def __init__(self, key: str | bytes, public_url: str) -> None:
        self._tokens = SignedTokens(key, _DOMAIN, what="action link key")
        self._base = public_url.rstrip("/")

    def _mac(self, payload: str) -> bytes:
        return self._tokens.mac(payload)

    def nonce(self, *parts: str) -> str:
        """A nonce derived from the occasion (so a retried activity mints the same links),
        unguessable without the key."""
        return self._tokens.nonce(*parts)

    def mint(self, claims: ActionClaims) -> str:
        expires = int(claims.expires_at.timestamp())
        fields = [
            claims.principal,
            claims.business_key,
            claims.stage,
            claims.stage_index,
            claims.version,
            claims.sha256,
            _CODES[claims.action],
            expires,
            claims.nonce,
        ]
        return self._tokens.seal(fields)

    def url(self, token: str) -> str:
        return f"{self._base}/actions/{token}"

    def links_for(
        self, principal: str, business_key: str, facts: ApprovalActionFacts, occasion: str
    ) -> dict[str, str]:
        """The three links (approve, reject, request changes) of one person's notification."""
        links: dict[str, str] = {}
        for decision in Decision:
            claims = ActionClaims(
                principal=principal,
                business_key=business_key,
                stage=facts.stage,
                stage_index=facts.stage_index,
                version=facts.version,
                sha256=facts.sha256,
                action=decision,
                expires_at=facts.closes_at,
                nonce=self.nonce(occasion, principal, decision.value),
            )
            links[decision.value] = self.url(self.mint(claims))
        return links

    def verify(self, token: str, now: datetime | None = None) -> ActionClaims:
        """The claims of a genuine, unexpired token; TamperedLink or ExpiredLink otherwise."""
        try:
            fields = self._tokens.open(token)
        except TamperedToken as exc:
            if str(exc) == "signature":
                raise TamperedLink(
                    "this link has been altered or was not issued by docflow"
                ) from None
            raise TamperedLink("this link is not a valid docflow link") from None
        try:
            principal, key, stage, index, version, sha256, code, expires, nonce = fields
            claims = ActionClaims(
                principal=principal,
                business_key=key,
                stage=stage,
                stage_index=index,
                version=version,
                sha256=sha256,
                action=_ACTIONS[code],
                expires_at=datetime.fromtimestamp(expires, UTC),
                nonce=nonce,
            )
        except (ValueError, TypeError, KeyError, ValidationError, OverflowError, OSError):
            raise TamperedLink("this link is not a valid docflow link") from None
        if (now or datetime.now(UTC)) >= claims.expires_at:
            raise ExpiredLink("this link has expired with the stage deadline", claims)
        return claims
