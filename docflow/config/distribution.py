"""Schema: content distribution (`content-distribution.json`) — what counts as an approval in
Amplience, the workflow states the failure loop moves items to, the downstream targets and
notification channels (endpoint, secret reference, allowed hosts, retry schedule, rate limit),
the routing rules that choose them, and the mappings that shape each target's payload.

`route_item` and `map_fields` are pure: the planning activity uses them, and so do tests.
A non-production bundle may never name a production target or hub: `production_leaks`
compares it with the `prod` bundle beside it (`docflow config validate` refuses a leak).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from docflow.config.concern import ConcernFile, Concerns
from docflow.config.source_systems import endpoint_problem
from docflow.secrets import SecretRef

# Standard Webhooks / Svix: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
STANDARD_SCHEDULE_S: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_SCHEDULE = 20
MAX_TARGETS_PER_ITEM = 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApprovalTriggers(_Strict):
    """Which Amplience events mean "approved, distribute this version" in this environment."""

    workflow_state_id: str | None = Field(
        default=None,
        description="`content-item.workflow.updated` into this workflow state is an approval.",
    )
    workflow_state_label: str = Field(default="Approved", description="For people and logs.")
    snapshot_published: bool = Field(
        default=False, description="`snapshot.published` distributes the snapshot's root item."
    )
    edition_published: bool = Field(
        default=False, description="`edition.published` distributes the edition's root items."
    )


class FeedbackStates(_Strict):
    """Where the failure loop moves an item in Amplience (workflow-state ids of this hub)."""

    failed_state_id: str | None = Field(
        default=None, description="'Integration failed': a target refused or gave up."
    )
    failed_state_label: str = "Integration failed"
    distributed_state_id: str | None = Field(
        default=None, description="'Distributed': every target accepted; None: left as is."
    )
    distributed_state_label: str = "Distributed"
    failure_field: str | None = Field(
        default=None,
        description="Body field the reasons per target are written to (the item's schema must "
        "allow it); None: reasons go to support and docflow's audit trail only.",
    )


class Target(_Strict):
    """One downstream system (a target gets the mapped content; a channel is notified)."""

    description: str = ""
    kind: Literal["target", "channel"] = "target"
    endpoint: str = Field(description="Where messages are POSTed (Standard Webhooks).")
    secret: SecretRef = Field(description="Signs the messages; `whsec_...` secret.")
    allowed_hosts: list[str] = Field(min_length=1)
    mapping: str | None = Field(
        default=None, description="The mapping shaping its payload; None: the notification."
    )
    retry_schedule_s: list[float] = Field(
        default_factory=lambda: list(STANDARD_SCHEDULE_S),
        min_length=1,
        max_length=MAX_SCHEDULE,
        description="Delay before each attempt (the first is usually 0); past the last "
        "attempt the delivery has failed.",
    )
    jitter: float = Field(default=0.1, ge=0, le=0.5, description="± share of each delay.")
    rate_limit_per_s: float = Field(default=10.0, gt=0, description="Per worker.")
    timeout_s: float = Field(default=30.0, gt=0, le=300)

    @model_validator(mode="after")
    def _checks(self) -> Target:
        if problem := endpoint_problem(self.endpoint, self.allowed_hosts):
            raise ValueError(problem)
        if any(delay < 0 for delay in self.retry_schedule_s):
            raise ValueError("retry_schedule_s: delays cannot be negative")
        return self

    @property
    def host(self) -> str:
        return (urlsplit(self.endpoint).hostname or "").lower()


def one_of(patterns: list[str], value: str | None) -> bool:
    """An empty list matches anything; otherwise `value` matches a shell-style pattern."""
    if not patterns:
        return True
    return value is not None and any(fnmatch.fnmatchcase(value, p) for p in patterns)


class Match(_Strict):
    """An empty list matches anything; patterns are shell-style (`PROMO-*`)."""

    schemas: list[str] = Field(default_factory=list, description="Content type schema URIs.")
    labels: list[str] = Field(default_factory=list, description="Item label patterns.")
    locales: list[str] = Field(default_factory=list)
    folders: list[str] = Field(default_factory=list, description="Folder ids.")

    def matches(self, item: RoutedItem) -> bool:
        return (
            one_of(self.schemas, item.schema_uri)
            and one_of(self.labels, item.label)
            and one_of(self.locales, item.locale)
            and one_of(self.folders, item.folder_id)
        )


class Route(_Strict):
    name: str = Field(min_length=1)
    match: Match = Field(default_factory=Match)
    targets: list[str] = Field(default_factory=list)
    notify: list[str] = Field(default_factory=list, description="Channels told of the approval.")


class FieldMapping(_Strict):
    """A target's payload: output field → path in the item (`body.sku`, `label`, `version`)."""

    fields: dict[str, str] = Field(min_length=1)
    required: list[str] = Field(
        default_factory=list,
        description="Output fields that must be present and non-empty; an item missing one is "
        "refused for this target before anything is sent (a validation failure).",
    )
    constants: dict[str, Any] = Field(default_factory=dict)


class RoutedItem(BaseModel):
    """What routing looks at (from the Amplience item)."""

    item_id: str
    version: int
    label: str
    schema_uri: str | None = None
    locale: str | None = None
    folder_id: str | None = None


class ContentDistribution(ConcernFile):
    approval: ApprovalTriggers
    feedback: FeedbackStates = Field(default_factory=FeedbackStates)
    targets: dict[str, Target] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    mappings: dict[str, FieldMapping] = Field(default_factory=dict)
    failure_window_days: float = Field(
        default=30.0,
        gt=0,
        description="How long a failed distribution waits for a fixed version or a retry.",
    )
    max_item_bytes: int = Field(default=256 * 1024, ge=1024, le=4 * 1024 * 1024)

    def references(self, others: Concerns) -> Iterator[tuple[str, str]]:
        for name, target in self.targets.items():
            if target.mapping is not None and target.mapping not in self.mappings:
                yield f"targets.{name}.mapping", f"no mapping {target.mapping!r}"
            if target.kind == "target" and target.mapping is None:
                yield f"targets.{name}.mapping", "a target needs a mapping (channels do not)"
        seen: set[str] = set()
        for index, route in enumerate(self.routes):
            if route.name in seen:
                yield f"routes[{index}].name", f"route {route.name!r} is named twice"
            seen.add(route.name)
            for field, names, kind in (
                ("targets", route.targets, "target"),
                ("notify", route.notify, "channel"),
            ):
                for name in names:
                    target = self.targets.get(name)
                    if target is None:
                        yield f"routes[{index}].{field}", f"no target {name!r}"
                    elif target.kind != kind:
                        yield (
                            f"routes[{index}].{field}",
                            f"{name!r} is a {target.kind}, not a {kind}",
                        )
            if len(route.targets) + len(route.notify) > MAX_TARGETS_PER_ITEM:
                yield f"routes[{index}]", f"at most {MAX_TARGETS_PER_ITEM} targets and channels"

    def route(self, item: RoutedItem) -> Route | None:
        """The first route matching the item, or None (nothing to distribute)."""
        return next((r for r in self.routes if r.match.matches(item)), None)


def production_leaks(
    candidate: ContentDistribution, production: ContentDistribution
) -> Iterator[tuple[str, str]]:
    """(field path, message) for every endpoint host of a non-production bundle that the
    production bundle uses for one of its targets."""
    hosts = {t.host: name for name, t in production.targets.items()}
    for name, target in candidate.targets.items():
        if target.host in hosts:
            yield (
                f"targets.{name}.endpoint",
                f"host {target.host!r} is production's target {hosts[target.host]!r}: a "
                f"{candidate.environment} bundle must never deliver to production",
            )


_MISSING = object()


def _lookup(source: Mapping[str, Any], path: str) -> Any:
    value: Any = source
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def map_fields(mapping: FieldMapping, item: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The payload for one target, and every reason it cannot be sent (missing fields).

    `item` is the Amplience item's JSON (`id`, `version`, `label`, `locale`, `body`, ...)."""
    payload: dict[str, Any] = dict(mapping.constants)
    problems: list[str] = []
    for out, path in mapping.fields.items():
        value = _lookup(item, path)
        if value is not _MISSING:
            payload[out] = value
    for out in mapping.required:
        value = payload.get(out)
        if value is None or value == "" or value == [] or value == {}:
            source = mapping.fields.get(out, "a constant")
            problems.append(f"{out} is required (from {source})")
    return payload, problems
