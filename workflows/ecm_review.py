"""ECM review task: an external application (or a lifecycle trigger's workflow, as a child)
asks people to review one version of a document in Content Server.

The story: confirm the node and version in Content Server (unknown → "refused", reported) →
the kit's approval task (assignees, any/all quorum, reminder, escalation, expiry; decisions
are validated Updates for the authenticated caller; the proposer never decides) → the
decision (or "expired") written to the document as its status category → the requester told
by a signed `ecm.review.completed` callback (its own DeliveryWorkflow: dead letter, support,
redelivery). Every outcome is reported; a Temporal cancellation is the business cancel.
"""

from __future__ import annotations

import contextlib
from typing import NoReturn

from temporalio import workflow
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from workflows.delivery import DeliveryInput, DeliveryWorkflow, delivery_workflow_id
from workflows.kit.calls import GaveUp, call
from workflows.kit.human_task import ApprovalTask
from workflows.kit.lifecycle import ProcessEnded, run_story
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.content_server import options as content_server
    from activities.content_server.document_status import EcmRequestActivities
    from docflow.models import ApprovalDecision, Decision, UpdateAccepted
    from docflow.models.delivery import OutboundMessage
    from docflow.models.ecm_requests import (
        REVIEW_TERMINAL,
        DocumentCheck,
        DocumentFound,
        ReviewOutcome,
        ReviewState,
        ReviewStatusWrite,
        ReviewTaskInput,
        ReviewTaskStatus,
        StatusWritten,
        callback_payload,
    )

S = ReviewState
INDEXED_STATES = {S.AWAITING_DECISION} | REVIEW_TERMINAL
CALLBACK = "ecm.review.completed"
OUTCOME_OF = {
    Decision.APPROVE: ReviewOutcome.APPROVED,
    Decision.REJECT: ReviewOutcome.REJECTED,
    Decision.REQUEST_CHANGES: ReviewOutcome.CHANGES_REQUESTED,
}
# Outcomes that become the document's status in ECM (a refusal has no document to write to).
WRITTEN = {
    ReviewOutcome.APPROVED,
    ReviewOutcome.REJECTED,
    ReviewOutcome.CHANGES_REQUESTED,
    ReviewOutcome.EXPIRED,
}


async def start_callback(message: OutboundMessage) -> str:
    """Start the signed callback to the requester as its own DeliveryWorkflow (schedule,
    dead letter, support told, redelivery) without waiting for it; returns its id."""
    child_id = delivery_workflow_id(message)
    with contextlib.suppress(WorkflowAlreadyStartedError):  # an earlier run started it
        await workflow.start_child_workflow(
            DeliveryWorkflow.run,
            DeliveryInput(message=message),
            id=child_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"Deliver {message.event_type} to {message.target}",
        )
    return child_id


@workflow.defn(name="EcmReviewTaskWorkflow", versioning_behavior=behaviour("EcmReviewTaskWorkflow"))
class EcmReviewTaskWorkflow:
    @workflow.init
    def __init__(self, task: ReviewTaskInput) -> None:
        self._input = task
        self._record = ProcessRecord(
            "ecm-review", task.key, state=S.CHECKING, indexed_states=INDEXED_STATES
        )
        self._notify = Notifier(task.key, self._record)
        self._task: ApprovalTask | None = None
        self._found: DocumentFound | None = None
        self._outcome: ReviewOutcome | None = None
        self._decided_by, self._comment = "", ""
        self._decided_at = None
        self._written: StatusWritten | None = None
        self._callback: str | None = None

    # ------------------------------------------------------------------ story
    @workflow.run
    async def run(self, task: ReviewTaskInput) -> ReviewTaskStatus:
        spec = task.stage
        self._record.index_at_start(
            business_key=task.key,
            source_record=f"node {task.node_id}",
            document_type="ecm_review",
            environment=task.environment,
            source_system=task.requester,
            participants=[*spec.approvers, *filter(None, [spec.escalation_approver])],
        )
        self._record.record("started", task.started_by, f"review of node {task.node_id}")
        await run_story(self._story, on_cancel=self._cancelled, record=self._record)
        return self.status()

    async def _story(self) -> None:
        task = self._input
        try:
            found = await call(
                EcmRequestActivities.confirm_document,
                DocumentCheck(node_id=task.node_id, version=task.version),
                content_server.CALL,
                summary=f"Confirm node {task.node_id} v{task.version or 'latest'}",
                record=self._record,
            )
        except GaveUp as failure:  # the requester hears of it; support learns why
            await self._notify.support(
                f"Review {task.key}: node {task.node_id} could not be read",
                key="confirm",
                reason=failure.reason,
            )
            await self._conclude(ReviewOutcome.REFUSED, f"Content Server: {failure.reason}")
        self._found = found
        if not found.found:
            await self._conclude(ReviewOutcome.REFUSED, found.reason)
        self._record.record("confirmed", "system", f"{found.name!r} v{found.version}")
        decision = await self._review(found)
        if decision is None:
            await self._conclude(
                ReviewOutcome.EXPIRED, "no decision by the deadline (and escalation window)"
            )
        await self._conclude(OUTCOME_OF[decision], self._comment)

    async def _review(self, found: DocumentFound) -> Decision | None:
        spec = self._input.stage
        task = self._task = ApprovalTask.open(spec)
        self._record.set_state(
            S.AWAITING_DECISION, f"decision of {task.describe_quorum()}", until=spec.deadline
        )

        def escalated(approver: str) -> None:
            self._record.record("escalated", "system", f"to {approver}")
            self._record.set_state(
                S.AWAITING_DECISION,
                f"escalation reviewer {approver}",
                until=spec.escalation_window,
            )

        return await task.run(
            notify=self._notify.for_task(f"review:v{found.version}"),
            subject=f"review of {self._input.title} ({found.name} v{found.version})",
            interrupted=lambda: False,
            on_reminder=lambda: self._record.record("reminder", "system", ", ".join(task.pending)),
            on_escalation=escalated,
        )

    # --------------------------------------------------------------- outcomes
    async def _conclude(self, outcome: ReviewOutcome, reason: str) -> NoReturn:
        """Write the status (where there is one), tell the requester, end."""
        self._outcome = outcome
        self._record.data.outcome_reason = reason
        self._record.set_state(S.RECORDING, "Content Server and the requester to hear of it")
        if outcome in WRITTEN:
            await self._write_status(outcome)
        await self._report(outcome, reason)
        self._record.record(outcome.value, self._decided_by or "system", reason)
        self._record.set_state(S(outcome.value), "nothing (finished)")
        raise ProcessEnded

    async def _write_status(self, outcome: ReviewOutcome) -> None:
        node_id = self._input.node_id
        write = ReviewStatusWrite(
            node_id=node_id,
            outcome=outcome,
            decided_by=self._decided_by,
            decided_at=self._decided_at or workflow.now(),
            comment=self._comment,
        )
        try:
            self._written = await call(
                EcmRequestActivities.write_review_status,
                write,
                content_server.CALL,
                summary=f"Write status '{outcome.value}' to node {node_id}",
                record=self._record,
            )
        except GaveUp as failure:  # the outcome stands; support writes it by hand
            self._record.record("status_not_written", "system", failure.reason)
            await self._notify.support(
                f"Review {self._input.key}: status '{outcome.value}' not written to node {node_id}",
                key=f"status:{outcome.value}",
                reason=failure.reason,
            )
            return
        self._record.record("status_written", "system", f"category {self._written.category_id}")

    async def _report(self, outcome: ReviewOutcome, reason: str) -> None:
        """The signed callback to the requester, as its own DeliveryWorkflow."""
        task = self._input
        if task.requester is None:
            return
        found = self._found
        message = OutboundMessage(
            target=task.requester,
            event_type=CALLBACK,
            idempotency_key=f"{workflow.info().workflow_id}:{outcome.value}",
            business_key=task.key,
            payload=callback_payload(
                request_id=task.request_id,
                outcome=outcome.value,
                decision=outcome.value,
                decided_by=self._decided_by or None,
                decided_at=self._decided_at,
                comment=self._comment,
                reason=reason,
                node_id=task.node_id,
                version=found.version if found else task.version,
                status_written=self._written is not None,
            ),
        )
        self._callback = await start_callback(message)
        self._record.record("reported", "system", f"{CALLBACK} to {task.requester}")

    async def _cancelled(self) -> None:
        with contextlib.suppress(ProcessEnded):
            await self._conclude(ReviewOutcome.CANCELLED, "cancelled (Temporal cancellation)")

    # -------------------------------------------------------------- decisions
    @workflow.update(name="decide")
    def decide(self, decision: ApprovalDecision) -> UpdateAccepted:
        task = self._task
        if task is None:  # the validator refuses this; a handler error must not fail the task
            raise ApplicationError("no review is open", non_retryable=True)
        accepted = task.decide(decision, self._record, what="review")
        if task.outcome is not None:
            self._decided_by, self._comment = decision.actor, decision.comment
            self._decided_at = workflow.now()
        return accepted

    @decide.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        task = self._task
        if self._record.state != S.AWAITING_DECISION or task is None:
            raise ValueError(f"the review is not open for decisions ({self._record.state})")
        found = self._found
        if decision.version is not None and found and decision.version != found.version:
            raise ValueError(f"version {decision.version} is not under review (v{found.version})")
        if (reason := task.refusal(decision)) is not None:
            raise ValueError(reason)
        proposers = {p.casefold() for p in (self._input.proposer, self._input.started_by) if p}
        if decision.actor.casefold() in proposers:
            raise ValueError(
                f"{decision.actor} asked for this review; someone else must decide on it "
                "(separation of duties)"
            )

    # ---------------------------------------------------------------- queries
    @workflow.query(name="status")
    def status(self) -> ReviewTaskStatus:
        task, found, spec = self._input, self._found, self._input.stage
        people = [*spec.approvers, *filter(None, [spec.escalation_approver])]
        return ReviewTaskStatus.model_validate(
            {
                **self._record.summary_fields(),
                "requester": task.requester,
                "request_id": task.request_id,
                "node_id": task.node_id,
                "version": found.version if found and found.found else task.version,
                "document_name": found.name if found else "",
                "title": task.title,
                "proposer": task.proposer,
                "participants": sorted({p.casefold() for p in people}),
                "stage": self._task.status if self._task else None,
                "outcome": self._outcome,
                "decided_by": self._decided_by,
                "decided_at": self._decided_at,
                "comment": self._comment,
                "status_written": self._written,
                "callback_workflow_id": self._callback,
            }
        )
