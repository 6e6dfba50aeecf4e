"""Typed views of Core Signature's REST resources: documents, signature requests, events."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

SIGNED_STATUSES = frozenset({"si", "do", "sd"})
FINAL_STATUSES = SIGNED_STATUSES | {"ca", "de", "xp"}


class _Resource(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CsSigner(_Resource):
    email: str
    first_name: str | None = None
    last_name: str | None = None
    order: int = 0
    needs_to_sign: bool = True
    viewed: bool = False
    signed: bool = False
    signed_on: datetime | None = None
    declined: bool = False
    declined_on: datetime | None = None
    message: str | None = Field(default=None, description="A decliner's reason, if given.")


class CsSignatureRequest(_Resource):
    uuid: str | None = None
    url: str | None = None
    document: str | None = Field(default=None, description="URL of the document.")
    from_email: str | None = None
    subject: str | None = None
    message: str | None = None
    who: str | None = None
    signers: list[CsSigner] = Field(default_factory=list)


class CsSigningLog(_Resource):
    pdf: str | None = None
    security_hash: str | None = None


class CsDocument(_Resource):
    uuid: str
    url: str | None = None
    name: str | None = None
    external_id: str | None = None
    status: str
    pdf: str | None = Field(default=None, description="Temporary URL of the signed PDF.")
    security_hash: str | None = Field(default=None, description="SHA-256 of the signed PDF.")
    signing_log: CsSigningLog | None = None
    signrequest: CsSignatureRequest | None = None
    events_callback_url: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def is_signed(self) -> bool:
        return self.status in SIGNED_STATUSES


class CsEvent(_Resource):
    uuid: str
    status: str = "ok"
    event_type: str
    timestamp: datetime | None = None
    document: CsDocument | None = None
    signer: CsSigner | None = None


class CsTemplateSigner(_Resource):
    signer_index: int | None = None
    order: int = 0
    needs_to_sign: bool = True
    placeholders: list[dict[str, object]] = Field(default_factory=list)


class CsTemplate(_Resource):
    """A template (made in the web UI); `POST /documents/` names one by its `url`."""

    uuid: str
    url: str | None = None
    name: str = ""
    who: str | None = None
    signers: list[CsTemplateSigner] = Field(default_factory=list)


class CancelResult(_Resource):
    detail: str = ""
    cancelled: bool = False


T = TypeVar("T")


class Page(_Resource, Generic[T]):
    """A Django-REST page: `{count, next, previous, results}`."""

    count: int = 0
    next: str | None = None
    previous: str | None = None
    results: list[T] = Field(default_factory=list)
