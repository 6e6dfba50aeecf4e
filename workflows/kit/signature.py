"""An open Core Signature request: send it, hear its outcome, withdraw it.

Rules:
- a request is sent once per cycle, idempotent by its external id (`<business key>#<cycle>`);
  Core Signature refusing it raises `SignatureException` (support corrects, the process
  does not fail);
- callbacks are hints, deduplicated by the kit's inbox: progress of the open request (viewed,
  one signer signed) is recorded at once and wakes nothing; deciding and early events wait in
  the inbox; events after the outcome, or of an earlier cycle, are recorded as ignored;
- a deciding callback is confirmed with Core Signature before it decides anything (its hash
  covers only time and type, so its body is a claim): the document's final status wins, an
  unconfirmed claim is recorded and skipped;
- if no deciding event arrives by `poll_after`, one poll activity (the kit's flat-history
  polling) asks Core Signature; a poll that gives up raises `SignatureException`;
- withdrawing asks Core Signature for the final status: a document already signed is
  reported as signed — a signed document always wins over a cancel.
Any process that needs a signature composes this block and keeps its state
(`SignatureRequestState`) in the model it continues as new with.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow

from workflows.kit.await_external import await_outcome
from workflows.kit.calls import GaveUp, call
from workflows.kit.events import EventInbox
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord

with workflow.unsafe.imports_passed_through():
    from activities.core_signature import CoreSignatureActivities
    from activities.core_signature import options as core_signature
    from docflow.correlation import cycle_from_external_id
    from docflow.models import (
        CreateSignatureInput,
        SignatureEvent,
        SignatureEventClaim,
        SignatureRequestState,
    )
    from docflow.models.events import (
        DECISIVE_EVENTS,
        SIGNED_STATUSES,
        STATUS_TO_EVENT,
        SignatureEventType,
    )


# Runs that began before callbacks were confirmed replay without the confirmation call.
CONFIRM_CALLBACKS = "confirm-callbacks"
# Per cycle: a real request sees a few events per signer; beyond these bounds callbacks are
# dropped (forged or flooding; the hash does not bind the body) and the poll decides.
MAX_PROGRESS_EVENTS = 100
CALLBACK_BOUNDS = "callback-bounds"  # runs begun before the bounds apply every event
MAX_UNCONFIRMED_CLAIMS = 10
# Core Signature unreachable this long: the claim stays unconfirmed and polling decides.
CONFIRM_GIVE_UP = timedelta(minutes=15)


class SignatureException(Exception):
    """The signature cycle cannot go on by itself; support corrects it or it ends."""


class SignatureRequest:
    def __init__(
        self, state: SignatureRequestState, record: ProcessRecord, notify: Notifier
    ) -> None:
        self._state, self._record, self._notify = state, record, notify
        self.inbox = EventInbox(
            state.inbox, id_of=lambda e: e.event_id, subject_of=lambda e: e.document_uuid
        )

    @property
    def is_open(self) -> bool:
        return self._state.created is not None

    async def send(self, request: CreateSignatureInput, *, poll_after: timedelta) -> None:
        """Create the request of the next cycle (`request.external_id` names the cycle)."""
        state, signature = self._state, self._state.status
        try:
            created = await call(
                CoreSignatureActivities.create_signature_request,
                request,
                core_signature.TRANSFER,
                summary=f"Create Core Signature request (cycle {signature.cycle}, "
                f"{len(request.signers)} signer(s))",
            )
        except GaveUp as failure:
            raise SignatureException(
                f"Core Signature refused the request: {failure.reason}"
            ) from failure
        state.created, state.poll_from = created, workflow.now() + poll_after
        state.progress_events = state.unconfirmed_claims = 0
        signature.document_uuid = created.document_uuid
        signature.signature_request_uuid = created.signature_request_uuid
        signature.signed_by, signature.last_event = [], None
        self._record.record(
            "sent",
            "system",
            f"signature request {created.signature_request_uuid}",
            data={"document_uuid": created.document_uuid, "cycle": str(signature.cycle)},
        )

    async def outcome(
        self,
        *,
        every: timedelta,
        give_up: timedelta,
        interrupted: Callable[[], bool],
    ) -> SignatureEvent | None:
        """The deciding event (confirmed callbacks, else a poll); None once `interrupted()`."""
        created, poll_from = self._state.created, self._state.poll_from
        assert created is not None and poll_from is not None
        uuid = created.document_uuid
        while True:
            if (event := await self._take_outcome(uuid)) is not None:
                return event
            if interrupted():
                return None
            try:
                polled = await await_outcome(
                    lambda: self.inbox.has(uuid) or interrupted(),
                    poll=CoreSignatureActivities.await_final_status,
                    poll_arg=created,
                    options=core_signature.CALL,
                    first_poll_after=poll_from - workflow.now(),
                    every=every,
                    give_up=give_up,
                    summary="Core Signature status",
                )
            except GaveUp as failure:
                raise SignatureException(f"status polling gave up: {failure.reason}") from failure
            if polled is not None:
                self._record.record("polled", "system", f"document status '{polled.status}'")
                self.inbox.offer(self.polled(uuid, polled.status, polled.decline_reason))

    def admits(self, event: SignatureEvent, *, listening: bool) -> bool:
        """Would this callback change anything? Asked (as a query) before it is signalled, so
        duplicates, strangers and floods never reach the history. Reads, changes nothing."""
        return listening and self.inbox.is_new(event) and self._within_bounds(event)

    def on_event(self, event: SignatureEvent, *, listening: bool) -> None:
        """A verified callback; `listening` is False once the process is past the signature."""
        created = self._state.created
        if listening and not self._within_bounds(event) and workflow.patched(CALLBACK_BOUNDS):
            if self.inbox.offer(event, keep=False) == "accepted":  # remembered: counted once
                self._state.status.events_dropped += 1
        elif not listening:
            if self.inbox.offer(event, keep=False) == "accepted":
                self._ignored(event, "after the signature phase")
        elif (
            created is not None
            and event.document_uuid == created.document_uuid
            and event.event_type not in DECISIVE_EVENTS
        ):
            if self.inbox.offer(event, keep=False) == "accepted":
                self._progress(event)
        else:
            self.inbox.offer(event)

    def _within_bounds(self, event: SignatureEvent) -> bool:
        """This cycle's document (or the next cycle's, racing its create call), and at most
        so many progress events and refuted claims per cycle: past that, callbacks are
        dropped and the poll decides."""
        state = self._state
        cycle, current = cycle_from_external_id(event.external_id), state.status.cycle
        if cycle is not None and not current <= cycle <= current + 1:
            return False
        if (
            state.created is not None
            and cycle == current
            and event.document_uuid != state.created.document_uuid
        ):
            return False
        if event.event_type in DECISIVE_EVENTS:
            return state.unconfirmed_claims < MAX_UNCONFIRMED_CLAIMS
        return state.progress_events < MAX_PROGRESS_EVENTS

    async def withdraw(self, why: str) -> bool:
        """Cancel the open request; True when Core Signature says it is signed already."""
        created = self._state.created
        if created is None:
            return False
        try:
            final = await call(
                CoreSignatureActivities.cancel_signature_request,
                created,
                core_signature.CALL,
                summary=f"Cancel signature request {created.signature_request_uuid} ({why})",
            )
        except GaveUp as failure:
            self._record.record("cancel_failed", "system", failure.reason)
            await self._notify.support(
                f"Could not cancel the Core Signature request ({why})",
                key=f"cancel-failed:{self._state.status.cycle}",
                reason=failure.reason,
            )
            self.close()
            return False
        if final.status in SIGNED_STATUSES:
            self._record.record("cancel_refused", "core-signature", "the document is signed")
            return True
        self.close()
        return False

    def close(self) -> None:
        """Done with this cycle: its later events are stale; the next send opens a new one."""
        created, self._state.created = self._state.created, None
        if created is not None:
            self.inbox.close(created.document_uuid)

    def polled(self, uuid: str, status: str, detail: str = "") -> SignatureEvent:
        return SignatureEvent(
            event_id=f"poll:{uuid}:{status}",
            event_type=STATUS_TO_EVENT.get(status, SignatureEventType.SIGNED),
            event_time=workflow.now(),
            document_uuid=uuid,
            detail=detail,
            source="poll",
        )

    async def _take_outcome(self, uuid: str) -> SignatureEvent | None:
        """Apply this document's buffered events in arrival order; return the deciding one
        once Core Signature confirms it (an unconfirmed claim is recorded and skipped)."""
        events = self.inbox.take(uuid)
        for n, claimed in enumerate(events):
            if claimed.event_type not in DECISIVE_EVENTS:
                self._progress(claimed)
                continue
            event = await self._confirmed(claimed)
            if event is None:
                continue
            self._progress(event)
            for late in events[n + 1 :] + self.inbox.close(uuid):
                self._ignored(late, f"after {event.event_type.value}")
            if event.event_type is SignatureEventType.SIGNED:
                self._state.status.completed_at = event.event_time
            return event
        return None

    async def _confirmed(self, claimed: SignatureEvent) -> SignatureEvent | None:
        """What Core Signature says about a deciding callback: the event to act on, or None.

        The callback's hash covers only its time and type, so its body (which document,
        which outcome) is a claim. A final document status wins over the claim; an event no
        status shows (a bounce) counts only if Core Signature lists it for the document.
        """
        if claimed.source == "poll" or not workflow.patched(CONFIRM_CALLBACKS):
            return claimed
        try:
            answer = await call(
                CoreSignatureActivities.confirm_event,
                SignatureEventClaim(
                    document_uuid=claimed.document_uuid,
                    event_id=claimed.event_id,
                    event_type=claimed.event_type.value,
                ),
                core_signature.CALL.giving_up_after(CONFIRM_GIVE_UP),
                summary=f"Confirm '{claimed.event_type.value}' with Core Signature",
            )
        except GaveUp as failure:
            self._unconfirmed(claimed, f"Core Signature could not be asked ({failure.reason})")
            return None
        actual = STATUS_TO_EVENT.get(answer.status)
        if actual is None:
            if answer.event_listed:
                return claimed
            self._unconfirmed(claimed, f"Core Signature reports status '{answer.status}'")
            return None
        if actual is not claimed.event_type:
            self._unconfirmed(claimed, f"Core Signature reports status '{answer.status}'")
        return claimed.model_copy(
            update={
                "event_type": actual,
                "detail": answer.decline_reason or claimed.detail,
                "signer_email": answer.signer_email
                or (claimed.signer_email if actual is claimed.event_type else None),
                "source": "confirmed",
            }
        )

    def _unconfirmed(self, claimed: SignatureEvent, why: str) -> None:
        self._state.unconfirmed_claims += 1
        self._record.record(
            "event_unconfirmed",
            "core-signature",
            f"callback claimed {claimed.event_type.value}; {why}",
            data={"event_id": claimed.event_id},
        )

    def _progress(self, event: SignatureEvent) -> None:
        signature, who = self._state.status, event.signer_email
        self._state.progress_events += 1
        self._record.record(
            "event",
            "core-signature",
            event.event_type.value + (f" by {who}" if who else ""),
            data={"event_id": event.event_id, "via": event.source},
        )
        signature.last_event = event.event_type.value
        signature.events_received += 1
        if event.event_type is SignatureEventType.SIGNER_SIGNED and who not in signature.signed_by:
            signature.signed_by.append(who or "")

    def _ignored(self, event: SignatureEvent, why: str) -> None:
        self._record.record(
            "event_ignored",
            "core-signature",
            f"{event.event_type.value} {why}",
            data={"event_id": event.event_id},
        )
