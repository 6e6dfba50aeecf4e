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

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime

from pydantic import BaseModel, Field, ValidationError

from docflow.models import ApprovalActionFacts, Decision

# Tokens are minted for one purpose; the prefix keeps another HMAC use of the key apart.
_DOMAIN = b"docflow-action-link.v1:"
# Far above a real token (a few hundred characters); anything longer is not ours.
MAX_TOKEN_LENGTH = 2048
NONCE_BYTES = 12
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ActionLinks:
    """Mints and verifies action tokens with one key; builds the links under `public_url`."""

    def __init__(self, key: str | bytes, public_url: str) -> None:
        secret = key.encode() if isinstance(key, str) else key
        if not secret:
            raise ValueError("the action link key is empty")
        self._key = secret
        self._base = public_url.rstrip("/")

    def _mac(self, payload: str) -> bytes:
        return hmac.new(self._key, _DOMAIN + payload.encode("ascii"), hashlib.sha256).digest()

    def nonce(self, *parts: str) -> str:
        """A nonce derived from the occasion (so a retried activity mints the same links),
        unguessable without the key."""
        seed = "\x1f".join(parts).encode()
        digest = hmac.new(self._key, b"nonce:" + seed, hashlib.sha256).digest()
        return _b64(digest[:NONCE_BYTES])

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
        payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._mac(payload))}"

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
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise TamperedLink("this link is not a valid docflow link")
        payload, signature = token.split(".")
        try:
            given = _unb64(signature)
            payload.encode("ascii")
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise TamperedLink("this link is not a valid docflow link") from None
        if not hmac.compare_digest(given, self._mac(payload)):
            raise TamperedLink("this link has been altered or was not issued by docflow")
        try:
            fields = json.loads(_unb64(payload))
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
