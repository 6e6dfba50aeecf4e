"""RequestLedger in a tiny workflow: a reused request id with another body is refused with the
fields that differ; a true retry is deduped by Temporal; memory stays bounded."""

from __future__ import annotations

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.workflows.kit.support import kit_worker

with workflow.unsafe.imports_passed_through():
    from docflow.idempotency import IDEMPOTENCY_CONFLICT, update_id
    from docflow.models import CancelRequest
    from docflow.models.process import RequestLedgerState
    from workflows.kit.requests import RequestLedger


@workflow.defn(sandboxed=True)
class LedgerWorkflow:
    def __init__(self) -> None:
        self.state = RequestLedgerState()
        self.requests = RequestLedger(self.state, limit=2)
        self.applied: list[str] = []
        self.done = False

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self.done)
        return self.applied

    @workflow.update
    def note(self, request: CancelRequest) -> int:
        self.requests.remember(request)
        self.applied.append(request.reason)
        return len(self.applied)

    @note.validator
    def _validate_note(self, request: CancelRequest) -> None:
        self.requests.check(request)

    @workflow.query
    def ledger(self) -> RequestLedgerState:
        return self.state

    @workflow.signal
    def finish(self) -> None:
        self.done = True


async def _note(handle, reason: str, request_id: str | None) -> int:
    payload = CancelRequest(actor="ops", reason=reason)
    return await handle.execute_update(
        LedgerWorkflow.note, payload, id=update_id(request_id, payload) if request_id else None
    )


async def test_a_reused_request_id_with_another_body_is_refused(time_skipping_env, task_queue):
    client: Client = time_skipping_env.client
    async with kit_worker(client, task_queue, [LedgerWorkflow]):
        handle = await client.start_workflow(
            LedgerWorkflow.run, id=f"ledger-{task_queue}", task_queue=task_queue
        )
        first = await _note(handle, "deal lost", "ops:k1")
        retry = await _note(handle, "deal lost", "ops:k1")  # deduped by Temporal: same answer
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await _note(handle, "wrong customer", "ops:k1")
        other_key = await _note(handle, "wrong customer", "ops:k2")
        no_key = await _note(handle, "deal lost", None)

        cause = refused.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == IDEMPOTENCY_CONFLICT
        assert "already used for a different request: reason differs" in cause.message
        assert (first, retry, other_key, no_key) == (1, 1, 2, 3)

        await handle.signal(LedgerWorkflow.finish)
        assert await handle.result() == ["deal lost", "wrong customer", "deal lost"]


async def test_the_ledger_is_bounded(time_skipping_env, task_queue):
    client: Client = time_skipping_env.client
    async with kit_worker(client, task_queue, [LedgerWorkflow]):
        handle = await client.start_workflow(
            LedgerWorkflow.run, id=f"ledger-{task_queue}", task_queue=task_queue
        )
        for n in range(4):
            await _note(handle, f"reason {n}", f"ops:k{n}")
        state = await handle.query(LedgerWorkflow.ledger)
        # The oldest key is forgotten: it may be used again (bounded memory beats forever).
        reused = await _note(handle, "another reason", "ops:k0")
        await handle.signal(LedgerWorkflow.finish)

    assert list(state.accepted) == ["ops:k2", "ops:k3"]
    assert state.forgotten == 2
    assert reused == 5
