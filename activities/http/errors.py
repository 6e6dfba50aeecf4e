"""Errors of the external-system clients, and the mapping from HTTP responses to them.

Retryable means "the same call may succeed later" (429, 5xx, timeouts, connection errors);
permanent means "the request itself is wrong" (4xx) and repeating it cannot help.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

RETRYABLE_STATUSES = frozenset({408, 425, 429})


class ExternalServiceError(Exception):
    """A call to an external system failed."""

    # The answer's body as people read it, where the caller kept it (webhook deliveries).
    excerpt: str = ""

    def __init__(self, system: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{system}: {message}" + (f" (HTTP {status})" if status else ""))
        self.system = system
        self.status = status
        self.message = message


class RetryableServiceError(ExternalServiceError):
    """Temporary failure: rate limit, server error, timeout or lost connection."""

    def __init__(
        self,
        system: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: timedelta | None = None,
    ) -> None:
        super().__init__(system, message, status=status)
        self.retry_after = retry_after


class PermanentServiceError(ExternalServiceError):
    """The system refused the request (4xx); sending it again gives the same answer."""


class AuthenticationError(PermanentServiceError):
    """Credentials were refused (401/403), also after a fresh token or ticket."""


class NotFoundError(PermanentServiceError):
    """The resource does not exist (404)."""


class AlreadyExistsError(PermanentServiceError):
    """The resource exists already (409, or a duplicate-name error)."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> timedelta | None:
    """`Retry-After` as a delay: delta-seconds or an HTTP date; None when absent or invalid."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delay = when - (now or datetime.now(UTC))
    return max(delay, timedelta(0))


def error_message(response: httpx.Response, limit: int = 300) -> str:
    """The human-readable part of an error body (`error`, `detail`, `message`, with
    `errorDetail` when present), else its text."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        body = None
    if isinstance(body, dict):
        for key in ("error", "detail", "message", "error_description"):
            value = body.get(key)
            if isinstance(value, str) and value:
                # Content Server adds the specifics in `errorDetail`.
                detail = body.get("errorDetail")
                if isinstance(detail, str) and detail and detail != value:
                    value = f"{value} ({detail})"
                return value[:limit]
        detail = body.get("errorDetail")
        if isinstance(detail, str) and detail:
            return detail[:limit]
        return json.dumps(body)[:limit]
    text = response.text.strip()
    return text[:limit] if text else response.reason_phrase or "no details"


def raise_for_response(system: str, response: httpx.Response) -> None:
    """Raise the matching ExternalServiceError unless the response is a 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = f"{response.request.method} {response.request.url.path}: {error_message(response)}"
    if status == 429 or status >= 500 or status in RETRYABLE_STATUSES:
        raise RetryableServiceError(
            system,
            message,
            status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status in (401, 403):
        raise AuthenticationError(system, message, status=status)
    if status == 404:
        raise NotFoundError(system, message, status=status)
    if status == 409:
        raise AlreadyExistsError(system, message, status=status)
    raise PermanentServiceError(system, message, status=status)


@contextmanager
def transport_errors(system: str) -> Iterator[None]:
    """Turn httpx timeouts and connection failures into RetryableServiceError."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise RetryableServiceError(system, f"timed out: {exc!r}") from exc
    except httpx.TransportError as exc:
        raise RetryableServiceError(system, f"connection failed: {exc!r}") from exc
