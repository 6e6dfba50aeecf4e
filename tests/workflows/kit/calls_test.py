"""calls: presets become activity options; a give-up is GaveUp with a reason, never a failed run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from tests.workflows.kit.record_test import upserts
from tests.workflows.kit.support import kit_worker

with workflow.unsafe.imports_passed_through():
    from activities.http.options import CallOptions
    from docflow import search_attributes as sa
    from docflow.models import ProcessSummary
    from workflows.kit.calls import GaveUp, best_effort, call
    from workflows.kit.record import ProcessRecord

FAST = CallOptions(
    system="demo-system",
    start_to_close=timedelta(seconds=5),
    give_up=timedelta(minutes=10),
    retry=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=1)),
)


class Systems:
    attempts = 0

    @activity.defn(name="refuse")
    async def refuse(self, what: str) -> str:
        raise ApplicationError(f"{what} is not allowed", type="BadRequest", non_retryable=True)

    @activity.defn(name="flaky")
    async def flaky(self, what: str) -> str:
        Systems.attempts += 1
        if Systems.attempts < 3:
            raise ApplicationError("try later", type="Unavailable")
        return f"{what} done after {Systems.attempts}"

    @activity.defn(name="down")
    async def down(self, what: str) -> str:
        raise ApplicationError("service unavailable", type="Unavailable")


@workflow.defn(sandboxed=True)
class CallsWorkflow:
    @workflow.run
    async def run(self, scenario: str) -> list[str]:
        seen: list[str] = []
        if scenario == "refused":
            try:
                await call(Systems.refuse, "create", FAST, summary="Create the thing")
            except GaveUp as failure:
                seen += [failure.system, failure.operation, failure.reason, failure.error_type]
        elif scenario == "flaky":
            seen.append(await call(Systems.flaky, "sync", FAST, summary="Sync"))
        elif scenario == "down":
            try:
                await call(
                    Systems.down, "report", FAST, summary="Report", give_up=timedelta(minutes=1)
                )
            except GaveUp as failure:
                seen += [failure.reason, failure.error_type]
        elif scenario == "best_effort":
            ok = await best_effort(
                Systems.down,
                "notify",
                FAST.giving_up_after(timedelta(seconds=30)),
                summary="Notify",
                on_give_up=lambda failure: seen.append(f"recorded: {failure.reason}"),
            )
            seen.append(f"went on ({ok})")
        return seen


async def run(env, task_queue: str, scenario: str) -> list[str]:
    systems = Systems()
    async with kit_worker(
        env.client, task_queue, [CallsWorkflow], [systems.refuse, systems.flaky, systems.down]
    ):
        return await env.client.execute_workflow(
            CallsWorkflow.run, scenario, id=f"calls-{scenario}-{task_queue}", task_queue=task_queue
        )


async def test_non_retryable_refusal_is_gave_up_with_its_reason(time_skipping_env, task_queue):
    assert await run(time_skipping_env, task_queue, "refused") == [
        "demo-system",
        "Create the thing",
        "create is not allowed",
        "BadRequest",
    ]


async def test_retryable_errors_are_retried_on_the_preset_schedule(time_skipping_env, task_queue):
    Systems.attempts = 0
    assert await run(time_skipping_env, task_queue, "flaky") == ["sync done after 3"]


async def test_retries_past_the_give_up_time_become_gave_up(time_skipping_env, task_queue):
    reason, error_type = await run(time_skipping_env, task_queue, "down")
    # The last attempt's error, or the give-up timeout, explains it; never a failed run.
    assert error_type in {"Unavailable", "Timeout"}
    assert reason


async def test_best_effort_records_and_goes_on(time_skipping_env, task_queue):
    seen = await run(time_skipping_env, task_queue, "best_effort")
    assert seen[-1] == "went on (False)"
    assert seen[0].startswith("recorded: ")


# ------------------------------------------------------- step retrying past expected
SLOW_RETRY = CallOptions(
    system="demo-system",
    start_to_close=timedelta(seconds=5),
    give_up=timedelta(hours=1),
    retry=RetryPolicy(initial_interval=timedelta(minutes=2), maximum_interval=timedelta(minutes=2)),
    expected=timedelta(minutes=1),
)


@workflow.defn(sandboxed=True)
class WatchedWorkflow:
    @workflow.run
    async def run(self, activity_name: str) -> ProcessSummary:
        record = ProcessRecord("demo", "K-9", state="archiving", indexed_states=())
        record.set_state("archiving", "the archive")
        step = Systems.flaky if activity_name == "flaky" else Systems.refuse
        try:
            await call(step, "archive", SLOW_RETRY, summary="Archive the thing", record=record)
        except GaveUp:
            record.record("gave_up", "system")
        await record.flush(closed=True)
        return ProcessSummary.model_validate(record.summary_fields())


async def watched(env, task_queue: str, activity_name: str) -> tuple[ProcessSummary, Any]:
    systems = Systems()
    async with kit_worker(
        env.client, task_queue, [WatchedWorkflow], [systems.refuse, systems.flaky]
    ):
        handle = await env.client.start_workflow(
            WatchedWorkflow.run, activity_name, id=f"watched-{task_queue}", task_queue=task_queue
        )
        return await handle.result(), handle


async def test_a_step_retrying_past_its_expected_time_raises_and_clears_attention(
    time_skipping_env, task_queue
):
    Systems.attempts = 0  # two failures two minutes apart: past the expected minute
    summary, handle = await watched(time_skipping_env, task_queue, "flaky")
    kinds = [(e.kind, e.detail) for e in summary.audit]
    assert kinds == [
        ("step_retrying", "Archive the thing"),
        ("step_recovered", ""),
    ]
    assert summary.retrying == "" and summary.attention_reason == ""
    assert [values.get(sa.ATTENTION.name) for values in await upserts(handle)] == [
        sa.STEP_RETRYING,
        None,
    ]


async def test_a_step_ending_in_time_never_raises_attention(time_skipping_env, task_queue):
    summary, handle = await watched(time_skipping_env, task_queue, "refuse")
    assert [e.kind for e in summary.audit] == ["gave_up"]  # refused at once: no flag
    assert await upserts(handle) == []
