"""Schema: ECM events (`ecm-events.json`) — which Content Server events docflow takes in, the
systems subscribed to them (endpoint, event types, filters, secret reference, rate limit,
retry schedule), the audit poller's watch list, and the lifecycle triggers that turn an event
into an action in another system.

`subscribers_for` and `triggers_for` are pure: the planning activity uses them, and so do
tests. A rule whose condition needs the document's metadata names the category attribute; the
planning activity reads it from Content Server (an event is a hint, the value is confirmed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from docflow.config.concern import ConcernFile, Concerns
from docflow.config.distribution import MAX_SCHEDULE, STANDARD_SCHEDULE_S, one_of
from docflow.config.source_systems import SourceSystems, endpoint_problem
from docflow.secrets import SecretRef

# docflow's contract for events out of Content Server (external-apis.md §2).
ECM_EVENT_TYPES: tuple[str, ...] = (
    "node.created",
    "node.version_added",
    "node.categories_updated",
    "node.approved",
    "node.rm_classified",
    "node.hold_applied",
    "workspace.created",
    "workspace.reference_added",
)
# What the relay itself says about its deliveries (Svix's operational webhooks).
OPERATIONAL_EVENT_TYPES: tuple[str, ...] = (
    "message.attempt.exhausted",
    "endpoint.disabled",
    "endpoint.enabled",
)
MAX_SUBSCRIPTIONS = 50
MAX_TRIGGERS = 100
FIVE_DAYS_S = 5 * 24 * 3600.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventFilter(_Strict):
    """Which documents a subscription or rule is about; an empty list matches anything.
    Patterns are shell-style (`Invoice*`)."""

    ext_system_ids: list[str] = Field(
        default_factory=list, description="Business systems of the enclosing workspace."
    )
    bo_types: list[str] = Field(
        default_factory=list, description="Business object types of the enclosing workspace."
    )
    workspaces: list[int] = Field(default_factory=list, description="Workspace node ids.")
    folders: list[int] = Field(default_factory=list, description="Parent folder node ids.")
    names: list[str] = Field(default_factory=list, description="Node name patterns.")

    def matches(self, subject: EventSubject) -> bool:
        return (
            one_of(self.ext_system_ids, subject.ext_system_id)
            and one_of(self.bo_types, subject.bo_type)
            and one_of(self.names, subject.name)
            and (not self.workspaces or subject.workspace_id in self.workspaces)
            and (not self.folders or subject.parent_id in self.folders)
        )


class EventSubject(BaseModel):
    """What subscriptions and rules look at (from the event)."""

    event_type: str
    node_id: int
    parent_id: int | None = None
    name: str = ""
    workspace_id: int | None = None
    ext_system_id: str | None = None
    bo_type: str | None = None


class Subscription(_Strict):
    """One system subscribed to ECM events: a Standard Webhooks endpoint and its knobs."""

    description: str = ""
    endpoint: str = Field(description="Where the events are POSTed (Standard Webhooks).")
    secret: SecretRef = Field(description="Signs the messages; `whsec_...` secret.")
    allowed_hosts: list[str] = Field(min_length=1)
    event_types: list[str] = Field(
        min_length=1,
        description="ECM event types (and operational ones: message.attempt.exhausted, "
        "endpoint.disabled, endpoint.enabled) sent to it.",
    )
    filter: EventFilter = Field(default_factory=EventFilter)
    enabled: bool = Field(default=True, description="False: nothing is planned for it.")
    retry_schedule_s: list[float] = Field(
        default_factory=lambda: list(STANDARD_SCHEDULE_S),
        min_length=1,
        max_length=MAX_SCHEDULE,
        description="Delay before each attempt (the first is usually 0); past the last "
        "attempt the message is dead-lettered.",
    )
    jitter: float = Field(default=0.1, ge=0, le=0.5, description="± share of each delay.")
    rate_limit_per_s: float = Field(default=20.0, gt=0, description="Per worker.")
    timeout_s: float = Field(default=15.0, gt=0, le=120)
    disable_after_s: float = Field(
        default=FIVE_DAYS_S,
        gt=0,
        description="An endpoint failing without a success for this long is disabled.",
    )

    @model_validator(mode="after")
    def _checks(self) -> Subscription:
        if problem := endpoint_problem(self.endpoint, self.allowed_hosts):
            raise ValueError(problem)
        if any(delay < 0 for delay in self.retry_schedule_s):
            raise ValueError("retry_schedule_s: delays cannot be negative")
        known = set(ECM_EVENT_TYPES) | set(OPERATIONAL_EVENT_TYPES)
        unknown = sorted(set(self.event_types) - known)
        if unknown:
            raise ValueError(f"event_types: unknown {unknown}; known: {sorted(known)}")
        return self

    @property
    def host(self) -> str:
        return (urlsplit(self.endpoint).hostname or "").lower()


class CategoryCondition(_Strict):
    """The document's metadata must hold this value (read from Content Server when planning)."""

    category_id: int = Field(gt=0)
    attribute: str = Field(
        pattern=r"^\d+_\d+$", description="`<category>_<attribute>` key, e.g. '7100_3'."
    )
    equals: str = Field(min_length=1, max_length=200)


class TriggerWhen(_Strict):
    event_types: list[str] = Field(min_length=1)
    filter: EventFilter = Field(default_factory=EventFilter)
    category: CategoryCondition | None = None


class StartProcess(_Strict):
    """Start a process in a business system (ERP, CRM, procurement) registered in
    `source-systems.json`; its result comes back into the document's status metadata."""

    kind: Literal["start_process"] = "start_process"
    system: str = Field(min_length=1, description="Source-system id, e.g. 'SAP'.")
    process: str = Field(
        min_length=1, max_length=64, description="e.g. invoice_processing, contract_activation."
    )
    result_timeout_s: float = Field(
        default=7 * 24 * 3600.0, gt=0, description="How long to wait for the system's result."
    )


class ReviewTask(_Strict):
    """Ask people in docflow to review the document (the kit's human task: reminders,
    escalation, expiry); the decision is written onto the document's status in ECM."""

    kind: Literal["review_task"] = "review_task"
    title: str = Field(min_length=1, max_length=200)
    assignees: list[str] = Field(min_length=1, max_length=20)
    quorum: Literal["any", "all"] = "any"
    deadline_s: float = Field(default=3 * 24 * 3600.0, gt=0)
    reminder_before_s: float = Field(default=24 * 3600.0, ge=0)
    escalation_to: str | None = Field(default=None, description="Decides alone after it.")
    escalation_window_s: float = Field(default=24 * 3600.0, gt=0)


Action = Annotated[StartProcess | ReviewTask, Field(discriminator="kind")]


class StatusWriteback(_Strict):
    """Where an action's result is written on the document in Content Server."""

    category_id: int = Field(gt=0)
    status_attribute: str = Field(pattern=r"^\d+_\d+$")
    detail_attribute: str | None = Field(default=None, pattern=r"^\d+_\d+$")
    values: dict[str, str] = Field(
        default_factory=lambda: {
            "started": "In progress",
            "completed": "Completed",
            "failed": "Failed",
            "approved": "Approved",
            "rejected": "Rejected",
            "expired": "Expired",
        },
        description="Outcome -> the status value written.",
    )


class TriggerRule(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    when: TriggerWhen
    action: Action
    writeback: StatusWriteback | None = None


class AuditPoller(_Strict):
    """docflow's own reading of the audit trail of the watched workspaces: the safety net
    that needs nothing installed at the vendor, and the reconciliation of lost webhooks."""

    enabled: bool = True
    interval_s: float = Field(default=60.0, ge=1, le=24 * 3600)
    workspaces: list[int] = Field(default_factory=list, description="Watched workspace ids.")
    bo_types: list[str] = Field(
        default_factory=list,
        description="Also watch every workspace of these business object types "
        "(`EXT_SYSTEM/BoType`, e.g. 'SAP/Invoice').",
    )
    max_nodes_per_poll: int = Field(default=2000, ge=1, le=100_000)
    depth: int = Field(default=3, ge=0, le=10, description="Folder levels read below each.")


class Ordering(_Strict):
    hold_s: float = Field(
        default=2.0,
        ge=0,
        le=300,
        description="Events of a document are held this long after the last arrival and "
        "relayed in ECM's order (audit date), so a reordered webhook is put back in place.",
    )


class EcmEvents(ConcernFile):
    secret: SecretRef | None = Field(
        default=None,
        description="Verifies the Standard Webhooks the Content Server event handler sends; "
        "None: docflow takes no ECM webhooks (the audit poller still runs).",
    )
    accept: list[str] = Field(
        default_factory=lambda: list(ECM_EVENT_TYPES),
        description="ECM event types taken in; others are answered 200 'ignored'.",
    )
    ordering: Ordering = Field(default_factory=Ordering)
    poller: AuditPoller = Field(default_factory=AuditPoller)
    subscriptions: dict[str, Subscription] = Field(
        default_factory=dict, max_length=MAX_SUBSCRIPTIONS
    )
    triggers: list[TriggerRule] = Field(default_factory=list, max_length=MAX_TRIGGERS)
    max_event_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)

    @model_validator(mode="after")
    def _checks(self) -> EcmEvents:
        unknown = sorted(set(self.accept) - set(ECM_EVENT_TYPES))
        if unknown:
            raise ValueError(f"accept: unknown event types {unknown}")
        for name in self.subscriptions:
            if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 64:
                raise ValueError(f"subscription name {name!r}: letters, digits, - and _ only")
        return self

    def references(self, others: Concerns) -> Iterator[tuple[str, str]]:
        seen: set[str] = set()
        systems = others.get(SourceSystems)
        for index, rule in enumerate(self.triggers):
            if rule.id in seen:
                yield f"triggers[{index}].id", f"rule {rule.id!r} is named twice"
            seen.add(rule.id)
            unknown = sorted(set(rule.when.event_types) - set(ECM_EVENT_TYPES))
            if unknown:
                yield f"triggers[{index}].when.event_types", f"unknown event types {unknown}"
            action = rule.action
            if (
                isinstance(action, StartProcess)
                and systems is not None
                and action.system not in systems.systems
            ):
                yield (
                    f"triggers[{index}].action.system",
                    f"no source system {action.system!r} in source-systems.json",
                )

    def subscribers_for(self, subject: EventSubject) -> list[str]:
        """The enabled subscriptions that want this event, in configuration order."""
        return [
            name
            for name, sub in self.subscriptions.items()
            if sub.enabled and subject.event_type in sub.event_types and sub.filter.matches(subject)
        ]

    def triggers_for(self, subject: EventSubject) -> list[TriggerRule]:
        """The rules whose event and filter match (their category condition is checked by the
        caller, against the document's current metadata)."""
        return [
            rule
            for rule in self.triggers
            if subject.event_type in rule.when.event_types and rule.when.filter.matches(subject)
        ]

    def operational_subscribers(self, event_type: str) -> list[str]:
        return [
            name
            for name, sub in self.subscriptions.items()
            if sub.enabled and event_type in sub.event_types
        ]


def ecm_production_leaks(candidate: EcmEvents, production: EcmEvents) -> Iterator[tuple[str, str]]:
    """(field path, message) for every subscriber host of a non-production bundle that the
    production bundle delivers to."""
    hosts = {s.host: name for name, s in production.subscriptions.items()}
    for name, sub in candidate.subscriptions.items():
        if sub.host in hosts:
            yield (
                f"subscriptions.{name}.endpoint",
                f"host {sub.host!r} is production's subscriber {hosts[sub.host]!r}: a "
                f"{candidate.environment} bundle must never deliver to production",
            )
