"""The signing process: its input, the approval stages, signers and targets."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from docflow.correlation import BUSINESS_KEY_PATTERN
from docflow.models.bounds import (
    CALLER_INPUT,
    EMAIL,
    NAME,
    PRINCIPAL,
    TEXT,
    Caller,
    is_caller_input,
)
from docflow.models.documents import DocumentRef

if TYPE_CHECKING:
    from docflow.models.status import SigningCarry

__all__ = ["CALLER_INPUT"]  # defined with the bounds; imported from here by older code

# Caller-input limits (see docflow.models.bounds): generous for real processes, small enough
# that no request comes near Temporal's payload limit.
MAX_SIGNERS = 50
MAX_SIGNER_ORDER = 100
MAX_STAGES = 10
MAX_APPROVERS = 50
MAX_METADATA_ENTRIES = 50
MAX_METADATA_KEY = 100
MAX_METADATA_VALUE = 1000
MAX_WAIT = timedelta(days=365)
Name = Annotated[str, NAME]
Principal = Annotated[str, PRINCIPAL]


def repeated(values: list[str]) -> str:
    """The values that occur more than once, compared case-insensitively ('' if none)."""
    seen: set[str] = set()
    repeated: list[str] = []
    for value in values:
        folded = value.casefold()
        if folded in seen and value not in repeated:
            repeated.append(value)
        seen.add(folded)
    return ", ".join(repeated)


class Quorum(StrEnum):
    ANY = "any"
    ALL = "all"


class SourceRecord(BaseModel):
    """The business-system record that asked for the signature (CRM opportunity, ERP order...)."""

    system: Name = Field(description="Source system id, e.g. 'SFDC'.", examples=["SFDC"])
    record_type: Name = Field(examples=["Opportunity"])
    record_id: Name = Field(examples=["0065g00000XYZ"])
    account_id: Name | None = Field(default=None, description="Customer account id, if known.")
    account_name: Name | None = None


class WorkspaceTarget(BaseModel):
    """The Business Workspace that receives the signed document, bound to a business object."""

    ext_system_id: Name = Field(examples=["SFDC"])
    bo_type: Name = Field(examples=["Account"])
    bo_id: Name = Field(examples=["0015g00000ABC"])
    name: Name = Field(description="Workspace name used if it has to be created.")


class Signer(BaseModel):
    email: Annotated[str, EMAIL] = Field(
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["jane.doe@example.com"]
    )
    first_name: Annotated[str, Caller(max_length=100)] = ""
    last_name: Annotated[str, Caller(max_length=100)] = ""
    order: Annotated[int, Caller(le=MAX_SIGNER_ORDER)] = Field(default=0, ge=0)
    needs_to_sign: bool = True


class ApprovalStageSpec(BaseModel):
    """One internal approval stage: who decides, how many must agree, and by when."""

    name: Name
    approvers: Annotated[list[Principal], Caller(max_length=MAX_APPROVERS)] = Field(
        min_length=1, description="Principal ids allowed to decide."
    )
    quorum: Quorum = Quorum.ANY
    deadline: timedelta = Field(
        default=timedelta(days=3), gt=timedelta(0), description="Until escalation."
    )
    reminder_before: timedelta = Field(
        default=timedelta(hours=24),
        ge=timedelta(0),
        description="Remind this long before the deadline (no reminder if >= deadline).",
    )
    escalation_approver: Principal | None = Field(
        default=None, description="Becomes eligible at the deadline; decides alone."
    )
    escalation_window: timedelta = Field(
        default=timedelta(days=1),
        gt=timedelta(0),
        description="After escalation, time until the stage expires.",
    )

    @field_validator("approvers")
    @classmethod
    def _unique(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("approvers must be unique")
        if is_caller_input(info) and (twice := repeated(value)):
            raise ValueError(f"approvers must be unique (compared case-insensitively): {twice}")
        return value

    @field_validator("deadline", "reminder_before", "escalation_window")
    @classmethod
    def _bounded_wait(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        if is_caller_input(info) and value > MAX_WAIT:
            raise ValueError(f"at most {MAX_WAIT.days} days")
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
    document_type: Name = Field(examples=["sales_contract"])
    title: Annotated[str, Caller(max_length=500)] = Field(
        default="", description="Subject of the signature e-mail."
    )
    message: Annotated[str, TEXT] = ""
    source: SourceRecord
    approval_stages: Annotated[list[ApprovalStageSpec], Caller(max_length=MAX_STAGES)] = Field(
        default_factory=list
    )
    signers: Annotated[list[Signer], Caller(max_length=MAX_SIGNERS)] = Field(min_length=1)
    workspace: WorkspaceTarget
    metadata: Annotated[
        dict[
            Annotated[str, Caller(max_length=MAX_METADATA_KEY)],
            Annotated[str, Caller(max_length=MAX_METADATA_VALUE)],
        ],
        Caller(max_length=MAX_METADATA_ENTRIES),
    ] = Field(default_factory=dict)

    # Unknown fields are refused, not ignored: a caller must not believe a field took effect.
    model_config = ConfigDict(extra="forbid")

    @field_validator("signers")
    @classmethod
    def _distinct_signers(cls, value: list[Signer], info: ValidationInfo) -> list[Signer]:
        if is_caller_input(info) and (twice := repeated([s.email for s in value])):
            raise ValueError(f"each signer once (e-mails compared case-insensitively): {twice}")
        return value

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
