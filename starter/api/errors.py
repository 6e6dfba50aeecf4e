"""HTTP errors of the API: one JSON shape `{"error": {"code", "message"}}` for every failure.

Domain errors from `starter.processes` map to status codes here, so route handlers just raise.
"""

from __future__ import annotations

import logging
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


class NotAuthenticated(ApiError):
    status_code = 401
    code = "unauthenticated"

    def __init__(self, message: str, *, invalid_token: bool = False) -> None:
        challenge = WWW_AUTHENTICATE + (', error="invalid_token"' if invalid_token else "")
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class InsufficientScope(ApiError):
    status_code = 403
    code = "insufficient_scope"


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
    503: "Temporal is unreachable; retry after `Retry-After` seconds.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorResponse, "description": _DESCRIPTIONS[s]} for s in statuses}


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
    return error_json(exc.status_code, exc.code, exc.message, exc.headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProcessError)
    if isinstance(exc, TemporalUnavailable):
        # The cause goes to the log only; the caller just learns to come back later.
        unavailable = ServiceUnavailable("Temporal is unavailable; retry later")
        _outcome(request, unavailable.status_code, unavailable.code, exc.message)
        return error_json(503, unavailable.code, unavailable.message, unavailable.headers)
    status, code = _DOMAIN.get(type(exc), (500, "internal_error"))
    _outcome(request, status, code, exc.message)
    return error_json(status, code, exc.message)


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
    problems = [
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', '')}"
        for error in exc.errors()
    ]
    message = "; ".join(problems[:5]) or "invalid request"
    _outcome(request, 422, "invalid_request", message)
    return error_json(422, "invalid_request", message)


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
        return await _api_error(request, ServiceUnavailable("Temporal is unavailable; retry later"))
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
