"""human_task in a tiny workflow: reminder, escalation, expiry; the same wait for a correction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowUpdateFailedError

from tests.workflows.kit.support import kit_worker

with workflow.unsafe.imports_passed_through():
    from docflow.models import ApprovalDecision, ApprovalStageSpec, Decision, NotificationKind
    from workflows.kit.human_task import ApprovalTask, wait_for_person


@workflow.defn(sandboxed=True)
class ApprovalWorkflow:
    def __init__(self) -> None:
        self.task: ApprovalTask | None = None
        self.log: list[str] = []

    @workflow.run
    async def run(self, spec: ApprovalStageSpec) -> list[str]:
        self.task = ApprovalTask.open(spec)

        async def notify(kind: NotificationKind, recipients: list[str], subject: str) -> None:
            self.log.append(f"{kind.value} -> {','.join(recipients)}")

        outcome = await self.task.run(
            notify=notify,
            subject="contract",
            interrupted=lambda: False,
            on_escalation=lambda approver: self.log.append(f"escalated to {approver}"),
        )
        self.log.append(f"outcome {outcome.value if outcome else 'expired'}")
        return self.log

    @workflow.update
    def decide(self, decision: ApprovalDecision) -> str:
        assert self.task is not None
        self.task.apply(decision)
        return "ok"

    @decide.validator
    def _check(self, decision: ApprovalDecision) -> None:
        if self.task is None or (reason := self.task.refusal(decision)):
            raise ValueError(reason or "not open")


SPEC = ApprovalStageSpec(
    name="legal",
    approvers=["alice"],
    deadline=timedelta(days=3),
    reminder_before=timedelta(days=1),
    escalation_approver="boss",
    escalation_window=timedelta(days=1),
)


async def test_reminder_then_escalation_then_expiry(time_skipping_env, task_queue) -> None:
    client: Client = time_skipping_env.client
    async with kit_worker(client, task_queue, [ApprovalWorkflow]):
        log = await client.execute_workflow(
            ApprovalWorkflow.run, SPEC, id=f"approval-{task_queue}", task_queue=task_queue
        )
    assert log == [
        "approval_requested -> alice",
        "approval_reminder -> alice",
        "escalated to boss",
        "approval_escalated -> boss",
        "outcome expired",
    ]


async def test_escalation_approver_decides_alone_and_strangers_are_refused(
    time_skipping_env, task_queue
) -> None:
    client: Client = time_skipping_env.client
    async with kit_worker(client, task_queue, [ApprovalWorkflow]):
        handle = await client.start_workflow(
            ApprovalWorkflow.run, SPEC, id=f"approval-esc-{task_queue}", task_queue=task_queue
        )
        with pytest.raises(WorkflowUpdateFailedError):  # not eligible before escalation
            await handle.execute_update(
                ApprovalWorkflow.decide, ApprovalDecision(actor="boss", decision=Decision.APPROVE)
            )
        await time_skipping_env.sleep(timedelta(days=3, hours=1))
        await handle.execute_update(
            ApprovalWorkflow.decide, ApprovalDecision(actor="boss", decision=Decision.APPROVE)
        )
        log = await handle.result()
    assert log[-1] == "outcome approve"


@workflow.defn(sandboxed=True)
class CorrectionWorkflow:
    def __init__(self) -> None:
        self.correction: str | None = None
        self.reminded = 0

    @workflow.run
    async def run(self, deadline_days: int) -> str:
        async def remind() -> None:
            self.reminded += 1

        got = await wait_for_person(
            lambda: self.correction is not None,
            deadline=timedelta(days=deadline_days),
            what="a correction",
            remind=remind,
            reminder_before=timedelta(days=1),
        )
        return f"{self.correction if got else 'expired'} (reminded {self.reminded})"

    @workflow.signal
    def correct(self, value: str) -> None:
        self.correction = value


async def test_wait_for_person_is_the_same_block_for_corrections(
    time_skipping_env, task_queue
) -> None:
    client: Client = time_skipping_env.client
    async with kit_worker(client, task_queue, [CorrectionWorkflow]):
        expired = await client.execute_workflow(
            CorrectionWorkflow.run, 2, id=f"corr-exp-{task_queue}", task_queue=task_queue
        )
        handle = await client.start_workflow(
            CorrectionWorkflow.run, 5, id=f"corr-ok-{task_queue}", task_queue=task_queue
        )
        await handle.signal(CorrectionWorkflow.correct, "new signer")
        corrected = await handle.result()
    assert expired == "expired (reminded 1)"
    assert corrected == "new signer (reminded 0)"
