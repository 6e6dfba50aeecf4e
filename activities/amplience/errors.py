"""Amplience's answers → docflow's client errors.

Amplience errors are `{"errors":[{entity, property, invalidValue, message}]}` or `{"message"}`.
429 (publish limits) and 5xx are retryable; Amplience documents no `Retry-After`, so the
delay is left to the caller's exponential back-off (`retry_after` stays None unless the
answer carries one). Every other 4xx is permanent; a stale `version` on a PATCH is a
VersionConflictError (re-read, re-apply).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from activities.http.errors import (
    RETRYABLE_STATUSES,
    AuthenticationError,
    NotFoundError,
    PermanentServiceError,
    RetryableServiceError,
    parse_retry_after,
)

SYSTEM = "amplience"


class VersionConflictError(PermanentServiceError):
    """The item changed since it was read (optimistic locking): re-read and re-apply."""


class DeliveryKeyTakenError(PermanentServiceError):
    """Another item already has the delivery key (keys are unique per hub)."""


class InvalidContentError(PermanentServiceError):
    """Amplience refused the content (400, validation): `errors` says why, field by field."""

    def __init__(
        self, system: str, message: str, *, status: int | None, errors: list[dict[str, Any]]
    ) -> None:
        super().__init__(system, message, status=status)
        self.errors = errors


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def error_details(response: httpx.Response) -> list[dict[str, Any]]:
    body = _body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def amplience_message(response: httpx.Response, limit: int = 300) -> str:
    """The `errors[].message`s (with their property), else `message`, else the text."""
    details = error_details(response)
    if details:
        parts = [
            f"{e['property']}: {e.get('message')}" if e.get("property") else str(e.get("message"))
            for e in details
        ]
        return "; ".join(parts)[:limit]
    body = _body(response)
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:limit]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])[:limit]  # Content Delivery 2: {"error":{...}}
    text = response.text.strip()
    return text[:limit] if text else response.reason_phrase or "no details"


def is_version_conflict(response: httpx.Response) -> bool:
    if response.status_code != 409:
        return False
    details = error_details(response)
    # The status is undocumented (a GUESS); the property names the cause when present.
    return not details or any(e.get("property") == "version" for e in details)


def raise_for_amplience(response: httpx.Response, system: str = SYSTEM) -> None:
    """Raise the matching ExternalServiceError unless the response is a 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = (
        f"{response.request.method} {response.request.url.path}: {amplience_message(response)}"
    )
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
    if is_version_conflict(response):
        raise VersionConflictError(system, message, status=status)
    if status == 409 and any(
        str(e.get("property") or "").endswith("deliveryKey") for e in error_details(response)
    ):
        raise DeliveryKeyTakenError(system, message, status=status)
    if status in (400, 422):
        raise InvalidContentError(system, message, status=status, errors=error_details(response))
    raise PermanentServiceError(system, message, status=status)
