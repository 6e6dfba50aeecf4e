"""EcmReviewTaskWorkflow on the time-skipping server with the real activities: the decision
becomes the document's status category in the Content Server simulator and a signed callback
the requester (CRM simulator) verifies; expiry after reminder and escalation; who may decide;
an unknown node refused; started as a child by another workflow without a requester."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from docflow.models import ApprovalDecision, ApprovalStageSpec, Decision, Quorum, UpdateAccepted
from docflow.models.ecm_requests import (
    ReviewTaskInput,
    ReviewTaskStatus,
    request_key,
    review_workflow_id,
)
from tests.activities.simulated import Sim
from tests.ecm_requests.conftest import (
    STATUS_CATEGORY,
    WORKFLOWS,
    Systems,
    callbacks,
    new_document,
    node,
    replays,
)
from tests.workflows.kit.support import kit_worker
from workflows.ecm_review import EcmReviewTaskWorkflow

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


def review(node_id: int, *, requester: str | None = "SFDC", **stage: Any) -> ReviewTaskInput:
    request_id = f"REQ-{uuid.uuid4().hex[:8]}"
    spec = {
        "name": "review",
        "approvers": [ALICE],
        "deadline": timedelta(days=2),
        "reminder_before": timedelta(days=1),
        **stage,
    }
    return ReviewTaskInput(
        key=request_key(requester or "LIFECYCLE", request_id),
        requester=requester,
        request_id=request_id,
        node_id=node_id,
        title="Check the contract",
        stage=ApprovalStageSpec.model_validate(spec),
        proposer="paul@example.com",
        started_by="app:crm",
        environment="local",
    )


async def start(client: Client, task_queue: str, task: ReviewTaskInput) -> WorkflowHandle:
    return await client.start_workflow(
        EcmReviewTaskWorkflow.run,
        task,
        id=review_workflow_id(task.requester or "LIFECYCLE", task.request_id),
        task_queue=task_queue,
    )


async def decide(
    handle: WorkflowHandle, actor: str, decision: Decision, comment: str = ""
) -> UpdateAccepted:
    return await handle.execute_update(
        "decide",
        ApprovalDecision(actor=actor, decision=decision, comment=comment),
        result_type=UpdateAccepted,
    )


async def delivered(client: Client, status: ReviewTaskStatus) -> None:
    """Wait for the callback's DeliveryWorkflow to end while the worker runs: a run left
    open on a stopped worker's queue would stall the time-skipping server's clock."""
    assert status.callback_workflow_id is not None
    result = await client.get_workflow_handle(status.callback_workflow_id).result()
    assert result["delivered"] is True


async def refusal(handle: WorkflowHandle, actor: str, decision: Decision) -> str:
    """Why the workflow refused this decision (its validator's message)."""
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await decide(handle, actor, decision)
    return str(refused.value.cause)


async def awaiting(handle: WorkflowHandle) -> None:
    state = "not started"
    for _ in range(100):
        with contextlib.suppress(RPCError):  # (a child not started yet)
            state = (await handle.query("status", result_type=ReviewTaskStatus)).state
            if state == "awaiting_decision":
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never awaited a decision: {state}")


@pytest.fixture
async def env(time_skipping_env: WorkflowEnvironment) -> WorkflowEnvironment:
    return time_skipping_env


async def test_an_approval_is_written_to_ecm_and_called_back_signed(
    env: WorkflowEnvironment,
    task_queue: str,
    systems: Systems,
    ecm: Sim,
    requester: Sim,
    http: httpx.AsyncClient,
) -> None:
    node_id = await new_document(ecm, http)
    task = review(node_id, approvers=[ALICE, BOB], quorum=Quorum.ALL)
    async with kit_worker(env.client, task_queue, WORKFLOWS, systems.activities()):
        handle = await start(env.client, task_queue, task)
        await awaiting(handle)
        first = await decide(handle, ALICE, Decision.APPROVE, "fine")
        assert first.detail == "review still open"
        await decide(handle, "Bob@Example.com", Decision.APPROVE, "ok by me")
        status = await handle.result()
        await delivered(env.client, status)
        [message] = await callbacks(requester, "ecm.review.completed")
    assert status.outcome == "approved" and status.state == "approved"
    assert status.version == 1 and status.decided_by == "Bob@Example.com"
    await replays(handle)
    values = node(ecm, node_id).categories[STATUS_CATEGORY]
    assert values[f"{STATUS_CATEGORY}_1"] == "Approved"
    assert values[f"{STATUS_CATEGORY}_3"] == "Bob@Example.com"
    assert values[f"{STATUS_CATEGORY}_5"] == "ok by me"
    data = message["data"]
    assert data["outcome"] == "approved" and data["decided_by"] == "Bob@Example.com"
    assert (data["node_id"], data["version"], data["comment"]) == (node_id, 1, "ok by me")
    assert data["request_id"] == task.request_id and data["status_written"] is True
    inbox = await requester.control("GET", "/messages")
    assert inbox["rejected"] == 0  # the CRM verified the signature
    assert systems.kinds() == ["approval_requested"]


async def test_a_rejection_is_written_and_reported_and_a_second_write_updates_the_category(
    env: WorkflowEnvironment,
    task_queue: str,
    systems: Systems,
    ecm: Sim,
    requester: Sim,
    http: httpx.AsyncClient,
) -> None:
    node_id = await new_document(ecm, http)
    async with kit_worker(env.client, task_queue, WORKFLOWS, systems.activities()):
        first = await start(env.client, task_queue, review(node_id))
        await awaiting(first)
        await decide(first, ALICE, Decision.REJECT, "wrong party")
        rejected = await first.result()
        assert rejected.outcome == "rejected"
        await delivered(env.client, rejected)
        # A second review of the same document updates its (now applied) category.
        second = await start(env.client, task_queue, review(node_id))
        await awaiting(second)
        await decide(second, ALICE, Decision.REQUEST_CHANGES, "clause 4")
        changes = await second.result()
        assert changes.outcome == "changes_requested"
        await delivered(env.client, changes)
        messages = await callbacks(requester, "ecm.review.completed", 2)
    assert sorted(m["data"]["outcome"] for m in messages) == ["changes_requested", "rejected"]
    values = node(ecm, node_id).categories[STATUS_CATEGORY]
    assert values[f"{STATUS_CATEGORY}_1"] == "Changes requested"
    written = await ecm.control("GET", f"/categories/changes?node_id={node_id}")
    assert written["count"] == 2


async def test_the_proposer_and_unassigned_people_cannot_decide(
    env: WorkflowEnvironment,
    task_queue: str,
    systems: Systems,
    ecm: Sim,
    http: httpx.AsyncClient,
) -> None:
    node_id = await new_document(ecm, http)
    # Started as another workflow might: the proposer among the reviewers is caught here too.
    task = review(node_id, approvers=[ALICE, "paul@example.com"])
    async with kit_worker(env.client, task_queue, WORKFLOWS, systems.activities()):
        handle = await start(env.client, task_queue, task)
        await awaiting(handle)
        proposer = await refusal(handle, "Paul@example.com", Decision.APPROVE)
        assert "separation of duties" in proposer
        assert "not an approver" in await refusal(handle, BOB, Decision.APPROVE)
        await decide(handle, ALICE, Decision.APPROVE)
        closed = await refusal(handle, ALICE, Decision.REJECT)  # decided: the review is closed
        assert "not open" in closed or "already" in closed
        status = await handle.result()
        await delivered(env.client, status)
    assert status.outcome == "approved" and status.decided_by == ALICE


async def test_an_unknown_node_is_refused_reported_and_nothing_is_written(
    env: WorkflowEnvironment,
    task_queue: str,
    systems: Systems,
    ecm: Sim,
    requester: Sim,
) -> None:
    async with kit_worker(env.client, task_queue, WORKFLOWS, systems.activities()):
        handle = await start(env.client, task_queue, review(987654))
        status = await handle.result()
        await delivered(env.client, status)
        [message] = await callbacks(requester, "ecm.review.completed")
    assert status.outcome == "refused" and "does not exist" in status.outcome_reason
    assert status.status_written is None and systems.kinds() == []
    assert message["data"]["outcome"] == "refused" and message["data"]["status_written"] is False


@workflow.defn(name="LifecycleTriggerStandIn")
class LifecycleTriggerStandIn:
    """A lifecycle trigger's workflow: it starts the review as a child with its own id."""

    @workflow.run
    async def run(self, task: ReviewTaskInput) -> ReviewTaskStatus:
        return await workflow.execute_child_workflow(
            EcmReviewTaskWorkflow.run, task, id=f"ecm-review:trigger:{task.request_id}"
        )


async def test_a_lifecycle_trigger_runs_the_review_as_a_child_without_a_callback(
    env: WorkflowEnvironment,
    task_queue: str,
    systems: Systems,
    ecm: Sim,
    requester: Sim,
    http: httpx.AsyncClient,
) -> None:
    node_id = await new_document(ecm, http)
    task = review(node_id, requester=None)
    workflows = [*WORKFLOWS, LifecycleTriggerStandIn]
    async with kit_worker(env.client, task_queue, workflows, systems.activities()):
        parent = await env.client.start_workflow(
            LifecycleTriggerStandIn.run,
            task,
            id=f"trigger-{task.request_id}",
            task_queue=task_queue,
        )
        child = env.client.get_workflow_handle(f"ecm-review:trigger:{task.request_id}")
        await awaiting(child)
        await decide(child, ALICE, Decision.APPROVE)
        status = await parent.result()
    assert status.outcome == "approved" and status.callback_workflow_id is None
    assert node(ecm, node_id).categories[STATUS_CATEGORY][f"{STATUS_CATEGORY}_1"] == "Approved"
    assert (await requester.control("GET", "/messages"))["count"] == 0


async def test_a_temporal_cancellation_ends_the_review_cancelled_and_reported(
    env: WorkflowEnvironment,
    task_queue: str,
    systems: Systems,
    ecm: Sim,
    requester: Sim,
    http: httpx.AsyncClient,
) -> None:
    node_id = await new_document(ecm, http)
    async with kit_worker(env.client, task_queue, WORKFLOWS, systems.activities()):
        handle = await start(env.client, task_queue, review(node_id))
        await awaiting(handle)
        await handle.cancel()
        status = await handle.result()
        await delivered(env.client, status)
        [message] = await callbacks(requester, "ecm.review.completed")
    assert status.outcome == "cancelled" and status.status_written is None
    assert STATUS_CATEGORY not in node(ecm, node_id).categories
    assert message["data"]["outcome"] == "cancelled"
