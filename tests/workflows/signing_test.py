"""SigningWorkflow on the time-skipping test server: one test per branch of the process."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import temporalio.api.sdk.v1
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from docflow.models import (
    ApprovalDecision,
    ApprovalStageSpec,
    CancelRequest,
    Decision,
    NewDocumentVersion,
    Quorum,
    RepairRequest,
    ReportOutcome,
    SignatureCorrection,
    SignatureEventType,
    Signer,
    SigningPolicy,
    SigningState,
    ValidationResult,
)
from tests.workflows.conftest import Harness, document, event, in_state, signing_input, wait_for
from workflows.signing import SigningWorkflow

ALICE, BOB, CAROL, EVE = (
    "alice@example.com",
    "bob@example.com",
    "carol@example.com",
    "eve@example.com",
)


def approve(actor: str, stage: str | None = None) -> ApprovalDecision:
    return ApprovalDecision(actor=actor, decision=Decision.APPROVE, stage=stage)


async def sign(harness: Harness, handle, key: str, cycle: int = 1) -> None:
    await wait_for(
        handle, lambda s: s.state is SigningState.AWAITING_SIGNATURE and s.signature.cycle == cycle
    )
    await handle.signal(
        SigningWorkflow.signature_event,
        event(key, SignatureEventType.SIGNER_SIGNED, cycle=cycle, signer="signer@acme.example.com"),
    )
    await handle.signal(
        SigningWorkflow.signature_event, event(key, SignatureEventType.SIGNED, cycle=cycle)
    )


async def test_any_quorum_approval_then_signed_archived_and_reported(harness: Harness) -> None:
    process = signing_input()
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))
    accepted = await handle.execute_update(SigningWorkflow.decide, approve(ALICE, "legal"))
    assert accepted.detail == "stage closed: approve"
    await sign(harness, handle, key)

    result = await handle.result()

    assert result.state is SigningState.COMPLETED
    assert [c.external_id for c in harness.systems.created] == [f"{key}#1"]
    assert [a.name for a in harness.systems.archived] == [
        f"{key} - contract (signed).pdf",
        f"{key} - contract (audit trail).pdf",
    ]
    assert harness.systems.archived[0].category_values == {"2": "D-1", "6": key}
    assert harness.systems.archived[0].rm_classification_id == 5001
    report = harness.systems.reports[-1]
    assert report.outcome is ReportOutcome.COMPLETED
    assert report.archived_node_id == 5001 and report.workspace_id == 4242
    assert [s.email for s in report.signers] == ["signer@acme.example.com"]
    decisions = [a for a in result.audit if a.kind == "decision"]
    assert [(d.actor, d.data["decision"]) for d in decisions] == [(ALICE, "approve")]
    assert result.archive.document_node_id == 5001
    assert result.signature.signed_by == ["signer@acme.example.com"]


async def test_all_quorum_needs_every_approver_and_validator_guards(harness: Harness) -> None:
    stages = [ApprovalStageSpec(name="board", approvers=[ALICE, BOB], quorum=Quorum.ALL)]
    process = signing_input(stages=stages)
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))

    with pytest.raises(WorkflowUpdateFailedError) as outsider:
        await handle.execute_update(SigningWorkflow.decide, approve(CAROL))
    assert "not an approver" in str(outsider.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as wrong_stage:
        await handle.execute_update(SigningWorkflow.decide, approve(ALICE, "legal"))
    assert "not open" in str(wrong_stage.value.cause)

    first = await handle.execute_update(SigningWorkflow.decide, approve(ALICE))
    assert first.detail == "stage still open"
    with pytest.raises(WorkflowUpdateFailedError) as twice:
        await handle.execute_update(SigningWorkflow.decide, approve(ALICE))
    assert "already decided" in str(twice.value.cause)
    status = await handle.query(SigningWorkflow.status)
    assert status.state is SigningState.AWAITING_APPROVAL and status.stages[0].approvals == [ALICE]

    await handle.execute_update(SigningWorkflow.decide, approve(BOB))
    await sign(harness, handle, process.request.business_key)
    assert (await handle.result()).state is SigningState.COMPLETED


async def test_two_stages_run_in_order(harness: Harness) -> None:
    stages = [
        ApprovalStageSpec(name="legal", approvers=[ALICE]),
        ApprovalStageSpec(name="finance", approvers=[BOB]),
    ]
    process = signing_input(stages=stages)
    handle = await harness.start(process)
    await wait_for(handle, lambda s: s.stage == "legal")
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(SigningWorkflow.decide, approve(BOB))
    await handle.execute_update(SigningWorkflow.decide, approve(ALICE))
    await wait_for(handle, lambda s: s.stage == "finance")
    await handle.execute_update(SigningWorkflow.decide, approve(BOB))
    await sign(harness, handle, process.request.business_key)
    result = await handle.result()
    assert [s.outcome for s in result.stages] == ["approve", "approve"]


async def test_reminder_escalation_then_final_timeout_expires(harness: Harness) -> None:
    stages = [
        ApprovalStageSpec(
            name="legal",
            approvers=[ALICE],
            deadline=timedelta(days=3),
            reminder_before=timedelta(days=1),
            escalation_approver=EVE,
            escalation_window=timedelta(days=1),
        )
    ]
    handle = await harness.start(signing_input(stages=stages))

    result = await handle.result()

    assert result.state is SigningState.EXPIRED
    assert "legal" in result.outcome_reason and "deadline" in result.outcome_reason
    kinds = [(n.kind.value, n.recipients) for n in harness.systems.notifications]
    assert kinds == [
        ("approval_requested", [ALICE]),
        ("approval_reminder", [ALICE]),
        ("approval_escalated", [EVE]),
    ]
    assert harness.systems.created == []
    assert harness.systems.reports[-1].outcome is ReportOutcome.EXPIRED
    times = {a.kind: a.at for a in result.audit}
    assert times["reminder"] - times["started"] >= timedelta(days=2)
    assert times["escalated"] - times["started"] >= timedelta(days=3)
    # The action links' facts: this stage and version; the approvers' links close at the
    # deadline, the escalation approver's with the escalation window.
    requested, reminder, escalated = (n.approval for n in harness.systems.notifications)
    assert requested is not None and reminder is not None and escalated is not None
    doc = signing_input().document
    assert (requested.stage, requested.stage_index, requested.version) == ("legal", 0, doc.version)
    assert requested.sha256 == doc.sha256
    assert reminder.closes_at == requested.closes_at
    assert timedelta(days=3) <= requested.closes_at - times["started"] < timedelta(days=3, hours=1)
    assert requested.closes_at <= times["escalated"]
    assert escalated.closes_at - times["escalated"] == timedelta(days=1)


async def test_escalation_approver_decides_alone(harness: Harness) -> None:
    stages = [
        ApprovalStageSpec(
            name="legal",
            approvers=[ALICE, BOB],
            quorum=Quorum.ALL,
            deadline=timedelta(hours=2),
            reminder_before=timedelta(hours=1),
            escalation_approver=EVE,
        )
    ]
    process = signing_input(stages=stages)
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))
    with pytest.raises(WorkflowUpdateFailedError):  # not eligible before the deadline
        await handle.execute_update(SigningWorkflow.decide, approve(EVE))
    await handle.execute_update(SigningWorkflow.decide, approve(ALICE))
    await harness.env.sleep(timedelta(hours=2, minutes=1))
    status = await wait_for(handle, lambda s: s.stages[0].escalated)
    assert EVE in status.stages[0].eligible and "escalation approver" in status.waiting_for
    await handle.execute_update(SigningWorkflow.decide, approve(EVE))
    await sign(harness, handle, process.request.business_key)
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert result.stages[0].approvals == [ALICE, EVE]


async def test_rejection_ends_and_tells_the_source(harness: Harness) -> None:
    handle = await harness.start(signing_input())
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))
    await handle.execute_update(
        SigningWorkflow.decide,
        ApprovalDecision(actor=ALICE, decision=Decision.REJECT, comment="pricing is wrong"),
    )
    result = await handle.result()
    assert result.state is SigningState.REJECTED
    assert result.outcome_reason == f"rejected by {ALICE}: pricing is wrong"
    assert harness.systems.reports[-1].outcome is ReportOutcome.REJECTED
    assert harness.systems.created == []


async def test_changes_requested_waits_for_new_version_and_restarts_approval(
    harness: Harness,
) -> None:
    process = signing_input()
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))
    await handle.execute_update(
        SigningWorkflow.decide,
        ApprovalDecision(actor=ALICE, decision=Decision.REQUEST_CHANGES, comment="fix clause 7"),
    )
    await wait_for(handle, in_state(SigningState.CHANGES_REQUESTED))
    with pytest.raises(WorkflowUpdateFailedError) as same:
        await handle.execute_update(
            SigningWorkflow.submit_new_version,
            NewDocumentVersion(actor=ALICE, document=document(1)),
        )
    assert "not newer" in str(same.value.cause)
    await handle.execute_update(
        SigningWorkflow.submit_new_version,
        NewDocumentVersion(actor="app:crm", document=document(2)),
    )
    await wait_for(
        handle, lambda s: s.state is SigningState.AWAITING_APPROVAL and s.document_version == 2
    )
    await handle.execute_update(SigningWorkflow.decide, approve(ALICE))
    await sign(harness, handle, key)
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert [c.document.version for c in harness.systems.created] == [2]


async def test_changes_requested_without_new_version_expires(harness: Harness) -> None:
    handle = await harness.start(
        signing_input(policy=SigningPolicy(changes_deadline=timedelta(days=2)))
    )
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))
    await handle.execute_update(
        SigningWorkflow.decide, ApprovalDecision(actor=ALICE, decision=Decision.REQUEST_CHANGES)
    )
    result = await handle.result()
    assert result.state is SigningState.EXPIRED
    assert "no revised document" in result.outcome_reason


async def test_validation_refusal_reports_reasons(harness: Harness) -> None:
    harness.systems.validation = ValidationResult(
        accepted=False, reasons=["no routing rule for document type 'poem'"]
    )
    result = await (await harness.start(signing_input())).result()
    assert result.state is SigningState.REFUSED
    assert result.outcome_reason == "no routing rule for document type 'poem'"
    assert harness.systems.reports[-1].outcome is ReportOutcome.REFUSED
    assert harness.systems.notifications == [] and harness.systems.created == []


async def test_declined_reports_the_reason(harness: Harness) -> None:
    process = signing_input(stages=[])
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    await handle.signal(
        SigningWorkflow.signature_event,
        event(
            key,
            SignatureEventType.DECLINED,
            signer="signer@acme.example.com",
            detail="wrong amount",
        ),
    )
    result = await handle.result()
    assert result.state is SigningState.DECLINED
    assert result.outcome_reason == "declined by signer@acme.example.com: wrong amount"
    assert harness.systems.reports[-1].reason == "declined by signer@acme.example.com: wrong amount"
    assert harness.systems.archived == []


async def test_expired_resends_then_escalates_to_support(harness: Harness) -> None:
    process = signing_input(stages=[], policy=SigningPolicy(max_resends=1))
    key = process.request.business_key
    handle = await harness.start(process)
    for cycle in (1, 2):
        await wait_for(
            handle,
            lambda s, c=cycle: (
                s.state is SigningState.AWAITING_SIGNATURE and s.signature.cycle == c
            ),
        )
        await handle.signal(
            SigningWorkflow.signature_event, event(key, SignatureEventType.EXPIRED, cycle=cycle)
        )
    status = await wait_for(handle, in_state(SigningState.SIGNATURE_EXCEPTION))
    assert "expired 2 times" in status.waiting_for
    support = [n for n in harness.systems.notifications if n.kind.value == "signature_exception"]
    assert len(support) == 1 and support[0].recipients == []

    await handle.execute_update(
        SigningWorkflow.cancel, CancelRequest(actor="ops@example.com", reason="deal lost")
    )
    result = await handle.result()
    assert result.state is SigningState.CANCELLED
    assert result.outcome_reason == "cancelled by ops@example.com: deal lost"
    assert [c.external_id for c in harness.systems.created] == [f"{key}#1", f"{key}#2"]
    assert harness.systems.cancelled == [f"sr-{key}#2"]


async def test_bounce_opens_exception_and_correction_resends(harness: Harness) -> None:
    process = signing_input(stages=[])
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    await handle.signal(
        SigningWorkflow.signature_event,
        event(key, SignatureEventType.SIGNER_EMAIL_BOUNCED, signer="signer@acme.example.com"),
    )
    await wait_for(handle, in_state(SigningState.SIGNATURE_EXCEPTION))
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            SigningWorkflow.correct_signature, SignatureCorrection(actor="ops@example.com")
        )
    fixed = Signer(email="sam.signer@acme.example.com", first_name="Sam")
    await handle.execute_update(
        SigningWorkflow.correct_signature,
        SignatureCorrection(actor="ops@example.com", signers=[fixed]),
    )
    await sign(harness, handle, key, cycle=2)
    result = await handle.result()

    assert result.state is SigningState.COMPLETED
    assert harness.systems.cancelled == [f"sr-{key}#1"]
    assert [str(c.signers[0].email) for c in harness.systems.created] == [
        "signer@acme.example.com",
        "sam.signer@acme.example.com",
    ]
    assert any(a.kind == "correction" and a.actor == "ops@example.com" for a in result.audit)


async def test_unresolved_exception_fails_at_its_deadline(harness: Harness) -> None:
    process = signing_input(stages=[], policy=SigningPolicy(exception_deadline=timedelta(days=1)))
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    await handle.signal(
        SigningWorkflow.signature_event, event(key, SignatureEventType.CONVERT_ERROR)
    )
    result = await handle.result()
    assert result.state is SigningState.FAILED
    assert "not resolved in time" in result.outcome_reason
    assert harness.systems.reports[-1].outcome is ReportOutcome.FAILED


async def test_lost_callback_is_caught_by_polling(harness: Harness) -> None:
    policy = SigningPolicy(
        signature_poll_after=timedelta(hours=2), signature_poll_interval=timedelta(hours=1)
    )
    process = signing_input(stages=[], policy=policy)
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    harness.systems.polled_status = "si"
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert harness.systems.polls == 1
    assert any(a.kind == "event" and a.data.get("via") == "poll" for a in result.audit)


async def test_polling_keeps_going_while_the_document_is_out(harness: Harness) -> None:
    policy = SigningPolicy(
        signature_poll_after=timedelta(hours=1), signature_poll_interval=timedelta(hours=1)
    )
    process = signing_input(stages=[], policy=policy)
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    # Status stays "se": each poll finds nothing; the late callback still completes the run.
    await harness.env.sleep(timedelta(hours=3, minutes=1))
    for _ in range(100):
        if harness.systems.polls >= 3:
            break
        await asyncio.sleep(0.05)
    assert harness.systems.polls >= 3
    await handle.signal(SigningWorkflow.signature_event, event(key, SignatureEventType.SIGNED))
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    # Every "not yet" was a retry of one poll activity: nothing of it is in the history.
    history = await handle.fetch_history()
    scheduled = [
        e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
    ]
    polls = [
        e
        for e in scheduled
        if e.activity_task_scheduled_event_attributes.activity_type.name
        == "await_final_signature_status"
    ]
    assert len(polls) == 1


async def test_duplicate_and_impossible_early_events(harness: Harness) -> None:
    process = signing_input()
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))
    # Early: the events arrive before the workflow sent anything (it knows them by document).
    viewed = event(key, SignatureEventType.VIEWED, event_id="ev-viewed")
    await handle.signal(SigningWorkflow.signature_event, viewed)
    await handle.signal(SigningWorkflow.signature_event, viewed)  # duplicate delivery
    await handle.signal(
        SigningWorkflow.signature_event, event(key, SignatureEventType.SIGNED, event_id="ev-signed")
    )
    # A cycle two ahead cannot exist yet: dropped and counted, never applied later.
    await handle.signal(
        SigningWorkflow.signature_event,
        event(key, SignatureEventType.SIGNED, cycle=2, event_id="ev-impossible"),
    )
    await handle.execute_update(SigningWorkflow.decide, approve(ALICE))

    result = await handle.result()

    assert result.state is SigningState.COMPLETED
    applied = [a.data["event_id"] for a in result.audit if a.kind == "event"]
    assert applied == ["ev-viewed", "ev-signed"]
    assert result.signature.events_dropped == 1
    assert len(harness.systems.created) == 1


async def test_cancel_during_approval(harness: Harness) -> None:
    handle = await harness.start(signing_input())
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))
    await handle.execute_update(
        SigningWorkflow.cancel, CancelRequest(actor="app:crm", reason="duplicate deal")
    )
    result = await handle.result()
    assert result.state is SigningState.CANCELLED
    assert harness.systems.reports[-1].outcome is ReportOutcome.CANCELLED
    with pytest.raises(RPCError):  # the run is closed: no handler accepts updates
        await handle.execute_update(
            SigningWorkflow.cancel, CancelRequest(actor="app:crm", reason="again")
        )


async def test_archive_failure_opens_an_exception_that_ends_failed_at_its_deadline(
    harness: Harness,
) -> None:
    harness.systems.fail_archive = True
    process = signing_input(stages=[], policy=SigningPolicy(exception_deadline=timedelta(days=2)))
    handle = await harness.start(process)
    await sign(harness, handle, process.request.business_key)
    status = await wait_for(handle, in_state(SigningState.ARCHIVE_EXCEPTION))
    assert status.attention and "category 9001 not found" in status.waiting_for
    support = [n for n in harness.systems.notifications if n.recipients == []]
    assert support and "category 9001 not found" in support[-1].data["reason"]
    result = await handle.result()
    assert result.state is SigningState.FAILED
    assert result.outcome_reason.startswith("archiving failed: Upload '")
    assert result.outcome_reason.endswith("category 9001 not found")
    assert harness.systems.reports[-1].outcome is ReportOutcome.FAILED


async def test_archive_repaired_by_support_completes(harness: Harness) -> None:
    harness.systems.fail_archive = True
    process = signing_input(stages=[])
    handle = await harness.start(process)
    await sign(harness, handle, process.request.business_key)
    await wait_for(handle, in_state(SigningState.ARCHIVE_EXCEPTION))
    harness.systems.archive_fixed = True  # support created the category in ECM
    await handle.execute_update(
        SigningWorkflow.repair,
        RepairRequest(actor="ops@example.com", action="retry", comment="category created"),
    )
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert result.archive.document_node_id is not None
    assert any(a.kind == "repair_retry" and a.actor == "ops@example.com" for a in result.audit)
    assert harness.systems.reports[-1].outcome is ReportOutcome.COMPLETED


async def test_current_details_say_what_the_process_waits_for(harness: Harness) -> None:
    handle = await harness.start(signing_input())
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))
    metadata = await handle.query(
        "__temporal_workflow_metadata", result_type=temporalio.api.sdk.v1.WorkflowMetadata
    )
    assert "awaiting_approval" in metadata.current_details
    assert f"Waiting for: decision of any of {ALICE} in stage 'legal'" in metadata.current_details
    assert {q.name for q in metadata.definition.query_definitions} >= {"status"}
    assert {u.name for u in metadata.definition.update_definitions} == {
        "decide",
        "submit_new_version",
        "correct_signature",
        "repair",
        "redeliver",
        "cancel",
    }
    # ... and the exact command and API call that act on it now.
    key = handle.id.removeprefix("signing-")
    assert f'docflow cancel {key} --reason "…"' in metadata.current_details
    assert f"POST /v1/signing-processes/{key}/cancel" in metadata.current_details
    await handle.execute_update(SigningWorkflow.cancel, CancelRequest(actor="app:crm", reason="x"))
    await handle.result()


async def test_non_terminal_callbacks_do_not_postpone_the_poll(harness: Harness) -> None:
    policy = SigningPolicy(
        signature_poll_after=timedelta(hours=2), signature_poll_interval=timedelta(hours=1)
    )
    process = signing_input(stages=[], policy=policy)
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    await harness.env.sleep(timedelta(hours=1, minutes=30))
    await handle.signal(SigningWorkflow.signature_event, event(key, SignatureEventType.VIEWED))
    await wait_for(handle, lambda s: any(a.kind == "event" for a in s.audit))
    harness.systems.polled_status = "si"

    result = await handle.result()

    sent = next(a.at for a in result.audit if a.kind == "sent")
    polled = next(a.at for a in result.audit if a.kind == "polled")
    assert timedelta(hours=2) <= polled - sent < timedelta(hours=2, minutes=10)
    history = await handle.fetch_history()
    timers = [
        e
        for e in history.events
        if e.HasField("timer_started_event_attributes")
        # (a watched call's race against its expected time is not the poll clock)
        and b"expected time of:" not in e.user_metadata.summary.data
    ]
    assert len(timers) == 1  # the viewed event did not restart the poll clock
