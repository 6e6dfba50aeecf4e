"""What every process reports about itself: one shared shape for the Web UI, the API and the
read model (`ProcessSummary`), and the audit entries it carries."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from docflow.models.records import RecordFacts

E = TypeVar("E", bound=BaseModel)


class AuditEntry(BaseModel):
    at: datetime
    kind: str = Field(description="e.g. started, decision, reminder, event, archived, reported")
    actor: str = Field(description="Principal, 'system', or the external system's name.")
    detail: str = ""
    data: dict[str, str] = Field(default_factory=dict)
    repeated: int = Field(
        default=1, ge=1, description="Identical consecutive entries condensed into this one."
    )
    last_at: datetime | None = Field(default=None, description="When the last repeat happened.")


class ProcessSummary(BaseModel):
    """State, what the process waits for since when and until when, and its audit trail."""

    process_type: str = ""
    business_key: str
    state: str
    waiting_for: str = ""
    since: datetime | None = Field(default=None, description="When the current state began.")
    until: datetime | None = Field(default=None, description="Deadline of the current wait.")
    attention: bool = Field(default=False, description="An operator or support must act.")
    attention_reason: str = Field(
        default="",
        description="Why (DocflowAttention): step_retrying, exception_open, report_dead_lettered.",
    )
    retrying: str = Field(
        default="", description="The step retrying past its expected time, if one is."
    )
    outcome_reason: str = ""
    audit: list[AuditEntry] = Field(default_factory=list)
    audit_dropped: int = Field(
        default=0, description="Oldest entries dropped to keep the trail within its bound."
    )


class RecordState(BaseModel):
    """Everything the workflow kit's process record keeps; handed over on continue-as-new."""

    state: str
    waiting_for: str = ""
    since: datetime | None = None
    until: datetime | None = None
    stage: str | None = None
    attention: bool = False
    attention_reason: str = ""
    retrying: str = Field(default="", description="Summary of a step past its expected time.")
    outcome_reason: str = ""
    audit: list[AuditEntry] = Field(default_factory=list)
    audit_dropped: int = 0
    indexed: str | None = Field(default=None, description="Last upserted 'state/stage'.")
    upserted: dict[str, str] = Field(
        default_factory=dict,
        description="Operator search attributes as last upserted (name → value, '' = unset).",
    )
    facts: RecordFacts = Field(
        default_factory=RecordFacts, description="What the process knows of its subject."
    )
    started_at: datetime | None = Field(default=None, description="When the process began.")
    written_version: int = Field(default=0, description="Last read-model write acknowledged.")
    written_seq: int = Field(default=-1, description="Highest audit seq acknowledged written.")


class InboxState(BaseModel, Generic[E]):
    """An event inbox (workflow kit): ids seen, events buffered, subjects closed."""

    seen: list[str] = Field(default_factory=list)
    buffered: list[E] = Field(default_factory=list)
    stale_subjects: list[str] = Field(default_factory=list)
    dropped: int = 0


class RequestLedgerState(BaseModel):
    """The workflow kit's RequestLedger: request id → field digests of accepted Updates."""

    accepted: dict[str, dict[str, str]] = Field(default_factory=dict)
    forgotten: int = Field(default=0, description="Oldest request ids dropped (bounded memory).")
