"""The read model's inputs: what a process writes at each state change (`ProcessChange`), the
facts it knows about its subject (`RecordFacts`), and the versions it approved for portals.

A change is idempotent per process and version: the store keeps a process's row at the highest
version it has seen and its audit entries by sequence number, so a retried or replayed write
changes nothing, and writes that arrive out of order leave the newest state in place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ContentSource = Literal["ecm", "amplience"]

# Audit entries of this kind are approvals: data carries decision, comment and stage.
DECISION_KIND = "decision"
# Audit entries that open or lift a retention hold on the process's document (data: hold).
HOLD_APPLIED_KIND = "hold_applied"
HOLD_RELEASED_KIND = "hold_released"


class ApprovedVersion(BaseModel):
    """A version a process saw approved (or signed, or published): what portals may read."""

    source: ContentSource
    object_id: str = Field(max_length=128, description="ECM node id or Amplience item id.")
    version: int = Field(ge=1)
    name: str = Field(default="", max_length=255)
    mime_type: str = Field(default="", max_length=127)
    sha256: str = Field(default="", max_length=64, description="Known hash; '' to learn it.")
    approved_at: datetime
    approved_by: str = Field(default="", max_length=255)
    workspace_id: int | None = None
    folder_id: int | None = None
    document_type: str = Field(
        default="", max_length=128, description="ECM document type or Amplience schema."
    )


class RecordFacts(BaseModel):
    """What a process knows about its subject; set by the process, carried across
    continue-as-new, written with every change. Empty fields are unknown."""

    source_system: str = Field(default="", max_length=64)
    tenant: str = Field(default="", max_length=64)
    document_node_id: int | None = None
    document_version: int | None = None
    document_name: str = Field(default="", max_length=255)
    workspace_id: int | None = None
    business_object_type: str = Field(default="", max_length=128)
    business_object_id: str = Field(default="", max_length=255)
    retention_class: int | None = Field(
        default=None, description="Records-management classification applied (its schedule)."
    )
    retention_from: datetime | None = Field(
        default=None, description="When the retention clock started (e.g. archived at)."
    )
    approved: list[ApprovedVersion] = Field(
        default_factory=list, description="Versions approved by this process (newest last)."
    )


class AuditRow(BaseModel):
    """An audit entry with its sequence number in the process (stable across condensing)."""

    seq: int = Field(ge=0)
    at: datetime
    kind: str
    actor: str
    detail: str = ""
    data: dict[str, str] = Field(default_factory=dict)
    repeated: int = 1
    last_at: datetime | None = None


class ProcessChange(BaseModel):
    """One write to the read model: the process's current row and its audit entries that are
    new or changed since the last acknowledged write."""

    process_key: str = Field(
        max_length=64, description="The first run id of the process: stable across continue-as-new."
    )
    workflow_id: str = Field(max_length=255)
    run_id: str = Field(max_length=64)
    process_type: str = Field(max_length=64)
    business_key: str = Field(max_length=255)
    version: int = Field(ge=1, description="Write sequence of the process; highest wins.")
    at: datetime = Field(description="When the process made the change (workflow time).")
    started_at: datetime
    state: str = Field(max_length=64)
    stage: str | None = None
    waiting_for: str = ""
    since: datetime | None = None
    until: datetime | None = None
    attention_reason: str = ""
    outcome_reason: str = ""
    closed: bool = Field(default=False, description="A terminal state: the process has ended.")
    facts: RecordFacts = Field(default_factory=RecordFacts)
    audit: list[AuditRow] = Field(default_factory=list)


class RecordWritten(BaseModel):
    """What the store did with a change."""

    applied: bool = Field(description="False: a newer version was already stored.")
    audit_written: int = 0


class AccessEvent(BaseModel):
    """One access by an external party or portal: who, what, when, from where, and the answer."""

    at: datetime
    party: str = Field(max_length=128, description="Party id, API principal, or 'anonymous'.")
    action: Literal["read", "download", "link_created", "upload", "denied"]
    source: ContentSource | Literal["records"] = "ecm"
    object_id: str = Field(default="", max_length=128)
    version: int | None = None
    outcome: str = Field(default="ok", max_length=255, description="ok, or why it was refused.")
    client_ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=255)
    detail: str = Field(default="", max_length=1000)
