"""Core Signature event callbacks: parse, verify `event_hash`, map to docflow.

Callbacks are untrusted, duplicated, late and out of order. Whoever receives them (the API's
receiver, the benchmark's bare endpoint) checks them here before acting; the workflow dedupes
by event id. No HTTP framework here: callers turn the two errors into their own answers.

The vendor's hash covers only `event_time + event_type`, never the document or signer in the
body, so a verified callback is a hint: the workflow confirms every deciding claim with Core
Signature before acting on it. Age is therefore no reason to refuse one: the vendor retries a
callback for about 90 minutes (on a timeout or a 500 only), and an old, correctly hashed
event is as good a hint as a fresh one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from docflow.models import SignatureEvent, SignatureEventType
from docflow.models.events import BOOKKEEPING_EVENTS


class CallbackError(Exception):
    """A callback docflow must not act on."""


class MalformedCallback(CallbackError, ValueError):
    """The body is not JSON, or not shaped like a Core Signature callback."""


class UntrustedCallback(CallbackError):
    """The event hash is missing or wrong."""


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
        parse_event_time(value)  # ValueError → a validation error
        return value


def event_hash(key: bytes, event_time: str, event_type: str) -> str:
    """The vendor's scheme: it covers event time and type only, not the event or document."""
    return hmac.new(key, (event_time + event_type).encode(), hashlib.sha256).hexdigest()


def parse_callback(raw: bytes) -> CoreSignatureCallback:
    """The callback in `raw`; raises MalformedCallback naming the first problem."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedCallback("body is not valid JSON") from exc
    try:
        return CoreSignatureCallback.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise MalformedCallback(f"not a Core Signature callback: {where}: {first['msg']}") from exc


def verify_callback(callback: CoreSignatureCallback, key: bytes) -> datetime:
    """Authenticity of the sender; returns the event time. Raises UntrustedCallback.

    No freshness window: a late retry is still a valid hint (the workflow confirms it)."""
    presented = (callback.event_hash or "").strip().lower()
    expected = event_hash(key, callback.event_time, callback.event_type)
    if not presented or not hmac.compare_digest(expected.encode(), presented.encode()):
        raise UntrustedCallback("missing or invalid event_hash")
    return parse_event_time(callback.event_time)


def signature_event(
    callback: CoreSignatureCallback, occurred_at: datetime
) -> SignatureEvent | None:
    """The docflow event for a verified callback; None for an event type docflow does not know
    (refusing it would only make the sender retry an event docflow will never understand)."""
    try:
        event_type = SignatureEventType(callback.event_type)
    except ValueError:
        return None
    signer = callback.signer
    return SignatureEvent(
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


def needs_signal(event: SignatureEvent) -> bool:
    """False for events that only confirm what docflow did itself (the document was converted
    and sent by its own request, the signed PDF downloaded by its own activity): each signal
    is a billed action and a workflow task, and these change nothing."""
    return event.event_type not in BOOKKEEPING_EVENTS
