"""Repairable and Notifier in a tiny workflow: a step that gave up waits for support, who
retries it after a fix or abandons it; notifications are best effort."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from tests.workflows.kit.support import kit_worker

with workflow.unsafe.imports_passed_through():
    from activities.http.options import CallOptions
    from docflow.models import Notification, ProcessSummary, RepairRequest
    from workflows.kit.calls import call
    from workflows.kit.notify import Notifier
    from workflows.kit.record import ProcessRecord
    from workflows.kit.repair import Repairable

ONCE = CallOptions(
    system="ecm",
    start_to_close=timedelta(seconds=5),
    give_up=timedelta(minutes=1),
    retry=RetryPolicy(maximum_attempts=1),
)


class Ecm:
    def __init__(self) -> None:
        self.broken = True
        self.support: list[str] = []

    @activity.defn(name="file_document")
    async def file(self, name: str) -> int:
        if self.broken:
            raise ApplicationError("workspace name already taken", non_retryable=True)
        return 42

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        self.support.append(notification.data["reason"])


@workflow.defn(sandboxed=True)
class RepairWorkflow:
    def __init__(self) -> None:
        self.record = ProcessRecord("demo", "K-1", state="filing", indexed_states=())
        self.repairs = Repairable(self.record, Notifier("K-1", self.record))

    @workflow.run
    async def run(self, name: str) -> str:
        outcome = await self.repairs.run(
            lambda: call(Ecm.file, name, ONCE, summary=f"File {name}"),
            name="filing",
            running="filing",
            waiting="filing_exception",
            deadline=timedelta(days=2),
        )
        await self.record.flush(closed=True)
        return f"filed as {outcome}" if isinstance(outcome, int) else f"given up: {outcome}"

    @workflow.update
    def repair(self, request: RepairRequest) -> str:
        self.repairs.apply(request)
        return "ok"

    @repair.validator
    def _check(self, request: RepairRequest) -> None:
        if (reason := self.repairs.refusal(request)) is not None:
            raise ValueError(reason)

    @workflow.query
    def status(self) -> ProcessSummary:
        return ProcessSummary.model_validate(self.record.summary_fields())


async def _start(client: Client, task_queue: str, suffix: str):
    return await client.start_workflow(
        RepairWorkflow.run,
        "contract.pdf",
        id=f"repair-{suffix}-{task_queue}",
        task_queue=task_queue,
    )


async def test_support_retries_after_fixing_the_cause(time_skipping_env, task_queue) -> None:
    client: Client = time_skipping_env.client
    ecm = Ecm()
    async with kit_worker(client, task_queue, [RepairWorkflow], [ecm.file, ecm.notify]):
        handle = await _start(client, task_queue, "retry")
        while not (await handle.query(RepairWorkflow.status)).attention:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert ecm.support == ["File contract.pdf: workspace name already taken"]
        ecm.broken = False
        await handle.execute_update(
            RepairWorkflow.repair, RepairRequest(actor="ops@example.com", action="retry")
        )
        assert await handle.result() == "filed as 42"


async def test_an_unrepaired_step_is_given_up_at_its_deadline(time_skipping_env, task_queue):
    client: Client = time_skipping_env.client
    ecm = Ecm()
    async with kit_worker(client, task_queue, [RepairWorkflow], [ecm.file, ecm.notify]):
        result = await (await _start(client, task_queue, "expire")).result()
    assert result == "given up: File contract.pdf: workspace name already taken"
