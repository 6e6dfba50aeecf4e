"""HTTP calls to the case sources, one client per kind: the mail archive (messages and their
attachments), the forms portal (submissions) and ERP transaction history.

Each client lists one page of a case's items as `CaseItem`s — named for Content Server,
unique per item (the name holds the item's id), with the metadata of the Filed Document
category — and downloads an item's bytes. An e-mail's attachments are items of their own.
Errors are the shared `ExternalServiceError`s: 4xx permanent, 429/5xx/timeouts retryable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from activities.case_sources.models import (
    ErpTransaction,
    FormSubmission,
    Listing,
    MailMessage,
)
from activities.http.errors import (
    PermanentServiceError,
    RetryableServiceError,
    raise_for_response,
    transport_errors,
)
from docflow.models.workspaces import CaseItem, CaseSourceKind
from docflow.names import clean_name, node_name

SYSTEM = "case-source"
# Characters Content Server (or the file systems behind it) refuse in names.
M = TypeVar("M", bound=BaseModel)

# The kinds of items (the Filed Document category's document type).
EMAIL = "e-mail"
ATTACHMENT = "attachment"
FORM = "form"
TRANSACTIONS = "transactions"


@dataclass(frozen=True)
class SourcePage:
    """One page of a source's listing, flattened into items (an e-mail, then its attachments)."""

    items: list[CaseItem]
    next_cursor: str | None


def item_id(source_id: str) -> str:
    """The source's own id of an item: `mail_archive:MSG-1` → `MSG-1`."""
    return source_id.split(":", 1)[1] if ":" in source_id else source_id


def _split_filename(filename: str) -> tuple[str, str]:
    path = PurePosixPath(clean_name(filename) or "attachment")
    suffix = path.suffix if 1 < len(path.suffix) <= 10 else ""
    return (path.name[: -len(suffix)] if suffix else path.name), suffix


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class SourceClient:
    """One configured case source: its base URL and bearer key, over the shared pool."""

    kind: ClassVar[CaseSourceKind]

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        source: str,
        base_url: str,
        api_key: str,
        timeout_s: float = 30.0,
    ) -> None:
        self.source = source
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout_s = timeout_s

    async def list_page(self, case_reference: str, cursor: str | None, limit: int) -> SourcePage:
        raise NotImplementedError

    async def download(self, item: CaseItem) -> bytes:
        raise NotImplementedError

    # ---------------------------------------------------------------- helpers
    def _item(
        self,
        case_reference: str,
        own_id: str,
        *,
        name: str,
        kind: str,
        sha256: str | None,
        size: int,
        occurred_at: datetime | None,
        **extra: object,
    ) -> CaseItem:
        source_id = f"{self.source}:{own_id}"
        metadata = {
            "document_type": kind,
            "source_record": case_reference,
            "source_id": source_id,
            **{key: _text(value)[:500] for key, value in extra.items() if value not in (None, "")},
        }
        return CaseItem(
            source_id=source_id,
            name=name,
            kind=kind,
            sha256=sha256.lower() if sha256 else None,
            size=size,
            occurred_at=occurred_at,
            metadata=metadata,
        )

    async def _get(
        self, path: str, *, params: dict[str, Any] | None = None, accept: str = "application/json"
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": accept}
        with transport_errors(self.source):
            response = await self._http.get(
                f"{self._base_url}{path}", params=params, headers=headers, timeout=self._timeout_s
            )
        raise_for_response(self.source, response)
        return response

    async def _listing(
        self, path: str, model: type[M], case_reference: str, cursor: str | None, limit: int
    ) -> Listing[M]:
        params: dict[str, Any] = {"case_reference": case_reference, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await self._get(path, params=params)
        try:
            return Listing[model].model_validate(response.json())  # type: ignore[valid-type]
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError, ValueError) as exc:
            # A proxy's error page or a half-deployed source: may well pass on retry.
            raise RetryableServiceError(
                self.source, f"GET {path}: not a listing: {str(exc)[:200]}"
            ) from exc

    async def _bytes(self, path: str) -> bytes:
        response = await self._get(path, accept="*/*")
        return response.content

    def _unknown_kind(self, item: CaseItem) -> PermanentServiceError:
        return PermanentServiceError(
            self.source, f"{item.source_id}: a {self.kind.value} source has no {item.kind!r}"
        )


class MailArchiveClient(SourceClient):
    """`GET /api/messages?case_reference=&cursor=&limit=`, `/api/messages/{id}/raw`,
    `/api/attachments/{id}`."""

    kind = CaseSourceKind.MAIL_ARCHIVE

    async def list_page(self, case_reference: str, cursor: str | None, limit: int) -> SourcePage:
        page = await self._listing("/api/messages", MailMessage, case_reference, cursor, limit)
        items: list[CaseItem] = []
        for message in page.items:
            items.append(
                self._item(
                    case_reference,
                    message.id,
                    name=node_name("E-mail", message.id, message.subject, ".eml"),
                    kind=EMAIL,
                    sha256=message.sha256,
                    size=message.size,
                    occurred_at=message.sent_at,
                    subject=message.subject,
                    sender=message.sender,
                    to=", ".join(message.to),
                    sent_at=message.sent_at,
                )
            )
            for attachment in message.attachments:
                title, extension = _split_filename(attachment.filename)
                items.append(
                    self._item(
                        case_reference,
                        attachment.id,
                        name=node_name("Attachment", attachment.id, title, extension),
                        kind=ATTACHMENT,
                        sha256=attachment.sha256,
                        size=attachment.size,
                        occurred_at=message.sent_at,
                        filename=attachment.filename,
                        content_type=attachment.content_type,
                        message_id=f"{self.source}:{message.id}",
                    )
                )
        return SourcePage(items, page.next_cursor)

    async def download(self, item: CaseItem) -> bytes:
        own = quote(item_id(item.source_id), safe="")
        if item.kind == EMAIL:
            return await self._bytes(f"/api/messages/{own}/raw")
        if item.kind == ATTACHMENT:
            return await self._bytes(f"/api/attachments/{own}")
        raise self._unknown_kind(item)


class FormsPortalClient(SourceClient):
    """`GET /api/submissions?case_reference=&cursor=&limit=`, `/api/submissions/{id}/pdf`."""

    kind = CaseSourceKind.FORMS_PORTAL

    async def list_page(self, case_reference: str, cursor: str | None, limit: int) -> SourcePage:
        page = await self._listing(
            "/api/submissions", FormSubmission, case_reference, cursor, limit
        )
        items = [
            self._item(
                case_reference,
                submission.id,
                name=node_name("Form", submission.id, submission.form, ".pdf"),
                kind=FORM,
                sha256=submission.sha256,
                size=submission.size,
                occurred_at=submission.submitted_at,
                form=submission.form,
                submitted_by=submission.submitted_by,
                submitted_at=submission.submitted_at,
            )
            for submission in page.items
        ]
        return SourcePage(items, page.next_cursor)

    async def download(self, item: CaseItem) -> bytes:
        if item.kind != FORM:
            raise self._unknown_kind(item)
        return await self._bytes(f"/api/submissions/{quote(item_id(item.source_id), safe='')}/pdf")


class ErpHistoryClient(SourceClient):
    """`GET /api/transactions?case_reference=&cursor=&limit=`,
    `/api/transactions/{id}/document` (the transaction's statement, a PDF)."""

    kind = CaseSourceKind.ERP_HISTORY

    async def list_page(self, case_reference: str, cursor: str | None, limit: int) -> SourcePage:
        page = await self._listing(
            "/api/transactions", ErpTransaction, case_reference, cursor, limit
        )
        items = [
            self._item(
                case_reference,
                transaction.id,
                name=node_name(
                    "Transaction", transaction.id, transaction.document_no or "statement", ".pdf"
                ),
                kind=TRANSACTIONS,
                sha256=transaction.sha256,
                size=transaction.size,
                occurred_at=transaction.posted_at,
                document_no=transaction.document_no,
                amount=transaction.amount,
                currency=transaction.currency,
                posted_at=transaction.posted_at,
                description=transaction.description,
            )
            for transaction in page.items
        ]
        return SourcePage(items, page.next_cursor)

    async def download(self, item: CaseItem) -> bytes:
        if item.kind != TRANSACTIONS:
            raise self._unknown_kind(item)
        own = quote(item_id(item.source_id), safe="")
        return await self._bytes(f"/api/transactions/{own}/document")


CLIENTS: dict[CaseSourceKind, type[SourceClient]] = {
    CaseSourceKind.MAIL_ARCHIVE: MailArchiveClient,
    CaseSourceKind.FORMS_PORTAL: FormsPortalClient,
    CaseSourceKind.ERP_HISTORY: ErpHistoryClient,
}

CONTENT_TYPES = {
    EMAIL: "message/rfc822",
    FORM: "application/pdf",
    TRANSACTIONS: "application/pdf",
}
