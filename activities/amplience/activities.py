"""Activities for Amplience Dynamic Content: read an item or version, find an item by its
delivery key, write master data, move an item's workflow state (the failure loop), publish
and follow the job.

Each activity classifies its errors (external_call) and never loops on failures; a version
conflict is re-read and re-applied inside the client. Publishing takes a token of the
worker-wide publish limiter first (Amplience: 100 per minute); a 429 is retried with the
preset's exponential back-off.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.amplience.client import AmplienceClient
from activities.amplience.errors import DeliveryKeyTakenError
from activities.amplience.limits import PublishLimiter
from activities.amplience.models import ContentItem, PublishingJob
from activities.http.error_mapping import external_call
from docflow.models.master_data import DeliveryKeyLookup, FoundItem
from docflow.settings import Settings


class ItemRef(BaseModel):
    item_id: str
    version: int | None = Field(default=None, description="None: the current version.")


class UpsertItemInput(BaseModel):
    """Master data into Amplience: create in `repository_id`, or update `item_id`."""

    repository_id: str
    label: str
    body: dict[str, object] = Field(description="Carries _meta.schema.")
    item_id: str | None = None
    locale: str | None = None


class SetWorkflowStateInput(BaseModel):
    item_id: str
    state_label: str = Field(description="e.g. 'Integration failed' or 'Distributed'.")
    version: int | None = Field(default=None, description="The version the caller saw.")


class AmplienceActivities:
    def __init__(self, client: AmplienceClient, limiter: PublishLimiter | None = None) -> None:
        self._client = client
        self._limiter = limiter or PublishLimiter()

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> AmplienceActivities:
        limit = settings.amplience.publish_limit_per_minute
        return cls(AmplienceClient.from_settings(settings, http), PublishLimiter(limit, 60.0))

    @activity.defn(name="amplience_get_item")
    async def get_item(self, ref: ItemRef) -> ContentItem:
        """The item at `ref.version`, or its current version."""
        with external_call(f"read Amplience item {ref.item_id}"):
            if ref.version is None:
                return await self._client.get_item(ref.item_id)
            return await self._client.get_version(ref.item_id, ref.version)

    @activity.defn(name="amplience_find_by_delivery_key")
    async def find_by_delivery_key(self, lookup: DeliveryKeyLookup) -> FoundItem:
        """The item holding a delivery key (docflow's durable ledger), or an empty answer."""
        with external_call(f"find the Amplience item with delivery key {lookup.delivery_key}"):
            item = await self._client.find_by_delivery_key(lookup.delivery_key)
        if item is None:
            return FoundItem()
        return FoundItem(item_id=item.id, version=item.version)

    @activity.defn(name="amplience_upsert_item")
    async def upsert_item(self, request: UpsertItemInput) -> ContentItem:
        """Create, or update at the current version (a conflict is re-read and re-applied).

        A create whose delivery key is taken (an earlier attempt created the item and its
        answer was lost) updates the item holding the key: a retry never makes a duplicate."""
        changes: dict[str, object] = {"label": request.label, "body": request.body}
        if request.locale is not None:
            changes["locale"] = request.locale
        with external_call(f"write Amplience item {request.item_id or request.label}"):
            if request.item_id is not None:
                return await self._client.patch_item(request.item_id, changes)
            try:
                return await self._client.create_item(
                    request.repository_id,
                    label=request.label,
                    body=request.body,
                    locale=request.locale,
                )
            except DeliveryKeyTakenError:
                meta = request.body.get("_meta")
                key = meta.get("deliveryKey") if isinstance(meta, dict) else None
                existing = (
                    await self._client.find_by_delivery_key(key) if isinstance(key, str) else None
                )
                if existing is None:
                    raise
                return await self._client.patch_item(existing.id, changes)

    @activity.defn(name="amplience_set_workflow_state")
    async def set_workflow_state(self, request: SetWorkflowStateInput) -> ContentItem:
        with external_call(f"move Amplience item {request.item_id} to {request.state_label}"):
            state = await self._client.workflow_state_id(request.state_label)
            return await self._client.set_workflow_state(
                request.item_id, state, version=request.version
            )

    @activity.defn(name="amplience_publish")
    async def publish(self, ref: ItemRef) -> PublishingJob:
        """Publish the current version and follow the job to COMPLETED or FAILED."""
        wait_s = await self._limiter.acquire()
        if wait_s is not None:
            raise ApplicationError(
                f"this worker's publish limit is used up; next publish in {wait_s:.0f} s",
                type="PublishRateLimited",
                next_retry_delay=timedelta(seconds=wait_s),
            )
        with external_call(f"publish Amplience item {ref.item_id}"):
            return await self._client.publish_and_wait(ref.item_id)
