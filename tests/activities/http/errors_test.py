"""Error classification: Retry-After parsing, HTTP status mapping, ApplicationError mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from activities.http.error_mapping import to_application_error
from activities.http.errors import (
    AlreadyExistsError,
    AuthenticationError,
    ExternalServiceError,
    NotFoundError,
    PermanentServiceError,
    RetryableServiceError,
    parse_retry_after,
    raise_for_response,
)

NOW = datetime(2026, 11, 2, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", timedelta(seconds=7)),
        (" 120 ", timedelta(minutes=2)),
        ("Mon, 02 Nov 2026 12:00:30 GMT", timedelta(seconds=30)),
        ("Mon, 02 Nov 2026 11:00:00 GMT", timedelta(0)),  # in the past: retry now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def _response(
    status: int, body: object = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    request = httpx.Request("POST", "https://example.test/api/v1/things/")
    return httpx.Response(status, json=body or {"detail": "nope"}, headers=headers, request=request)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PermanentServiceError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (409, AlreadyExistsError),
        (422, PermanentServiceError),
        (429, RetryableServiceError),
        (500, RetryableServiceError),
        (503, RetryableServiceError),
    ],
)
def test_status_mapping(status: int, error: type[ExternalServiceError]) -> None:
    with pytest.raises(error) as raised:
        raise_for_response("sys", _response(status))
    assert type(raised.value) is error
    assert raised.value.status == status
    assert "nope" in raised.value.message


def test_2xx_passes() -> None:
    raise_for_response("sys", _response(201))


def test_retryable_maps_to_retryable_application_error_with_delay() -> None:
    error = to_application_error(
        "call", RetryableServiceError("sys", "busy", status=429, retry_after=timedelta(seconds=9))
    )
    assert not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=9)
    assert error.type == "RetryableServiceError"


def test_permanent_maps_to_non_retryable_application_error() -> None:
    error = to_application_error("call", NotFoundError("sys", "gone", status=404))
    assert error.non_retryable
    assert error.type == "NotFoundError"
    assert "gone" in error.message
