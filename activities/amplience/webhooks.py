"""Amplience webhooks: `X-Amplience-Webhook-Signature` = base64(HMAC-SHA256(secret, raw body)).

Verify over the raw bytes before parsing; compare in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from pydantic import ValidationError

from activities.amplience.models import WebhookEnvelope

SIGNATURE_HEADER = "X-Amplience-Webhook-Signature"


class InvalidWebhookError(ValueError):
    """A webhook whose signature does not match, or whose body is not the envelope."""


def sign(raw_body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(raw_body: bytes, signature: str | None, secret: str) -> bool:
    """Whether `signature` (the header's value) signs exactly these bytes with `secret`."""
    if not signature or not secret:
        return False
    expected = sign(raw_body, secret).encode("ascii")
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


def parse_webhook(raw_body: bytes, signature: str | None, secret: str) -> WebhookEnvelope:
    """The verified envelope; InvalidWebhookError for a bad signature or a malformed body."""
    if not verify_signature(raw_body, signature, secret):
        raise InvalidWebhookError("X-Amplience-Webhook-Signature does not match the body")
    try:
        return WebhookEnvelope.model_validate_json(raw_body)
    except ValidationError as exc:
        raise InvalidWebhookError(f"not an Amplience webhook envelope: {exc}") from exc
