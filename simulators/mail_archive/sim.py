"""State of the mail-archive simulator: messages with attachments per case reference.

Seeded content is deterministic: the same case reference and index give the same ids and
bytes, so a message or attachment downloaded twice has the same SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from simulators.kit.faults import FaultInjector, FaultSettings
from simulators.kit.listing import Outage, sha256
from simulators.kit.pdf import make_pdf

EPOCH = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class MailSeed(BaseModel):
    """`POST /_control/seed`: a case's messages (replacing what the case had)."""

    case_reference: str = Field(min_length=1, max_length=200)
    count: int = Field(default=5, ge=0, le=10_000, description="Messages.")
    attachments_per_message: int = Field(default=1, ge=0, le=20)
    duplicates: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Extra 'Fwd:' messages whose attachment has the very bytes of the first "
        "message's first attachment (another id, the same SHA-256).",
    )


class MailArchiveConfig(BaseModel):
    seed: int = 0
    api_key: str = "dev-mail-archive-key"
    cases: list[MailSeed] = Field(
        default_factory=lambda: [MailSeed(case_reference="CLM-2026-001", count=3, duplicates=1)],
        description="Seeded at start and on reset.",
    )
    faults: FaultSettings = Field(default_factory=FaultSettings)


@dataclass
class Attachment:
    id: str
    filename: str
    content_type: str
    content: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.content),
            "sha256": sha256(self.content),
        }


@dataclass
class Message:
    id: str
    case_reference: str
    subject: str
    sender: str
    to: list[str]
    sent_at: datetime
    raw: bytes
    attachments: list[Attachment] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject": self.subject,
            "from": self.sender,
            "to": list(self.to),
            "sent_at": self.sent_at.isoformat(),
            "size": len(self.raw),
            "sha256": sha256(self.raw),
            "attachments": [a.to_json() for a in self.attachments],
        }


class MailArchiveSim:
    """All state of the simulator; reachable as `app.state.sim`."""

    def __init__(self, config: MailArchiveConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.outage = Outage()
        self.reset()

    def reset(self) -> None:
        self.cases: dict[str, list[Message]] = {}
        self.messages: dict[str, Message] = {}
        self.attachments: dict[str, Attachment] = {}
        self.downloads = 0
        self.faults.configure(self.config.faults)
        self.outage = Outage()
        for seed in self.config.cases:
            self.seed(seed)

    def seed(self, seed: MailSeed) -> list[Message]:
        for old in self.cases.pop(seed.case_reference, []):
            self.messages.pop(old.id, None)
            for attachment in old.attachments:
                self.attachments.pop(attachment.id, None)
        ref = seed.case_reference
        messages = [
            _message(ref, n, seed.attachments_per_message) for n in range(1, seed.count + 1)
        ]
        first = next((m.attachments[0] for m in messages if m.attachments), None)
        for n in range(1, seed.duplicates + 1):
            index = seed.count + n
            forwarded = _message(ref, index, 0, subject=f"Fwd: documents for case {ref}")
            if first is not None:
                forwarded.attachments.append(
                    Attachment(
                        id=f"{_key(ref)}-A{index:05d}-1",
                        filename=first.filename,
                        content_type=first.content_type,
                        content=first.content,
                    )
                )
            messages.append(forwarded)
        self.cases[ref] = messages
        for message in messages:
            self.messages[message.id] = message
            for attachment in message.attachments:
                self.attachments[attachment.id] = attachment
        return messages

    def summary(self) -> dict[str, Any]:
        return {
            "cases": {
                ref: {
                    "messages": len(messages),
                    "attachments": sum(len(m.attachments) for m in messages),
                }
                for ref, messages in self.cases.items()
            },
            "downloads": self.downloads,
        }


def _key(case_reference: str) -> str:
    """Ids are derived from the case reference: letters and digits only."""
    return "".join(c for c in case_reference if c.isalnum())[:40] or "CASE"


def _message(ref: str, n: int, attachments: int, subject: str | None = None) -> Message:
    key = _key(ref)
    sent_at = EPOCH + timedelta(hours=n)
    sender = f"customer{n % 7}@example.com"
    to = ["claims@insurer.example"]
    subject = subject or f"Case {ref}: message {n}"
    parts = [
        Attachment(
            id=f"{key}-A{n:05d}-{i}",
            filename=f"evidence-{n}-{i}.pdf",
            content_type="application/pdf",
            content=make_pdf(
                f"Evidence {n}.{i} for case {ref}",
                [f"Attachment {i} of message {n} about case {ref}.", "Photo report attached."],
            ),
        )
        for i in range(1, attachments + 1)
    ]
    body = "\r\n".join(
        [
            f"Hello, this is message {n} about case {ref}.",
            *(f"Attached: {a.filename}" for a in parts),
            "",
            "Kind regards",
        ]
    )
    raw = "\r\n".join(
        [
            f"Message-ID: <{key}-M{n:05d}@mail.example>",
            f"Date: {sent_at:%a, %d %b %Y %H:%M:%S +0000}",
            f"From: {sender}",
            f"To: {', '.join(to)}",
            f"Subject: {subject}",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "",
            body,
            "",
        ]
    ).encode()
    return Message(
        id=f"{key}-M{n:05d}",
        case_reference=ref,
        subject=subject,
        sender=sender,
        to=to,
        sent_at=sent_at,
        raw=raw,
        attachments=parts,
    )
