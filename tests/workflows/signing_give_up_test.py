"""The one give-up policy on signing: every external call that gives up ends in a reported
outcome or an exception an operator can repair, never a FAILED run; Temporal cancellation is
the business cancel; a signed document always wins over a cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from docflow.models import (
    ReportOutcome,
    SignatureCorrection,
    SignatureEventType,
    Signer,
    SigningPolicy,
    SigningState,
)
from tests.workflows.conftest import Harness, event, in_state, signing_input, wait_for
from workflows.signing import SigningWorkflow

POLL_SOON = SigningPolicy(
    signature_poll_after=timedelta(hours=1),
    signature_poll_interval=timedelta(hours=1),
    exception_deadline=timedelta(days=1),
)


def support_messages(harness: Harness) -> list[str]:
    return [n.subject for n in harness.systems.notifications if n.recipients == []]


async def test_poll_refused_with_401_opens_a_repairable_exception(harness: Harness) -> None:
    harness.systems.fail_poll = "401 Unauthorized: invalid client credentials"
    process = signing_input(stages=[], policy=POLL_SOON)
    key = process.request.business_key
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    await harness.env.sleep(timedelta(hours=1, minutes=1))  # the first poll
    status = await wait_for(handle, in_state(SigningState.SIGNATURE_EXCEPTION))
    assert "status polling gave up: 401 Unauthorized" in status.waiting_for
    assert status.attention
    assert any("Signature exception" in s for s in support_messages(harness))
    # Support fixes the credentials and resends to the corrected signer.
    harness.systems.fail_poll = None
    await handle.execute_update(
        SigningWorkflow.correct_signature,
        SignatureCorrection(actor="ops@example.com", signers=[Signer(email="s2@acme.example.com")]),
    )
    await wait_for(
        handle, lambda s: s.state is SigningState.AWAITING_SIGNATURE and s.signature.cycle == 2
    )
    await handle.signal(
        SigningWorkflow.signature_event, event(key, SignatureEventType.SIGNED, cycle=2)
    )
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert harness.systems.reports[-1].outcome is ReportOutcome.COMPLETED


async def test_vanished_document_unrepaired_ends_failed_and_reported(harness: Harness) -> None:
    harness.systems.fail_poll = "404 Not Found: document does not exist"
    handle = await harness.start(signing_input(stages=[], policy=POLL_SOON))
    result = await handle.result()
    assert result.state is SigningState.FAILED
    assert "404 Not Found" in result.outcome_reason
    assert harness.systems.reports[-1].outcome is ReportOutcome.FAILED
    assert any("ended failed" in s for s in support_messages(harness))


async def test_core_signature_400_on_create_is_an_exception_not_a_crash(harness: Harness) -> None:
    harness.systems.fail_create = "400 Bad Request: signer email domain not allowed"
    process = signing_input(stages=[], policy=POLL_SOON)
    key = process.request.business_key
    handle = await harness.start(process)
    status = await wait_for(handle, in_state(SigningState.SIGNATURE_EXCEPTION))
    assert "Core Signature refused the request: 400 Bad Request" in status.waiting_for
    harness.systems.fail_create = None
    await handle.execute_update(
        SigningWorkflow.correct_signature,
        SignatureCorrection(actor="ops@example.com", signers=[Signer(email="ok@acme.example.com")]),
    )
    await wait_for(
        handle, lambda s: s.state is SigningState.AWAITING_SIGNATURE and s.signature.cycle == 2
    )
    await handle.signal(
        SigningWorkflow.signature_event, event(key, SignatureEventType.SIGNED, cycle=2)
    )
    assert (await handle.result()).state is SigningState.COMPLETED


async def test_notification_service_down_does_not_stop_the_process(harness: Harness) -> None:
    harness.systems.notify_down = True
    process = signing_input()  # one approval stage: its notification cannot be delivered
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))
    await harness.env.sleep(timedelta(hours=1, minutes=5))  # past the notification give-up
    status = await wait_for(handle, lambda s: any(a.kind == "notify_failed" for a in s.audit))
    assert status.state is SigningState.AWAITING_APPROVAL
    failed = next(a for a in status.audit if a.kind == "notify_failed")
    assert "approval_requested" in failed.detail and "unavailable" in failed.detail


async def test_temporal_cancellation_is_the_business_cancel(harness: Harness) -> None:
    process = signing_input(stages=[])
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    await handle.cancel()  # the Web UI's "Request Cancellation"
    result = await handle.result()
    assert result.state is SigningState.CANCELLED
    assert result.outcome_reason == "cancelled by temporal: cancellation requested in Temporal"
    assert harness.systems.cancelled == [f"sr-{process.request.business_key}#1"]
    assert harness.systems.reports[-1].outcome is ReportOutcome.CANCELLED
    described = await handle.describe()
    assert described.status.name == "COMPLETED"


async def test_temporal_cancellation_during_approval_reports_cancelled(harness: Harness) -> None:
    handle = await harness.start(signing_input())
    await wait_for(handle, in_state(SigningState.AWAITING_APPROVAL))
    await handle.cancel()
    result = await handle.result()
    assert result.state is SigningState.CANCELLED
    assert harness.systems.created == []
    assert harness.systems.reports[-1].outcome is ReportOutcome.CANCELLED


async def test_cancel_after_the_signer_signed_archives_instead(harness: Harness) -> None:
    from docflow.models import CancelRequest

    process = signing_input(stages=[])
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    harness.systems.status_at_cancel = "si"  # signed; the callback has not arrived yet
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            SigningWorkflow.cancel, CancelRequest(actor="app:crm", reason="deal lost")
        )
    assert "cancel refused" in str(refused.value.cause) and "signed" in str(refused.value.cause)
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert harness.systems.cancelled == []
    assert len(harness.systems.archived) == 2
    assert any(a.kind == "cancel_refused" for a in result.audit)
    assert harness.systems.reports[-1].outcome is ReportOutcome.COMPLETED


async def test_temporal_cancel_of_a_signed_document_still_archives(harness: Harness) -> None:
    process = signing_input(stages=[])
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    harness.systems.status_at_cancel = "si"
    await handle.cancel()
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert harness.systems.reports[-1].outcome is ReportOutcome.COMPLETED
    assert [a.actor for a in result.audit if a.kind == "cancel_refused"] == ["core-signature"]


async def test_temporal_cancel_of_an_archive_exception_abandons_it(harness: Harness) -> None:
    harness.systems.fail_archive = True
    process = signing_input(stages=[])
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    await handle.signal(
        SigningWorkflow.signature_event,
        event(process.request.business_key, SignatureEventType.SIGNED),
    )
    await wait_for(handle, in_state(SigningState.ARCHIVE_EXCEPTION))
    await handle.cancel()
    result = await handle.result()
    assert result.state is SigningState.FAILED
    assert result.outcome_reason == "archiving abandoned: cancelled in Temporal"
    assert harness.systems.reports[-1].outcome is ReportOutcome.FAILED


async def test_an_archive_retrying_past_its_expected_time_asks_for_attention(
    harness: Harness,
) -> None:
    """One watch for the archive phase (not one timer per call): past ARCHIVE_EXPECTED the
    process is flagged `step_retrying` for operators, and the flag clears when it goes on."""
    from workflows.signing import ARCHIVE_EXPECTED

    process = signing_input(stages=[])
    key = process.request.business_key
    harness.systems.archive_unavailable = True
    handle = await harness.start(process)
    await wait_for(handle, in_state(SigningState.AWAITING_SIGNATURE))
    await handle.signal(SigningWorkflow.signature_event, event(key, SignatureEventType.SIGNED))
    await wait_for(handle, in_state(SigningState.ARCHIVING))
    await harness.env.sleep(ARCHIVE_EXPECTED + timedelta(minutes=1))
    status = await wait_for(handle, lambda s: s.attention)
    assert status.attention_reason == "step_retrying"
    assert status.state is SigningState.ARCHIVING

    harness.systems.archive_unavailable = False
    result = await handle.result()
    assert result.state is SigningState.COMPLETED and not result.attention
    history = await handle.fetch_history()
    timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
    summaries = [
        t.user_metadata.summary.data.decode() for t in timers if t.HasField("user_metadata")
    ]
    assert sum("archive" in s for s in summaries) == 1, summaries  # one watch for the phase
