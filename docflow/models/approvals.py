"""Approval decisions, corrections and cancellations: the payloads of workflow Updates."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from docflow.models.documents import DocumentRef
from docflow.models.signing import Signer


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"


class ApprovalDecision(BaseModel):
    """An approver's decision. `actor` is set by the API from the authenticated caller."""

    actor: str
    decision: Decision
    comment: str = ""
    stage: str | None = Field(
        default=None, description="If given, must name the open stage (guards against races)."
    )
    version: int | None = Field(
        default=None,
        ge=1,
        description="If given, must be the document version up for approval (an action link "
        "of an earlier approval cycle is refused).",
    )


class NewDocumentVersion(BaseModel):
    """A revised document after "changes requested" or a conversion error."""

    actor: str
    document: DocumentRef
    comment: str = ""


class SignatureCorrection(BaseModel):
    """Fix for a signature exception: new recipients and/or a new document version."""

    actor: str
    signers: list[Signer] | None = None
    document: DocumentRef | None = None
    comment: str = ""


RepairAction = Literal["retry", "abandon"]


class RepairRequest(BaseModel):
    """Support's answer to a step that gave up: retry it (after fixing the cause) or abandon."""

    actor: str
    action: RepairAction
    comment: str = ""


class CancelRequest(BaseModel):
    actor: str
    reason: str


class UpdateAccepted(BaseModel):
    """What every Update returns: the state right after it was applied."""

    state: str
    stage: str | None = None
    detail: str = ""
