"""Configuration promotions: a candidate set of concern files proposed for one environment,
diffed and validated (statically, then against the environment's live systems), approved by
a release approver who is not the proposer, and applied atomically as the environment's next
configuration version (docflow.config.versions). A rollback re-applies the version the
current one replaced. The models crossing ConfigPromotionWorkflow's boundaries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from docflow.models.documents import DocumentRef
from docflow.models.environment import LiveReport
from docflow.models.process import ProcessSummary
from docflow.models.signing import ApprovalStageSpec, Principal
from docflow.models.status import StageStatus

PROMOTION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
MAX_REASON = 2000
MAX_DIFF_TEXT = 60_000
MAX_PROBLEMS = 200
PromotionKind = Literal["promotion", "rollback"]


def promotion_workflow_id(environment: str, promotion_id: str) -> str:
    return f"config-promotion:{environment}:{promotion_id}"


class PromotionState(StrEnum):
    VALIDATING = "validating"
    CHECKING_LIVE = "checking_live"
    AWAITING_APPROVAL = "awaiting_approval"
    APPLYING = "applying"
    APPLIED = "applied"
    REFUSED = "refused"  # validation found problems: nothing applied
    REJECTED = "rejected"  # the release approver said no
    EXPIRED = "expired"  # no decision by the deadline
    SUPERSEDED = "superseded"  # the environment changed since validation: propose again
    UNCHANGED = "unchanged"  # the candidate equals the current configuration
    CANCELLED = "cancelled"


PROMOTION_TERMINAL = frozenset(
    {
        PromotionState.APPLIED,
        PromotionState.REFUSED,
        PromotionState.REJECTED,
        PromotionState.EXPIRED,
        PromotionState.SUPERSEDED,
        PromotionState.UNCHANGED,
        PromotionState.CANCELLED,
    }
)


class PromotionInput(BaseModel):
    promotion_id: str = Field(pattern=PROMOTION_ID_PATTERN)
    kind: PromotionKind = "promotion"
    environment: str = Field(description="The environment whose configuration changes.")
    source: str = Field(max_length=255, description="Where the candidate comes from.")
    candidate: DocumentRef = Field(description="The concern files (a bundle archive, JSON).")
    proposer: Principal
    reason: str = Field(default="", max_length=MAX_REASON)
    approval: ApprovalStageSpec | None = Field(
        default=None, description="The release approvers' stage; None only for a rollback."
    )


class CandidateRequest(BaseModel):
    environment: str
    candidate: DocumentRef


class CandidateCheck(BaseModel):
    """The candidate against the environment's current configuration: the diff and every
    static problem (schema, cross-references, secrets that do not resolve, separation)."""

    environment: str
    current: int | None = Field(description="Applied version checked against (None: files).")
    current_content: str
    candidate_content: str
    changed_files: list[str] = Field(default_factory=list)
    diff_summary: str = ""
    diff_text: str = Field(default="", max_length=MAX_DIFF_TEXT + 100)
    problems: list[str] = Field(default_factory=list, max_length=MAX_PROBLEMS)


class ApplyRequest(BaseModel):
    promotion_id: str
    kind: PromotionKind
    environment: str
    candidate: DocumentRef
    expected: int | None
    candidate_content: str
    source: str
    proposer: str
    approver: str
    summary: str


class ApplyResult(BaseModel):
    applied: bool
    number: int | None = None
    conflict: str = ""


class PromotionStatus(ProcessSummary):
    promotion_id: str
    kind: PromotionKind
    environment: str
    source: str
    proposer: str
    reason: str = ""
    check: CandidateCheck | None = None
    live: LiveReport | None = None
    stage: StageStatus | None = None
    approver: str = ""
    decided_at: datetime | None = None
    comment: str = ""
    applied_version: int | None = None


class PromotionBody(BaseModel):
    """What a proposer sends: the candidate's concern files (references for secrets)."""

    promotion_id: str | None = Field(
        default=None,
        pattern=PROMOTION_ID_PATTERN,
        description="Your id for this promotion (the same id again is the same promotion); "
        "default: derived from the candidate's content.",
    )
    source: str = Field(
        min_length=1, max_length=255, description="Where the files come from, e.g. 'dev'."
    )
    reason: str = Field(default="", max_length=MAX_REASON)
    files: dict[str, str] = Field(
        description="Concern file name -> its text (settings.toml is not promoted).",
        max_length=64,
    )


class RollbackBody(BaseModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON)


class PromotionAnswer(BaseModel):
    workflow_id: str
    created: bool
    status_url: str
    web_ui_url: str


class AppliedVersionInfo(BaseModel):
    environment: str
    number: int
    content_version: str
    kind: str
    change_id: str
    source: str
    proposer: str
    approver: str
    replaces: int | None
    summary: str
    applied_at: datetime
    files: dict[str, str] | None = None


class ActiveConfiguration(BaseModel):
    environment: str
    applied: int | None = Field(description="The applied version workers run on; None: files.")
    content_version: str
    versions: list[AppliedVersionInfo]
