"""deliver_to_target under Temporal with the DELIVER preset: the retries follow the target's
schedule (next_retry_delay) until accepted, or end in DeliveryExhausted past it."""

from __future__ import annotations

import uuid

import httpx
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.targets import DELIVER, TargetActivities
from docflow.models.content import TargetMessage, TargetReceipt
from docflow.settings import Settings
from tests.activities.simulated import Sim
from workflows.kit.calls import activity_options


@workflow.defn
class DeliverOne:
    @workflow.run
    async def run(self, message: TargetMessage) -> str:
        try:
            receipt = await workflow.execute_activity(
                "deliver_to_target",
                message,
                result_type=TargetReceipt,
                **activity_options(DELIVER),
            )
        except ActivityError as err:
            assert isinstance(err.cause, ApplicationError)
            return f"{err.cause.type}: {err.cause.message}"
        return f"accepted at attempt {receipt.attempts}"


def _message() -> TargetMessage:
    return TargetMessage(
        target="B2B_NETWORK",
        kind="target",
        event_type="content.approved",
        idempotency_key=f"item-{uuid.uuid4().hex[:8]}:1:B2B_NETWORK",
        business_key="item",
        payload={"name": "Boots"},
        payload_sha256="0" * 64,
    )


async def _run(env: WorkflowEnvironment, queue: str, acts: TargetActivities) -> str:
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[DeliverOne],
        activities=[acts.deliver],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        result: str = await env.client.execute_workflow(
            DeliverOne.run, _message(), id=f"deliver-{uuid.uuid4().hex}", task_queue=queue
        )
        return result


async def test_retried_on_the_schedule_until_accepted(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    http: httpx.AsyncClient,
    target_settings: Settings,
    target_sim: Sim,
) -> None:
    await target_sim.control("PUT", "/endpoints/b2b-network", json={"script": [503, 502]})
    result = await _run(time_skipping_env, task_queue, TargetActivities(http, target_settings))
    assert result == "accepted at attempt 3"
    [endpoint] = [
        e
        for e in (await target_sim.control("GET", "/endpoints"))["results"]
        if e["endpoint"] == "b2b-network"
    ]
    assert [a["status"] for a in endpoint["attempts"]] == [503, 502, 200]


async def test_past_the_schedule_the_delivery_fails_for_good(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    http: httpx.AsyncClient,
    target_settings: Settings,
    target_sim: Sim,
) -> None:
    await target_sim.control("PUT", "/endpoints/b2b-network", json={"down": True})
    result = await _run(time_skipping_env, task_queue, TargetActivities(http, target_settings))
    assert result.startswith("DeliveryExhausted: ")
    assert "gave up after 4 attempts" in result
