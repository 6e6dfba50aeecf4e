"""Typed views of Amplience's resources: content items, versions, workflow states, publishing
jobs, HAL pages, Content Delivery 2 answers and the webhook envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

ItemStatus = Literal["ACTIVE", "ARCHIVED", "DELETED"]
PublishingStatus = Literal["NONE", "EARLY", "LATEST", "UNPUBLISHED"]
JobState = Literal[
    "CREATED", "PREPARING", "WAITING", "PUBLISHING", "COMPLETED", "FAILED", "CANCELLED"
]
FINAL_JOB_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})

EVENT_CREATED = "dynamic-content.content-item.created"
EVENT_UPDATED = "dynamic-content.content-item.updated"
EVENT_ASSIGNED = "dynamic-content.content-item.assigned"
EVENT_WORKFLOW_UPDATED = "dynamic-content.content-item.workflow.updated"
EVENT_SNAPSHOT_PUBLISHED = "dynamic-content.snapshot.published"
EVENT_EDITION_PUBLISHED = "dynamic-content.edition.published"
EVENT_EDITION_SCHEDULED = "dynamic-content.edition.scheduled"
EVENT_EDITION_UNSCHEDULED = "dynamic-content.edition.unscheduled"
CONTENT_ITEM_EVENTS = frozenset(
    {EVENT_CREATED, EVENT_UPDATED, EVENT_ASSIGNED, EVENT_WORKFLOW_UPDATED}
)


class _Resource(BaseModel):
    # Amplience adds fields over time; only what docflow reads is typed.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Link(_Resource):
    href: str
    templated: bool = False


class ItemMeta(_Resource):
    name: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    delivery_key: str | None = Field(default=None, alias="deliveryKey")


class Workflow(_Resource):
    state: str | None = None


class ContentItem(_Resource):
    """`GET /content-items/{id}` (and one version of it)."""

    id: str
    content_repository_id: str | None = Field(default=None, alias="contentRepositoryId")
    folder_id: str | None = Field(default=None, alias="folderId")
    version: int
    label: str
    locale: str | None = None
    status: ItemStatus = "ACTIVE"
    body: dict[str, Any]
    workflow: Workflow | None = None
    delivery_id: str | None = Field(default=None, alias="deliveryId")
    delivery_key: str | None = Field(default=None, alias="deliveryKey")
    validation_state: str | None = Field(default=None, alias="validationState")
    publishing_status: PublishingStatus | None = Field(default=None, alias="publishingStatus")
    last_published_version: int | None = Field(default=None, alias="lastPublishedVersion")
    last_published_date: datetime | None = Field(default=None, alias="lastPublishedDate")
    created_date: datetime | None = Field(default=None, alias="createdDate")
    last_modified_date: datetime | None = Field(default=None, alias="lastModifiedDate")
    links: dict[str, Link] = Field(default_factory=dict, alias="_links")

    @property
    def meta(self) -> ItemMeta:
        return ItemMeta.model_validate(self.body.get("_meta") or {})

    @property
    def schema_uri(self) -> str | None:
        meta = self.body.get("_meta")
        value = meta.get("schema") if isinstance(meta, dict) else None
        return value if isinstance(value, str) else None

    @property
    def workflow_state(self) -> str | None:
        return self.workflow.state if self.workflow else None


class WorkflowState(_Resource):
    id: str
    label: str
    color: str | None = None


class PageInfo(_Resource):
    size: int
    total_elements: int = Field(alias="totalElements")
    total_pages: int = Field(alias="totalPages")
    number: int


T = TypeVar("T")


class HalPage(_Resource, Generic[T]):
    """`{_embedded:{<rel>:[...]}, _links, page}` with 0-based page numbers."""

    embedded: dict[str, list[T]] = Field(default_factory=dict, alias="_embedded")
    links: dict[str, Link] = Field(default_factory=dict, alias="_links")
    page: PageInfo | None = None

    def items(self, rel: str) -> list[T]:
        return self.embedded.get(rel, [])

    @property
    def has_next(self) -> bool:
        return "next" in self.links or (
            self.page is not None and self.page.number + 1 < self.page.total_pages
        )


class PublishingJob(_Resource):
    id: str
    state: JobState
    created_date: datetime | None = Field(default=None, alias="createdDate")
    scheduled_date: datetime | None = Field(default=None, alias="scheduledDate")
    publish_error_status: str | None = Field(default=None, alias="publishErrorStatus")
    links: dict[str, Link] = Field(default_factory=dict, alias="_links")

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_JOB_STATES


class DeliveredContent(_Resource):
    """Content Delivery 2: `{"content": {"_meta": {..., "deliveryId"}, ...}}`."""

    content: dict[str, Any]

    @property
    def delivery_id(self) -> str | None:
        meta = self.content.get("_meta")
        value = meta.get("deliveryId") if isinstance(meta, dict) else None
        return value if isinstance(value, str) else None


class WebhookEnvelope(_Resource):
    """The body of every Amplience webhook."""

    sequence_id: int | None = Field(default=None, alias="sequenceId")
    id: str
    name: str
    request_id: str | None = Field(default=None, alias="requestId")
    resource: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_content_item_event(self) -> bool:
        return self.name in CONTENT_ITEM_EVENTS

    def content_item(self) -> ContentItem | None:
        """The item a content-item event carries (id, version, workflow state), else None."""
        if not self.is_content_item_event:
            return None
        return ContentItem.model_validate(self.payload)
