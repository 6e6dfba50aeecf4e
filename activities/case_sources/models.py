"""Typed views of what the case sources answer: mail-archive messages, forms-portal
submissions, ERP transactions, and a listing page of each. Unknown fields are ignored."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

T = TypeVar("T")


class _Resource(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class MailAttachment(_Resource):
    id: str = Field(min_length=1)
    filename: str = "attachment"
    content_type: str = "application/octet-stream"
    size: int = 0
    sha256: str | None = None


class MailMessage(_Resource):
    id: str = Field(min_length=1)
    subject: str = ""
    sender: str = Field(default="", alias="from")
    to: list[str] = Field(default_factory=list)
    sent_at: datetime | None = None
    size: int = 0
    sha256: str | None = None
    attachments: list[MailAttachment] = Field(default_factory=list)

    @field_validator("to", mode="before")
    @classmethod
    def _addresses(cls, value: object) -> object:
        """One address or a comma-separated string is a list of one or more."""
        if isinstance(value, str):
            return [a.strip() for a in value.split(",") if a.strip()]
        return value


class FormSubmission(_Resource):
    id: str = Field(min_length=1)
    form: str = "form"
    submitted_at: datetime | None = None
    submitted_by: str = ""
    size: int = 0
    sha256: str | None = None


class ErpTransaction(_Resource):
    id: str = Field(min_length=1)
    posted_at: datetime | None = None
    document_no: str = ""
    amount: float | str | None = None
    currency: str = ""
    description: str = ""
    size: int = 0
    sha256: str | None = None


class Listing(_Resource, Generic[T]):
    """One page of a source's listing: `{"items": [...], "next_cursor": ...}`."""

    items: list[T] = Field(default_factory=list)
    next_cursor: str | None = None
