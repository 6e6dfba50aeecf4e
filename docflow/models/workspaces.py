"""Business workspaces: business objects, their events and milestones, what the mapping plans,
what Content Server answers, and case assembly. Everything here crosses a Temporal boundary.

A business object is `(ext_system_id, bo_type, bo_id)` — the binding key of its Business
Workspace in Extended ECM, and the identity of its one long-lived workflow.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from docflow.models.bounds import NAME, TEXT, Caller
from docflow.models.documents import DocumentRef
from docflow.models.process import InboxState, ProcessSummary, RecordState, RequestLedgerState

Name = Annotated[str, NAME]
# Field values a source sends (strings, numbers, booleans); bounded on caller input.
FieldValue = str | int | float | bool | None
MAX_FIELDS = 100
MAX_FIELD_VALUE = 2000
Fields = Annotated[dict[Name, FieldValue], Caller(max_length=MAX_FIELDS)]
MAX_CASE_SOURCES = 10
CASE_BATCH = 25  # items filed per activity (a batch is one unit of retries)


class BusinessObjectRef(BaseModel):
    """The business object a workspace is bound to, e.g. ('SFDC', 'Account', '0015g00000ABC')."""

    ext_system_id: Name = Field(pattern=r"^[A-Za-z0-9_.-]+$", examples=["SFDC"])
    bo_type: Name = Field(pattern=r"^[A-Za-z0-9_.-]+$", examples=["Account"])
    bo_id: Name = Field(pattern=r"^[A-Za-z0-9_.:@-]+$", examples=["0015g00000ACME"])

    @property
    def key(self) -> str:
        return f"{self.ext_system_id}/{self.bo_type}/{self.bo_id}"

    @property
    def type_key(self) -> str:
        """The mapping's key for this object's type, e.g. 'SFDC/Account'."""
        return f"{self.ext_system_id}/{self.bo_type}"


# ------------------------------------------------------------------ events in
class BusinessObjectEventKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    STATUS_CHANGED = "status_changed"
    DELETED = "deleted"


class BusinessObjectEvent(BaseModel):
    """A change of a business object in its source system (the xConnector contract, §5).

    `data` is the object's fields as of `version` (a snapshot, not a delta): the last writer
    by `version` wins, so applying the newest event alone gives the right workspace."""

    event_id: Name = Field(description="The sender's webhook-id: applied once.")
    kind: BusinessObjectEventKind
    object: BusinessObjectRef
    version: int = Field(ge=0, description="Monotonic per object (or modification time, ms).")
    occurred_at: datetime
    data: Fields = Field(default_factory=dict)


class MilestoneKind(StrEnum):
    """What happened to content in the workspace that the source record must show."""

    APPROVED = "approved"
    SIGNED = "signed"
    ARCHIVED = "archived"
    REJECTED = "rejected"
    WORKSPACE_STATUS = "workspace_status"


class FiledDocument(BaseModel):
    """A document as filed in a workspace: the reference the source record gets."""

    node_id: int
    version: int = Field(ge=1, description="Content Server version number now current.")
    name: str
    folder_id: int
    link: str = Field(description="Where a user opens it (Content Server's UI).")
    sha256: str
    outcome: Literal["created", "new_version", "unchanged"] = Field(
        description="A new node, a new version of the node with that name, or the same bytes "
        "already there (a retry or a repeat: nothing written)."
    )


class WorkspaceMilestone(BaseModel):
    """A milestone of the workspace's content (a document signed, approved, rejected...)."""

    milestone_id: Name = Field(description="Applied once, e.g. 'CONTRACT-1:signed'.")
    kind: MilestoneKind
    occurred_at: datetime
    detail: Annotated[str, TEXT] = ""
    actor: Name = "system"
    business_key: Name | None = Field(default=None, description="The process that reached it.")
    document: FiledDocument | None = None
    status: Name | None = Field(default=None, description="The workspace's status (status kind).")


# ------------------------------------------------------------------ plan and results
class RoleMembers(BaseModel):
    role: str
    members: list[str] = Field(default_factory=list)
    permissions: list[str] = Field(
        default_factory=list, description="Role permissions to set (empty: the template's)."
    )


class WorkspacePlan(BaseModel):
    """What this environment's mapping makes of one business object (`workspaces.json`)."""

    object: BusinessObjectRef
    name: str
    workspace_type_id: int
    template_id: int
    parent_id: int | None = None
    category_id: int
    category_values: dict[str, str] = Field(
        default_factory=dict, description="Category attribute id -> value."
    )
    roles: list[RoleMembers] = Field(default_factory=list)
    rm_classification_id: int | None = None
    team: list[str] = Field(default_factory=list, description="Told of milestones.")
    closing: bool = Field(default=False, description="The object's status closes the workspace.")
    closed_value: str = "Closed"
    status_attribute: str | None = Field(default=None, description="Attribute id of the status.")
    config_version: str = ""
    # The rest of the mapping, so the workflow maps later changes without another lookup
    # (a new run — continue-as-new — plans again and so picks up a changed mapping).
    attributes: dict[str, int] = Field(default_factory=dict, description="Field -> attribute.")
    status_field: str = "status"
    closing_statuses: list[str] = Field(default_factory=list)
    closing_rm_classification_id: int | None = None
    folders: dict[str, str] = Field(default_factory=dict, description="Document type -> folder.")
    document_category_id: int | None = None
    document_attributes: dict[str, int] = Field(default_factory=dict)
    milestone_statuses: dict[str, str] = Field(default_factory=dict)
    report_to: str | None = Field(default=None, description="Told of milestones; None: nobody.")

    def folder_for(self, document_type: str) -> str | None:
        return self.folders.get(document_type, self.folders.get("*"))


class PlanResult(BaseModel):
    accepted: bool
    reasons: list[str] = Field(default_factory=list)
    plan: WorkspacePlan | None = None


class PlanRequest(BaseModel):
    object: BusinessObjectRef
    data: dict[str, FieldValue] = Field(default_factory=dict)
    members: list[RoleMembers] = Field(default_factory=list, description="Asked by a portal.")
    portal_type: str | None = Field(default=None, description="A portal request's type.")


class ProvisionedWorkspace(BaseModel):
    workspace_id: int
    how: Literal["created", "adopted", "bound"] = Field(
        description="Created from the template, found bound to the object (ECM's own "
        "connectors may have made it), or found by name unbound and bound by reference."
    )
    name: str
    link: str


class MetadataUpdate(BaseModel):
    workspace_id: int
    category_id: int
    values: dict[str, str] = Field(description="Category attribute id -> value.")
    source_version: int


class FileDocumentInput(BaseModel):
    """File one document into a workspace folder: a new node, or a new version of the node
    with that name when its bytes differ; the same bytes again write nothing."""

    workspace_id: int
    folder: str | None = Field(default=None, description="Sub-folder name; None: the root.")
    name: str
    document: DocumentRef
    category_id: int | None = None
    category_values: dict[str, str] = Field(default_factory=dict)
    rm_classification_id: int | None = None


class CloseWorkspaceInput(BaseModel):
    """Close per policy: status attribute set, closing classification applied; content kept."""

    workspace_id: int
    category_id: int
    status_attribute: str | None = None
    closed_value: str = "Closed"
    rm_classification_id: int | None = None
    reason: str = ""


# ------------------------------------------------------------------ process
class WorkspaceState(StrEnum):
    WAITING = "waiting_for_object"
    PROVISIONING = "provisioning"
    REFUSED = "refused"
    IN_SYNC = "in_sync"
    SYNCING = "syncing"
    EXCEPTION = "workspace_exception"
    CLOSED = "closed"


class DocumentFiling(BaseModel):
    """A business system's document for a business object (the document-move request)."""

    document: DocumentRef
    document_type: Name = Field(examples=["contract"])
    name: Name | None = Field(default=None, description="Node name (default: the file name).")
    metadata: Fields = Field(default_factory=dict)
    source_record: Name | None = Field(default=None, description="The record to update.")
    actor: Name = "system"


class PortalWorkspaceRequest(BaseModel):
    """A portal's request for a structured workspace (onboarding, legal matter, ...)."""

    request_type: Name = Field(examples=["onboarding"])
    request_id: Name = Field(pattern=r"^[A-Za-z0-9_.:@-]+$", examples=["REQ-2026-0042"])
    fields: Fields = Field(default_factory=dict)
    members: Annotated[list[RoleMembers], Caller(max_length=20)] = Field(default_factory=list)
    requested_by: Name = "portal"


class OutboundReference(BaseModel):
    """A write-back to the object's source system (Standard Webhooks message)."""

    event_type: str = Field(examples=["workspace.milestone"])
    key: str = Field(description="Idempotency key: the receiver applies it once.")
    payload: dict[str, Any]


class ProvisionAnswer(BaseModel):
    """The answer to a portal's workspace request."""

    accepted: bool
    reasons: list[str] = Field(default_factory=list)
    workspace: ProvisionedWorkspace | None = None


class WorkspaceCarry(BaseModel):
    """Everything a business object's workflow hands to its next run."""

    record: RecordState | None = None
    inbox: InboxState[BusinessObjectEvent] = Field(default_factory=InboxState)
    milestones: InboxState[WorkspaceMilestone] = Field(default_factory=InboxState)
    requests: RequestLedgerState = Field(default_factory=RequestLedgerState)
    plan: WorkspacePlan | None = None
    workspace: ProvisionedWorkspace | None = None
    pending: BusinessObjectEvent | None = Field(
        default=None, description="The newest event not applied yet (it supersedes older ones)."
    )
    references: list[OutboundReference] = Field(
        default_factory=list, description="Write-backs to the source not started yet."
    )
    applied_version: int = -1
    applied: int = Field(default=0, description="Changes applied to the workspace.")
    ignored: int = Field(default=0, description="Duplicate or stale events ignored.")
    closed: bool = False
    runs: int = 1


class BusinessObjectInput(BaseModel):
    object: BusinessObjectRef
    environment: str = "dev"
    started_by: str = "system"
    history_budget: int = Field(
        default=5_000, ge=100, description="Events per run before it continues as new."
    )
    resume: WorkspaceCarry | None = None


class WorkspaceStatus(ProcessSummary):
    object: BusinessObjectRef
    workspace: ProvisionedWorkspace | None = None
    applied_version: int = Field(default=-1, description="Newest source version applied.")
    applied: int = 0
    ignored: int = 0
    pending_events: int = 0


# ------------------------------------------------------------------ case assembly
class CaseSourceKind(StrEnum):
    MAIL_ARCHIVE = "mail_archive"
    FORMS_PORTAL = "forms_portal"
    ERP_HISTORY = "erp_history"
    ATTACHMENTS = "attachments"


class CaseItem(BaseModel):
    """One item a source holds for a case: an e-mail, a form, a transaction statement."""

    source_id: str = Field(description="The item's id in its source (dedupe key).")
    name: str
    kind: str = Field(description="e-mail, attachment, form, transactions...")
    sha256: str | None = None
    size: int = 0
    occurred_at: datetime | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    document: DocumentRef | None = Field(default=None, description="Attachments: already stored.")


class CaseItemsPage(BaseModel):
    items: list[CaseItem]
    next_cursor: str | None = None


class ListCaseItems(BaseModel):
    source: str = Field(description="Configured case-source id, e.g. 'mail_archive'.")
    case_reference: str
    cursor: str | None = None


class FetchCaseItems(BaseModel):
    """Copy a batch of a source's items into the document store (bytes never enter history)."""

    source: str
    case_reference: str
    items: list[CaseItem] = Field(max_length=CASE_BATCH)


class FileDocumentsInput(BaseModel):
    """File a batch into one workspace; with `dedupe_sha256`, bytes already filed in the
    target folder under another name are not filed again (outcome "unchanged")."""

    workspace_id: int
    items: list[FileDocumentInput] = Field(max_length=CASE_BATCH)
    dedupe_sha256: bool = False


class CaseRequest(BaseModel):
    """A service, claims, audit or compliance case to assemble from its sources."""

    case_type: Name = Field(examples=["claims"])
    case_id: Name = Field(pattern=r"^[A-Za-z0-9_.:@-]+$", examples=["CLM-2026-001"])
    title: Name = ""
    sources: Annotated[list[Name], Caller(max_length=MAX_CASE_SOURCES)] = Field(
        default_factory=list, description="Source ids (default: the case type's sources)."
    )
    attachments: Annotated[list[DocumentRef], Caller(max_length=100)] = Field(default_factory=list)
    fields: Fields = Field(default_factory=dict)
    requested_by: Name = "system"


class SourceProgress(BaseModel):
    source: str
    state: Literal["pending", "gathering", "done", "failed"] = "pending"
    listed: int = 0
    filed: int = 0
    duplicates: int = 0
    attempts: int = 0
    reason: str = ""
    cursor: str | None = Field(
        default=None,
        description="Where a retry resumes: the first page not completely filed (None: the "
        "start). The counts above are as of that page boundary.",
    )
    finished_at: datetime | None = None


class CaseSourceInput(BaseModel):
    source: str
    case_reference: str
    workspace_id: int
    folder: str
    attachments: list[DocumentRef] = Field(default_factory=list)
    progress: SourceProgress | None = None
    cursor: str | None = None
    kind: CaseSourceKind | None = Field(
        default=None, description="None: 'attachments' for the source of that name, else listed."
    )
    category_id: int | None = Field(default=None, description="Category of filed documents.")
    document_attributes: dict[str, int] = Field(
        default_factory=dict, description="Item metadata key -> category attribute id."
    )
    rm_classification_id: int | None = None
    give_up: timedelta | None = Field(
        default=None, description="Give-up of each call's attempts (None: the presets')."
    )
    history_budget: int | None = Field(
        default=None, description="Continue as new past this many events (None: default)."
    )
    seen: list[str] = Field(
        default_factory=list, description="Dedupe keys already handled (bounded; carried)."
    )
    seen_dropped: int = 0
    runs: int = 1


class CaseSourcePlan(BaseModel):
    """One source of a case as this environment configures it."""

    source: str
    kind: CaseSourceKind
    folder: str


class CasePlan(BaseModel):
    """What this environment's configuration makes of a case request (`plan_case`): the
    business object its workspace is bound to, its sources, how filed items are categorised,
    or every reason the case cannot be assembled."""

    accepted: bool
    reasons: list[str] = Field(default_factory=list)
    object: BusinessObjectRef | None = Field(
        default=None, description="('CASES', <bo_type of the case type's workspace>, case_id)."
    )
    sources: list[CaseSourcePlan] = Field(default_factory=list)
    document_category_id: int | None = None
    document_attributes: dict[str, int] = Field(default_factory=dict)
    rm_classification_id: int | None = None
    data: dict[str, FieldValue] = Field(
        default_factory=dict, description="The workspace's fields (case id, type, title...)."
    )
    config_version: str = ""


class CaseRetryPolicy(BaseModel):
    """How a case with gaps is retried: every `retry_every` until `retry_for` has passed."""

    retry_every: timedelta = Field(default=timedelta(minutes=15), gt=timedelta(0))
    retry_for: timedelta = Field(default=timedelta(hours=24), ge=timedelta(0))
    source_give_up: timedelta | None = Field(
        default=None,
        description="Give-up of a source's calls per attempt series (None: the presets', "
        "about an hour), so a dead source becomes a gap instead of hanging.",
    )
    source_history_budget: int | None = Field(
        default=None, description="A source's run continues as new past this (None: default)."
    )


class CaseCarry(BaseModel):
    """Everything a case's run hands to its next run (continue-as-new between retry rounds)."""

    record: RecordState | None = None
    requests: RequestLedgerState = Field(default_factory=RequestLedgerState)
    plan: CasePlan | None = None
    workspace: ProvisionedWorkspace | None = None
    sources: list[SourceProgress] = Field(default_factory=list)
    retry_until: datetime | None = None
    asked: list[str] = Field(default_factory=list, description="Sources to run again next.")
    rounds: int = Field(default=0, description="Automatic retry rounds so far.")
    runs: int = 1


class CaseAssemblyInput(BaseModel):
    request: CaseRequest
    environment: str = "dev"
    started_by: str = "system"
    policy: CaseRetryPolicy = Field(default_factory=CaseRetryPolicy)
    resume: CaseCarry | None = None


class CaseStatus(ProcessSummary):
    case_type: str
    case_id: str
    workspace: ProvisionedWorkspace | None = None
    sources: list[SourceProgress] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list, description="Sources not gathered (yet).")
    items_filed: int = 0
    sources_done: int = 0
    retry_until: datetime | None = Field(
        default=None, description="Gaps are retried automatically until then."
    )
    finished: bool = Field(default=False, description="The case no longer takes retries.")


class RetrySource(BaseModel):
    source: Name
    actor: Name = "system"
