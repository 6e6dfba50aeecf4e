"""History budgets of the signing workflow: a month unsigned stays small; a flood of callbacks
continues as new without double-applying one, and past the per-cycle bound is dropped."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from docflow.models import SignatureEventType, SignatureStatus, SigningPolicy, SigningState
from tests.workflows.conftest import FakeSystems, Harness, event, in_state, signing_input, wait_for
from workflows.kit.signature import MAX_PROGRESS_EVENTS
from workflows.signing import HISTORY_BUDGET, SigningWorkflow

# A run continues as new once it reaches HISTORY_BUDGET events; one workflow task's batch of
# signals may land past the check, and the run's last read-model write is awaited before it
# continues, so a run ends within this.
RUN_CEILING = HISTORY_BUDGET + 600
CALLBACKS = int(os.environ.get("DOCFLOW_BUDGET_CALLBACKS", "10000"))


async def run_lengths(client: Client, workflow_id: str) -> list[int]:
    lengths = []
    async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        history = await client.get_workflow_handle(
            workflow_id, run_id=execution.run_id
        ).fetch_history()
        lengths.append(len(history.events))
    return lengths


async def test_a_month_unsigned_with_default_polling_stays_under_1000_events(
    harness: Harness,
) -> None:
    process = signing_input(stages=[], policy=SigningPolicy())  # first poll 6 h, then hourly
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    await harness.env.sleep(timedelta(days=30))
    for _ in range(200):  # the poll retries hourly in real (skipped) time: ~700 attempts
        if harness.systems.polls >= 700:
            break
        await asyncio.sleep(0.05)
    history = await handle.fetch_history()
    status = await handle.query(SigningWorkflow.status)
    assert status.state is SigningState.AWAITING_SIGNATURE
    assert harness.systems.polls >= 700, harness.systems.polls
    assert len(history.events) < 1000, len(history.events)
    # In fact constant, whatever the wait (the read-model writes of its three states included).
    assert len(history.events) < 60
    await handle.cancel()  # the business cancel: leaves nothing running on the shared server
    assert (await handle.result()).state is SigningState.CANCELLED


def _handled(signature: SignatureStatus | None) -> int:
    """Callbacks the workflow has handled (-1: not known right now)."""
    if signature is None:
        return -1
    return signature.events_received + signature.events_dropped


async def _status_now(handle: WorkflowHandle) -> SignatureStatus | None:
    """The signature status, or None while a burst's workflow task is being retried: on
    shared cores decoding hundreds of signals in one activation can pass the SDK's 2 s
    deadlock check, which fails that task (Temporal retries it) and the query with it."""
    try:
        return (await handle.query(SigningWorkflow.status)).signature
    except WorkflowQueryFailedError as err:
        if "TMPRL1101" not in str(err):
            raise
        return None


async def test_10000_callbacks_continue_as_new_within_budget_losing_none(
    dev_server_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = dev_server_env.client
    systems = FakeSystems()
    process = signing_input(stages=[])
    key = process.request.business_key
    async with Worker(
        client, task_queue=task_queue, workflows=[SigningWorkflow], activities=systems.activities()
    ):
        handle: WorkflowHandle = await client.start_workflow(
            SigningWorkflow.run, process, id=f"budget-{key}", task_queue=task_queue
        )
        await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE), within=30)
        latest = client.get_workflow_handle_for(SigningWorkflow.run, handle.id)
        ids = [f"viewed-{n}-{uuid.uuid4().hex[:6]}" for n in range(CALLBACKS)]
        sent = 0
        for start in range(0, len(ids), 250):
            batch = ids[start : start + 250]
            # Each batch also repeats 20 ids of the previous one: the sender's retries.
            repeats = ids[max(0, start - 20) : start]
            await asyncio.gather(
                *(
                    latest.signal(
                        SigningWorkflow.signature_event,
                        event(key, SignatureEventType.VIEWED, event_id=event_id),
                    )
                    for event_id in [*batch, *repeats]
                )
            )
            sent += len(batch)
            # A sender paced like a vendor's callback queue: the workflow catches up between
            # bursts (a run can only continue as new in a workflow task no signal races).
            while _handled(await _status_now(latest)) < sent:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await latest.signal(
            SigningWorkflow.signature_event, event(key, SignatureEventType.SIGNED, event_id="done")
        )
        result = await latest.result()

    assert result.state is SigningState.COMPLETED
    # Every callback handled once, none twice: the first MAX_PROGRESS_EVENTS progress events of
    # the cycle applied, the rest dropped (a flood), the deciding one applied.
    assert _handled(result.signature) == sent + 1
    assert result.signature.events_received == MAX_PROGRESS_EVENTS + 1
    assert result.signature.events_dropped == sent - MAX_PROGRESS_EVENTS
    lengths = await run_lengths(client, handle.id)
    assert len(lengths) >= 5, lengths  # it continued as new, several times
    assert max(lengths) <= RUN_CEILING, lengths
    assert len(result.audit) <= 300  # the flood is counted, not written into the trail
