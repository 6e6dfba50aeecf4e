"""History budget of the business object's workflow: 10,000 changes to one object on the dev
server end as several runs within the budget, the newest applied, none counted twice."""

from __future__ import annotations

import asyncio
import os
import uuid

from temporalio.testing import WorkflowEnvironment

from docflow.models.workspaces import BusinessObjectEventKind, BusinessObjectInput
from tests.workflows.history_budget_test import run_lengths
from tests.workflows.workspace_test import ACME, Systems, event, worker
from workflows.workspace import BusinessObjectWorkflow

CHANGES = int(os.environ.get("DOCFLOW_BUDGET_CHANGES", "10000"))
BUDGET = 2_000
# One workflow task's batch of signals may land past the check: a run ends within this.
RUN_CEILING = BUDGET + 600


async def test_10000_changes_continue_as_new_within_budget_losing_none(
    dev_server_env: WorkflowEnvironment, task_queue: str
) -> None:
    client, systems = dev_server_env.client, Systems()
    obj = ACME.model_copy(update={"bo_id": f"BUDGET{uuid.uuid4().hex[:8]}"})
    async with worker(client, task_queue, systems):
        handle = await client.start_workflow(
            BusinessObjectWorkflow.run,
            BusinessObjectInput(object=obj, history_budget=BUDGET),
            id=f"budget-{obj.bo_id}",
            task_queue=task_queue,
            start_signal="business_object_event",
            start_signal_args=[event(1, BusinessObjectEventKind.CREATED, obj=obj)],
        )
        latest = client.get_workflow_handle_for(BusinessObjectWorkflow.run, handle.id)
        sent = 1
        for start in range(2, CHANGES + 1, 250):
            versions = range(start, min(start + 250, CHANGES + 1))
            changes = [event(v, obj=obj, name=f"v{v}") for v in versions]
            # Each burst also repeats 10 changes of the previous one (the sender's retries).
            repeats = [event(v, obj=obj, name=f"v{v}") for v in range(max(2, start - 10), start)]
            await asyncio.gather(
                *(
                    latest.signal(BusinessObjectWorkflow.business_object_event, change)
                    for change in [*changes, *repeats]
                )
            )
            sent += len(changes) + len(repeats)
            # Paced like a CRM's outbound queue: the workflow catches up between bursts.
            while True:
                status = await latest.query(BusinessObjectWorkflow.status)
                if status.applied + status.ignored >= sent and not status.pending_events:
                    break
                await asyncio.sleep(0.05)
        status = await latest.query(BusinessObjectWorkflow.status)
        lengths = await run_lengths(client, handle.id)

    assert status.applied_version == CHANGES
    assert status.applied + status.ignored == sent  # each change applied or ignored, once
    assert systems.metadata[-1].values["2"] == f"v{CHANGES}"
    written = [u.source_version for u in systems.metadata]
    assert written == sorted(set(written))  # only ever forward
    assert len(lengths) >= 2, lengths  # it continued as new
    assert max(lengths) <= RUN_CEILING, lengths
    assert len(status.audit) <= 300
