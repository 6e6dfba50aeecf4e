"""Core Signature's webhook receiver: verify the sender first, then signal the workflow, answer.

Core Signature callbacks are untrusted, duplicated, late and out of order: the event hash is
checked before Temporal is touched; the process is asked whether the event would change
anything (duplicates, other documents and floods never reach its history); the workflow
confirms any deciding claim with Core Signature. The answer comes within about a second:
when Temporal cannot take the event by then, 500 — the one answer Core Signature retries.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel

from activities.core_signature.callbacks import (
    CallbackError,
    CoreSignatureCallback,
    MalformedCallback,
    UntrustedCallback,
    needs_signal,
    parse_callback,
    signature_event,
    verify_callback,
)
from docflow.correlation import business_key_from_external_id
from starter.api.context import api_context
from starter.api.errors import (
    ApiError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    SenderShouldRetry,
    error_responses,
)
from starter.api.receivers import NOT_TAKEN
from starter.api.schemas import CallbackAck
from starter.processes.base import ProcessNotFound, TemporalUnavailable

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/webhooks", tags=["webhooks"])

# Callbacks are small JSON documents; anything bigger is not from Core Signature.
MAX_CALLBACK_BYTES = 256 * 1024
CALLBACK_TOO_LARGE = "callback body too large"
UNKNOWN_DOCUMENT = "unknown document"


class CallbackRejected(ApiError):
    status_code = 401
    code = "invalid_callback"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'EventHash realm="core-signature"'})


def callback_api_error(exc: CallbackError) -> ApiError:
    """The API's answer to a callback docflow must not act on: 422 malformed, 401 untrusted."""
    if isinstance(exc, MalformedCallback):
        return InvalidRequest(str(exc))
    return CallbackRejected(str(exc))


@router.post(
    "/core-signature",
    summary="Core Signature event callback",
    description="Verifies `event_hash` (its age is no reason to refuse it: every deciding claim "
    "is confirmed with Core Signature before it acts), then signals the signing process "
    "named by the document's `external_id` (`{business_key}#{cycle}`). Answers within about a "
    "second; 500 `temporarily_unavailable` when Temporal cannot take the event by then (Core "
    "Signature retries only a timeout or a 500). 200 means the event is "
    "durably with the process (`accepted`), or needs no signal (`ignored`): the process has "
    "ended, or the event only confirms what docflow did itself (converted, sent, downloaded).",
    response_model=CallbackAck,
    responses=error_responses(
        401,
        404,
        413,
        422,
        500,
        examples=[
            callback_api_error(UntrustedCallback("missing or invalid event_hash")),
            NotFound(UNKNOWN_DOCUMENT),
            PayloadTooLarge(CALLBACK_TOO_LARGE),
            callback_api_error(MalformedCallback("body is not valid JSON")),
            SenderShouldRetry(NOT_TAKEN),
        ],
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/CoreSignatureCallback"}
                }
            },
        }
    },
)
async def core_signature_callback(request: Request) -> CallbackAck:
    context = api_context(request)
    raw = await request.body()
    if len(raw) > MAX_CALLBACK_BYTES:
        raise PayloadTooLarge(CALLBACK_TOO_LARGE)
    try:
        callback = parse_callback(raw)
        occurred_at = verify_callback(callback, context.event_hash_key)
    except CallbackError as exc:
        raise callback_api_error(exc) from exc

    business_key = business_key_from_external_id(callback.document.external_id)
    if business_key is None:
        raise NotFound(UNKNOWN_DOCUMENT)
    event = signature_event(callback, occurred_at)
    if event is None:
        log.info("callback %s for %s ignored: unknown type", callback.event_type, business_key)
        return CallbackAck(status="ignored")
    if not needs_signal(event):
        log.info(
            "callback %s for %s acknowledged (nothing to signal)", event.event_type, business_key
        )
        return CallbackAck(status="ignored")

    async def deliver() -> str:
        processes = await context.processes()
        return await processes.deliver_signature_event(event)

    try:
        outcome = await asyncio.wait_for(
            deliver(), context.settings.core_signature.receiver_deadline_s
        )
    except ProcessNotFound:
        raise NotFound(UNKNOWN_DOCUMENT) from None
    except (TemporalUnavailable, TimeoutError) as exc:
        # Whether a signal got through is unknown: the retry is deduplicated by event id.
        log.warning("callback %s for %s not taken: %s", event.event_id, business_key, exc)
        raise SenderShouldRetry(NOT_TAKEN) from None
    log.info("callback %s for %s %s", event.event_type.value, business_key, outcome)
    return CallbackAck(status=outcome)


OPENAPI_MODELS: list[type[BaseModel]] = [CoreSignatureCallback]
