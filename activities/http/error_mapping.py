"""Client errors → Temporal ApplicationErrors: retryable with Retry-After, or non-retryable.

Activities never loop: they classify and raise, and the workflow's retry policy decides.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.http.errors import (
    ExternalServiceError,
    PermanentServiceError,
    RetryableServiceError,
)


def to_application_error(operation: str, exc: ExternalServiceError) -> ApplicationError:
    """The ApplicationError an activity raises for a failed external call."""
    details = {"system": exc.system, "status": exc.status, "message": exc.message}
    if isinstance(exc, RetryableServiceError):
        return ApplicationError(
            f"{operation} failed, will retry: {exc}",
            details,
            type=type(exc).__name__,
            next_retry_delay=exc.retry_after,
        )
    return ApplicationError(
        f"{operation} failed: {exc}",
        details,
        type=type(exc).__name__,
        non_retryable=isinstance(exc, PermanentServiceError),
    )


@contextmanager
def external_call(operation: str) -> Iterator[None]:
    """Run external calls; re-raise their errors as classified ApplicationErrors."""
    try:
        yield
    except ExternalServiceError as exc:
        error = to_application_error(operation, exc)
        if activity.in_activity():
            activity.logger.warning("%s", error.message)
        raise error from exc
