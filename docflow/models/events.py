"""Core Signature events as docflow sees them, after the receiver verified them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class SignatureEventType(StrEnum):
    CONVERTED = "converted"
    CONVERT_ERROR = "convert_error"
    SENT = "sent"
    SENDING_ERROR = "sending_error"
    VIEWED = "viewed"
    SIGNER_VIEWED = "signer_viewed"
    SIGNER_SIGNED = "signer_signed"
    SIGNER_EMAIL_BOUNCED = "signer_email_bounced"
    SIGNED = "signed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    DOWNLOADED = "downloaded"


TERMINAL_EVENTS = frozenset(
    {
        SignatureEventType.SIGNED,
        SignatureEventType.DECLINED,
        SignatureEventType.CANCELLED,
        SignatureEventType.EXPIRED,
    }
)
ERROR_EVENTS = frozenset(
    {
        SignatureEventType.CONVERT_ERROR,
        SignatureEventType.SENDING_ERROR,
        SignatureEventType.SIGNER_EMAIL_BOUNCED,
    }
)

# Events after which the request cannot be signed without docflow acting (end or exception).
DECISIVE_EVENTS = TERMINAL_EVENTS | ERROR_EVENTS

# Events that only confirm what docflow already knows (the document was converted and sent
# by its own request; the signed PDF was downloaded by its own activity). The receiver
# acknowledges them without signalling: each signal is a billed action and a workflow task.
BOOKKEEPING_EVENTS = frozenset(
    {SignatureEventType.CONVERTED, SignatureEventType.SENT, SignatureEventType.DOWNLOADED}
)

# Document status codes (two letters) mapped to the event that leads to them; used when
# polling replaces a lost callback.
STATUS_TO_EVENT: dict[str, SignatureEventType] = {
    "si": SignatureEventType.SIGNED,
    "do": SignatureEventType.SIGNED,
    "sd": SignatureEventType.SIGNED,
    "de": SignatureEventType.DECLINED,
    "ca": SignatureEventType.CANCELLED,
    "xp": SignatureEventType.EXPIRED,
    "ec": SignatureEventType.CONVERT_ERROR,
    "es": SignatureEventType.SENDING_ERROR,
}


SIGNED_STATUSES = frozenset({"si", "do", "sd"})


class SignatureEvent(BaseModel):
    """One Core Signature event for one document; `event_id` is its identity for dedupe."""

    event_id: str
    event_type: SignatureEventType
    event_time: datetime
    document_uuid: str
    external_id: str | None = None
    status: str = "ok"
    signer_email: str | None = None
    detail: str = ""
    source: str = "callback"  # "callback" or "poll"
