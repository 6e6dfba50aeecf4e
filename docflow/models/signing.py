"""The signing process: its input, the approval stages, signers and targets."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from docflow.correlation import BUSINESS_KEY_PATTERN
from docflow.models.documents import DocumentRef

if TYPE_CHECKING:
    from docflow.models.status import SigningCarry

# Validation context of input from callers (the API): stricter than decoding workflow history.
CALLER_INPUT = "caller_input"


class Quorum(StrEnum):
    ANY = "any"
    ALL = "all"


class SourceRecord(BaseModel):
    """The business-system record that asked for the signature (CRM opportunity, ERP order...)."""

    system: str = Field(description="Source system id, e.g. 'SFDC'.", examples=["SFDC"])
    record_type: str = Field(examples=["Opportunity"])
    record_id: str = Field(examples=["0065g00000XYZ"])
    account_id: str | None = Field(default=None, description="Customer account id, if known.")
    account_name: str | None = None


class WorkspaceTarget(BaseModel):
    """The Business Workspace that receives the signed document, bound to a business object."""

    ext_system_id: str = Field(examples=["SFDC"])
    bo_type: str = Field(examples=["Account"])
    bo_id: str = Field(examples=["0015g00000ABC"])
    name: str = Field(description="Workspace name used if it has to be created.")


class Signer(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["jane.doe@example.com"])
    first_name: str = ""
    last_name: str = ""
    order: int = Field(default=0, ge=0)
    needs_to_sign: bool = True


class ApprovalStageSpec(BaseModel):
    """One internal approval stage: who decides, how many must agree, and by when."""

    name: str
    approvers: list[str] = Field(min_length=1, description="Principal ids allowed to decide.")
    quorum: Quorum = Quorum.ANY
    deadline: timedelta = Field(
        default=timedelta(days=3), gt=timedelta(0), description="Until escalation."
    )
    reminder_before: timedelta = Field(
        default=timedelta(hours=24),
        ge=timedelta(0),
        description="Remind this long before the deadline (no reminder if >= deadline).",
    )
    escalation_approver: str | None = Field(
        default=None, description="Becomes eligible at the deadline; decides alone."
    )
    escalation_window: timedelta = Field(
        default=timedelta(days=1),
        gt=timedelta(0),
        description="After escalation, time until the stage expires.",
    )

    @field_validator("approvers")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("approvers must be unique")
        return value


class SigningPolicy(BaseModel):
    """Timers and limits of one run; filled from settings by the starter, fixed for the run."""

    signature_poll_after: timedelta = timedelta(hours=6)
    signature_poll_interval: timedelta = timedelta(hours=1)
    signature_poll_give_up: timedelta = Field(
        default=timedelta(days=35),
        description="Polling stops (signature exception) if the document never ends by then.",
    )
    max_resends: int = Field(default=2, ge=0)
    exception_deadline: timedelta = timedelta(days=5)
    changes_deadline: timedelta = timedelta(days=14)
    auto_expire_days: int = Field(default=30, ge=1)


class SigningRequest(BaseModel):
    """What a business app sends to start a signing process."""

    business_key: str = Field(
        pattern=BUSINESS_KEY_PATTERN,
        description="Caller's unique key for this process; starting twice returns the same run.",
        examples=["SFDC-Q-1001"],
    )
    document_type: str = Field(examples=["sales_contract"])
    title: str = Field(default="", description="Subject of the signature e-mail.")
    message: str = ""
    source: SourceRecord
    approval_stages: list[ApprovalStageSpec] = Field(default_factory=list)
    signers: list[Signer] = Field(min_length=1)
    workspace: WorkspaceTarget
    metadata: dict[str, str] = Field(default_factory=dict)

    # Unknown fields are refused, not ignored: a caller must not believe a field took effect.
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_callback_url(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and "callback_url" in data:
            if info.context and info.context.get(CALLER_INPUT):
                # Callers never choose where docflow sends data (security review R9).
                raise ValueError(
                    "callback_url is not accepted: status reports go to the endpoint "
                    "registered for source.system"
                )
            # Histories of runs started before the registry carry it; it is unused, so
            # dropping it keeps them replayable.
            data = {key: value for key, value in data.items() if key != "callback_url"}
        return data


class SigningProcessInput(BaseModel):
    """Workflow input: the request, the stored document, and the run's fixed policy."""

    request: SigningRequest
    document: DocumentRef
    environment: str
    policy: SigningPolicy = Field(default_factory=SigningPolicy)
    started_by: str = Field(description="Authenticated principal that started the process.")
    resume: SigningCarry | None = Field(
        default=None, description="Set by continue-as-new only: the state the run goes on from."
    )
