"""`EcmRelay`: the ECM event relay of one environment — events in (receiver, operator), each
document's relay status and replays, the subscribers' health, enabling and recovery, the audit
poller. Also the receiver's reading of docflow's event contract (`event_from_webhook`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from docflow import search_attributes as sa
from docflow.config.bundle import BundleReader
from docflow.config.ecm_events import EcmEvents
from docflow.ecm_intake import submit_event
from docflow.models.ecm_events import (
    DocumentEventsStatus,
    EcmEvent,
    EcmNode,
    EcmWorkspace,
    EnableRequest,
    EndpointHealth,
    PollerInput,
    PollerStatus,
    RecoverRequest,
    RecoverResult,
    RelayMessage,
    ReplayRequest,
    ReplayResult,
    SubscriberInput,
    audit_instant,
    document_workflow_id,
    subscriber_workflow_id,
)
from docflow.settings import Settings
from starter.processes.base import QUERY_TIMEOUT, ProcessClient, quoted

R = TypeVar("R")
POLLER_ID = "ecm-audit-poller"
MAX_BY_SUBSCRIPTION = 50  # documents a by-subscription listing queries (newest first)
DETAIL_KEYS = ("version", "category_id", "class_id", "hold_id", "role_id", "member_id")


class EcmWebhook(BaseModel):
    """docflow's contract for events out of Content Server (external-apis.md §2)."""

    type: str = Field(max_length=64, examples=["node.approved"])
    timestamp: datetime
    data: EcmWebhookData


class EcmAudit(BaseModel):
    event_type: int | None = None
    audit_date: datetime


class EcmWebhookData(BaseModel):
    node: EcmNode
    workspace: EcmWorkspace | None = None
    audit: EcmAudit
    version: int | None = Field(default=None, ge=1)


EcmWebhook.model_rebuild()


def event_from_webhook(
    raw: dict[str, Any], message: EcmWebhook, message_id: str, received_at: datetime
) -> EcmEvent:
    """The event a verified, validated webhook carries."""
    data = raw.get("data") or {}
    node = message.data.node
    if message.data.version is not None:
        # The version this event is about (the node's latest may have moved on since).
        node = node.model_copy(update={"version": message.data.version})
    details = {k: data[k] for k in DETAIL_KEYS if isinstance(data.get(k), int | str)}
    return EcmEvent(
        type=message.type,
        node=node,
        workspace=message.data.workspace,
        audit_date=audit_instant(message.data.audit.audit_date),
        audit_event_type=message.data.audit.event_type,
        details=details,
        source="webhook",
        message_id=message_id[:200],
        received_at=received_at,
    )


class EcmRelay(ProcessClient):
    """Keyed by node id (documents); subscribers and the poller by their own ids."""

    workflow_type = "EcmDocumentWorkflow"
    process_name = "ECM event relay"

    def __init__(self, client: Client, settings: Settings, config: BundleReader) -> None:
        super().__init__(client, settings)
        self._config = config

    def workflow_id(self, key: str) -> str:
        return document_workflow_id(int(key))

    async def config(self) -> EcmEvents:
        return (await self._config.current()).get(EcmEvents)

    # ------------------------------------------------------------------ events
    async def submit(self, event: EcmEvent) -> None:
        config = await self.config()
        try:
            await submit_event(
                self.client,
                event,
                task_queue=self.task_queue,
                environment=self.settings.profile,
                hold_s=config.ordering.hold_s,
            )
        except Exception as exc:
            self.fail(exc, str(event.node.id))

    async def document(self, node_id: int) -> DocumentEventsStatus:
        return await self.query(str(node_id), "status", result_type=DocumentEventsStatus)

    async def replay(self, node_id: int, request: ReplayRequest) -> ReplayResult:
        return await self.update(str(node_id), "replay", request, result_type=ReplayResult)

    # ------------------------------------------------------------------ subscribers
    async def health(self, subscription: str) -> EndpointHealth:
        """The subscriber's health (healthy when nothing has gone wrong yet: no workflow)."""
        handle = self.client.get_workflow_handle(subscriber_workflow_id(subscription))
        try:
            return await handle.query(
                "health", result_type=EndpointHealth, rpc_timeout=QUERY_TIMEOUT
            )
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return EndpointHealth(subscription=subscription)
            self.fail(exc, subscription)
        except WorkflowQueryFailedError as exc:
            self.fail(exc, subscription)

    async def enable(self, subscription: str, request: EnableRequest) -> EndpointHealth:
        return await self._subscriber_update(subscription, "enable", request, EndpointHealth)

    async def recover(self, subscription: str, request: RecoverRequest) -> RecoverResult:
        return await self._subscriber_update(subscription, "recover", request, RecoverResult)

    async def _subscriber_update(
        self, subscription: str, update: str, arg: BaseModel, result_type: type[R]
    ) -> R:
        operation = WithStartWorkflowOperation(
            "EcmSubscriberWorkflow",
            SubscriberInput(subscription=subscription),
            id=subscriber_workflow_id(subscription),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            static_summary=f"ECM subscriber {subscription}: health and recovery",
        )
        try:
            result: R = await self.client.execute_update_with_start_workflow(
                update, arg, start_workflow_operation=operation, result_type=result_type
            )
        except WorkflowUpdateFailedError as exc:
            self._refused(exc)
        except Exception as exc:
            self.fail(exc, subscription)
        return result

    async def messages_to(
        self, subscription: str, limit: int = MAX_BY_SUBSCRIPTION
    ) -> list[RelayMessage]:
        """The messages to one subscription across the documents most recently relayed to it
        (live: what Temporal still holds; newest first)."""
        where = f"{sa.TARGETS.name} = '{quoted(subscription)}'"
        query = f"WorkflowType = '{self.workflow_type}' AND {where}"
        found: list[RelayMessage] = []
        try:
            async for execution in self.client.list_workflows(
                query, limit=limit, rpc_timeout=QUERY_TIMEOUT
            ):
                handle = self.client.get_workflow_handle(execution.id, run_id=execution.run_id)
                status = await handle.query(
                    "status", result_type=DocumentEventsStatus, rpc_timeout=QUERY_TIMEOUT
                )
                found.extend(m for m in status.messages if m.subscription == subscription)
        except Exception as exc:
            self.fail(exc, f"subscription {subscription}")
        return sorted(found, key=_last_activity, reverse=True)

    # ------------------------------------------------------------------ the poller
    async def start_poller(self) -> str:
        """Start the environment's audit poller unless it runs; its workflow id."""
        try:
            await self.client.start_workflow(
                "EcmAuditPollerWorkflow",
                PollerInput(),
                id=POLLER_ID,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                static_summary="Read the watched workspaces' audit trails for ECM events",
            )
        except Exception as exc:
            self.fail(exc, POLLER_ID)
        return POLLER_ID

    async def poll_now(self) -> None:
        try:
            await self.client.get_workflow_handle(POLLER_ID).signal("poll_now")
        except Exception as exc:
            self.fail(exc, POLLER_ID)

    async def poller(self) -> PollerStatus:
        try:
            return await self.client.get_workflow_handle(POLLER_ID).query(
                "status", result_type=PollerStatus, rpc_timeout=QUERY_TIMEOUT
            )
        except Exception as exc:
            self.fail(exc, POLLER_ID)


def _last_activity(message: RelayMessage) -> datetime:
    times = [a.at for a in message.attempts]
    return max(times) if times else datetime.min.replace(tzinfo=UTC)
