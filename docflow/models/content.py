"""Content distribution (Amplience → downstream targets) and master data (→ Amplience):
the models crossing Temporal boundaries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from docflow.models.process import InboxState, ProcessSummary, RecordState

MAX_ID = 64


class ApprovalEvent(BaseModel):
    """An Amplience webhook that means "distribute this item" (a hint: the plan confirms it)."""

    event_id: str = Field(
        max_length=200, description="The envelope's id (with the item's for an edition)."
    )
    event_name: str = Field(max_length=128)
    item_id: str = Field(min_length=1, max_length=MAX_ID)
    version: int | None = Field(
        default=None, ge=1, description="None: the item's latest published version."
    )
    state_id: str | None = Field(default=None, max_length=MAX_ID)
    received_at: datetime


class PlanDistributionInput(BaseModel):
    item_id: str
    version: int | None = None
    event_name: str
    state_id: str | None = None


class TargetMessage(BaseModel):
    """One signed message to one configured target or channel (never a URL)."""

    target: str
    kind: str = Field(description="'target' (mapped content) or 'channel' (notification).")
    event_type: str
    idempotency_key: str = Field(description="`item:version:target`, sent as webhook-id.")
    business_key: str
    payload: dict[str, Any]
    payload_sha256: str


class RefusedTarget(BaseModel):
    target: str
    reasons: list[str]


class FeedbackPlan(BaseModel):
    """Where this environment's failure loop moves items (from the bundle, at planning)."""

    approved_state_id: str | None = None
    failed_state_id: str | None = None
    failed_state_label: str = "Integration failed"
    distributed_state_id: str | None = None
    distributed_state_label: str = "Distributed"
    failure_field: str | None = None
    failure_window_days: float = 30.0


class DistributionPlan(BaseModel):
    """The confirmed item version and what goes where; or why nothing does."""

    item_id: str
    version: int
    label: str = ""
    schema_uri: str | None = None
    confirmed: bool = Field(description="The version read is approved (or published).")
    why_not: str = Field(default="", description="Why nothing is distributed.")
    route: str | None = None
    config_version: str = ""
    messages: list[TargetMessage] = Field(default_factory=list)
    refused: list[RefusedTarget] = Field(
        default_factory=list, description="Targets the item cannot be mapped for (validation)."
    )
    feedback: FeedbackPlan = Field(default_factory=FeedbackPlan)


class DeliveryStatus(StrEnum):
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPERSEDED = "superseded"


class TargetReceipt(BaseModel):
    """What an accepted delivery looked like (the activity's result)."""

    status_code: int
    attempts: int
    latency_ms: int


class TargetDelivery(BaseModel):
    """One delivery in the audit trail: target, version, attempts, status, times, hash."""

    target: str
    kind: str
    version: int
    idempotency_key: str
    status: DeliveryStatus
    attempts: int = 0
    http_status: int | None = None
    reason: str = ""
    payload_sha256: str
    started_at: datetime
    finished_at: datetime | None = None
    round: int = Field(default=1, description="1, then one more per operator retry.")


class FeedbackInput(BaseModel):
    """Move the item in Amplience: to 'Integration failed' with reasons, or 'Distributed'."""

    item_id: str
    version: int = Field(description="The version distributed (conflicts are re-read).")
    state_id: str
    state_label: str
    failures: dict[str, str] = Field(default_factory=dict, description="target → reason")
    failure_field: str | None = None
    approved_state_id: str | None = Field(
        default=None, description="A newer version in this state is left alone."
    )


class RetryFailedRequest(BaseModel):
    actor: str
    comment: str = Field(default="", max_length=500)
    targets: list[str] = Field(
        default_factory=list, max_length=20, description="Empty: every failed target."
    )


class DistributionCarry(BaseModel):
    """Everything an item's workflow hands to its next run."""

    record: RecordState | None = None
    inbox: InboxState[ApprovalEvent] = Field(default_factory=InboxState)
    pending: ApprovalEvent | None = None
    distributed_version: int = 0
    deliveries: list[TargetDelivery] = Field(default_factory=list)
    plan: DistributionPlan | None = None
    unplanned: ApprovalEvent | None = Field(
        default=None, description="An approval whose version could not be read (to retry)."
    )
    rounds: int = 0
    ignored: int = 0


class DistributionInput(BaseModel):
    item_id: str = Field(min_length=1, max_length=MAX_ID)
    environment: str = "dev"
    history_budget: int = Field(default=5_000, ge=100)
    idle_days: float = Field(
        default=30.0, gt=0, description="An item idle this long ends its workflow."
    )
    resume: DistributionCarry | None = None


class DistributionStatus(ProcessSummary):
    item_id: str
    version: int = Field(default=0, description="The version being (or last) distributed.")
    label: str = ""
    route: str | None = None
    distributed_version: int = 0
    deliveries: list[TargetDelivery] = Field(
        default_factory=list, description="Newest last; bounded."
    )
    ignored: int = 0
