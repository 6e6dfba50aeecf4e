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
from docflow.config.bundle import Bundle, BundleError, BundleReader


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


@contextmanager
def configuration_lookup(*refused: type[Exception]) -> Iterator[None]:
    """Read the bundle, or a registry built on it. A broken bundle is an operator's to fix:
    retried meanwhile. `refused` errors (a system or target this environment does not have,
    an endpoint outside its allowed hosts) cannot be helped by retrying."""
    try:
        yield
    except refused as exc:
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc
    except BundleError as exc:
        raise ApplicationError(
            str(exc), [str(problem) for problem in exc.problems], type="ConfigBundleError"
        ) from exc


async def current_bundle(reader: BundleReader) -> Bundle:
    """The bundle, reloaded when a file changes (a broken one: retried, see above)."""
    with configuration_lookup():
        return await reader.current()
