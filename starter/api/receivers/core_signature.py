"""Core Signature's webhook receiver: verify the sender first, then signal the workflow, answer.

Core Signature callbacks are untrusted, duplicated, late and out of order: the event hash and
the event time are checked before Temporal is touched, and the workflow dedupes by event id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError, field_validator

from docflow.correlation import business_key_from_external_id
from docflow.models import SignatureEvent, SignatureEventType
from docflow.models.events import BOOKKEEPING_EVENTS
from starter.api.context import api_context
from starter.api.errors import ApiError, InvalidRequest, NotFound, PayloadTooLarge, error_responses
from starter.api.schemas import CallbackAck
from starter.processes.base import ProcessNotFound

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/webhooks", tags=["webhooks"])

# Callbacks are small JSON documents; anything bigger is not from Core Signature.
MAX_CALLBACK_BYTES = 256 * 1024
# Clocks drift; a callback "from the future" beyond this is refused like a stale one.
FUTURE_SKEW = timedelta(minutes=5)


class CallbackRejected(ApiError):
    status_code = 401
    code = "invalid_callback"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'EventHash realm="core-signature"'})


def parse_event_time(raw: str) -> datetime:
    """Core Signature sends Unix seconds as a string; ISO 8601 is accepted too."""
    if raw.isdigit():
        try:
            return datetime.fromtimestamp(int(raw), tz=UTC)
        except (OverflowError, OSError) as exc:  # e.g. 30 digits: not a time at all
            raise ValueError("event_time is out of range") from exc
    parsed = datetime.fromisoformat(raw)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class CallbackDocument(BaseModel):
    uuid: str = Field(min_length=1)
    external_id: str | None = None
    status: str | None = Field(default=None, description="Two-letter document status code.")


class CallbackSigner(BaseModel):
    email: str | None = None
    message: str | None = Field(default=None, description="The signer's decline message.")


class CoreSignatureCallback(BaseModel):
    """The callback body Core Signature POSTs to `events_callback_url` (fields we use)."""

    uuid: str = Field(min_length=1, description="The event's id; the dedupe key.")
    status: str = Field(default="ok", description="'ok', or 'error' for error events.")
    event_type: str = Field(examples=["signed"])
    event_time: str = Field(description="Unix seconds, as a string.", examples=["1763640000"])
    event_hash: str | None = Field(
        default=None, description="hex(HMAC-SHA256(key, event_time + event_type))."
    )
    document: CallbackDocument
    signer: CallbackSigner | None = None

    @field_validator("event_time", mode="before")
    @classmethod
    def _time_as_text(cls, value: Any) -> Any:
        # The hash covers the text as sent; an integer's text is its decimal form.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("event_time")
    @classmethod
    def _time_parses(cls, value: str) -> str:
        parse_event_time(value)  # ValueError → 422
        return value


def event_hash(key: bytes, event_time: str, event_type: str) -> str:
    return hmac.new(key, (event_time + event_type).encode(), hashlib.sha256).hexdigest()


def _verify(callback: CoreSignatureCallback, key: bytes, max_age: timedelta) -> datetime:
    """Authenticity and freshness; returns the event time. Raises CallbackRejected."""
    presented = (callback.event_hash or "").strip().lower()
    expected = event_hash(key, callback.event_time, callback.event_type)
    if not presented or not hmac.compare_digest(expected.encode(), presented.encode()):
        raise CallbackRejected("missing or invalid event_hash")
    occurred_at = parse_event_time(callback.event_time)
    age = datetime.now(UTC) - occurred_at
    if age > max_age:
        raise CallbackRejected(f"stale event: event_time is {int(age.total_seconds())} s old")
    if -age > FUTURE_SKEW:
        raise CallbackRejected("event_time is in the future")
    return occurred_at


def _parse(raw: bytes) -> CoreSignatureCallback:
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("body is not valid JSON") from exc
    try:
        return CoreSignatureCallback.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidRequest(f"not a Core Signature callback: {where}: {first['msg']}") from exc


@router.post(
    "/core-signature",
    summary="Core Signature event callback",
    description="Verifies `event_hash` and the event time, then signals the signing process "
    "named by the document's `external_id` (`{business_key}#{cycle}`). 200 means the event is "
    "durably with the process (`accepted`), or needs no signal (`ignored`): the process has "
    "ended, or the event only confirms what docflow did itself (converted, sent, downloaded).",
    response_model=CallbackAck,
    responses=error_responses(401, 404, 413, 422, 503),
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
        raise PayloadTooLarge("callback body too large")
    callback = _parse(raw)
    occurred_at = _verify(
        callback, context.event_hash_key, context.settings.core_signature.event_max_age
    )

    business_key = business_key_from_external_id(callback.document.external_id)
    if business_key is None:
        raise NotFound("unknown document")
    try:
        event_type = SignatureEventType(callback.event_type)
    except ValueError:
        # Refusing would only make the sender retry an event we will never understand.
        log.info("callback %s for %s ignored: unknown type", callback.event_type, business_key)
        return CallbackAck(status="ignored")

    if event_type in BOOKKEEPING_EVENTS:
        log.info("callback %s for %s acknowledged (nothing to signal)", event_type, business_key)
        return CallbackAck(status="ignored")

    signer = callback.signer
    event = SignatureEvent(
        event_id=callback.uuid,
        event_type=event_type,
        event_time=occurred_at,
        document_uuid=callback.document.uuid,
        external_id=callback.document.external_id,
        status=callback.status,
        signer_email=signer.email if signer else None,
        detail=(signer.message or "") if signer else "",
        source="callback",
    )
    processes = await context.processes()
    try:
        outcome = await processes.deliver_signature_event(event)
    except ProcessNotFound:
        raise NotFound("unknown document") from None
    log.info("callback %s for %s %s", event_type.value, business_key, outcome)
    return CallbackAck(status=outcome)


OPENAPI_MODELS: list[type[BaseModel]] = [CoreSignatureCallback]
