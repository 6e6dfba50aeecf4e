"""Callbacks are hints, a signed document always wins: SigningWorkflow against forged and
racing events (issue 7 §1 and §2), on the time-skipping server with stand-in systems."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError

from docflow.models import CancelRequest, ReportOutcome, SignatureEventType, SigningState
from tests.workflows.conftest import Harness, event, in_state, signing_input, wait_for
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
