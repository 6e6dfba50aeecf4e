"""`ContentDistributions`: the distribution process of each Amplience content item — approvals
from the receiver, operators' retries of failed targets, status and the delivery audit trail.

Also the receiver's classification of Amplience webhooks (`approval_of`): which events mean
"distribute this version" is the environment's (`content-distribution.json`), not the code's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from docflow import search_attributes as sa
from docflow.config.bundle import BundleReader
from docflow.config.distribution import ContentDistribution
from docflow.models.content import (
    ApprovalEvent,
    DistributionInput,
    DistributionStatus,
    RetryFailedRequest,
    TargetDelivery,
)
from docflow.settings import Settings
from starter.processes.base import QUERY_TIMEOUT, Delivery, ProcessClient, quoted

SOURCE_SYSTEM = "AMPLIENCE"
EVENT_WORKFLOW_UPDATED = "dynamic-content.content-item.workflow.updated"
EVENT_SNAPSHOT_PUBLISHED = "dynamic-content.snapshot.published"
EVENT_EDITION_PUBLISHED = "dynamic-content.edition.published"
RECONCILE_EVENT = "docflow.content.distribute"  # (activities.amplience.distribution's)
MAX_BY_TARGET = 50  # items a by-target listing queries (newest first)


def content_workflow_id(item_id: str) -> str:
    return f"content:{item_id}"


def approval_of(
    config: ContentDistribution, envelope: dict[str, Any], received_at: datetime
) -> tuple[list[ApprovalEvent], str]:
    """The approvals an Amplience webhook carries, or none and why it is ignored."""
    name = str(envelope.get("name", ""))
    event_id = str(envelope.get("id", ""))
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        return [], "no payload"
    approval = config.approval

    def event(item_id: Any, version: Any, state_id: str | None = None) -> ApprovalEvent:
        return ApprovalEvent(
            event_id=f"{event_id}:{item_id}" if name != EVENT_WORKFLOW_UPDATED else event_id,
            event_name=name,
            item_id=str(item_id),
            version=version if isinstance(version, int) and version >= 1 else None,
            state_id=state_id,
            received_at=received_at,
        )

    if name == EVENT_WORKFLOW_UPDATED:
        workflow = payload.get("workflow")
        state = workflow.get("state") if isinstance(workflow, dict) else None
        if approval.workflow_state_id is None:
            return [], "workflow states trigger nothing in this environment"
        if state != approval.workflow_state_id:
            return [], f"workflow state {state!r} is not {approval.workflow_state_label!r}"
        return [event(payload.get("id"), payload.get("version"), state)], ""
    if name == EVENT_SNAPSHOT_PUBLISHED and approval.snapshot_published:
        root = payload.get("rootContentItem")
        if not isinstance(root, dict) or not root.get("id"):
            return [], "snapshot without a root content item"
        return [event(root["id"], root.get("version"))], ""
    if name == EVENT_EDITION_PUBLISHED and approval.edition_published:
        roots = payload.get("rootContentItems") or payload.get("slots") or []
        found = [r for r in roots if isinstance(r, dict) and r.get("id")][:100]
        if not found:
            return [], "edition without content items"
        return [event(r["id"], r.get("version")) for r in found], ""
    return [], f"{name or 'an unnamed event'} is not an approval here"


class ContentDistributions(ProcessClient):
    """The distribution processes of one environment, keyed by content item id."""

    workflow_type = "ContentDistributionWorkflow"
    process_name = "content distribution"

    def __init__(self, client: Client, settings: Settings, config: BundleReader) -> None:
        super().__init__(client, settings)
        self._config = config

    def workflow_id(self, key: str) -> str:
        return content_workflow_id(key)

    async def approve(self, event: ApprovalEvent) -> Delivery:
        """Signal-with-start the item's workflow (an ended one starts afresh)."""
        await self.signal_with_start(
            event.item_id,
            "approved",
            event,
            DistributionInput(item_id=event.item_id, environment=self.settings.profile),
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.BUSINESS_KEY, content_workflow_id(event.item_id)),
                    SearchAttributePair(sa.SOURCE_SYSTEM, SOURCE_SYSTEM),
                    SearchAttributePair(sa.ENVIRONMENT, self.settings.profile),
                    SearchAttributePair(sa.STATUS, "waiting"),
                ]
            ),
            static_summary=f"Distribute Amplience item {event.item_id}",
        )
        return "accepted"

    async def distribute_current(self, item_id: str, actor: str, request_id: str) -> None:
        """Distribute the item's current version if Amplience shows it approved: the answer to
        an approval webhook that never arrived (Amplience does not retry its webhooks)."""
        await self.approve(
            ApprovalEvent(
                event_id=f"distribute:{request_id}"[:200],
                event_name=RECONCILE_EVENT,
                item_id=item_id,
                received_at=datetime.now(UTC),
            )
        )

    async def retry_failed(self, item_id: str, request: RetryFailedRequest) -> str:
        result: str = await self.update(item_id, "retry_failed", request, result_type=str)
        return result

    async def status(self, item_id: str) -> DistributionStatus:
        return await self.query(item_id, "status", result_type=DistributionStatus)

    async def by_target(self, target: str, limit: int = MAX_BY_TARGET) -> list[TargetDelivery]:
        """Deliveries to `target` across the items most recently routed to it (live: the
        processes Temporal still holds; the read model keeps them for years)."""
        query = f"WorkflowType = '{self.workflow_type}' AND {sa.TARGETS.name} = '{quoted(target)}'"
        found: list[TargetDelivery] = []
        try:
            async for execution in self.client.list_workflows(
                query, limit=limit, rpc_timeout=QUERY_TIMEOUT
            ):
                handle = self.client.get_workflow_handle(execution.id, run_id=execution.run_id)
                status = await handle.query(
                    "status", result_type=DistributionStatus, rpc_timeout=QUERY_TIMEOUT
                )
                found.extend(d for d in status.deliveries if d.target == target)
        except Exception as exc:
            self.fail(exc, f"target {target}")
        return sorted(found, key=lambda d: d.started_at, reverse=True)
