"""The ECM relay's activities: plan an event, attempt one delivery, keep the subscribers'
health, read the audit trail, recover an endpoint's failures.

`relay_to_subscriber` makes ONE signed POST and reports what happened (it raises only when the
subscription itself is unusable): the document's workflow runs the schedule, so every attempt
is logged and visible. Before posting it checks the subscriber's health (its
EcmSubscriberWorkflow, read at most every few seconds per worker): a disabled endpoint is not
called. Health changes (first failure, recovery, 410) are reported to that workflow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio import activity
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.ecm_events.audit import (
    event_from_audit,
    node_audit,
    overlap,
    watched_nodes,
)
from activities.ecm_events.registry import Subscriber, SubscriberRegistry, SubscriptionNotFound
from activities.http.error_mapping import configuration_lookup
from activities.http.errors import ExternalServiceError, RetryableServiceError
from activities.http.webhooks import DeliveryAbortedError, EndpointGoneError, signed_by
from activities.targets.limiter import RateLimited, RateLimiter
from activities.targets.schedule import next_delay
from docflow import search_attributes as sa
from docflow.config.ecm_events import EcmEvents, EventSubject, category_value
from docflow.config.source_systems import EndpointNotAllowed
from docflow.ecm_intake import submit_event
from docflow.models.ecm_events import (
    EarlierEventsInput,
    EcmEvent,
    EcmWorkspace,
    EndpointHealth,
    EndpointReport,
    EventPlan,
    OperationalMessage,
    PlanEventInput,
    PlannedAction,
    PollInput,
    PollResult,
    RecoverInput,
    RecoverResult,
    RelayAttempt,
    RelayRequest,
    ReplayRequest,
    ReplayResult,
    SubscriberInput,
    subscriber_workflow_id,
)
from docflow.settings import Settings

HEALTH_TTL_S = 3.0  # how stale a worker's view of a subscriber's health may be
SUBSCRIBER_WORKFLOW = "EcmSubscriberWorkflow"
REPORT_SIGNAL = "endpoint_report"
RECOVER_PAGE = 200


class EcmEventActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        content_server: ContentServerClient,
        *,
        client: Client | None = None,
        registry: SubscriberRegistry | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._http = http
        self._settings = settings
        self._cs = content_server
        self._client = client
        self._registry = registry or SubscriberRegistry(settings)
        self._limiter = limiter or RateLimiter()
        self._health: dict[str, tuple[float, EndpointHealth]] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient, *, client: Client | None = None
    ) -> EcmEventActivities:
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
        return cls(http, settings, content_server, client=client)

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
        categories: dict[str, Any] | None = None
        for rule in config.triggers_for(subject):
            condition = rule.when.category
            if condition is not None:
                if categories is None:
                    categories = await self._categories(event.node.id)
                if str(category_value(categories, condition) or "") != condition.equals:
                    continue
            actions.append(
                PlannedAction(rule_id=rule.id, kind=rule.action.kind, description=rule.description)
            )
        return EventPlan(
            config_version=config.version,
            subscribers=config.subscribers_for(subject),
            actions=actions,
        )

    @activity.defn(name="plan_ecm_operational")
    async def plan_operational(self, message: OperationalMessage) -> list[str]:
        """The subscriptions that asked for this operational event type."""
        return (await self._config()).operational_subscribers(message.event_type)

    # ------------------------------------------------------------------ delivery
    @activity.defn(name="relay_to_subscriber")
    async def relay(self, request: RelayRequest) -> RelayAttempt:
        """One signed POST of the message; the outcome (never an exception for an HTTP answer)."""
        subscriber = await self._subscriber(request.subscription)
        started_at = datetime.now(UTC)
        health = await self._endpoint_health(subscriber.name)
        if health.state == "disabled":
            return RelayAttempt(
                number=request.attempt,
                at=started_at,
                outcome="disabled",
                excerpt=f"endpoint disabled: {health.disabled_reason}"[:300],
            )
        try:
            await self._limiter.acquire(subscriber.name, subscriber.rate_limit_per_s)
        except RateLimited as exc:
            return RelayAttempt(
                number=request.attempt,
                at=started_at,
                outcome="rate_limited",
                retry_after_s=exc.retry_after.total_seconds(),
                excerpt=str(exc)[:300],
            )
        envelope = {"type": request.event_type, "timestamp": started_at.isoformat()}
        body = json.dumps({**envelope, "data": request.payload})
        sender = signed_by(
            self._http,
            self._settings.secret,
            subscriber.secret,
            owner=f"subscription {subscriber.name!r}",
            system=f"subscriber:{subscriber.name}",
            timeout_s=subscriber.timeout_s,
        )
        clock = time.monotonic()
        try:
            response = await sender.send(subscriber.url, request.message_id, body)
        except ExternalServiceError as exc:
            attempt = _failed(request, started_at, _ms(clock), exc)
        else:
            attempt = RelayAttempt(
                number=request.attempt,
                at=started_at,
                status_code=response.status_code,
                latency_ms=_ms(clock),
                outcome="delivered",
            )
        if attempt.outcome == "failed":
            delay = next_delay(
                subscriber.retry_schedule_s,
                request.attempt,
                jitter=subscriber.jitter,
                retry_after=(
                    timedelta(seconds=attempt.retry_after_s) if attempt.retry_after_s else None
                ),
            )
            attempt.next_delay_s = delay.total_seconds() if delay is not None else None
        _log(request, subscriber, attempt)
        await self._note_health(subscriber, attempt, request.message_id)
        return attempt

    @activity.defn(name="report_ecm_endpoint")
    async def report_endpoint(self, report: EndpointReport) -> None:
        """Tell the subscriber's workflow (started if none runs) about its endpoint."""
        client = self._need_client()
        await client.start_workflow(
            SUBSCRIBER_WORKFLOW,
            SubscriberInput(subscription=report.subscription),
            id=subscriber_workflow_id(report.subscription),
            task_queue=self._settings.temporal.task_queue,
            start_signal=REPORT_SIGNAL,
            start_signal_args=[report],
            static_summary=f"ECM subscriber {report.subscription}: health and recovery",
        )

    # ------------------------------------------------------------------ the audit trail
    @activity.defn(name="earlier_ecm_events")
    async def earlier_events(self, request: EarlierEventsInput) -> list[EcmEvent]:
        """The node's audit entries before `before` (its earlier events: a creation whose
        webhook was lost, so it is relayed before what followed it)."""
        node = (await self._cs.get_node(request.node_id, fields=("properties",))).properties
        before = datetime.fromisoformat(request.before.replace("Z", "+00:00"))
        found: list[EcmEvent] = []
        now = datetime.now(UTC)
        async for entry in node_audit(self._cs, node.id, since=before - timedelta(days=400)):
            moment = entry.audit_date.replace(tzinfo=entry.audit_date.tzinfo or UTC)
            if moment >= before:
                break
            event = event_from_audit(entry, node, None, received_at=now)
            if event is not None:
                found.append(event)
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
                async for entry in node_audit(self._cs, node.id, since=since):
                    result.entries += 1
                    event = event_from_audit(entry, node, workspace, received_at=now)
                    moment = entry.audit_date.replace(tzinfo=entry.audit_date.tzinfo or UTC)
                    if result.cursor is None or moment > result.cursor:
                        result.cursor = moment
                    if event is None:
                        continue
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

    # ------------------------------------------------------------------ recovery
    @activity.defn(name="recover_ecm_failures")
    async def recover(self, request: RecoverInput) -> RecoverResult:
        """Ask every document with failed messages for this subscription to deliver them
        again (those failed since `since`); runs after the endpoint is healthy again."""
        client = self._need_client()
        query = (
            f"WorkflowType = 'EcmDocumentWorkflow' AND ExecutionStatus = 'Running' "
            f"AND {sa.TARGETS.name} = '{request.subscription}' "
            f"AND {sa.ATTENTION.name} = '{sa.RELAY_FAILED}'"
        )
        documents = messages = 0
        async for execution in client.list_workflows(query, page_size=RECOVER_PAGE):
            handle = client.get_workflow_handle(execution.id)
            try:
                replayed = await handle.execute_update(
                    "replay",
                    ReplayRequest(
                        actor=request.actor,
                        subscription=request.subscription,
                        since=request.since,
                    ),
                    result_type=ReplayResult,
                )
            except Exception as exc:  # one document refusing stops no other
                activity.logger.warning("recover %s: %s", execution.id, exc)
                continue
            documents += 1
            messages += len(replayed.replayed)
            activity.heartbeat(documents)
        return RecoverResult(documents=documents, messages=messages)

    # ------------------------------------------------------------------ helpers
    async def _config(self) -> EcmEvents:
        with configuration_lookup():
            return await self._registry.config()

    async def _subscriber(self, name: str) -> Subscriber:
        with configuration_lookup(SubscriptionNotFound, EndpointNotAllowed):
            return await self._registry.subscriber(name)

    async def _categories(self, node_id: int) -> dict[str, Any]:
        node = await self._cs.get_node(node_id, fields=("categories",))
        flat: dict[str, Any] = {}
        for values in node.categories:
            flat.update({str(k): v for k, v in values.items()})
        return flat

    def _need_client(self) -> Client:
        if self._client is None:
            raise ApplicationError(
                "this worker has no Temporal client for the ECM relay", non_retryable=True
            )
        return self._client

    async def _endpoint_health(self, name: str) -> EndpointHealth:
        cached = self._health.get(name)
        if cached is not None and time.monotonic() - cached[0] < HEALTH_TTL_S:
            return cached[1]
        health = EndpointHealth(subscription=name)
        if self._client is not None:
            handle = self._client.get_workflow_handle(subscriber_workflow_id(name))
            try:
                health = await handle.query(
                    "health", result_type=EndpointHealth, rpc_timeout=timedelta(seconds=5)
                )
            except (RPCError, WorkflowQueryFailedError) as exc:
                if not (isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND):
                    activity.logger.debug("health of %s unknown: %s", name, exc)
        self._health[name] = (time.monotonic(), health)
        return health

    async def _note_health(
        self, subscriber: Subscriber, attempt: RelayAttempt, message_id: str
    ) -> None:
        """Report a change of the endpoint's health (not every attempt)."""
        if self._client is None:
            return
        known = await self._endpoint_health(subscriber.name)
        kind: str | None = None
        if attempt.outcome == "gone":
            kind = "gone"
        elif attempt.outcome == "delivered" and known.state == "failing":
            kind = "succeeded"
        elif attempt.outcome == "failed" and known.state == "healthy":
            kind = "failed"
        if kind is None:
            return
        report = EndpointReport(
            subscription=subscriber.name,
            disable_after_s=subscriber.disable_after_s,
            kind=kind,  # type: ignore[arg-type]
            at=attempt.at,
            reason=(attempt.excerpt or f"HTTP {attempt.status_code}")[:300],
            message_id=message_id,
        )
        try:
            await asyncio.wait_for(self.report_endpoint(report), timeout=10)
        except Exception as exc:  # health is advisory: the attempt stands
            activity.logger.warning("could not report %s of %s: %s", kind, subscriber.name, exc)
            return
        state = {"gone": "disabled", "succeeded": "healthy", "failed": "failing"}[kind]
        self._health[subscriber.name] = (
            time.monotonic(),
            known.model_copy(update={"state": state, "failing_since": known.failing_since}),
        )


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


def _failed(
    request: RelayRequest, at: datetime, latency_ms: int, exc: ExternalServiceError
) -> RelayAttempt:
    excerpt = (getattr(exc, "excerpt", "") or exc.message)[:300]
    if isinstance(exc, DeliveryAbortedError):
        outcome = "aborted"
    elif isinstance(exc, EndpointGoneError):
        outcome = "gone"
    else:
        outcome = "failed"
    retry_after = exc.retry_after if isinstance(exc, RetryableServiceError) else None
    return RelayAttempt(
        number=request.attempt,
        at=at,
        status_code=exc.status,
        latency_ms=latency_ms,
        excerpt=excerpt,
        outcome=outcome,  # type: ignore[arg-type]
        retry_after_s=retry_after.total_seconds() if retry_after else None,
    )


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _log(request: RelayRequest, subscriber: Subscriber, attempt: RelayAttempt) -> None:
    activity.logger.log(
        logging.INFO if attempt.outcome == "delivered" else logging.WARNING,
        "relay %s (%s) to %s attempt %d: %s in %d ms%s",
        request.event_type,
        request.message_id,
        subscriber.name,
        attempt.number,
        f"HTTP {attempt.status_code}" if attempt.status_code else attempt.outcome,
        attempt.latency_ms,
        f": {attempt.excerpt[:200]}" if attempt.excerpt else "",
    )
