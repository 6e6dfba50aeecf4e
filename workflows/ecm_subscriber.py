"""ECM subscribers: one workflow per subscription keeps its endpoint's health, as Svix keeps an
endpoint's: healthy → failing (since the first failure nobody has answered with a success) →
disabled after `disable_after_s` (5 days by default) of failing, or at once on 410. Disabled
endpoints are not called; an operator re-enables one (`enable`) and recovers every message
that failed since a time (`recover`). The relay's own events — `message.attempt.exhausted`,
`endpoint.disabled`, `endpoint.enabled` — go to the subscriptions that asked for them, and
support is told of dead letters and disabled endpoints.

The delivery activities report only changes (first failure, first success after failures,
410) and dead letters, so the workflow's history grows with incidents, not with traffic.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

from workflows.kit.calls import GaveUp, call
from workflows.kit.human_task import wait_for
from workflows.kit.lifecycle import continue_as_new, history_due
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.subscribers import SubscriberActivities
    from activities.subscribers import options as relay
    from docflow import search_attributes as sa
    from docflow.models.ecm_events import (
        EnableRequest,
        EndpointHealth,
        EndpointReport,
        OperationalMessage,
        RecoverInput,
        RecoverRequest,
        RecoverResult,
        RelayRequest,
        SubscriberInput,
    )

IDLE = timedelta(days=30)
MAX_OPERATIONAL_TRIES = 10


@workflow.defn(name="EcmSubscriberWorkflow", versioning_behavior=behaviour("EcmSubscriberWorkflow"))
class EcmSubscriberWorkflow:
    @workflow.init
    def __init__(self, request: SubscriberInput) -> None:
        self._input = request
        self._health = request.resume or EndpointHealth(subscription=request.subscription)
        self._key = f"subscriber:{request.subscription}"
        self._record = ProcessRecord(
            "ecm_subscriber",
            self._key,
            state=self._health.state,
            indexed_states={"healthy", "failing", "disabled"},
            read_model=False,  # an endpoint's health, not a business record
        )
        self._notify = Notifier(self._key, self._record)
        self._reports: list[EndpointReport] = []
        self._disable_after = timedelta(days=5)
        self._emitting: set[asyncio.Task[None]] = set()

    @workflow.run
    async def run(self, request: SubscriberInput) -> EndpointHealth:
        while True:
            await wait_for(
                lambda: bool(self._reports) or history_due(request.history_budget),
                self._until_disable(),
                self._timer_summary(),
            )
            while self._reports:
                await self._apply(self._reports.pop(0))
            if self._health.state == "failing" and self._until_disable() == timedelta(0):
                await self._disable(
                    f"failing without a success since {self._health.failing_since:%Y-%m-%d %H:%M} "
                    f"UTC ({self._disable_after.total_seconds() / 86400:g} days)"
                )
            if history_due(request.history_budget):
                await workflow.wait_condition(lambda: not self._emitting)
                await continue_as_new(request.model_copy(update={"resume": self._health}))

    def _until_disable(self) -> timedelta:
        since = self._health.failing_since
        if self._health.state != "failing" or since is None:
            return IDLE
        return max(timedelta(0), since + self._disable_after - workflow.now())

    def _timer_summary(self) -> str:
        if self._health.state == "failing":
            return "disable the endpoint unless it recovers"
        return "quiet"

    # ------------------------------------------------------------------ reports
    @workflow.signal(name="endpoint_report")
    def endpoint_report(self, report: EndpointReport) -> None:
        self._reports.append(report)

    async def _apply(self, report: EndpointReport) -> None:
        health = self._health
        self._disable_after = timedelta(seconds=report.disable_after_s)
        if report.kind == "exhausted":
            health.exhausted += 1
            self._record.record("exhausted", "system", report.reason)
            self._emit("message.attempt.exhausted", report.message_id or "", report.reason)
            await self._notify.support(
                f"ECM subscriber {health.subscription}: a message was dead-lettered",
                key=f"exhausted:{report.message_id}",
                reason=report.reason,
            )
            return
        if health.state == "disabled":
            return  # what a disabled endpoint did before it was disabled changes nothing
        if report.kind == "gone":
            await self._disable(f"the endpoint is gone (HTTP 410): {report.reason}")
        elif report.kind == "failed" and health.state == "healthy":
            health.state, health.failing_since = "failing", report.at
            health.last_failure_at, health.last_failure = report.at, report.reason
            self._record.record("failing", "system", report.reason)
            self._record.set_state("failing", "a successful delivery (or disabling)")
        elif report.kind == "succeeded" and health.state == "failing":
            health.state, health.failing_since = "healthy", None
            health.last_success_at = report.at
            self._record.record("recovered", "system", "a delivery succeeded")
            self._record.set_state("healthy", "nothing")

    async def _disable(self, reason: str) -> None:
        health = self._health
        health.state, health.disabled_at, health.disabled_reason = (
            "disabled",
            workflow.now(),
            reason,
        )
        self._record.record("disabled", "system", reason)
        self._record.set_state(
            "disabled", "an operator to re-enable it", attention=sa.ENDPOINT_DISABLED
        )
        self._emit("endpoint.disabled", f"{workflow.now():%Y%m%dT%H%M%S}", reason)
        await self._notify.support(
            f"ECM subscriber {health.subscription} was disabled",
            key=f"disabled:{workflow.now():%Y%m%dT%H%M%S}",
            reason=reason,
        )

    # ------------------------------------------------------------------ operators
    @workflow.update(name="enable")
    def enable(self, request: EnableRequest) -> EndpointHealth:
        health = self._health
        health.state, health.failing_since = "healthy", None
        health.disabled_at, health.disabled_reason = None, ""
        self._record.record("enabled", request.actor, request.comment)
        self._record.set_state("healthy", "nothing")
        self._emit("endpoint.enabled", f"{workflow.now():%Y%m%dT%H%M%S}", request.comment)
        return health

    @workflow.update(name="recover")
    async def recover(self, request: RecoverRequest) -> RecoverResult:
        """Deliver again every message to this endpoint that failed since `request.since`."""
        self._record.record("recover", request.actor, f"since {request.since:%Y-%m-%d %H:%M}")
        try:
            return await call(
                SubscriberActivities.recover,
                RecoverInput(
                    subscription=self._health.subscription,
                    since=request.since,
                    actor=request.actor,
                ),
                relay.CONTROL,
                summary=f"Recover {self._health.subscription}'s failed messages",
            )
        except GaveUp as failure:
            raise ValueError(f"recovery failed: {failure.reason}") from failure

    @recover.validator
    def _validate_recover(self, request: RecoverRequest) -> None:
        if self._health.state == "disabled":
            raise ValueError("the endpoint is disabled: enable it first, then recover")

    @workflow.query(name="health")
    def health(self) -> EndpointHealth:
        return self._health

    # ------------------------------------------------------------------ operational events
    def _emit(self, event_type: str, key: str, reason: str) -> None:
        message = OperationalMessage(
            event_type=event_type,
            key=f"op_{self._health.subscription}_{event_type}_{key}"[:200],
            data={
                "subscription": self._health.subscription,
                "reason": reason,
                "at": workflow.now().isoformat(),
            },
        )
        task = asyncio.create_task(self._send(message))
        self._emitting.add(task)
        task.add_done_callback(self._emitting.discard)

    async def _send(self, message: OperationalMessage) -> None:
        try:
            subscribers = await call(
                SubscriberActivities.plan_operational,
                message,
                relay.CONFIG,
                summary=f"Who gets {message.event_type}",
            )
        except GaveUp as failure:
            self._record.record("operational_failed", "system", failure.reason)
            return
        for name in subscribers:
            if name != self._health.subscription:
                await self._send_to(name, message)

    async def _send_to(self, name: str, message: OperationalMessage) -> None:
        for tries in range(1, MAX_OPERATIONAL_TRIES + 1):
            try:
                attempt = await call(
                    SubscriberActivities.relay,
                    RelayRequest(
                        subscription=name,
                        message_id=message.key,
                        event_type=message.event_type,
                        payload=message.data,
                        attempt=tries,
                    ),
                    relay.ATTEMPT,
                    summary=f"Send {message.event_type} to {name}",
                )
            except GaveUp as failure:
                self._record.record("operational_failed", "system", f"{name}: {failure.reason}")
                return
            if attempt.outcome in ("delivered", "gone", "aborted", "disabled"):
                return
            if attempt.next_delay_s is None and attempt.outcome != "rate_limited":
                self._record.record("operational_failed", "system", f"{name}: {attempt.excerpt}")
                return
            await workflow.sleep(
                timedelta(seconds=attempt.next_delay_s or attempt.retry_after_s or 1.0)
            )
