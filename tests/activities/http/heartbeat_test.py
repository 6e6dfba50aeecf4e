"""The heartbeat interceptor keeps a long attempt alive under a short heartbeat timeout."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import TimeoutError as ActivityTimeoutError
from temporalio.exceptions import TimeoutType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.http.heartbeat import HeartbeatInterceptor


@activity.defn(name="slow_external_call")
async def slow_external_call(seconds: float) -> str:
    await asyncio.sleep(seconds)  # a slow upload, with no heartbeat code of its own
    return "done"


@workflow.defn(name="HeartbeatProbe", sandboxed=False)
class HeartbeatProbe:
    @workflow.run
    async def run(self, seconds: float) -> str:
        return await workflow.execute_activity(
            slow_external_call,
            seconds,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def _run(env: WorkflowEnvironment, task_queue: str, *, interceptor: bool) -> str:
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[HeartbeatProbe],
        activities=[slow_external_call],
        interceptors=[HeartbeatInterceptor()] if interceptor else [],
    ):
        return await env.client.execute_workflow(
            HeartbeatProbe.run, 3.0, id=f"hb-{task_queue}-{interceptor}", task_queue=task_queue
        )


async def test_long_attempt_survives_a_short_heartbeat_timeout(
    dev_server_env: WorkflowEnvironment, task_queue: str
) -> None:
    assert await _run(dev_server_env, task_queue, interceptor=True) == "done"


async def test_without_the_interceptor_the_same_attempt_times_out(
    dev_server_env: WorkflowEnvironment, task_queue: str
) -> None:
    with pytest.raises(WorkflowFailureError) as failure:
        await _run(dev_server_env, task_queue, interceptor=False)
    timeout = failure.value.cause.__cause__
    assert isinstance(timeout, ActivityTimeoutError) and timeout.type is TimeoutType.HEARTBEAT
