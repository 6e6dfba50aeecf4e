"""The read model's inputs: what a process writes at each state change (`ProcessChange`), the
facts it knows about its subject (`RecordFacts`), and the versions it approved for portals.

A change is idempotent per process and version: the store keeps a process's row at the highest
version it has seen and its audit entries by sequence number, so a retried or replayed write
changes nothing, and writes that arrive out of order leave the newest state in place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")
ContentSource = Literal["ecm", "amplience"]

# Audit entries of this kind are approvals: data carries decision, comment and stage.
DECISION_KIND = "decision"
# Audit entries that open or lift a retention hold on the process's document (data: hold).
HOLD_APPLIED_KIND = "hold_applied"
HOLD_RELEASED_KIND = "hold_released"
# A downstream target refused or gave up on a delivery (data: target, reason).
DELIVERY_FAILED_KIND = "delivery_failed"


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
    business_object: str = Field(
        default="",
        max_length=255,
        description="The business object of its workspace, 'EXT/TYPE/ID' (e.g. "
        "'SAP/Supplier/V-1001'); '' when unknown.",
    )


def business_object_key(ext_system_id: str | None, bo_type: str | None, bo_id: str | None) -> str:
    """`EXT/TYPE/ID` ('' unless the type and id are known): how approved versions name the
    business object of their workspace."""
    if not bo_type or not bo_id:
        return ""
    return f"{ext_system_id or ''}/{bo_type}/{bo_id}"[:255]


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


# ---------------------------------------------------------------- reading the model


class RecordScope(BaseModel):
    """Who may see which records (authorization per object): the caller's source systems
    ('*' all), tenants ('*' all), and for people without systems, the participants they are."""

    source_systems: list[str] = Field(default_factory=list)
    tenants: list[str] = Field(default_factory=lambda: ["*"])


class RecordQuery(BaseModel):
    """Filters over processes; every field optional; dates are inclusive-from, exclusive-to."""

    process_type: list[str] = Field(default_factory=list, max_length=20)
    state: list[str] = Field(default_factory=list, max_length=30)
    source_system: list[str] = Field(default_factory=list, max_length=20)
    outcome: Literal["open", "closed", "attention"] | None = None
    business_key: str | None = Field(default=None, max_length=255)
    document_node_id: int | None = None
    workspace_id: int | None = None
    business_object_type: str | None = Field(default=None, max_length=128)
    business_object_id: str | None = Field(default=None, max_length=255)
    started_from: datetime | None = None
    started_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    closed_from: datetime | None = None
    closed_to: datetime | None = None


class ProcessRow(BaseModel):
    """A process as the read model holds it."""

    process_key: str
    workflow_id: str
    process_type: str
    business_key: str
    state: str
    stage: str | None = None
    waiting_for: str = ""
    since: datetime | None = None
    until: datetime | None = None
    attention_reason: str = ""
    outcome_reason: str = ""
    closed: bool = False
    source_system: str = ""
    tenant: str = ""
    document_node_id: int | None = None
    document_version: int | None = None
    document_name: str = ""
    workspace_id: int | None = None
    business_object_type: str = ""
    business_object_id: str = ""
    retention_class: int | None = None
    disposition_at: datetime | None = None
    started_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    version: int


class ApprovalRow(BaseModel):
    process_key: str
    process_type: str
    business_key: str
    seq: int
    at: datetime
    actor: str
    decision: str
    comment: str = ""
    stage: str = ""


class AuditRecord(AuditRow):
    process_key: str
    process_type: str
    business_key: str


class HoldRow(BaseModel):
    document_node_id: int
    hold: str
    workspace_id: int | None = None
    applied_at: datetime
    applied_by: str = ""
    released_at: datetime | None = None


class ApprovedVersionRow(ApprovedVersion):
    process_key: str = ""
    superseded_at: datetime | None = Field(
        default=None, description="When a newer approved version replaced it (never served)."
    )
    size: int | None = None


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass `next_cursor` back as `cursor` for the next one."""

    items: list[T]
    next_cursor: str | None = None


class CountBy(BaseModel):
    key: str
    label: str = ""
    count: int


class AgeBucket(BaseModel):
    """Open processes of a type by how long they have been in their current state."""

    process_type: str
    under_1h: int = 0
    under_1d: int = 0
    under_7d: int = 0
    over_7d: int = 0


class Turnaround(BaseModel):
    """Signature turnaround (started → completed) of signing processes closed in the window."""

    completed: int = 0
    p50_hours: float | None = None
    p90_hours: float | None = None
    by_day: list[CountBy] = Field(default_factory=list, description="key: YYYY-MM-DD")


class WorkspaceCompliance(BaseModel):
    workspace_id: int
    processes: int = 0
    open: int = 0
    attention: int = 0
    approved_versions: int = 0
    active_holds: int = 0
    disposition_due_90d: int = Field(default=0, description="Disposition within 90 days.")
    last_activity: datetime | None = None


class DashboardFigures(BaseModel):
    """The dashboard's and /metrics' figures, computed over what the caller may see."""

    generated_at: datetime
    by_state: list[CountBy] = Field(description="key: '<process_type>/<state>'")
    ages: list[AgeBucket]
    approvals_overdue: int = Field(description="Open processes waiting on a person past until.")
    overdue: list[ProcessRow] = Field(default_factory=list, description="The oldest, at most 20.")
    turnaround: Turnaround
    delivery_failures: list[CountBy] = Field(description="key: target")
    active_holds: int
    holds_by_workspace: list[CountBy] = Field(description="key: workspace id")
    compliance: list[WorkspaceCompliance] = Field(description="Up to 50 busiest workspaces.")
