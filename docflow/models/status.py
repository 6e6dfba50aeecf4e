"""What a signing process reports about itself: state, stage, signature, archive, audit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from docflow.models.documents import DocumentRef
from docflow.models.events import SignatureEvent
from docflow.models.integration import RoutingDecision, SignatureRequestCreated
from docflow.models.process import InboxState, ProcessSummary, RecordState, RequestLedgerState
from docflow.models.signing import Signer


class SigningState(StrEnum):
    VALIDATING = "validating"
    REFUSED = "refused"
    AWAITING_APPROVAL = "awaiting_approval"
    CHANGES_REQUESTED = "changes_requested"
    REJECTED = "rejected"
    SENDING = "sending"
    AWAITING_SIGNATURE = "awaiting_signature"
    SIGNATURE_EXCEPTION = "signature_exception"
    ARCHIVING = "archiving"
    ARCHIVE_EXCEPTION = "archive_exception"
    REPORTING = "reporting"
    COMPLETED = "completed"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"


TERMINAL_STATES = frozenset(
    {
        SigningState.REFUSED,
        SigningState.REJECTED,
        SigningState.COMPLETED,
        SigningState.DECLINED,
        SigningState.EXPIRED,
        SigningState.CANCELLED,
        SigningState.FAILED,
    }
)


class StageStatus(BaseModel):
    name: str
    quorum: str
    eligible: list[str]
    approvals: list[str] = Field(default_factory=list)
    decided: list[str] = Field(
        default_factory=list, description="Everyone who decided in this stage (any decision)."
    )
    outcome: str | None = None
    escalated: bool = False


class SignatureStatus(BaseModel):
    cycle: int = 0
    document_uuid: str | None = None
    signature_request_uuid: str | None = None
    last_event: str | None = None
    events_received: int = Field(default=0, description="Distinct callbacks/polls applied.")
    events_dropped: int = Field(
        default=0,
        description="Callbacks dropped unapplied: another document or cycle, or past the "
        "per-cycle bounds (forged or flooding).",
    )
    signed_by: list[str] = Field(default_factory=list)
    completed_at: datetime | None = None


class ArchiveStatus(BaseModel):
    workspace_id: int | None = None
    document_node_id: int | None = None
    audit_trail_node_id: int | None = None
    document_link: str = ""
    document_name: str = ""
    document_version: int = 1


class SigningStatus(ProcessSummary):
    process_type: str = "signing"
    state: SigningState
    source_system: str = Field(
        default="", description="The source system the process belongs to (who may act on it)."
    )
    participants: list[str] = Field(
        default_factory=list,
        description="Case-folded identities assigned to it: approvers, escalation approvers.",
    )
    stage: str | None = None
    document_version: int
    stages: list[StageStatus] = Field(default_factory=list)
    signature: SignatureStatus = Field(default_factory=SignatureStatus)
    archive: ArchiveStatus = Field(default_factory=ArchiveStatus)


class SignatureRequestState(BaseModel):
    """The workflow kit's SignatureRequest block: the open request, its polling clock, what
    is known of it, and its event inbox (any process that collects a signature keeps one)."""

    created: SignatureRequestCreated | None = None
    poll_from: datetime | None = None
    status: SignatureStatus = Field(default_factory=SignatureStatus)
    inbox: InboxState[SignatureEvent] = Field(default_factory=InboxState[SignatureEvent])
    progress_events: int = Field(default=0, description="Progress callbacks this cycle.")
    unconfirmed_claims: int = Field(default=0, description="Refuted claims this cycle.")


class SigningCarry(BaseModel):
    """Everything a signing run knows beyond its input: continue-as-new hands it over whole."""

    document: DocumentRef
    record: RecordState | None = None
    signers: list[Signer] = Field(default_factory=list)
    route: RoutingDecision | None = None
    approved_sha256: str | None = None
    submitted_by: str | None = Field(
        default=None,
        description="Who submitted the current document version (None: the starter); "
        "they never approve it.",
    )
    stages: list[StageStatus] = Field(default_factory=list)
    request: SignatureRequestState = Field(default_factory=SignatureRequestState)
    archive: ArchiveStatus = Field(default_factory=ArchiveStatus)
    resends: int = 0
    requests: RequestLedgerState = Field(default_factory=RequestLedgerState)
