"""Schema: work external applications request in ECM (`ecm-requests.json`) — which source
systems may request it; for review tasks the defaults and maxima of the human task and the
status category the decision is written to; for content updates the upload limit, how long
the API waits for the result, and the categories (by name) whose fields a requester may set.

`map_metadata` is pure: the API refuses unknown categories or fields with it (422) before
anything starts, and the activity maps the values with the bundle of the moment.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from docflow.config.concern import ConcernFile, Concerns
from docflow.config.source_systems import SourceSystems

MAX_UPLOAD_BYTES = 1024 * 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusCategory(_Strict):
    """The category holding a document's review status, and its attribute ids."""

    category_id: int = Field(ge=1)
    status: int = Field(ge=1, description="Attribute id of the status value.")
    decided_by: int = Field(ge=1)
    decided_at: int = Field(ge=1)
    comment: int = Field(ge=1)

    def key(self, attribute: int) -> str:
        return f"{self.category_id}_{attribute}"


class ReviewPolicy(_Strict):
    default_deadline: timedelta = Field(default=timedelta(days=3), gt=timedelta(0))
    max_deadline: timedelta = Field(default=timedelta(days=30), gt=timedelta(0))
    default_reminder_before: timedelta = Field(default=timedelta(hours=24), ge=timedelta(0))
    default_escalation_window: timedelta = Field(default=timedelta(days=1), gt=timedelta(0))
    max_escalation_window: timedelta = Field(default=timedelta(days=7), gt=timedelta(0))
    max_assignees: int = Field(default=20, ge=1, le=20)
    status_category: StatusCategory
    status_values: dict[str, str] = Field(
        description="Outcome (approved, rejected, changes_requested, expired) → status value."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ReviewPolicy:
        if self.default_deadline > self.max_deadline:
            raise ValueError("default_deadline is longer than max_deadline")
        if self.default_escalation_window > self.max_escalation_window:
            raise ValueError("default_escalation_window is longer than max_escalation_window")
        missing = {"approved", "rejected", "changes_requested", "expired"} - set(self.status_values)
        if missing:
            raise ValueError(f"status_values lacks {', '.join(sorted(missing))}")
        return self


class UpdateCategory(_Strict):
    """A category a requester may fill: field name → attribute id."""

    category_id: int = Field(ge=1)
    attributes: dict[str, int] = Field(min_length=1)


class UpdatePolicy(_Strict):
    max_file_bytes: int = Field(default=25 * 1024 * 1024, ge=1, le=MAX_UPLOAD_BYTES)
    wait_for_result: timedelta = Field(
        default=timedelta(seconds=30),
        gt=timedelta(0),
        le=timedelta(minutes=2),
        description="How long the API waits for the update before answering 202.",
    )
    categories: dict[str, UpdateCategory] = Field(default_factory=dict)


class EcmRequests(ConcernFile):
    requesters: list[str] = Field(
        min_length=1, description="Source systems that may request work in ECM."
    )
    review: ReviewPolicy
    update: UpdatePolicy = Field(default_factory=UpdatePolicy)

    def references(self, others: Concerns) -> Iterator[tuple[str, str]]:
        systems = others.get(SourceSystems)
        if systems is None:
            return
        for n, system in enumerate(self.requesters):
            if system not in systems.systems:
                yield f"requesters.{n}", f"{system!r} is not in source-systems.json"


class MetadataProblem(ValueError):
    """Metadata names a category or field the configuration does not allow."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def map_metadata(
    policy: UpdatePolicy, metadata: Mapping[str, Mapping[str, Any]]
) -> dict[int, dict[str, Any]]:
    """`{category name: {field: value}}` → `{category id: {"<cat>_<attr>": value}}`; every
    unknown category and field is named (MetadataProblem)."""
    problems: list[str] = []
    mapped: dict[int, dict[str, Any]] = {}
    for name, fields in metadata.items():
        category = policy.categories.get(name)
        if category is None:
            allowed = ", ".join(sorted(policy.categories)) or "none"
            problems.append(f"unknown category {name!r} (allowed: {allowed})")
            continue
        unknown = sorted(set(fields) - set(category.attributes))
        if unknown:
            problems.append(f"{name}: unknown fields {', '.join(unknown)}")
            continue
        values = mapped.setdefault(category.category_id, {})
        for field, value in fields.items():
            values[f"{category.category_id}_{category.attributes[field]}"] = value
    if problems:
        raise MetadataProblem(problems)
    return mapped
