"""ApprovalTask rules without Temporal: eligibility, once-only, quorum, escalation."""

from __future__ import annotations

from docflow.models import ApprovalDecision, ApprovalStageSpec, Decision, Quorum
from workflows.kit.human_task import ApprovalTask


def decision(actor: str, kind: Decision = Decision.APPROVE) -> ApprovalDecision:
    return ApprovalDecision(actor=actor, decision=kind)


def test_all_quorum_closes_only_when_everyone_approved() -> None:
    stage = ApprovalTask.open(
        ApprovalStageSpec(name="board", approvers=["a", "b"], quorum=Quorum.ALL)
    )
    stage.apply(decision("a"))
    assert stage.outcome is None and stage.pending == ["b"]
    assert stage.refusal(decision("a")) == "a has already decided in stage 'board'"
    stage.apply(decision("b"))
    assert stage.outcome is Decision.APPROVE and stage.status.approvals == ["a", "b"]


def test_one_rejection_decides_even_under_all_quorum() -> None:
    stage = ApprovalTask.open(
        ApprovalStageSpec(name="board", approvers=["a", "b"], quorum=Quorum.ALL)
    )
    stage.apply(decision("a"))
    stage.apply(decision("b", Decision.REJECT))
    assert stage.outcome is Decision.REJECT


def test_escalation_approver_is_eligible_only_after_escalation_and_decides_alone() -> None:
    spec = ApprovalStageSpec(
        name="legal", approvers=["a", "b"], quorum=Quorum.ALL, escalation_approver="e"
    )
    stage = ApprovalTask.open(spec)
    assert stage.refusal(decision("e")) == "e is not an approver of stage 'legal'"
    assert stage.escalate() == "e"
    assert stage.status.escalated and "e" in stage.status.eligible
    stage.apply(decision("e"))
    assert stage.outcome is Decision.APPROVE


def test_no_escalation_approver_means_no_escalation() -> None:
    stage = ApprovalTask.open(ApprovalStageSpec(name="legal", approvers=["a"]))
    assert stage.escalate() is None and not stage.escalated


def test_decision_for_another_stage_is_refused() -> None:
    stage = ApprovalTask.open(ApprovalStageSpec(name="legal", approvers=["a"]))
    wrong = ApprovalDecision(actor="a", decision=Decision.APPROVE, stage="finance")
    assert stage.refusal(wrong) == "stage 'finance' is not open; 'legal' is"
