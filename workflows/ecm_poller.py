"""ECM audit poller: docflow's own reading of the watched workspaces' audit trails, every
`interval_s` — the path that needs nothing installed at the vendor, and the reconciliation of
webhooks that never came. Every event found goes to its document's EcmDocumentWorkflow, which
drops what it has already seen, so an event found by both paths is relayed once.

One per environment (`ecm-audit-poller`); the cursor (newest audit date read) crosses
continue-as-new. A poll that keeps failing is recorded, flags the poller for attention and
tells support once per streak; the next tick tries again. `poll_now` wakes it early.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.kit.calls import GaveUp, call
from workflows.kit.human_task import wait_for
from workflows.kit.lifecycle import continue_as_new, history_due
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.content_server import options as content_server
    from activities.content_server.events import EcmEventSource
    from docflow.models.ecm_events import PollerInput, PollerStatus, PollInput

POLLER_ID = "ecm-audit-poller"
DISABLED_RECHECK = timedelta(minutes=10)


@workflow.defn(
    name="EcmAuditPollerWorkflow", versioning_behavior=behaviour("EcmAuditPollerWorkflow")
)
class EcmAuditPollerWorkflow:
    @workflow.init
    def __init__(self, request: PollerInput) -> None:
        self._s = request
        self._record = ProcessRecord(
            "ecm_audit_poller",
            POLLER_ID,
            state="polling",
            indexed_states={"failing"},
            read_model=False,  # infrastructure: its events are the documents' records
        )
        self._notify = Notifier(POLLER_ID, self._record)
        self._wake = False
        self._failing = ""

    @workflow.run
    async def run(self, request: PollerInput) -> PollerStatus:
        while True:
            self._wake = False
            interval = await self._poll()
            if history_due(request.history_budget):
                await continue_as_new(self._s)
            await wait_for(lambda: self._wake, interval, "next audit poll")

    async def _poll(self) -> timedelta:
        s = self._s
        try:
            result = await call(
                EcmEventSource.poll_audit,
                PollInput(cursor=s.cursor),
                content_server.POLL_AUDIT,
                summary=f"Poll the audit trail since {s.cursor or 'the lookback'}",
            )
        except GaveUp as failure:
            if not self._failing:
                self._record.set_state("failing", "the next poll", attention=True)
                await self._notify.support(
                    "The ECM audit poller cannot read the audit trail",
                    key=f"poll-failing:{s.polls}",
                    reason=failure.reason,
                )
            self._failing = failure.reason
            self._record.record("poll_failed", "system", failure.reason)
            s.polls += 1
            return DISABLED_RECHECK
        s.polls += 1
        s.cursor, s.last = result.cursor, result
        s.submitted += result.submitted
        if self._failing:
            self._failing = ""
            self._record.set_state("polling", "the next poll")
        if result.submitted or result.truncated:
            self._record.record(
                "polled",
                "system",
                f"{result.workspaces} workspaces, {result.nodes} nodes, "
                f"{result.submitted} events handed on" + (" (truncated)" * result.truncated),
            )
        if not result.enabled:
            return DISABLED_RECHECK
        return timedelta(seconds=result.interval_s)

    @workflow.signal(name="poll_now")
    def poll_now(self) -> None:
        self._wake = True

    @workflow.query(name="status")
    def status(self) -> PollerStatus:
        s = self._s
        return PollerStatus(
            cursor=s.cursor,
            polls=s.polls,
            submitted=s.submitted,
            last=s.last,
            failing=self._failing,
        )
