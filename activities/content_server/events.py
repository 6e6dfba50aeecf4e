"""ECM events out of Content Server, as docflow reads them: the planning of one event (which
subscribers, which lifecycle rules — a rule's metadata condition confirmed with a read), a
document's earlier events from its audit trail, and the audit poller's reading of the watched
workspaces, each event handed to its document's relay workflow (`docflow.ecm_intake`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.content_server.audit import node_events, overlap, watched_nodes
from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.http.error_mapping import configuration_lookup
from docflow.config.bundle import bundle_reader
from docflow.config.ecm_events import (
    EcmEvents,
    EventSubject,
    ReviewTask,
    TriggerRule,
)
from docflow.ecm_intake import submit_event
from docflow.models.ecm_events import (
    EarlierEventsInput,
    EcmEvent,
    EcmWorkspace,
    EventPlan,
    PlanEventInput,
    PlannedAction,
    PollInput,
    PollResult,
)
from docflow.models.ecm_requests import REVIEW_STAGE, ReviewTaskInput
from docflow.models.signing import ApprovalStageSpec, Quorum
from docflow.settings import Settings


class EcmEventSource:
    def __init__(
        self, settings: Settings, content_server: ContentServerClient, *, client: Client | None
    ) -> None:
        self._settings = settings
        self._cs = content_server
        self._client = client
        self._bundle = bundle_reader(settings)

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient, *, client: Client | None = None
    ) -> EcmEventSource:
        """On the shared pool, reading ECM under docflow's service account."""
        otcs = settings.content_server
        auth = OtcsTicketAuth(
            http,
            otcs.base_url,
            otcs.username,
            settings.secret(otcs.password),
            timeout_s=otcs.timeout_s,
        )
        content_server = ContentServerClient(http, otcs.base_url, auth, timeout_s=otcs.timeout_s)
        return cls(settings, content_server, client=client)

    # ------------------------------------------------------------------ planning
    @activity.defn(name="plan_ecm_event")
    async def plan(self, request: PlanEventInput) -> EventPlan:
        """Who gets the event and which lifecycle rules act on it, by this environment's
        `ecm-events.json`; a rule's metadata condition is checked against ECM now."""
        config = await self._config()
        event = request.event
        if event.type not in config.accept:
            return EventPlan(
                config_version=config.version,
                ignored_reason=f"{event.type} is not taken in {config.environment}",
            )
        subject = subject_of(event)
        actions: list[PlannedAction] = []
        applied: dict[int, dict[str, Any]] | None = None
        for rule in config.triggers_for(subject):
            condition = rule.when.category
            if condition is not None:
                if applied is None:  # one read, whatever the number of rules
                    applied = await self._cs.get_categories(event.node.id)
                value = applied.get(condition.category_id, {}).get(condition.attribute)
                if str(value or "") != condition.equals:
                    continue
            actions.append(
                PlannedAction(
                    rule_id=rule.id,
                    kind=rule.action.kind,
                    description=rule.description,
                    review=self._review(rule, event),
                )
            )
        return EventPlan(
            config_version=config.version,
            subscribers=config.subscribers_for(subject),
            actions=actions,
        )

    # ------------------------------------------------------------------ the audit trail
    @activity.defn(name="earlier_ecm_events")
    async def earlier_events(self, request: EarlierEventsInput) -> list[EcmEvent]:
        """The node's events up to `before` (inclusive, audit dates are to the second) from
        its audit trail: a creation whose webhook was lost is then relayed first."""
        node = (await self._cs.get_node(request.node_id, fields=("properties",))).properties
        before = datetime.fromisoformat(request.before.replace("Z", "+00:00"))
        found = await node_events(self._cs, node, None, until=before, received_at=datetime.now(UTC))
        return found[-50:]

    @activity.defn(name="poll_ecm_audit")
    async def poll_audit(self, request: PollInput) -> PollResult:
        """Read the watched workspaces' audit trails since the cursor and hand every event
        found to its document's workflow (which drops what it has seen)."""
        config = await self._config()
        poller = config.poller
        client = self._need_client()
        since = overlap(request.cursor, lookback=timedelta(seconds=request.lookback_s))
        interval = self._settings.ecm_events.poll_interval_s or poller.interval_s
        result = PollResult(cursor=request.cursor, interval_s=interval, enabled=poller.enabled)
        if not poller.enabled:
            return result
        workspaces = await self._watched_workspaces(config)
        result.workspaces = len(workspaces)
        now = datetime.now(UTC)
        budget = poller.max_nodes_per_poll
        for workspace in workspaces:
            async for node in watched_nodes(
                self._cs, workspace.id, depth=poller.depth, limit=budget
            ):
                result.nodes += 1
                budget -= 1
                events = await node_events(self._cs, node, workspace, since=since, received_at=now)
                for event in events:
                    result.entries += 1
                    moment = datetime.fromisoformat(event.audit_date.replace("Z", "+00:00"))
                    if result.cursor is None or moment > result.cursor:
                        result.cursor = moment
                    await submit_event(
                        client,
                        event,
                        task_queue=self._settings.temporal.task_queue,
                        environment=self._settings.profile,
                        hold_s=config.ordering.hold_s,
                    )
                    result.submitted += 1
                activity.heartbeat(result.nodes)
                if budget <= 0:
                    result.truncated = True
                    return result
        return result

    async def _watched_workspaces(self, config: EcmEvents) -> list[EcmWorkspace]:
        poller = config.poller
        found: dict[int, EcmWorkspace] = {}
        for workspace_id in poller.workspaces:
            found[workspace_id] = EcmWorkspace(id=workspace_id)
        for pattern in poller.bo_types:
            ext_system_id, _, bo_type = pattern.partition("/")
            for ws in await self._cs.workspaces_of_type(ext_system_id, bo_type):
                found[ws.properties.id] = EcmWorkspace(
                    id=ws.properties.id,
                    ext_system_id=ext_system_id,
                    bo_type=bo_type,
                    bo_id=ws.business_properties.business_object_id,
                )
        return list(found.values())

    def _review(self, rule: TriggerRule, event: EcmEvent) -> ReviewTaskInput | None:
        """The review a `review_task` rule asks for on this event's document (no requester:
        the decision goes onto the document, nobody gets a callback)."""
        action = rule.action
        if not isinstance(action, ReviewTask):
            return None
        request_id = f"{rule.id}.{event.key_digest}"
        return ReviewTaskInput(
            key=f"ECM/{request_id}",  # addressed as the requests of system 'ECM' are
            request_id=request_id,
            node_id=event.node.id,
            version=event.node.version,
            title=action.title,
            instructions=rule.description,
            stage=ApprovalStageSpec(
                name=REVIEW_STAGE,
                approvers=action.assignees,
                quorum=Quorum(action.quorum),
                deadline=timedelta(seconds=action.deadline_s),
                reminder_before=timedelta(seconds=action.reminder_before_s),
                escalation_approver=action.escalation_to,
                escalation_window=timedelta(seconds=action.escalation_window_s),
            ),
            started_by=f"rule:{rule.id}",
            environment=self._settings.profile,
        )

    async def _config(self) -> EcmEvents:
        with configuration_lookup():
            return (await self._bundle.current()).get(EcmEvents)

    def _need_client(self) -> Client:
        if self._client is None:
            raise ApplicationError(
                "this worker has no Temporal client for the audit poller", non_retryable=True
            )
        return self._client


def subject_of(event: EcmEvent) -> EventSubject:
    workspace = event.workspace
    return EventSubject(
        event_type=event.type,
        node_id=event.node.id,
        parent_id=event.node.parent_id,
        name=event.node.name,
        workspace_id=workspace.id if workspace else None,
        ext_system_id=workspace.ext_system_id if workspace else None,
        bo_type=workspace.bo_type if workspace else None,
    )
