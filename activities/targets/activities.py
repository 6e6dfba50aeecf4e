"""Deliver approved content to a downstream target (or notify a channel): one signed Standard
Webhooks message per attempt, on the target's own retry schedule and rate limit.

Each attempt classifies the answer and raises; Temporal retries after the delay named here:
- 2xx: accepted (a TargetReceipt);
- timeout, connection failure, 408/409/425/429/5xx: retry after the schedule's next delay (at
  least the receiver's Retry-After), or DeliveryExhausted when the schedule is spent;
- 410: TargetGone; `webhook-delivery: abort-message`: TargetAborted;
- any other 4xx: TargetRefused, with the receiver's answer (its validation errors) as reason.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.http.error_mapping import configuration_lookup
from activities.http.errors import (
    ExternalServiceError,
    PermanentServiceError,
    RetryableServiceError,
)
from activities.http.limiter import RateLimited, RateLimiter
from activities.http.schedule import describe, next_delay
from activities.http.webhooks import (
    DeliveryAbortedError,
    EndpointGoneError,
    WebhookSender,
    signed_by,
)
from activities.targets.registry import (
    DeliveryTarget,
    EndpointNotAllowed,
    TargetNotRegistered,
    TargetRegistry,
)
from docflow.models.content import TargetMessage, TargetReceipt
from docflow.settings import Settings

# Client errors that may pass: a timed-out request, a conflict, "too early".
RETRYABLE_REFUSALS = frozenset({408, 409, 425})


class TargetActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        registry: TargetRegistry | None = None,
        *,
        limiter: RateLimiter | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._http = http
        self._settings = settings
        self._registry = registry or TargetRegistry(settings)
        # One per worker process: the targets' rate limits are per worker.
        self._limiter = limiter or RateLimiter()
        self._rand = rand

    @activity.defn(name="deliver_to_target")
    async def deliver(self, message: TargetMessage) -> TargetReceipt:
        """POST `{type, timestamp, data}` signed with the target's secret; `webhook-id` is the
        message's idempotency key, so the target applies it once however often it arrives."""
        target = await self._target(message.target)
        attempt = activity.info().attempt
        sender = self._sender(target)
        await self._take_turn(target, message)
        body = json.dumps(
            {
                "type": message.event_type,
                "timestamp": datetime.now(UTC).isoformat(),
                "data": message.payload,
            }
        )
        started = time.monotonic()
        try:
            response = await sender.send(target.url, message.idempotency_key, body)
        except ExternalServiceError as exc:
            latency_ms = _ms_since(started)
            _log_attempt(message, target, attempt, exc.status, latency_ms, exc.excerpt)
            raise self._failure(message, target, attempt, exc) from exc
        latency_ms = _ms_since(started)
        _log_attempt(message, target, attempt, response.status_code, latency_ms, "")
        return TargetReceipt(
            status_code=response.status_code, attempts=attempt, latency_ms=latency_ms
        )

    def _failure(
        self,
        message: TargetMessage,
        target: DeliveryTarget,
        attempt: int,
        exc: ExternalServiceError,
    ) -> ApplicationError:
        excerpt = exc.excerpt
        answer = _answer(exc)
        details: dict[str, Any] = {"status": exc.status, "attempts": attempt, "excerpt": excerpt}
        where = f"{message.target} ({message.idempotency_key})"
        if isinstance(exc, DeliveryAbortedError):
            return ApplicationError(
                f"{where} aborted the message: {answer}",
                details,
                type="TargetAborted",
                non_retryable=True,
            )
        if isinstance(exc, EndpointGoneError):
            return ApplicationError(
                f"{where} is gone (410): {answer}", details, type="TargetGone", non_retryable=True
            )
        retryable = isinstance(exc, RetryableServiceError) or exc.status in RETRYABLE_REFUSALS
        if isinstance(exc, PermanentServiceError) and not retryable:
            return ApplicationError(
                f"{message.target} refused the message (HTTP {exc.status}): {excerpt or answer}",
                details,
                type="TargetRefused",
                non_retryable=True,
            )
        retry_after = exc.retry_after if isinstance(exc, RetryableServiceError) else None
        delay = next_delay(
            target.retry_schedule_s,
            attempt,
            jitter=target.jitter,
            retry_after=retry_after,
            rand=self._rand,
        )
        if delay is None:
            return ApplicationError(
                f"{where}: gave up after {attempt} attempts over the schedule "
                f"({describe(target.retry_schedule_s)}): last answer {answer}",
                details,
                type="DeliveryExhausted",
                non_retryable=True,
            )
        return ApplicationError(
            f"{where}: attempt {attempt} failed, next in {delay.total_seconds():.1f} s: {answer}",
            details,
            type="TargetUnavailable",
            next_retry_delay=delay,
        )

    async def _take_turn(self, target: DeliveryTarget, message: TargetMessage) -> None:
        try:
            waited = await self._limiter.acquire(target.target, target.rate_limit_per_s)
        except RateLimited as exc:
            # Not the target's fault: no attempt was made, retry when a turn is free.
            raise ApplicationError(
                f"{message.target} ({message.idempotency_key}): {exc}",
                {"status": None, "attempts": activity.info().attempt, "excerpt": ""},
                type="RateLimited",
                next_retry_delay=exc.retry_after,
            ) from exc
        if waited:
            activity.logger.debug("waited %.2f s for %s's rate limit", waited, target.target)

    async def _target(self, name: str) -> DeliveryTarget:
        # Retrying cannot help an unknown target: the workflow reports it as failed instead.
        with configuration_lookup(TargetNotRegistered, EndpointNotAllowed):
            return await self._registry.target(name)

    def _sender(self, target: DeliveryTarget) -> WebhookSender:
        return signed_by(
            self._http,
            self._settings.secret,
            target.secret,
            owner=f"target {target.target!r}",
            system=f"target:{target.target}",
            timeout_s=target.timeout_s,
        )


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _answer(exc: ExternalServiceError) -> str:
    if exc.status is None:
        return exc.message  # timed out or no connection
    return f"HTTP {exc.status} {exc.excerpt}".rstrip()


def _log_attempt(
    message: TargetMessage,
    target: DeliveryTarget,
    attempt: int,
    status: int | None,
    latency_ms: int,
    excerpt: str,
) -> None:
    accepted = status is not None and 200 <= status < 300
    activity.logger.log(
        logging.INFO if accepted else logging.WARNING,
        "delivery to %s (%s) attempt %d: %s in %d ms%s",
        message.target,
        message.idempotency_key,
        attempt,
        f"HTTP {status}" if status is not None else "no answer",
        latency_ms,
        f" ({target.url}): {excerpt[:200]}" if excerpt else f" ({target.url})",
    )
