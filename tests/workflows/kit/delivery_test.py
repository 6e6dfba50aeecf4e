"""delivery: a dead letter is an outcome, not a failure; fan-out runs one child per target,
and a dead-lettered child is redelivered on an operator's request."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from tests.workflows.kit.support import kit_worker

with workflow.unsafe.imports_passed_through():
    from docflow.models import Notification
    from docflow.models.delivery import DeliveryResult, OutboundMessage, RedeliverRequest
    from workflows.delivery import (
        DeliveryInput,
        DeliveryWorkflow,
        delivery_workflow_id,
        fan_out,
    )


class Targets:
    def __init__(self) -> None:
        self.down: set[str] = set()
        self.delivered: list[str] = []
        self.support: list[str] = []

    @activity.defn(name="deliver_message")
    async def deliver(self, message: OutboundMessage) -> None:
        if message.target in self.down:
            raise ApplicationError(f"{message.target} answered 400", non_retryable=True)
        self.delivered.append(message.target)

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        self.support.append(notification.subject)


def message(target: str) -> OutboundMessage:
    return OutboundMessage(
        target=target,
        event_type="content.approved",
        idempotency_key=f"item-1:v3:{target}",
        business_key="item-1",
        payload={"id": "item-1"},
    )


@workflow.defn(sandboxed=True)
class FanOutWorkflow:
    @workflow.run
    async def run(self, targets: list[str]) -> list[DeliveryResult]:
        return await fan_out([message(t) for t in targets], redelivery_window=timedelta(0))


async def test_fan_out_delivers_each_target_and_dead_letters_the_refusing_one(
    time_skipping_env, task_queue
) -> None:
    client: Client = time_skipping_env.client
    targets = Targets()
    targets.down = {"erp"}
    async with kit_worker(
        client, task_queue, [FanOutWorkflow, DeliveryWorkflow], [targets.deliver, targets.notify]
    ):
        results = await client.execute_workflow(
            FanOutWorkflow.run,
            ["portal", "erp", "b2b"],
            id=f"fan-{task_queue}",
            task_queue=task_queue,
        )
    assert [(r.target, r.delivered) for r in results] == [
        ("portal", True),
        ("erp", False),
        ("b2b", True),
    ]
    assert "400" in results[1].reason
    assert sorted(targets.delivered) == ["b2b", "portal"]
    assert targets.support == ["Delivery of content.approved to erp failed"]


async def test_a_dead_letter_is_redelivered_on_request(time_skipping_env, task_queue) -> None:
    client: Client = time_skipping_env.client
    targets = Targets()
    targets.down = {"erp"}
    async with kit_worker(
        client, task_queue, [DeliveryWorkflow], [targets.deliver, targets.notify]
    ):
        handle = await client.start_workflow(
            DeliveryWorkflow.run,
            DeliveryInput(message=message("erp")),
            id=delivery_workflow_id(message("erp")) + task_queue,
            task_queue=task_queue,
        )
        status = DeliveryWorkflow.status
        while (await handle.query(status)).state != "dead_lettered":  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        dead = await handle.query(status)
        assert dead.attention and dead.attention_reason == "delivery_dead_lettered"
        targets.down = set()  # the target's owner fixed their validation
        await handle.execute_update(
            DeliveryWorkflow.redeliver, RedeliverRequest(actor="ops@example.com")
        )
        result = await handle.result()
    assert result.delivered and result.rounds == 2
    assert targets.delivered == ["erp"]
