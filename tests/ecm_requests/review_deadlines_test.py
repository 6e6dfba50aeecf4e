"""EcmReviewTaskWorkflow's deadlines, each test on a time-skipping server of its own:
reminder, escalation and expiry (the status written and reported), and the escalation
reviewer deciding alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from docflow.models import Decision, Quorum
from tests.activities.simulated import Sim
from tests.conftest import start_time_skipping_server
from tests.ecm_requests.conftest import (
    STATUS_CATEGORY,
    WORKFLOWS,
    Systems,
    callbacks,
    new_document,
    node,
    replays,
)
from tests.ecm_requests.review_workflow_test import (
    ALICE,
    BOB,
    CAROL,
    decide,
    delivered,
    review,
    start,
)
from tests.workflows.kit.support import kit_worker


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server per test: after one test's runs the server's clock no longer
    moved for the next test's (seen here, not in the kit's tests), so each gets a fresh one."""
    env = await start_time_skipping_server()
    try:
        yield env
    finally:
        await env.shutdown()


async def test_no_decision_reminds_escalates_and_expires_with_the_status_written(
    env: WorkflowEnvironment,
    task_queue: str,
    systems: Systems,
    ecm: Sim,
    requester: Sim,
    http: httpx.AsyncClient,
) -> None:
    node_id = await new_document(ecm, http)
    task = review(node_id, escalation_approver=CAROL, escalation_window=timedelta(days=1))
    async with kit_worker(env.client, task_queue, WORKFLOWS, systems.activities()):
        handle = await start(env.client, task_queue, task)
        status = await handle.result()  # the server skips the three days
        await delivered(env.client, status)
        [message] = await callbacks(requester, "ecm.review.completed")
    assert status.outcome == "expired" and status.stage is not None and status.stage.escalated
    await replays(handle)
    assert systems.kinds() == ["approval_requested", "approval_reminder", "approval_escalated"]
    assert systems.notified[2].recipients == [CAROL]
    kinds = [e.kind for e in status.audit]
    assert kinds.index("reminder") < kinds.index("escalated") < kinds.index("expired")
    assert node(ecm, node_id).categories[STATUS_CATEGORY][f"{STATUS_CATEGORY}_1"] == "Expired"
    assert message["data"]["outcome"] == "expired" and message["data"]["decided_by"] is None


async def test_the_escalation_reviewer_decides_alone_after_the_deadline(
    env: WorkflowEnvironment,
    task_queue: str,
    systems: Systems,
    ecm: Sim,
    http: httpx.AsyncClient,
) -> None:
    node_id = await new_document(ecm, http)
    task = review(node_id, approvers=[ALICE, BOB], quorum=Quorum.ALL, escalation_approver=CAROL)
    async with kit_worker(env.client, task_queue, WORKFLOWS, systems.activities()):
        handle = await start(env.client, task_queue, task)
        await env.sleep(timedelta(days=2, minutes=1))  # past the deadline: escalated
        await decide(handle, CAROL, Decision.APPROVE, "escalated: approved")
        status = await handle.result()
        await delivered(env.client, status)
    assert status.outcome == "approved" and status.decided_by == CAROL
