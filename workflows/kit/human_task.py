"""Work only a person can do, with a deadline: approvals, corrections, new versions, repairs.

Rules:
- every wait on a person has a deadline; a reminder goes out `reminder_before` it, and at
  the deadline an escalation approver (if any) becomes eligible and decides alone within
  the escalation window; after that the task expires — nothing waits forever silently;
- decisions arrive as Updates whose validator calls `refusal()`: only an eligible person
  (the authenticated caller the API puts in `actor`), once, for the open stage;
- one rejection or change request decides; approvals need the quorum (any / all);
- `closes_at` is when the current ask ends (the deadline, then the escalation window): the
  expiry of the action links in the notifications;
- "wait for a correction / a new version / a repair" is `wait_for_person` alone: the same
  deadline machinery without a quorum.
The rules part (`ApprovalTask` minus `run`) is pure and testable without Temporal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from docflow.models import (
        ApprovalDecision,
        ApprovalStageSpec,
        Decision,
        NotificationKind,
        Quorum,
        StageStatus,
        UpdateAccepted,
    )

if TYPE_CHECKING:
    from workflows.kit.record import ProcessRecord

Notify = Callable[[NotificationKind, list[str], str], Awaitable[None]]


async def wait_for(done: Callable[[], bool], limit: timedelta, summary: str) -> bool:
    """Wait for `done`; False when the timer (`summary` in the Web UI) fired first."""
    if limit <= timedelta(0):
        return done()
    try:
        await workflow.wait_condition(done, timeout=limit, timeout_summary=summary)
    except TimeoutError:
        return False
    return True


async def wait_for_person(
    done: Callable[[], bool],
    *,
    deadline: timedelta,
    what: str,
    remind: Callable[[], Awaitable[None]] | None = None,
    reminder_before: timedelta = timedelta(0),
) -> bool:
    """Wait for a person until `deadline`, reminding once `reminder_before` it; False = expired."""
    waited = timedelta(0)
    reminder_after = deadline - reminder_before
    if remind is not None and timedelta(0) < reminder_after < deadline:
        if await wait_for(done, reminder_after, f"reminder: {what}"):
            return True
        await remind()
        waited = reminder_after
    return await wait_for(done, deadline - waited, f"deadline: {what}")


@dataclass
class ApprovalTask:
    """One approval stage: who may decide, the quorum, escalation and the outcome."""

    spec: ApprovalStageSpec
    status: StageStatus
    eligible: set[str]
    decided: set[str] = field(default_factory=set)
    approvals: set[str] = field(default_factory=set)
    outcome: Decision | None = None
    escalated: bool = False
    closes_at: datetime | None = None

    @classmethod
    def open(cls, spec: ApprovalStageSpec) -> ApprovalTask:
        status = StageStatus(
            name=spec.name, quorum=spec.quorum.value, eligible=list(spec.approvers)
        )
        return cls(spec=spec, status=status, eligible=set(spec.approvers))

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pending(self) -> list[str]:
        """Eligible approvers who have not decided yet."""
        return sorted(self.eligible - self.decided)

    def describe_quorum(self) -> str:
        names = ", ".join(sorted(self.eligible))
        return f"any of {names}" if self.spec.quorum is Quorum.ANY else f"all of {names}"

    def refusal(self, decision: ApprovalDecision) -> str | None:
        """Why this decision cannot be taken now, or None if it can."""
        if self.outcome is not None:
            return f"stage '{self.name}' is already decided"
        if decision.stage is not None and decision.stage != self.name:
            return f"stage '{decision.stage}' is not open; '{self.name}' is"
        who = self.eligible_as(decision.actor)
        if who is None:
            return f"{decision.actor} is not an approver of stage '{self.name}'"
        if who in self.decided:
            return f"{decision.actor} has already decided in stage '{self.name}'"
        return None

    def eligible_as(self, actor: str) -> str | None:
        """The eligible approver `actor` is, compared case-insensitively (identities are
        e-mail-like: `Alice@Example.com` is alice@example.com), or None."""
        wanted = actor.casefold()
        return next((e for e in sorted(self.eligible) if e.casefold() == wanted), None)

    def decide(
        self, decision: ApprovalDecision, record: ProcessRecord, *, what: str, where: str = ""
    ) -> UpdateAccepted:
        """A decide Update's handler body: apply the (validated) decision, put it in the audit
        trail (who, decision and comment as data: the read model's approvals) and answer."""
        self.apply(decision)
        comment = f": {decision.comment}" if decision.comment else ""
        record.record(
            "decision",
            decision.actor,
            f"{decision.decision.value}{where}{comment}",
            data={
                "comment": decision.comment,
                "decision": decision.decision.value,
                "stage": self.name,
            },
        )
        closed = f"closed: {self.outcome.value}" if self.outcome else "still open"
        return UpdateAccepted(state=record.state, stage=self.name, detail=f"{what} {closed}")

    def apply(self, decision: ApprovalDecision) -> None:
        """Record a decision (already validated) and close the stage if it is decisive."""
        who = self.eligible_as(decision.actor) or decision.actor
        self.decided.add(who)
        self.status.decided = sorted(self.decided)
        if decision.decision is not Decision.APPROVE:
            self.outcome = decision.decision  # one rejection or change request decides
            return
        self.approvals.add(who)
        self.status.approvals = sorted(self.approvals)
        by_escalation = self.escalated and who == self.spec.escalation_approver
        if (
            by_escalation
            or self.spec.quorum is Quorum.ANY
            or set(self.spec.approvers) <= self.approvals
        ):
            self.outcome = Decision.APPROVE

    def escalate(self) -> str | None:
        """Make the escalation approver eligible (deciding alone); returns them, if any."""
        approver = self.spec.escalation_approver
        if approver is None:
            return None
        self.escalated = self.status.escalated = True
        self.eligible.add(approver)
        self.status.eligible = sorted(self.eligible)
        return approver

    async def run(
        self,
        *,
        notify: Notify,
        subject: str,
        interrupted: Callable[[], bool],
        on_reminder: Callable[[], None] = lambda: None,
        on_escalation: Callable[[str], None] = lambda _: None,
    ) -> Decision | None:
        """Ask, remind, escalate; the decision, or None if interrupted or expired."""
        spec = self.spec

        def settled() -> bool:
            return self.outcome is not None or interrupted()

        self.closes_at = workflow.now() + spec.deadline
        await notify(NotificationKind.APPROVAL_REQUESTED, sorted(self.eligible), subject)

        async def remind() -> None:
            on_reminder()
            await notify(NotificationKind.APPROVAL_REMINDER, self.pending, f"Reminder: {subject}")

        stage = f"stage '{spec.name}'"
        if not await wait_for_person(
            settled,
            deadline=spec.deadline,
            what=stage,
            remind=remind,
            reminder_before=spec.reminder_before,
        ) and (approver := self.escalate()):
            on_escalation(approver)
            self.closes_at = workflow.now() + spec.escalation_window
            await notify(NotificationKind.APPROVAL_ESCALATED, [approver], f"Escalated: {subject}")
            await wait_for(settled, spec.escalation_window, f"escalation window of {stage}")
        if self.outcome is None:
            if not interrupted():
                self.status.outcome = "expired"
            return None
        self.status.outcome = self.outcome.value
        return self.outcome
