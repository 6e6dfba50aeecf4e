"""ECM events (Content Server → docflow → subscribed systems) and lifecycle actions: the models
crossing Temporal boundaries.

An event's identity is (node, event type, version or audit date): a creation happens once per
node, a version is added or approved once, anything else at ECM's audit date (to the second).
Both intake paths carry them (the webhook in `data`, the poller from the audit trail, where a
version is counted from the document's creation), so an event seen by both is relayed once.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from docflow.models.ecm_requests import ReviewTaskInput
from docflow.models.process import InboxState, ProcessSummary, RecordState

MAX_NAME = 255
MAX_EXCERPT = 300

EventSource = Literal["webhook", "audit", "operator"]
CREATION_TYPES = frozenset({"node.created", "workspace.created"})
VERSION_TYPES = frozenset({"node.version_added", "node.approved"})


def audit_instant(value: str | datetime) -> str:
    """ECM's audit date as one canonical string (UTC, to the second — the audit API's
    precision), whichever path it came by; naive times are Content Server's UTC."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EcmNode(BaseModel):
    id: int = Field(gt=0)
    parent_id: int | None = None
    name: str = Field(default="", max_length=MAX_NAME)
    type: int = 144
    version: int | None = Field(default=None, ge=1)


class EcmWorkspace(BaseModel):
    id: int = Field(gt=0)
    ext_system_id: str | None = Field(default=None, max_length=64)
    bo_type: str | None = Field(default=None, max_length=64)
    bo_id: str | None = Field(default=None, max_length=128)


class EcmEvent(BaseModel):
    """One Content Server event, from a webhook or the audit poller (a hint either way)."""

    type: str = Field(max_length=64, examples=["node.approved"])
    node: EcmNode
    workspace: EcmWorkspace | None = None
    audit_date: str = Field(
        min_length=1, max_length=40, description="ECM's audit date of the change (its clock)."
    )
    audit_event_type: int | None = None
    details: dict[str, Any] = Field(
        default_factory=dict, description="category_id, class_id, hold_id, version ..."
    )
    source: EventSource = "webhook"
    message_id: str | None = Field(default=None, max_length=200, description="webhook-id.")
    received_at: datetime

    @property
    def key(self) -> str:
        """Identity across both intake paths: a node is created once; a version is added or
        approved once; anything else happens at an audit date (to the second)."""
        if self.type in CREATION_TYPES:
            return f"{self.node.id}:{self.type}"
        if self.type in VERSION_TYPES and self.node.version is not None:
            return f"{self.node.id}:{self.type}:v{self.node.version}"
        return f"{self.node.id}:{self.type}:{self.audit_date}"

    @property
    def key_digest(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()[:24]


def document_workflow_id(node_id: int) -> str:
    return f"ecm-doc:{node_id}"


def subscriber_workflow_id(subscription: str) -> str:
    return f"ecm-subscriber:{subscription}"


def action_workflow_id(rule_id: str, event: EcmEvent) -> str:
    return f"ecm-action:{rule_id}:{event.key_digest}"


# ---------------------------------------------------------------- planning
class PlanEventInput(BaseModel):
    event: EcmEvent


class PlannedAction(BaseModel):
    """A lifecycle rule that matched (its category condition confirmed against ECM)."""

    rule_id: str
    kind: Literal["start_process", "review_task"]
    description: str = ""
    review: ReviewTaskInput | None = Field(
        default=None, description="For a review task: the review, as the rule asks for it."
    )


class EventPlan(BaseModel):
    config_version: str
    subscribers: list[str] = Field(default_factory=list)
    actions: list[PlannedAction] = Field(default_factory=list)
    ignored_reason: str = Field(default="", description="Why nothing is done, when so.")


# ---------------------------------------------------------------- delivery
class RelayAttempt(BaseModel):
    """One HTTP attempt at a subscriber, as logged and shown."""

    number: int
    at: datetime
    status_code: int | None = None
    latency_ms: int = 0
    excerpt: str = Field(default="", max_length=MAX_EXCERPT)
    outcome: Literal["delivered", "failed", "gone", "aborted", "disabled", "rate_limited"]
    retry_after_s: float | None = None
    next_delay_s: float | None = Field(
        default=None, description="After a failure: the schedule's next delay; None: spent."
    )


class RelayRequest(BaseModel):
    """One signed message to one subscription (never a URL): the activity resolves it."""

    subscription: str
    message_id: str = Field(description="Sent as webhook-id and Idempotency-Key.")
    event_type: str
    payload: dict[str, Any]
    attempt: int = Field(ge=1)


MessageStatus = Literal["pending", "delivered", "failed"]


class RelayMessage(BaseModel):
    """One event for one subscriber, in the document's order, with its attempts."""

    message_id: str
    subscription: str
    event_key: str
    event_type: str
    seq: int
    status: MessageStatus = "pending"
    payload: dict[str, Any] = Field(default_factory=dict)
    attempts: list[RelayAttempt] = Field(
        default_factory=list, description="The latest attempts (at most 20)."
    )
    tries: int = Field(default=0, description="Attempts in the current round.")
    rounds: int = Field(default=1, description="Schedules run (1 + replays/recoveries).")
    next_attempt_at: datetime | None = None
    finished_at: datetime | None = None
    reason: str = ""


class RelayedEvent(BaseModel):
    """An event the document's workflow took in, with its plan."""

    key: str
    seq: int
    type: str
    audit_date: str
    version: int | None = None
    source: EventSource
    received_at: datetime
    relayed_at: datetime | None = None
    config_version: str = ""
    subscribers: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)
    late: bool = Field(
        default=False, description="Arrived after a later event of the document was relayed."
    )
    payload: dict[str, Any] = Field(default_factory=dict)


class DocumentEventsState(BaseModel):
    """All an EcmDocumentWorkflow carries over continue-as-new."""

    inbox: InboxState[EcmEvent] = Field(default_factory=InboxState[EcmEvent])
    events: list[RelayedEvent] = Field(default_factory=list)
    messages: list[RelayMessage] = Field(default_factory=list)
    next_seq: int = 1
    counts: dict[str, int] = Field(default_factory=dict)
    record: RecordState | None = None


class DocumentEventsInput(BaseModel):
    node_id: int = Field(gt=0)
    environment: str = "dev"
    hold_s: float = Field(default=2.0, ge=0, le=300)
    idle_days: float = Field(default=30.0, gt=0, description="Ends after this long quiet.")
    history_budget: int = Field(default=5000, ge=200)
    resume: DocumentEventsState | None = None


class ReplayRequest(BaseModel):
    actor: str
    subscription: str
    message_id: str | None = Field(
        default=None, description="One message; None: every failed one since `since`."
    )
    since: datetime | None = None


class ReplayResult(BaseModel):
    replayed: list[str] = Field(default_factory=list)


class DocumentEventsStatus(BaseModel):
    node_id: int
    summary: ProcessSummary
    events: list[RelayedEvent]
    messages: list[RelayMessage]
    counts: dict[str, int]


# ---------------------------------------------------------------- subscribers
class EndpointHealth(BaseModel):
    """A subscriber as the relay sees it (kept by its EcmSubscriberWorkflow)."""

    subscription: str
    state: Literal["healthy", "failing", "disabled"] = "healthy"
    failing_since: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str = ""
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_failure: str = ""
    exhausted: int = 0


class EndpointReport(BaseModel):
    """A delivery activity's word about an endpoint: it failed, it worked, or it is gone."""

    subscription: str
    disable_after_s: float = Field(default=5 * 24 * 3600.0, gt=0)
    kind: Literal["failed", "succeeded", "gone", "exhausted"]
    at: datetime
    reason: str = Field(default="", max_length=MAX_EXCERPT)
    message_id: str | None = None


class EnableRequest(BaseModel):
    actor: str
    comment: str = ""


class RecoverRequest(BaseModel):
    actor: str
    since: datetime


class SubscriberInput(BaseModel):
    subscription: str
    history_budget: int = Field(default=2000, ge=100)
    resume: EndpointHealth | None = None


class EarlierEventsInput(BaseModel):
    node_id: int
    before: str = Field(description="Audit date (canonical) of the first event relayed.")


class PollInput(BaseModel):
    cursor: datetime | None = Field(default=None, description="Newest audit date seen.")
    lookback_s: float = Field(default=3600.0, gt=0)


class PollResult(BaseModel):
    cursor: datetime | None = None
    interval_s: float = Field(default=60.0, description="The configured time to the next poll.")
    enabled: bool = True
    workspaces: int = 0
    nodes: int = 0
    entries: int = 0
    submitted: int = 0
    truncated: bool = False


class PollerInput(BaseModel):
    cursor: datetime | None = None
    polls: int = 0
    submitted: int = 0
    last: PollResult | None = None
    history_budget: int = Field(default=1000, ge=100)


class PollerStatus(BaseModel):
    cursor: datetime | None
    polls: int
    submitted: int
    last: PollResult | None
    failing: str = ""


class OperationalMessage(BaseModel):
    """What the relay says about itself (message.attempt.exhausted, endpoint.disabled/enabled)."""

    event_type: str
    key: str = Field(description="Unique per occurrence: its webhook-id.")
    data: dict[str, Any]


class RecoverInput(BaseModel):
    subscription: str
    since: datetime
    actor: str


class RecoverResult(BaseModel):
    documents: int
    messages: int


# ---------------------------------------------------------------- lifecycle actions
class LifecycleActionInput(BaseModel):
    """One (event, rule): acts once (the workflow id is made of both)."""

    rule_id: str
    event: EcmEvent
    config_version: str


class LifecycleActionResult(BaseModel):
    rule_id: str
    outcome: Literal["completed", "failed", "approved", "rejected", "expired", "refused"]
    detail: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""
