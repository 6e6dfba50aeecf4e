"""Compact signed tokens: a JSON list of fields, base64url, and its HMAC-SHA256, base64url.

`payload.signature`, with the MAC over a per-purpose domain prefix and the payload, so a token
minted for one purpose (approvers' action links, partner download links) never verifies as
another's even under the same key. Shared by `docflow.action_links` and `docflow.partner_links`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

# Far above a real token (a few hundred characters); anything longer is not ours.
MAX_TOKEN_LENGTH = 2048
NONCE_BYTES = 12


class TamperedToken(Exception):
    """Not a token minted with this key for this purpose: malformed, or the MAC differs."""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SignedTokens:
    """Seals and opens tokens for one purpose (`domain`) with one key."""

    def __init__(self, key: str | bytes, domain: bytes, *, what: str = "link key") -> None:
        secret = key.encode() if isinstance(key, str) else key
        if not secret:
            raise ValueError(f"the {what} is empty")
        self._key = secret
        self._domain = domain

    def mac(self, payload: str) -> bytes:
        return hmac.new(self._key, self._domain + payload.encode("ascii"), hashlib.sha256).digest()

    def nonce(self, *parts: str) -> str:
        """A nonce derived from the occasion (a retry mints the same one), unguessable
        without the key."""
        seed = "\x1f".join(parts).encode()
        digest = hmac.new(self._key, b"nonce:" + seed, hashlib.sha256).digest()
        return b64(digest[:NONCE_BYTES])

    def seal(self, fields: list[Any]) -> str:
        payload = b64(json.dumps(fields, separators=(",", ":")).encode())
        return f"{payload}.{b64(self.mac(payload))}"

    def signature_matches(self, token: str) -> str:
        """The payload of a token whose MAC matches (TamperedToken otherwise)."""
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise TamperedToken("malformed")
        payload, signature = token.split(".")
        try:
            given = unb64(signature)
            payload.encode("ascii")
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise TamperedToken("malformed") from None
        if not hmac.compare_digest(given, self.mac(payload)):
            raise TamperedToken("signature")
        return payload

    def open(self, token: str) -> list[Any]:
        """The fields of a genuine token (TamperedToken otherwise)."""
        payload = self.signature_matches(token)
        try:
            fields = json.loads(unb64(payload))
        except (ValueError, binascii.Error):
            raise TamperedToken("malformed") from None
        if not isinstance(fields, list):
            raise TamperedToken("malformed")
        return fields
