"""Request bodies and in-memory state of the Core Signature simulator."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DocumentCreate(BaseModel):
    file_from_content: str | None = None
    file_from_content_name: str | None = None
    name: str | None = None
    external_id: str | None = Field(default=None, max_length=255)
    events_callback_url: str | None = None
    auto_expire_days: int | None = Field(default=None, ge=1, le=730)
    link_expire_days: int | None = Field(default=None, ge=1, le=730)


class SignerIn(BaseModel):
    email: str
    first_name: str = ""
    last_name: str = ""
    order: int = Field(default=0, ge=0)
    needs_to_sign: bool = True

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("Enter a valid email address.")
        return value.lower()


class SignatureRequestCreate(BaseModel):
    document: str
    signers: list[SignerIn] = Field(min_length=1)
    from_email: str
    subject: str = ""
    message: str = ""
    who: Literal["o", "m", "mo"] = "o"
    send_reminders: bool = False


class SignerAction(BaseModel):
    email: str | None = Field(default=None, description="Default: all / the first signer.")
    reason: str = ""


@dataclass
class SignerState:
    email: str
    first_name: str
    last_name: str
    order: int
    needs_to_sign: bool
    emailed: bool = False
    viewed: bool = False
    signed: bool = False
    signed_on: datetime | None = None
    declined: bool = False
    declined_on: datetime | None = None
    message: str = ""

    @property
    def display_name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return f"{full} ({self.email})" if full else self.email


@dataclass
class SignatureRequestState:
    uuid: str
    document_uuid: str
    from_email: str
    subject: str
    message: str
    who: str
    send_reminders: bool
    signers: list[SignerState]
    created: datetime
    cancelled: bool = False


@dataclass
class DocumentState:
    uuid: str
    name: str
    external_id: str | None
    events_callback_url: str | None
    content: bytes
    auto_expire_days: int | None
    link_expire_days: int | None
    api_base: str
    created: datetime
    status: str = "co"
    signrequest: SignatureRequestState | None = None
    signed_pdf: bytes | None = None
    signing_log_pdf: bytes | None = None


@dataclass
class EventState:
    uuid: str
    event_type: str
    status: str
    event_time: str  # Unix seconds as a string, as the callbacks carry it (and sign it)
    event_hash: str
    timestamp: str  # ISO-8601
    document_uuid: str
    signer_email: str | None
    payload: dict[str, Any]
    delivery_ids: list[str] = field(default_factory=list)


@dataclass
class TemplateState:
    uuid: str
    name: str
    who: str
    signers: int


class SimError(Exception):
    """An error answer in the vendor's shape (DRF: {"detail": ...} or {field: [msgs]})."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body))
        self.status = status
        self.body = body


def not_found() -> SimError:
    return SimError(404, {"detail": "Not found."})


def conflict(message: str) -> SimError:
    return SimError(409, {"detail": message})
