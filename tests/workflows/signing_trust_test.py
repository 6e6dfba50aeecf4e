"""Callbacks are hints, a signed document always wins: SigningWorkflow against forged and
racing events (issue 7 §1 and §2), on the time-skipping server with stand-in systems."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError

from docflow.models import CancelRequest, ReportOutcome, SignatureEventType, SigningState
from tests.workflows.conftest import ROUTE, Harness, event, in_state, signing_input, wait_for
from workflows.signing import SigningWorkflow

SIGNER = "signer@acme.example.com"


def kinds(status) -> list[str]:
    return [entry.kind for entry in status.audit]


async def test_a_forged_signed_callback_decides_nothing(harness: Harness) -> None:
    """A captured `signed` replayed with this document's uuid: Core Signature says 'sent'."""
    process = signing_input(stages=[])
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    harness.systems.vendor_status = "se"
    await handle.signal(SigningWorkflow.signature_event, event(key, SignatureEventType.SIGNED))
    status = await wait_for(handle, lambda s: "event_unconfirmed" in kinds(s))
    assert status.state is SigningState.AWAITING_SIGNATURE
    assert harness.systems.archived == [] and harness.systems.reports == []
    assert [c.event_type for c in harness.systems.confirmations] == ["signed"]

    # The genuine callback later decides it.
    harness.systems.vendor_status = None
    await handle.signal(SigningWorkflow.signature_event, event(key, SignatureEventType.SIGNED))
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert harness.systems.reports[-1].outcome is ReportOutcome.COMPLETED


async def test_a_forged_declined_callback_leaves_the_document_signable(harness: Harness) -> None:
    process = signing_input(stages=[])
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    harness.systems.vendor_status = "se"
    for kind in (SignatureEventType.DECLINED, SignatureEventType.CANCELLED):
        await handle.signal(SigningWorkflow.signature_event, event(key, kind, signer=SIGNER))
    status = await wait_for(handle, lambda s: kinds(s).count("event_unconfirmed") == 2)
    assert status.state is SigningState.AWAITING_SIGNATURE
    assert harness.systems.reports == []


async def test_a_forged_bounce_opens_no_exception(harness: Harness) -> None:
    """No document status shows a bounce: it counts only if Core Signature lists the event."""
    process = signing_input(stages=[])
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    harness.systems.vendor_status = "se"  # and the event is not in the vendor's list
    await handle.signal(
        SigningWorkflow.signature_event,
        event(key, SignatureEventType.SIGNER_EMAIL_BOUNCED, signer=SIGNER),
    )
    status = await wait_for(handle, lambda s: "event_unconfirmed" in kinds(s))
    assert status.state is SigningState.AWAITING_SIGNATURE
    assert not [n for n in harness.systems.notifications if n.kind.value == "signature_exception"]


async def test_the_vendors_final_status_wins_over_the_claim(harness: Harness) -> None:
    """A `declined` callback for a document Core Signature reports signed: it is signed."""
    process = signing_input(stages=[])
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    harness.systems.vendor_status = "si"
    await handle.signal(
        SigningWorkflow.signature_event,
        event(key, SignatureEventType.DECLINED, signer=SIGNER, detail="forged"),
    )
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert len(harness.systems.archived) == 2
    assert harness.systems.reports[-1].outcome is ReportOutcome.COMPLETED
    assert "event_unconfirmed" in kinds(result)


async def test_a_cancel_racing_the_signed_callback_is_refused_to_the_caller(
    harness: Harness,
) -> None:
    """The signed callback is already in; the cancel arrives before the workflow acts on it."""
    process = signing_input(stages=[])
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    harness.systems.status_at_cancel = "si"
    await handle.signal(SigningWorkflow.signature_event, event(key, SignatureEventType.SIGNED))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            SigningWorkflow.cancel, CancelRequest(actor="app:crm", reason="deal lost")
        )
    assert "cancel refused" in str(refused.value.cause)
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert len(harness.systems.archived) == 2
    assert harness.systems.cancelled == []
    assert "cancel_refused" in kinds(result)
    assert harness.systems.reports[-1].outcome is ReportOutcome.COMPLETED


async def test_a_cancel_that_goes_through_is_answered_cancelled(harness: Harness) -> None:
    process = signing_input(stages=[])
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    answer = await handle.execute_update(
        SigningWorkflow.cancel, CancelRequest(actor="app:crm", reason="deal lost")
    )
    assert answer.detail == "cancelled"
    result = await handle.result()
    assert result.state is SigningState.CANCELLED
    assert harness.systems.reports[-1].outcome is ReportOutcome.CANCELLED


async def test_the_submitter_of_a_version_never_approves_it(harness: Harness) -> None:
    """Alice requested changes, uploaded version 2 herself: Bob must approve it, not she."""
    from docflow.models import ApprovalDecision, ApprovalStageSpec, Decision, NewDocumentVersion
    from tests.workflows.conftest import document

    alice, bob = "alice@example.com", "bob@example.com"
    process = signing_input(stages=[ApprovalStageSpec(name="legal", approvers=[alice, bob])])
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))
    await handle.execute_update(
        SigningWorkflow.decide,
        ApprovalDecision(actor=alice, decision=Decision.REQUEST_CHANGES, comment="fix §3"),
    )
    await wait_for(handle, in_state(SigningState.CHANGES_REQUESTED))
    await handle.execute_update(
        SigningWorkflow.submit_new_version,
        NewDocumentVersion(actor="Alice@Example.com", document=document(2)),
    )
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            SigningWorkflow.decide, ApprovalDecision(actor=alice, decision=Decision.APPROVE)
        )
    assert "separation of duties" in str(refused.value.cause)
    await handle.execute_update(
        SigningWorkflow.decide, ApprovalDecision(actor="BOB@example.com", decision=Decision.APPROVE)
    )
    status = await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    assert status.stages[-1].approvals == [bob]  # the identity as the process names it


async def test_a_correction_goes_through_the_routing_rules_again(harness: Harness) -> None:
    from docflow.models import SignatureCorrection, Signer, ValidationResult

    process = signing_input(stages=[])
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    await handle.signal(
        SigningWorkflow.signature_event,
        event(key, SignatureEventType.SIGNER_EMAIL_BOUNCED, signer=SIGNER),
    )
    await wait_for(handle, in_state(SigningState.SIGNATURE_EXCEPTION))
    # The check itself gives up: the correction is refused with why, nothing is resent.
    harness.systems.correction_check_fails = True
    with pytest.raises(WorkflowUpdateFailedError) as unchecked:
        await handle.execute_update(
            SigningWorkflow.correct_signature,
            SignatureCorrection(actor="ops@example.com", signers=[Signer(email="a@acme.example")]),
        )
    assert "could not be checked" in str(unchecked.value.cause)
    harness.systems.correction_check_fails = False

    harness.systems.correction_result = ValidationResult(
        accepted=False, reasons=["signer x@outside.example is outside the allowed domains"]
    )
    outside = [Signer(email="x@outside.example")]
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            SigningWorkflow.correct_signature,
            SignatureCorrection(actor="ops@example.com", signers=outside),
        )
    assert "outside the allowed domains" in str(refused.value.cause)
    checked = harness.systems.correction_checks[-1]
    assert [s.email for s in checked.corrected.request.signers] == ["x@outside.example"]
    assert checked.route == ROUTE  # checked against the rule set the process was routed with
    status = await wait_for(handle, lambda s: "correction_refused" in kinds(s))
    assert status.state is SigningState.SIGNATURE_EXCEPTION and len(harness.systems.created) == 1

    harness.systems.correction_result = ValidationResult(accepted=True)
    fixed = [Signer(email="sam@acme.example.com")]
    await handle.execute_update(
        SigningWorkflow.correct_signature,
        SignatureCorrection(actor="ops@example.com", signers=fixed),
    )
    await wait_for(handle, lambda s: s.signature.cycle == 2)
    assert [s.email for s in harness.systems.created[-1].signers] == ["sam@acme.example.com"]


async def test_a_cancel_core_signature_cannot_answer_yet_is_answered_cancelling(
    harness: Harness,
) -> None:
    """The caller is not held while Core Signature is down: after CANCEL_ANSWER_WITHIN the
    answer says the cancel is under way; it completes once Core Signature answers."""
    process = signing_input(stages=[])
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    harness.systems.cancel_unavailable = True
    answer = await handle.execute_update(
        SigningWorkflow.cancel, CancelRequest(actor="app:crm", reason="deal lost")
    )
    assert answer.detail.startswith("cancelling: waiting for Core Signature")
    harness.systems.cancel_unavailable = False
    result = await handle.result()
    assert result.state is SigningState.CANCELLED
    assert harness.systems.reports[-1].outcome is ReportOutcome.CANCELLED
