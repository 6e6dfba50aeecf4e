"""ContentDistributionWorkflow on the time-skipping server, with stand-in systems (Amplience
items by version, scripted targets, support): every branch of the story — delivered to every
target, a target refusing then the fixed version delivered, a mapping refusal that only a fix
can cure, a target giving up then an operator's retry of it alone, a newer version
superseding one still on its way, an unconfirmed approval, duplicates and older versions."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.amplience.distribution import plan_for
from activities.amplience.models import ContentItem
from docflow.config.distribution import ContentDistribution
from docflow.models import Notification
from docflow.models.content import (
    ApprovalEvent,
    DistributionInput,
    DistributionPlan,
    DistributionStatus,
    FeedbackInput,
    PlanDistributionInput,
    RetryFailedRequest,
    TargetMessage,
    TargetReceipt,
)
from tests.read_model_fake import record_process_change
from tests.workflows.kit.support import kit_worker
from workflows.content_distribution import ContentDistributionWorkflow

ROOT = Path(__file__).resolve().parents[2]
APPROVED = "5f1a0c1e2b3c4d5e6f700002"
DRAFT = "5f1a0c1e2b3c4d5e6f700001"
FAILED_STATE = "5f1a0c1e2b3c4d5e6f700004"
DISTRIBUTED_STATE = "5f1a0c1e2b3c4d5e6f700003"
PRODUCT = "https://schema.docflow.example/product.json"
SHOE = {"sku": "TS-1", "title": "Trail shoe", "price": 99.5, "currency": "EUR"}
EVERYONE = {"PARTNER_PORTAL", "ERP_CATALOGUE", "B2B_NETWORK", "SUPPLIER_PORTAL", "ORDER_MANAGEMENT"}

Answer = Callable[[TargetMessage, int], str]
# Every workflow id the tests start (the replay recorder fetches their histories).
STARTED: list[str] = []


class Content:
    """Amplience's items by version, the targets' answers (scripted), what support heard."""

    def __init__(self) -> None:
        self.config = ContentDistribution.load(
            ROOT / "tests/config/local/content-distribution.json"
        )
        self.item_id = f"item-{uuid.uuid4().hex[:8]}"
        self.items: dict[int, ContentItem] = {}
        self.answers: dict[str, Answer] = {}
        self.delivered: list[TargetMessage] = []
        self.attempts: dict[str, int] = {}
        self.reports: list[FeedbackInput] = []
        self.notified: list[Notification] = []
        self.first_run: str | None = None

    def version(self, version: int, body: dict[str, Any], state: str = APPROVED) -> ApprovalEvent:
        self.items[version] = ContentItem.model_validate(
            {
                "id": self.item_id,
                "version": version,
                "label": "Trail shoe",
                "locale": "en-GB",
                "body": {"_meta": {"schema": PRODUCT}, **body},
                "workflow": {"state": state},
            }
        )
        return ApprovalEvent(
            event_id=uuid.uuid4().hex,
            event_name="dynamic-content.content-item.workflow.updated",
            item_id=self.item_id,
            version=version,
            state_id=state,
            received_at=datetime.now(UTC),
        )

    @activity.defn(name="plan_distribution")
    async def plan(self, request: PlanDistributionInput) -> DistributionPlan:
        assert request.version is not None
        return plan_for(self.config, self.items[request.version], request, config_version="t")

    @activity.defn(name="deliver_to_target")
    async def deliver(self, message: TargetMessage) -> TargetReceipt:
        attempt = activity.info().attempt
        self.attempts[message.idempotency_key] = attempt
        answer = self.answers.get(message.target, lambda m, n: "ok")(message, attempt)
        if answer == "refuse":
            raise ApplicationError(
                'POST answered 422: {"errors":[{"field":"sku","message":"unknown SKU"}]}',
                {"status": 422, "attempts": attempt},
                type="TargetRefused",
                non_retryable=True,
            )
        if answer == "stalled":  # retrying every five minutes, never giving up
            raise ApplicationError(
                "503", {"status": 503, "attempts": attempt}, next_retry_delay=timedelta(minutes=5)
            )
        if answer == "down":  # three quick attempts, then the schedule is exhausted
            if attempt >= 3:
                raise ApplicationError(
                    f"gave up after {attempt} attempts over the schedule: last answer 503",
                    {"status": 503, "attempts": attempt},
                    type="DeliveryExhausted",
                    non_retryable=True,
                )
            raise ApplicationError(
                "503",
                {"status": 503, "attempts": attempt},
                next_retry_delay=timedelta(milliseconds=50),
            )
        self.delivered.append(message)
        return TargetReceipt(status_code=200, attempts=attempt, latency_ms=3)

    @activity.defn(name="report_distribution")
    async def report(self, feedback: FeedbackInput) -> int:
        self.reports.append(feedback)
        return feedback.version + 1

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        self.notified.append(notification)

    def activities(self) -> list[Callable[..., Any]]:
        return [record_process_change, self.plan, self.deliver, self.report, self.notify]

    def targets_of(self, version: int) -> set[str]:
        return {m.target for m in self.delivered if m.payload["version"] == version}


async def start(
    client: Client, task_queue: str, content: Content, first: ApprovalEvent, **options: Any
) -> WorkflowHandle[ContentDistributionWorkflow, DistributionStatus]:
    started = await client.start_workflow(
        ContentDistributionWorkflow.run,
        DistributionInput(item_id=content.item_id, environment="local", **options),
        id=f"content:{content.item_id}",
        task_queue=task_queue,
        start_signal="approved",
        start_signal_args=[first],
    )
    content.first_run = started.result_run_id
    STARTED.append(started.id)
    # Bound to no run: queries and signals reach the newest run after continue-as-new.
    return client.get_workflow_handle_for(ContentDistributionWorkflow.run, started.id)


async def until(
    handle: WorkflowHandle[Any, DistributionStatus],
    check: Callable[[DistributionStatus], bool],
    within: float = 20,
) -> DistributionStatus:
    """Poll the status query until `check` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        status = await handle.query(ContentDistributionWorkflow.status)
        if check(status):
            return status
        assert loop.time() < deadline, f"never reached: {status.state} {status.audit[-4:]}"
        await asyncio.sleep(0.05)


@asynccontextmanager
async def worker(client: Client, task_queue: str, content: Content) -> AsyncIterator[None]:
    """A worker for the test; the item's workflow is ended with it, so no run left waiting
    stalls the module's time-skipping clock."""
    async with kit_worker(client, task_queue, [ContentDistributionWorkflow], content.activities()):
        try:
            yield
        finally:
            handle = client.get_workflow_handle(f"content:{content.item_id}")
            with contextlib.suppress(RPCError):
                await handle.terminate("test over")


async def test_an_approved_item_reaches_every_target_and_channel_once(
    time_skipping_env, task_queue
) -> None:
    content, client = Content(), time_skipping_env.client
    first = content.version(3, SHOE)
    async with worker(client, task_queue, content):
        handle = await start(client, task_queue, content, first)
        status = await until(handle, lambda s: s.state == "distributed")
        await handle.signal(ContentDistributionWorkflow.approved, first)  # a redelivery
        await handle.signal(ContentDistributionWorkflow.approved, content.version(2, SHOE))
        status = await until(handle, lambda s: s.ignored == 2)
    assert content.targets_of(3) == EVERYONE and len(content.delivered) == 5
    assert status.distributed_version == 3 and status.route == "products"
    assert {d.status for d in status.deliveries} == {"delivered"}
    portal = next(d for d in status.deliveries if d.target == "PARTNER_PORTAL")
    assert portal.attempts == 1 and portal.http_status == 200 and len(portal.payload_sha256) == 64
    assert portal.idempotency_key == f"{content.item_id}:3:PARTNER_PORTAL"
    assert [(r.state_label, r.failures) for r in content.reports] == [("Distributed", {})]
    assert content.notified == []


async def test_a_refusing_target_fails_the_item_and_its_fixed_version_is_delivered(
    time_skipping_env, task_queue
) -> None:
    content, client = Content(), time_skipping_env.client
    content.answers["ERP_CATALOGUE"] = lambda m, n: "refuse" if m.payload["version"] == 1 else "ok"
    async with worker(client, task_queue, content):
        handle = await start(client, task_queue, content, content.version(1, SHOE))
        failed = await until(
            handle, lambda s: s.state == "integration_failed" and len(content.notified) == 1
        )
        assert failed.attention and failed.attention_reason == "distribution_failed"
        assert content.targets_of(1) == EVERYONE - {"ERP_CATALOGUE"}  # the others not held back
        [report] = content.reports
        assert report.state_id == FAILED_STATE and report.state_label == "Integration failed"
        assert "unknown SKU" in report.failures["ERP_CATALOGUE"]
        assert list(report.failures) == ["ERP_CATALOGUE"]
        [support] = content.notified
        assert "ERP_CATALOGUE" in support.data["reason"]
        # The content team fixes the item; its next approved version goes everywhere.
        await handle.signal(ContentDistributionWorkflow.approved, content.version(2, SHOE))
        done = await until(handle, lambda s: s.state == "distributed")
    assert done.distributed_version == 2 and content.targets_of(2) == EVERYONE
    assert content.reports[-1].state_id == DISTRIBUTED_STATE and not done.attention


async def test_a_field_the_mapping_requires_is_refused_without_sending_and_only_a_fix_helps(
    time_skipping_env, task_queue
) -> None:
    content, client = Content(), time_skipping_env.client
    no_price = {k: v for k, v in SHOE.items() if k != "price"}
    async with worker(client, task_queue, content):
        handle = await start(client, task_queue, content, content.version(1, no_price))
        failed = await until(
            handle, lambda s: s.state == "integration_failed" and len(content.notified) == 1
        )
        erp = next(d for d in failed.deliveries if d.target == "ERP_CATALOGUE")
        assert erp.status == "failed" and "price is required" in erp.reason and erp.attempts == 0
        assert "ERP_CATALOGUE" not in {m.target for m in content.delivered}
        assert "price is required" in content.reports[0].failures["ERP_CATALOGUE"]
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                ContentDistributionWorkflow.retry_failed, RetryFailedRequest(actor="ops")
            )
        assert "must be fixed in Amplience" in str(refused.value.cause)
        await handle.signal(ContentDistributionWorkflow.approved, content.version(2, SHOE))
        await until(handle, lambda s: s.state == "distributed" and s.distributed_version == 2)


async def test_an_exhausted_target_is_retried_alone_by_an_operator(
    time_skipping_env, task_queue
) -> None:
    content, client = Content(), time_skipping_env.client
    down = {"value": True}
    content.answers["B2B_NETWORK"] = lambda m, n: "down" if down["value"] else "ok"
    async with worker(client, task_queue, content):
        handle = await start(client, task_queue, content, content.version(1, SHOE))
        failed = await until(handle, lambda s: s.state == "integration_failed")
        b2b = next(d for d in failed.deliveries if d.target == "B2B_NETWORK")
        assert b2b.attempts == 3 and b2b.http_status == 503 and "gave up after 3" in b2b.reason
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                ContentDistributionWorkflow.retry_failed,
                RetryFailedRequest(actor="ops", targets=["PARTNER_PORTAL"]),  # did not fail
            )
        down["value"] = False
        answer = await handle.execute_update(
            ContentDistributionWorkflow.retry_failed,
            RetryFailedRequest(actor="ops@example.com", comment="B2B network back"),
        )
        assert answer == "retrying"
        done = await until(handle, lambda s: s.state == "distributed")
    assert [m.target for m in content.delivered].count("B2B_NETWORK") == 1
    assert [m.target for m in content.delivered].count("PARTNER_PORTAL") == 1  # not resent
    b2b_rounds = [(d.round, d.status) for d in done.deliveries if d.target == "B2B_NETWORK"]
    assert b2b_rounds == [(1, "failed"), (2, "delivered")]
    assert any(e.kind == "retry" and e.actor == "ops@example.com" for e in done.audit)


async def test_a_newer_approved_version_supersedes_one_still_on_its_way(
    time_skipping_env, task_queue
) -> None:
    content, client = Content(), time_skipping_env.client
    # The B2B network is down for version 1 only (retrying on its schedule).
    content.answers["B2B_NETWORK"] = lambda m, n: "stalled" if m.payload["version"] == 1 else "ok"
    content.answers["ERP_CATALOGUE"] = lambda m, n: "stalled" if m.payload["version"] == 1 else "ok"
    async with worker(client, task_queue, content):
        handle = await start(client, task_queue, content, content.version(1, SHOE))
        await until(handle, lambda s: len(content.targets_of(1)) == 3)  # the healthy ones
        await handle.signal(ContentDistributionWorkflow.approved, content.version(2, SHOE))
        done = await until(handle, lambda s: s.state == "distributed")
    assert done.distributed_version == 2 and content.targets_of(2) == EVERYONE
    superseded = {d.target for d in done.deliveries if d.status == "superseded"}
    assert superseded == {"B2B_NETWORK", "ERP_CATALOGUE"}
    assert any(e.kind == "superseded" for e in done.audit)
    assert [r.version for r in content.reports] == [2]  # version 1 is never reported


async def test_a_temporal_cancellation_stops_the_distribution_and_says_so(
    time_skipping_env, task_queue
) -> None:
    content, client = Content(), time_skipping_env.client
    content.answers["B2B_NETWORK"] = lambda m, n: "stalled"  # still retrying when cancelled
    async with worker(client, task_queue, content):
        handle = await start(client, task_queue, content, content.version(1, SHOE))
        await until(handle, lambda s: len(content.delivered) == 4)
        await handle.cancel()
        result = await handle.result()
    assert result.state == "cancelled"
    b2b = next(d for d in result.deliveries if d.target == "B2B_NETWORK")
    assert b2b.status == "superseded" and b2b.reason == "the distribution was cancelled"
    assert any(e.kind == "cancelled" for e in result.audit)


async def test_approvals_overtaken_before_they_are_planned_are_counted_as_ignored(
    time_skipping_env, task_queue
) -> None:
    # Three approvals reach the process before it runs: v1 and v2 are overtaken while still
    # pending, never planned, and counted as ignored (so signalled = planned + ignored).
    content, client = Content(), time_skipping_env.client
    handle = await start(client, task_queue, content, content.version(1, SHOE))
    await handle.signal(ContentDistributionWorkflow.approved, content.version(2, SHOE))
    await handle.signal(ContentDistributionWorkflow.approved, content.version(3, SHOE))
    async with worker(client, task_queue, content):
        done = await until(handle, lambda s: s.state == "distributed")
    assert done.distributed_version == 3 and done.ignored == 2
    assert [e.detail.split()[0] for e in done.audit if e.kind == "planned"] == ["v3"]
    assert {m.payload["version"] for m in content.delivered} == {3}


async def test_an_approval_amplience_does_not_confirm_distributes_nothing(
    time_skipping_env, task_queue
) -> None:
    content, client = Content(), time_skipping_env.client
    async with worker(client, task_queue, content):
        handle = await start(client, task_queue, content, content.version(1, SHOE, state=DRAFT))
        status = await until(handle, lambda s: any(e.kind == "not_distributed" for e in s.audit))
        assert status.state == "waiting" and content.delivered == []
        await handle.signal(ContentDistributionWorkflow.approved, content.version(2, SHOE))
        await until(handle, lambda s: s.state == "distributed")


async def test_an_idle_item_ends_and_a_long_life_continues_as_new(
    dev_server_env, task_queue
) -> None:
    # On the dev server: the time-skipping server mishandles signals and queries around
    # continue-as-new. Idle here is five seconds.
    content, client = Content(), dev_server_env.client
    async with worker(client, task_queue, content):
        handle = await start(
            client,
            task_queue,
            content,
            content.version(1, SHOE),
            history_budget=100,
            idle_days=5 / 86_400,
        )
        for version in range(2, 6):
            for _ in range(1000):  # the previous version reported Distributed
                if len(content.reports) >= version - 1:
                    break
                await asyncio.sleep(0.02)
            await handle.signal(
                ContentDistributionWorkflow.approved, content.version(version, SHOE)
            )
        result = await handle.result()  # idle: ends
    assert result.distributed_version == 5 and result.state == "distributed"
    assert any(e.kind == "idle" for e in result.audit)
    first = client.get_workflow_handle(handle.id, run_id=content.first_run)
    described = await first.describe()
    assert described.status == WorkflowExecutionStatus.CONTINUED_AS_NEW  # a long life, bounded
