"""HTTP errors of the API: one JSON shape `{"error": {"code", "message"}}` for every failure.

Domain errors from `starter.processes` map to status codes here, so route handlers just raise.
The examples in the OpenAPI document are error objects of the same classes, rendered by the
same code as real answers (`ApiError.response`), so the documentation cannot drift from them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from starter.processes.base import (
    DocumentNotStored,
    DocumentTypeRefused,
    IdempotencyConflict,
    InvalidProcessInput,
    ProcessError,
    ProcessInputTooLarge,
    ProcessNotFound,
    ProcessRuleViolation,
    TemporalUnavailable,
    temporal_unavailable,
)

log = logging.getLogger("docflow.api")

# Long enough for a restarting Temporal frontend, short enough for webhook senders.
RETRY_AFTER_SECONDS = 5
CLIENT_CLOSED_REQUEST = 499  # nginx's status for it; the response goes nowhere, logs keep it
WWW_AUTHENTICATE = 'Bearer realm="docflow"'
CREDENTIALS_REQUIRED = "credentials required: X-API-Key or Authorization: Bearer"
TEMPORAL_UNAVAILABLE = "Temporal is unavailable; retry later"
REQUEST_TOO_LARGE = "request body too large"
# JSON bodies (every route but uploads and webhooks): small, counted while they stream in.
MAX_JSON_BYTES = 1024 * 1024


def body_too_large(limit: int) -> str:
    """The 413 message of the streaming body limit."""
    return f"{REQUEST_TOO_LARGE}: this route accepts at most {limit} bytes"


# What the documented examples are about (a caller, a process).
EXAMPLE_SUBJECT = "app:crm"
EXAMPLE_BUSINESS_KEY = "SFDC-Q-1001"


class ErrorBody(BaseModel):
    code: str = Field(examples=["rule_violation"])
    message: str = Field(examples=["stage 'finance' is not open; 'legal' is"])


class ErrorResponse(BaseModel):
    """Every error response has this shape."""

    error: ErrorBody


class ApiError(Exception):
    """An error with its HTTP status, machine-readable code and caller-safe message."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def body(self) -> ErrorResponse:
        return ErrorResponse(error=ErrorBody(code=self.code, message=self.message))

    def response(self) -> JSONResponse:
        """The answer the caller gets: status, body and headers."""
        return JSONResponse(
            self.body().model_dump(), status_code=self.status_code, headers=self.headers
        )


class NotAuthenticated(ApiError):
    status_code = 401
    code = "unauthenticated"

    def __init__(self, message: str, *, invalid_token: bool = False) -> None:
        challenge = WWW_AUTHENTICATE + (', error="invalid_token"' if invalid_token else "")
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class InsufficientScope(ApiError):
    status_code = 403
    code = "insufficient_scope"

    @classmethod
    def lacking(cls, subject: str, scopes: Iterable[str]) -> InsufficientScope:
        """`subject` holds none of `scopes` (a route accepts any one of them)."""
        return cls(f"{subject} lacks scope {' or '.join(scopes)}")


class NotPermitted(ApiError):
    """Authenticated with the scope, but not for this object (another source system's
    process, or a role that may not do this to it)."""

    status_code = 403
    code = "not_permitted"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class InvalidRequest(ApiError):
    status_code = 422
    code = "invalid_request"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedDocument(ApiError):
    status_code = 415
    code = "unsupported_document"


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "temporal_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class SenderShouldRetry(ApiError):
    """For webhook senders that retry only a 500 (Core Signature): docflow could not take the
    event durably right now. Not a crash: the body says so, and `Retry-After` when to."""

    status_code = 500
    code = "temporarily_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


# Domain errors of the helpers → (status, code).
_DOMAIN: dict[type[ProcessError], tuple[int, str]] = {
    ProcessNotFound: (404, "process_not_found"),
    ProcessRuleViolation: (409, "rule_violation"),
    DocumentNotStored: (422, "unknown_document"),
    DocumentTypeRefused: (415, "unsupported_document"),
    InvalidProcessInput: (422, "invalid_request"),
    ProcessInputTooLarge: (413, "payload_too_large"),
    IdempotencyConflict: (409, "idempotency_conflict"),
}

# Documented on routes as `responses=error_responses(401, 403, ...)`.
_DESCRIPTIONS = {
    401: "Missing or invalid credentials.",
    403: "Authenticated, but the credential lacks the route's scope.",
    404: "No signing process for this business key.",
    409: "The process refused the request in its current state, or the business key / "
    "Idempotency-Key was used before with a different request (what differs in the message).",
    413: "The body (or the process input it makes) is larger than the route's limit.",
    415: "The document is not an accepted type, or its bytes do not match its type or name.",
    422: "The request is malformed or names a document that is not stored.",
    500: "The event could not be taken durably right now (Temporal unreachable or slow): "
    "answered 500 because the sender retries only a timeout or a 500.",
    503: "Temporal is unreachable; retry after `Retry-After` seconds.",
}


_HEADER_DESCRIPTIONS = {
    "WWW-Authenticate": "The authentication scheme to use (RFC 9110 §11.6.1).",
    "Retry-After": "Seconds to wait before retrying.",
}


def domain_error(exc: ProcessError) -> ApiError:
    """The API's answer to a domain error of the process helpers."""
    if isinstance(exc, TemporalUnavailable):
        # The cause goes to the log only; the caller just learns to come back later.
        return ServiceUnavailable(TEMPORAL_UNAVAILABLE)
    status, code = _DOMAIN.get(type(exc), (500, "internal_error"))
    error = ApiError(exc.message)
    error.status_code, error.code = status, code
    return error


def validation_error(errors: Sequence[Mapping[str, Any]]) -> InvalidRequest:
    """A malformed request: the first problems, each with its location (`body.decision: ...`)."""
    problems = [
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', '')}"
        for error in errors
    ]
    return InvalidRequest("; ".join(problems[:5]) or "invalid request")


def default_examples() -> list[ApiError]:
    """What each documented status really answers, unless a route documents its own."""
    key = EXAMPLE_BUSINESS_KEY
    return [
        NotAuthenticated(CREDENTIALS_REQUIRED),
        NotAuthenticated("invalid API key", invalid_token=True),
        InsufficientScope.lacking(EXAMPLE_SUBJECT, ["processes:start"]),
        domain_error(ProcessNotFound(f"no signing process for {key}")),
        domain_error(ProcessRuleViolation(f"the process {key} has already ended")),
        PayloadTooLarge(body_too_large(MAX_JSON_BYTES)),
        validation_error([{"loc": ("body", "decision"), "msg": "Field required"}]),
        domain_error(
            DocumentNotStored(
                "document sha256/9f/9f86d081 is not in the document store; upload it first"
            )
        ),
        domain_error(TemporalUnavailable("cannot connect to Temporal")),
        UnsupportedDocument(
            "contract.pdf is a ZIP archive, not a PDF document: declared as application/pdf"
        ),
        NotPermitted(f"{EXAMPLE_SUBJECT} does not act for source system 'SFDC'"),
    ]


def error_responses(
    *statuses: int, examples: Iterable[ApiError] = ()
) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route, with examples of their bodies and headers.

    `examples` replace the default examples of their statuses (a route with errors of its own).
    """
    chosen = list(examples)
    own = {example.status_code for example in chosen}
    chosen += [e for e in default_examples() if e.status_code not in own]
    return {
        status: _documented(status, [e for e in chosen if e.status_code == status])
        for status in statuses
    }


def _documented(status: int, examples: list[ApiError]) -> dict[str, Any]:
    documented: dict[str, Any] = {"model": ErrorResponse, "description": _DESCRIPTIONS[status]}
    if examples:
        documented["content"] = {"application/json": {"examples": example_objects(examples)}}
    headers: dict[str, Any] = {}
    for example in examples:
        for name, value in example.headers.items():
            headers.setdefault(
                name,
                {
                    "description": _HEADER_DESCRIPTIONS.get(name, ""),
                    "schema": {"type": "string"},
                    "example": value,
                },
            )
    if headers:
        documented["headers"] = headers
    return documented


def example_objects(examples: Iterable[ApiError]) -> dict[str, Any]:
    """OpenAPI Example Objects, named after their code (`rule_violation`, `unauthenticated_2`)."""
    objects: dict[str, Any] = {}
    for example in examples:
        name, n = example.code, 1
        while name in objects:
            n += 1
            name = f"{example.code}_{n}"
        objects[name] = {"summary": example.message, "value": example.body().model_dump()}
    return objects


def error_json(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _outcome(request: Request, status: int, code: str, message: str) -> None:
    log.warning("%s %s → %d %s: %s", request.method, request.url.path, status, code, message)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    _outcome(request, exc.status_code, exc.code, exc.message)
    return exc.response()


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProcessError)
    answer = domain_error(exc)
    _outcome(request, answer.status_code, answer.code, exc.message)
    return answer.response()


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 400:
        # The framework could not read the body (bad UTF-8, broken multipart, too many
        # parts): to the caller that is a malformed request like any other, so 422.
        status = 422
    code = {
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
        422: "invalid_request",
    }.get(status, "http_error")
    _outcome(request, status, code, str(exc.detail))
    return error_json(status, code, str(exc.detail), dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    answer = validation_error(exc.errors())
    _outcome(request, answer.status_code, answer.code, answer.message)
    return answer.response()


async def _client_gone(request: Request, exc: Exception) -> Response:
    # The caller hung up before sending its whole body (a crash, a timeout on its side): no
    # one is left to answer and nothing was done, so one line in the log, not a traceback.
    log.info(
        "%s %s: the client disconnected before its request was read",
        request.method,
        request.url.path,
    )
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if temporal_unavailable(exc):
        return await _api_error(request, ServiceUnavailable(TEMPORAL_UNAVAILABLE))
    # The traceback stays in the server log; the caller learns nothing about internals.
    log.exception("%s %s → 500: unhandled error", request.method, request.url.path)
    return error_json(500, "internal_error", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ProcessError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)
