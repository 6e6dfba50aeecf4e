"""Activities for Amplience Dynamic Content: read an item or version, write master data, move
an item's workflow state (the failure loop), publish and follow the job.

Not registered with the worker yet: the content-distribution workflows that call them come
later. Each activity classifies its errors (external_call) and never loops on failures; a
version conflict is re-read and re-applied inside the client.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel, Field
from temporalio import activity

from activities.amplience.client import AmplienceClient
from activities.amplience.models import ContentItem, PublishingJob
from activities.http.error_mapping import external_call
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
    def __init__(self, client: AmplienceClient) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> AmplienceActivities:
        return cls(AmplienceClient.from_settings(settings, http))

    @activity.defn(name="amplience_get_item")
    async def get_item(self, ref: ItemRef) -> ContentItem:
        """The item at `ref.version`, or its current version."""
        with external_call(f"read Amplience item {ref.item_id}"):
            if ref.version is None:
                return await self._client.get_item(ref.item_id)
            return await self._client.get_version(ref.item_id, ref.version)

    @activity.defn(name="amplience_upsert_item")
    async def upsert_item(self, request: UpsertItemInput) -> ContentItem:
        """Create, or update at the current version (a conflict is re-read and re-applied)."""
        with external_call(f"write Amplience item {request.item_id or request.label}"):
            if request.item_id is None:
                return await self._client.create_item(
                    request.repository_id,
                    label=request.label,
                    body=request.body,
                    locale=request.locale,
                )
            changes: dict[str, object] = {"label": request.label, "body": request.body}
            if request.locale is not None:
                changes["locale"] = request.locale
            return await self._client.patch_item(request.item_id, changes)

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
        with external_call(f"publish Amplience item {ref.item_id}"):
            return await self._client.publish_and_wait(ref.item_id)
