"""Standard Webhooks sender: signs `{id}.{timestamp}.{body}` and maps the receiver's answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook
from temporalio.exceptions import ApplicationError

from activities.http.errors import (
    ExternalServiceError,
    PermanentServiceError,
    RetryableServiceError,
    error_message,
    parse_retry_after,
    transport_errors,
)
from docflow.secrets import SecretResolutionError

BACK_OFF_STATUSES = frozenset({429, 502, 503, 504})

ABORT_HEADER = "webhook-delivery"
EXCERPT_LIMIT = 500


class EndpointGoneError(PermanentServiceError):
    """The receiver answered 410 Gone: stop delivering to this endpoint."""


class DeliveryAbortedError(PermanentServiceError):
    """The receiver answered `webhook-delivery: abort-message`: stop retrying this message."""


def response_excerpt(response: httpx.Response, limit: int = EXCERPT_LIMIT) -> str:
    """The receiver's answer as people read it: the body, whitespace collapsed, shortened."""
    text = " ".join(response.text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class WebhookSender:
    """Delivers signed JSON messages with one secret (`whsec_<base64>`)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        secret: str,
        *,
        system: str = "webhook",
        timeout_s: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._http = http
        self._webhook = Webhook(secret)
        self._system = system
        self._timeout_s = timeout_s
        self._clock = clock

    def signed_headers(self, msg_id: str, body: str) -> dict[str, str]:
        timestamp = self._clock().astimezone(UTC)
        return {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": self._webhook.sign(msg_id, timestamp, body),
            "Idempotency-Key": msg_id,
        }

    async def send(self, url: str, msg_id: str, body: str) -> httpx.Response:
        """POST `body` (a JSON document) to `url`; `msg_id` is the receiver's idempotency key.

        2xx returns; `webhook-delivery: abort-message` on any other answer raises
        DeliveryAbortedError; 410 raises EndpointGoneError; 429/5xx raise
        RetryableServiceError with the receiver's Retry-After; other answers raise
        PermanentServiceError. Each error carries the body's `excerpt`.
        """
        with transport_errors(self._system):
            response = await self._http.post(
                url,
                content=body.encode(),
                headers=self.signed_headers(msg_id, body),
                timeout=self._timeout_s,
            )
        status = response.status_code
        if 200 <= status < 300:
            return response
        message = f"POST {url} ({msg_id}): {error_message(response)}"
        error: ExternalServiceError
        if response.headers.get(ABORT_HEADER, "").strip().lower() == "abort-message":
            error = DeliveryAbortedError(self._system, message, status=status)
        elif status == 410:
            error = EndpointGoneError(self._system, message, status=status)
        elif status in BACK_OFF_STATUSES or status >= 500:
            error = RetryableServiceError(
                self._system,
                message,
                status=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        else:
            error = PermanentServiceError(self._system, message, status=status)
        error.excerpt = response_excerpt(response)
        raise error


def signed_by(
    http: httpx.AsyncClient,
    resolve: Callable[[str], str],
    secret_ref: str,
    *,
    owner: str,
    system: str,
    timeout_s: float,
) -> WebhookSender:
    """A sender signing with the secret `secret_ref` names, resolved now, so a rotated file:
    secret is picked up without a restart. An unresolvable secret is an operator's to fix."""
    try:
        secret = resolve(secret_ref)
    except SecretResolutionError as exc:
        raise ApplicationError(
            f"webhook secret of {owner}: {exc}", type="SecretResolutionError"
        ) from exc
    return WebhookSender(http, secret, system=system, timeout_s=timeout_s)
