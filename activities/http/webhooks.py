"""Standard Webhooks sender: signs `{id}.{timestamp}.{body}` and maps the receiver's answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from activities.http.errors import (
    PermanentServiceError,
    RetryableServiceError,
    error_message,
    parse_retry_after,
    transport_errors,
)

BACK_OFF_STATUSES = frozenset({429, 502, 503, 504})


class EndpointGoneError(PermanentServiceError):
    """The receiver answered 410 Gone: stop delivering to this endpoint."""


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

        2xx returns; 410 raises EndpointGoneError; 429/5xx raise RetryableServiceError with
        the receiver's Retry-After; other answers raise PermanentServiceError.
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
        if status == 410:
            raise EndpointGoneError(self._system, message, status=status)
        if status in BACK_OFF_STATUSES or status >= 500:
            raise RetryableServiceError(
                self._system,
                message,
                status=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        raise PermanentServiceError(self._system, message, status=status)
