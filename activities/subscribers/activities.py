"""The ECM relay's subscribers: attempt one delivery, keep the subscribers' health, recover
an endpoint's failures, and who gets the relay's own (operational) events.

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

import httpx
from temporalio import activity
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.http.error_mapping import configuration_lookup
from activities.http.errors import ExternalServiceError, RetryableServiceError
from activities.http.limiter import RateLimited, RateLimiter
from activities.http.schedule import next_delay
from activities.http.webhooks import DeliveryAbortedError, EndpointGoneError, signed_by
from activities.subscribers.registry import Subscriber, SubscriberRegistry, SubscriptionNotFound
from docflow import search_attributes as sa
from docflow.config.ecm_events import EcmEvents
from docflow.config.source_systems import EndpointNotAllowed
from docflow.models.ecm_events import (
    EndpointHealth,
    EndpointReport,
    OperationalMessage,
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


class SubscriberActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        *,
        client: Client | None = None,
        registry: SubscriberRegistry | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._http = http
        self._settings = settings
        self._client = client
        self._registry = registry or SubscriberRegistry(settings)
        self._limiter = limiter or RateLimiter()
        self._health: dict[str, tuple[float, EndpointHealth]] = {}

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

    def _need_client(self) -> Client:
        if self._client is None:
            raise ApplicationError(
                "this worker has no Temporal client for the ECM relay", non_retryable=True
            )
        return self._client

    async def _endpoint_health(self, name: str) -> EndpointHealth:
        cached = self._health.get(name)
        # A disabled endpoint is read afresh: its messages fail at once (no load to save), and
        # one enabled again is called again at once.
        fresh = cached is not None and time.monotonic() - cached[0] < HEALTH_TTL_S
        if cached is not None and fresh and cached[1].state != "disabled":
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
        # Noted before it is sent: the worker's other attempts at this endpoint, running at the
        # same moment, see the change and do not report it again.
        state = {"gone": "disabled", "succeeded": "healthy", "failed": "failing"}[kind]
        self._health[subscriber.name] = (
            time.monotonic(),
            known.model_copy(update={"state": state}),
        )
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
            self._health.pop(subscriber.name, None)  # read it afresh next time


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
