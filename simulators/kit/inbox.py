"""A Standard Webhooks receiver's memory: verify the raw body, keep each message once.

Shared by every simulator that receives docflow's signed messages (CRM, notifications,
webhook target); external-apis.md §6 makes `webhook-id` the receiver's idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from standardwebhooks import Webhook


class SignatureRejected(ValueError):
    """The message is not authentic (bad or missing signature, stale timestamp)."""


@dataclass
class Received:
    """One verified message, as first delivered."""

    webhook_id: str
    idempotency_key: str | None
    received_at: datetime
    payload: dict[str, Any]
    headers: dict[str, str]
    body: str
    deliveries: int = 1

    def to_json(self, raw: bool = False) -> dict[str, Any]:
        """`raw` adds the headers and body as received (large; for the webhook target)."""
        data = {
            "webhook_id": self.webhook_id,
            "idempotency_key": self.idempotency_key,
            "received_at": self.received_at.isoformat(),
            "deliveries": self.deliveries,
            "payload": self.payload,
        }
        return {**data, "headers": self.headers, "body": self.body} if raw else data


@dataclass
class SignedInbox:
    """Verified messages by webhook-id, plus counts of duplicates and rejections."""

    name: str
    secret: str
    messages: dict[str, Received] = field(default_factory=dict)
    _by_key: dict[str, Received] = field(default_factory=dict)
    duplicates: int = 0
    rejected: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def verify(self, body: bytes, headers: dict[str, str]) -> Any:
        """The parsed payload of an authentic message; raises SignatureRejected otherwise."""
        try:
            return Webhook(self.secret).verify(body, headers)
        except Exception as exc:  # the library raises several types for malformed headers
            self.rejected += 1
            reason = str(exc) or type(exc).__name__
            self.rejections.append(
                {
                    "at": datetime.now(UTC).isoformat(),
                    "reason": reason,
                    "webhook_id": headers.get("webhook-id"),
                }
            )
            raise SignatureRejected(reason or "invalid signature") from None

    def store(self, payload: Any, body: bytes, headers: dict[str, str]) -> tuple[Received, bool]:
        """Keep a verified message; returns (message, is_new). A redelivery is only counted."""
        webhook_id = headers["webhook-id"]
        key = headers.get("idempotency-key")
        seen = self._by_key.get(webhook_id) or (self._by_key.get(key) if key else None)
        if seen is not None:
            seen.deliveries += 1
            self.duplicates += 1
            return seen, False
        message = Received(
            webhook_id,
            key,
            datetime.now(UTC),
            payload if isinstance(payload, dict) else {"value": payload},
            headers,
            body.decode("utf-8", errors="replace"),
        )
        self.messages[webhook_id] = message
        self._by_key[webhook_id] = message
        if key:
            self._by_key[key] = message
        return message, True

    def receive(self, body: bytes, headers: dict[str, str]) -> tuple[Received, bool]:
        """Verify, then store; raises SignatureRejected if not authentic."""
        return self.store(self.verify(body, headers), body, headers)

    def summary(self, items: list[Received]) -> dict[str, Any]:
        return {
            "count": len(items),
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejections": self.rejections,
            "results": [m.to_json() for m in items],
        }


def signed_headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def signature_rejected(exc: SignatureRejected) -> JSONResponse:
    """The 401 a receiver answers to a message it cannot authenticate."""
    return JSONResponse({"error": "invalid webhook signature", "detail": str(exc)}, status_code=401)


async def receive_signed(
    request: Request, inbox: SignedInbox
) -> tuple[Received, bool] | JSONResponse:
    """Verify and store the request's message, or the 401 to answer."""
    try:
        return inbox.receive(await request.body(), signed_headers(request))
    except SignatureRejected as exc:
        return signature_rejected(exc)
