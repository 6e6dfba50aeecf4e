"""Inputs and results of the activities: what the workflow asks of each external system."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from docflow.models.documents import DocumentRef
from docflow.models.signing import Signer, SigningProcessInput, SourceRecord, WorkspaceTarget

RoutingTrack = Literal["default", "rollout"]


class RoutingDecision(BaseModel):
    """What the routing rules chose for this request (per environment, versioned). Decided
    once, by the validation activity: its result in the history is the process's route, so a
    later edit (a rollout promoted or rolled back) never moves a process past routing."""

    rules_version: str = Field(
        description="The label of the rule set applied: the file's `version` on the default "
        "track, the rollout's `version` on the rollout track."
    )
    track: RoutingTrack = Field(
        default="default", description="Which rule set routed the request (older runs: default)."
    )
    config_version: str | None = Field(
        default=None, description="Content version of the configuration bundle applied."
    )
    rule: str
    signature_template: str
    sender_email: str
    workspace_parent_id: int
    workspace_type_id: int
    workspace_template_id: int
    category_id: int
    category_attributes: dict[str, int] = Field(default_factory=dict)
    rm_classification_id: int
    require_internal_approval: bool = True
    archive_folder: str | None = Field(
        default=None, description="Workspace sub-folder the signed documents are filed into."
    )


class ValidationResult(BaseModel):
    accepted: bool
    reasons: list[str] = Field(default_factory=list)
    route: RoutingDecision | None = None
    config_version: str | None = Field(
        default=None, description="Content version of the configuration bundle applied."
    )


class CorrectionCheck(BaseModel):
    """A signature correction to check against the routing rules before it is accepted."""

    corrected: SigningProcessInput = Field(description="The process with the new signers.")
    route: RoutingDecision | None = Field(
        default=None,
        description="The route the process took: its rule set is applied while the bundle "
        "still has it (a rollout rolled back since: the rules the process falls on now).",
    )


class CreateSignatureInput(BaseModel):
    """One signature cycle. `external_id` makes the create idempotent across retries."""

    external_id: str
    document: DocumentRef
    signers: list[Signer]
    sender_email: str
    subject: str
    message: str = ""
    auto_expire_days: int = 30


class SignatureRequestCreated(BaseModel):
    document_uuid: str
    document_url: str
    signature_request_uuid: str


class SignatureDocumentStatus(BaseModel):
    document_uuid: str
    status: str = Field(description="Two-letter Core Signature status code, e.g. 'si'.")
    decline_reason: str = ""


class SignatureEventClaim(BaseModel):
    """What a callback claims happened; Core Signature is asked before docflow acts on it."""

    document_uuid: str
    event_id: str
    event_type: str


class ConfirmedClaim(SignatureDocumentStatus):
    """Core Signature's own answer to a claim: the document's status now, and whether the
    claimed event is in its event list for that document (for events no status shows)."""

    event_listed: bool = False
    signer_email: str | None = Field(
        default=None, description="Who declined, by Core Signature's account (declined only)."
    )


class SignerOutcome(BaseModel):
    email: str
    signed_on: datetime | None = None


class SignedArtifacts(BaseModel):
    signed_pdf: DocumentRef
    signing_log: DocumentRef
    security_hash: str
    signers: list[SignerOutcome]
    completed_at: datetime | None = None


class WorkspaceRef(BaseModel):
    id: int
    created: bool


class ArchiveDocumentInput(BaseModel):
    """File one document into a workspace: find-by-name first, so a retry adds nothing."""

    workspace_id: int
    document: DocumentRef
    name: str
    category_id: int
    category_values: dict[str, str] = Field(
        default_factory=dict, description="Category attribute id -> value, e.g. {'2': 'Q-1'}."
    )
    rm_classification_id: int | None = None
    folder: str | None = Field(
        default=None, description="Sub-folder of the workspace (None: the workspace itself)."
    )


class ArchivedNode(BaseModel):
    node_id: int
    created: bool
    link: str = Field(default="", description="Where a user opens it (Content Server's UI).")
    version: int = Field(default=1, description="Its current version number.")


class ReportOutcome(StrEnum):
    COMPLETED = "completed"
    REFUSED = "refused"
    REJECTED = "rejected"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"


class SourceReport(BaseModel):
    """Status report to the source system, sent as a Standard Webhooks signed callback."""

    idempotency_key: str
    business_key: str
    source: SourceRecord
    outcome: ReportOutcome
    reason: str = ""
    occurred_at: datetime
    document_version: int
    signers: list[SignerOutcome] = Field(default_factory=list)
    completed_at: datetime | None = None
    workspace_id: int | None = None
    archived_node_id: int | None = None
    audit_trail_node_id: int | None = None


class NotificationKind(StrEnum):
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_REMINDER = "approval_reminder"
    APPROVAL_ESCALATED = "approval_escalated"
    SIGNATURE_EXCEPTION = "signature_exception"
    WORKSPACE_MILESTONE = "workspace_milestone"
    PROMOTION_OUTCOME = "promotion_outcome"


class ApprovalActionFacts(BaseModel):
    """What an approval notification's action links are bound to (the workflow's facts; the
    notification activity mints the signed links from them, so no key enters a workflow)."""

    stage: str
    stage_index: int = Field(ge=0, description="Position of the stage in this approval cycle.")
    version: int = Field(ge=1, description="The document version up for approval (the cycle).")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="That version's content hash.")
    closes_at: datetime = Field(description="The links expire then (deadline or escalation).")


class Notification(BaseModel):
    """A message to people or a support queue, delivered by the notification service."""

    idempotency_key: str
    kind: NotificationKind
    business_key: str
    recipients: list[str] = Field(
        default_factory=list, description="Principals; empty means the support queue."
    )
    subject: str
    body: str = ""
    data: dict[str, str] = Field(default_factory=dict)
    approval: ApprovalActionFacts | None = Field(
        default=None, description="Set on approval messages: each recipient gets action links."
    )


class WorkspaceRequest(BaseModel):
    target: WorkspaceTarget
    route: RoutingDecision
