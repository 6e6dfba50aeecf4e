"""One open approval stage: who may decide, the quorum, escalation and the outcome.

Pure and deterministic, so the signing workflow's Update validator and handler can use it,
and it can be tested without Temporal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from docflow.models import ApprovalDecision, ApprovalStageSpec, Decision, Quorum, StageStatus


@dataclass
class ApprovalStage:
    spec: ApprovalStageSpec
    status: StageStatus
    eligible: set[str]
    decided: set[str] = field(default_factory=set)
    approvals: set[str] = field(default_factory=set)
    outcome: Decision | None = None
    escalated: bool = False

    @classmethod
    def open(cls, spec: ApprovalStageSpec) -> ApprovalStage:
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
        if decision.actor not in self.eligible:
            return f"{decision.actor} is not an approver of stage '{self.name}'"
        if decision.actor in self.decided:
            return f"{decision.actor} has already decided in stage '{self.name}'"
        return None

    def apply(self, decision: ApprovalDecision) -> None:
        """Record a decision (already validated) and close the stage if it is decisive."""
        self.decided.add(decision.actor)
        if decision.decision is not Decision.APPROVE:
            self.outcome = decision.decision  # one rejection or change request decides
            return
        self.approvals.add(decision.actor)
        self.status.approvals = sorted(self.approvals)
        by_escalation = self.escalated and decision.actor == self.spec.escalation_approver
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

    def close(self) -> Decision:
        assert self.outcome is not None
        self.status.outcome = self.outcome.value
        return self.outcome
