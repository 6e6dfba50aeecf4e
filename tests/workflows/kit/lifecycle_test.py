"""lifecycle and await_external in tiny workflows: Temporal cancellation runs the business
cancel; a callback cancels the poll; a poll that answers is the outcome."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from tests.workflows.kit.support import kit_worker

with workflow.unsafe.imports_passed_through():
    from activities.http.options import CallOptions
    from workflows.kit.await_external import await_outcome
    from workflows.kit.lifecycle import ProcessEnded, run_story

OPTIONS = CallOptions(
    system="demo",
    start_to_close=timedelta(seconds=5),
    give_up=timedelta(days=1),
    retry=RetryPolicy(initial_interval=timedelta(seconds=1)),
)


class Vendor:
    def __init__(self) -> None:
        self.status = "sent"
        self.polls = 0
        self.withdrawn: list[str] = []

    @activity.defn(name="poll_status")
    async def poll(self, ref: str) -> str:
        self.polls += 1
        if self.status == "sent":
            raise ApplicationError("not yet", type="NotFinalYet")
        return self.status

    @activity.defn(name="withdraw")
    async def withdraw(self, ref: str) -> None:
        self.withdrawn.append(ref)


@workflow.defn(sandboxed=True)
class WaitWorkflow:
    def __init__(self) -> None:
        self.callback: str | None = None
        self.outcome = "running"

    @workflow.run
    async def run(self, ref: str) -> str:
        if ref == "already-decided":  # an event came in before the wait began
            self.callback = "signed"

        async def story() -> None:
            polled = await await_outcome(
                lambda: self.callback is not None,
                poll=Vendor.poll,
                poll_arg=ref,
                options=OPTIONS,
                first_poll_after=timedelta(hours=1),
                every=timedelta(hours=1),
                give_up=timedelta(days=30),
                summary="vendor status",
            )
            self.outcome = f"callback {self.callback}" if polled is None else f"polled {polled}"
            raise ProcessEnded

        async def cancelled() -> None:
            await workflow.execute_activity_method(
                Vendor.withdraw, ref, start_to_close_timeout=timedelta(seconds=5)
            )
            self.outcome = "cancelled and withdrawn"

        await run_story(story, on_cancel=cancelled)
        return self.outcome

    @workflow.signal
    def event(self, status: str) -> None:
        self.callback = status


async def run_with(env, task_queue: str, vendor: Vendor, act) -> str:
    client: Client = env.client
    async with kit_worker(client, task_queue, [WaitWorkflow], [vendor.poll, vendor.withdraw]):
        handle = await client.start_workflow(
            WaitWorkflow.run, "doc-1", id=f"wait-{task_queue}", task_queue=task_queue
        )
        await act(env, handle)
        return await handle.result()


async def test_the_poll_is_the_outcome_when_no_callback_comes(time_skipping_env, task_queue):
    vendor = Vendor()

    async def act(env, handle) -> None:
        await env.sleep(timedelta(hours=5))
        vendor.status = "signed"

    assert await run_with(time_skipping_env, task_queue, vendor, act) == "polled signed"
    assert vendor.polls >= 4  # hourly retries of one activity


async def test_a_callback_wins_and_cancels_the_poll(time_skipping_env, task_queue) -> None:
    vendor = Vendor()

    async def act(env, handle) -> None:
        await env.sleep(timedelta(hours=3))
        await handle.signal(WaitWorkflow.event, "declined")

    assert await run_with(time_skipping_env, task_queue, vendor, act) == "callback declined"


async def test_temporal_cancellation_runs_the_business_cancel(time_skipping_env, task_queue):
    vendor = Vendor()

    async def act(env, handle) -> None:
        await handle.cancel()

    assert await run_with(time_skipping_env, task_queue, vendor, act) == "cancelled and withdrawn"
    assert vendor.withdrawn == ["doc-1"]


async def test_a_wait_already_decided_starts_no_timer_and_no_poll(time_skipping_env, task_queue):
    vendor = Vendor()
    client: Client = time_skipping_env.client
    async with kit_worker(client, task_queue, [WaitWorkflow], [vendor.poll, vendor.withdraw]):
        handle = await client.start_workflow(
            WaitWorkflow.run, "already-decided", id=f"wait-{task_queue}", task_queue=task_queue
        )
        assert await handle.result() == "callback signed"
    history = await handle.fetch_history()
    kinds = {e.WhichOneof("attributes") for e in history.events}
    assert "timer_started_event_attributes" not in kinds
    assert "activity_task_scheduled_event_attributes" not in kinds
    assert vendor.polls == 0
