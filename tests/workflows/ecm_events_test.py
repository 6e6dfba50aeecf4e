"""The ECM relay's workflows on the time-skipping server, with stand-in subscribers: order
restored within the hold, duplicates relayed once, a message dead-lettered after its schedule
(the subscriber's workflow told, `message.attempt.exhausted` sent, support told) and replayed,
lifecycle actions started once per (event, rule); an endpoint failing for five days disabled,
a recovery in between keeping it, 410 disabling at once, an operator re-enabling it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from activities.http.schedule import next_delay
from docflow.models import Notification
from docflow.models.ecm_events import (
    DocumentEventsInput,
    DocumentEventsStatus,
    EcmEvent,
    EcmNode,
    EnableRequest,
    EndpointHealth,
    EndpointReport,
    EventPlan,
    LifecycleActionInput,
    LifecycleActionResult,
    OperationalMessage,
    PlanEventInput,
    PlannedAction,
    RelayAttempt,
    RelayRequest,
    ReplayRequest,
    ReplayResult,
    SubscriberInput,
    subscriber_workflow_id,
)
from tests.read_model_fake import record_process_change
from tests.workflows.kit.support import kit_worker
from workflows.ecm_events import EcmDocumentWorkflow
from workflows.ecm_subscriber import EcmSubscriberWorkflow

SCHEDULE = (0, 1, 5, 30)  # four attempts, then the message is dead-lettered
# Every relay workflow the tests start (the replay recorder fetches their histories).
STARTED: list[str] = []


@workflow.defn(name="LifecycleActionWorkflow")
class StandInAction:
    @workflow.run
    async def run(self, request: LifecycleActionInput) -> LifecycleActionResult:
        return LifecycleActionResult(rule_id=request.rule_id, outcome="completed")


class Ecm:
    """The subscribers' answers (scripted), what they accepted, what support and the
    subscriber workflows heard."""

    def __init__(self) -> None:
        self.node_id = 500_000 + uuid.uuid4().int % 100_000
        self.down: set[str] = set()
        self.gone: set[str] = set()
        self.accepted: dict[str, list[RelayRequest]] = {}
        self.attempts: list[tuple[str, str, int]] = []
        self.reports: list[EndpointReport] = []
        self.notified: list[Notification] = []
        self.actions: list[str] = []

    def event(self, kind: str, second: int, version: int = 1) -> EcmEvent:
        return EcmEvent(
            type=kind,
            node=EcmNode(id=self.node_id, parent_id=2001, name="INV-7.pdf", version=version),
            audit_date=f"2026-12-07T10:00:{second:02d}Z",
            received_at=datetime.now(UTC),
        )

    @activity.defn(name="plan_ecm_event")
    async def plan(self, request: PlanEventInput) -> EventPlan:
        actions = (
            [PlannedAction(rule_id="invoice-final-approval", kind="start_process")]
            if request.event.type == "node.approved"
            else []
        )
        return EventPlan(
            config_version="t", subscribers=["erp-finance", "project-portal"], actions=actions
        )

    @activity.defn(name="plan_ecm_operational")
    async def plan_operational(self, message: OperationalMessage) -> list[str]:
        return ["ops-events"]

    @activity.defn(name="relay_to_subscriber")
    async def relay(self, request: RelayRequest) -> RelayAttempt:
        self.attempts.append((request.subscription, request.event_type, request.attempt))
        now = datetime.now(UTC)
        if request.subscription in self.gone:
            return RelayAttempt(number=request.attempt, at=now, status_code=410, outcome="gone")
        if request.subscription in self.down:
            delay = next_delay(SCHEDULE, request.attempt)
            return RelayAttempt(
                number=request.attempt,
                at=now,
                status_code=503,
                excerpt="service unavailable",
                outcome="failed",
                next_delay_s=delay.total_seconds() if delay is not None else None,
            )
        self.accepted.setdefault(request.subscription, []).append(request)
        return RelayAttempt(number=request.attempt, at=now, status_code=204, outcome="delivered")

    @activity.defn(name="report_ecm_endpoint")
    async def report(self, report: EndpointReport) -> None:
        self.reports.append(report)

    @activity.defn(name="earlier_ecm_events")
    async def earlier(self, request: Any) -> list[EcmEvent]:
        return []

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        self.notified.append(notification)

    def activities(self) -> list[Callable[..., Any]]:
        return [
            record_process_change,
            self.plan,
            self.plan_operational,
            self.relay,
            self.report,
            self.earlier,
            self.notify,
        ]

    async def operational(self, count: int) -> None:
        """Wait until the ops subscriber has `count` messages."""
        while len(self.accepted.get("ops-events", [])) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    def order(self, subscription: str) -> list[tuple[str, int | None]]:
        return [
            (r.event_type, r.payload["node"]["version"])
            for r in self.accepted.get(subscription, [])
        ]


@asynccontextmanager
async def worker(client: Client, task_queue: str, ecm: Ecm, *ids: str) -> AsyncIterator[None]:
    """A worker for the test; its workflows end with it (a run left waiting would stall the
    module's time-skipping clock)."""
    workflows = [EcmDocumentWorkflow, EcmSubscriberWorkflow, StandInAction]
    async with kit_worker(client, task_queue, workflows, ecm.activities()):
        try:
            yield
        finally:
            for workflow_id in ids:
                with contextlib.suppress(RPCError):
                    await client.get_workflow_handle(workflow_id).terminate("test over")


async def send(
    client: Client, task_queue: str, ecm: Ecm, event: EcmEvent
) -> WorkflowHandle[Any, Any]:
    STARTED.append(f"ecm-doc:{ecm.node_id}")
    return await client.start_workflow(
        EcmDocumentWorkflow.run,
        DocumentEventsInput(node_id=ecm.node_id, environment="local", hold_s=2),
        id=f"ecm-doc:{ecm.node_id}",
        task_queue=task_queue,
        start_signal="ecm_event",
        start_signal_args=[event],
    )


async def until(
    handle: WorkflowHandle[Any, Any], check: Callable[[DocumentEventsStatus], bool]
) -> DocumentEventsStatus:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        status = await handle.query("status", result_type=DocumentEventsStatus)
        if check(status):
            return status
        assert loop.time() < deadline, f"never reached: {status.counts} {status.summary.state}"
        await asyncio.sleep(0.05)


async def test_events_are_relayed_once_in_ecm_order_and_actions_start_once(
    time_skipping_env, task_queue
) -> None:
    ecm, client = Ecm(), time_skipping_env.client
    doc = f"ecm-doc:{ecm.node_id}"
    async with worker(client, task_queue, ecm, doc):
        # Arriving out of order, and the version webhook twice (webhook and poller).
        handle = await send(client, task_queue, ecm, ecm.event("node.version_added", 5, 2))
        await handle.signal("ecm_event", ecm.event("node.created", 1))
        await handle.signal("ecm_event", ecm.event("node.version_added", 5, 2))
        await handle.signal("ecm_event", ecm.event("node.approved", 9, 2))
        status = await until(handle, lambda s: s.counts.get("delivered", 0) == 6)
        # The same approval again, after it was relayed: dropped, no second action.
        await handle.signal("ecm_event", ecm.event("node.approved", 9, 2))
        status = await until(handle, lambda s: s.counts.get("webhook_duplicate", 0) == 2)
    expected = [("node.created", 1), ("node.version_added", 2), ("node.approved", 2)]
    assert ecm.order("erp-finance") == expected
    assert ecm.order("project-portal") == expected
    assert [e.seq for e in status.events] == [1, 2, 3]
    assert status.counts["actions"] == 1 and status.counts["relayed"] == 3
    approval = ecm.event("node.approved", 9, 2)
    action = await client.get_workflow_handle(
        f"ecm-action:invoice-final-approval:{approval.key_digest}",
        result_type=LifecycleActionResult,
    ).result()
    assert action.outcome == "completed"


async def test_a_message_past_its_schedule_is_dead_lettered_then_replayed(
    time_skipping_env, task_queue
) -> None:
    ecm, client = Ecm(), time_skipping_env.client
    ecm.down.add("project-portal")
    doc = f"ecm-doc:{ecm.node_id}"
    async with worker(client, task_queue, ecm, doc):
        handle = await send(client, task_queue, ecm, ecm.event("node.created", 1))
        await handle.signal("ecm_event", ecm.event("node.version_added", 2, 2))
        await until(handle, lambda s: s.counts.get("attempts", 0) >= 3)
        await time_skipping_env.sleep(timedelta(minutes=5))  # both schedules run out
        status = await until(handle, lambda s: s.counts.get("failed", 0) == 2)
        # Each message to the down subscriber ran its schedule in the document's order; the
        # other subscriber got both at once.
        assert ecm.order("erp-finance") == [("node.created", 1), ("node.version_added", 2)]
        assert status.summary.state == "relay_failed"
        failed = [m for m in status.messages if m.status == "failed"]
        assert [m.seq for m in failed] == [1, 2]
        assert [a.number for a in failed[0].attempts] == [1, 2, 3, 4]
        assert "gave up after 4 attempts" in failed[0].reason
        assert failed[0].finished_at is not None and failed[1].finished_at is not None
        assert failed[0].finished_at <= failed[1].finished_at
        ecm.down.clear()
        replayed = await handle.execute_update(
            "replay",
            ReplayRequest(actor="ops", subscription="project-portal", since=failed[0].finished_at),
            result_type=ReplayResult,
        )
        status = await until(handle, lambda s: s.counts.get("delivered", 0) == 4)
    assert len(replayed.replayed) == 2
    assert [r.kind for r in ecm.reports] == ["exhausted", "exhausted"]
    assert ecm.order("project-portal") == [("node.created", 1), ("node.version_added", 2)]
    assert all(m.status == "delivered" for m in status.messages)
    assert max(m.rounds for m in status.messages) == 2


async def test_an_endpoint_failing_for_five_days_is_disabled_and_re_enabled(
    time_skipping_env, task_queue
) -> None:
    ecm, client = Ecm(), time_skipping_env.client
    name = f"sub-{uuid.uuid4().hex[:6]}"
    workflow_id = subscriber_workflow_id(name)
    start = datetime.now(UTC)

    def report(kind: str, at: datetime) -> EndpointReport:
        return EndpointReport(subscription=name, kind=kind, at=at, reason="HTTP 503")  # type: ignore[arg-type]

    STARTED.append(workflow_id)
    async with worker(client, task_queue, ecm, workflow_id):
        handle = await client.start_workflow(
            EcmSubscriberWorkflow.run,
            SubscriberInput(subscription=name),
            id=workflow_id,
            task_queue=task_queue,
            start_signal="endpoint_report",
            start_signal_args=[report("failed", start)],
        )
        health = await health_of(handle, "failing")
        # A success two days in: healthy again; the five days start at the next failure.
        await handle.signal("endpoint_report", report("succeeded", start + timedelta(days=2)))
        await health_of(handle, "healthy")
        await handle.signal("endpoint_report", report("failed", start))
        await health_of(handle, "failing")
        await time_skipping_env.sleep(timedelta(days=5, hours=1))
        health = await health_of(handle, "disabled")
        assert "5 days" in health.disabled_reason
        health = await handle.execute_update(
            EcmSubscriberWorkflow.enable, EnableRequest(actor="ops", comment="fixed")
        )
        assert health.state == "healthy"
        await handle.signal("endpoint_report", report("gone", datetime.now(UTC)))
        health = await health_of(handle, "disabled")
        assert "410" in health.disabled_reason
        await asyncio.wait_for(ecm.operational(3), 10)
    sent = [r.event_type for r in ecm.accepted.get("ops-events", [])]
    assert sorted(sent) == ["endpoint.disabled", "endpoint.disabled", "endpoint.enabled"]
    assert sum("was disabled" in n.subject for n in ecm.notified) == 2


async def health_of(handle: WorkflowHandle[Any, Any], state: str) -> EndpointHealth:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        health = await handle.query("health", result_type=EndpointHealth)
        if health.state == state:
            return health
        assert loop.time() < deadline, f"never {state}: {health}"
        await asyncio.sleep(0.05)
