"""EcmAuditPollerWorkflow with stand-ins: polls on its interval, carries the cursor, reports a
failing audit trail once per streak, recovers, waits longer while polling is disabled, and
wakes early on `poll_now`. Its histories are the type's replay corpus
(`python -m tests.replay.record_corpus EcmAuditPollerWorkflow`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from docflow.models import Notification
from docflow.models.ecm_events import PollerInput, PollerStatus, PollInput, PollResult
from tests.workflows.kit.support import kit_worker
from workflows.ecm_poller import EcmAuditPollerWorkflow

START = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass
class AuditTrail:
    """Poll n answers script[n]: a result, or "down" (a refusal the call gives up on)."""

    script: list[PollResult | str]
    polls: list[PollInput] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    @activity.defn(name="poll_ecm_audit")
    async def poll(self, request: PollInput) -> PollResult:
        self.polls.append(request)
        answer = self.script[min(len(self.polls), len(self.script)) - 1]
        if isinstance(answer, str):
            raise ApplicationError("audit trail unavailable", type="Refused", non_retryable=True)
        return answer

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        self.notifications.append(notification)


def found(
    minutes: int, submitted: int, *, truncated: bool = False, enabled: bool = True
) -> PollResult:
    return PollResult(
        cursor=START + timedelta(minutes=minutes),
        interval_s=60,
        submitted=submitted,
        nodes=submitted,
        truncated=truncated,
        enabled=enabled,
    )


async def test_the_poller_carries_its_cursor_reports_a_failing_streak_once_and_recovers(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    trail = AuditTrail(
        [
            found(1, 2),
            "down",
            "down",
            found(5, 1, truncated=True),
            found(6, 0, enabled=False),
            found(7, 0),
        ]
    )
    async with kit_worker(client, task_queue, [EcmAuditPollerWorkflow], [trail.poll, trail.notify]):
        handle = await client.start_workflow(
            EcmAuditPollerWorkflow.run,
            PollerInput(),
            id=f"ecm-audit-poller-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
        )
        while len(trail.polls) < 6:
            await time_skipping_env.sleep(timedelta(minutes=5))
        await handle.signal(EcmAuditPollerWorkflow.poll_now)
        await time_skipping_env.sleep(timedelta(seconds=1))
        status: PollerStatus = await handle.query(EcmAuditPollerWorkflow.status)
        await handle.terminate("the scenario is over")
    assert trail.polls[0].cursor is None and trail.polls[1].cursor == START + timedelta(minutes=1)
    assert status.polls >= 7 and status.submitted == 3 and not status.failing
    assert status.cursor == START + timedelta(minutes=7)
    # one notice for the two failing polls in a row
    assert len(trail.notifications) == 1
