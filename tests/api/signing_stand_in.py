"""A stand-in for SigningWorkflow with the same name, Updates, signal and query.

The API tests need a process to drive, not the real one's activities: approval stages,
validators that refuse like the real ones (ValueError), dedupe by event id, an audit trail.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.kit.requests import RequestLedger

with workflow.unsafe.imports_passed_through():
    from docflow.models import (
        ApprovalDecision,
        AuditEntry,
        CancelRequest,
        Decision,
        NewDocumentVersion,
        SignatureCorrection,
        SignatureEvent,
        SigningProcessInput,
        SigningState,
        SigningStatus,
        UpdateAccepted,
    )
    from docflow.models.events import TERMINAL_EVENTS
    from docflow.models.process import RequestLedgerState
    from docflow.models.status import TERMINAL_STATES

_OUTCOMES = {
    "signed": SigningState.COMPLETED,
    "declined": SigningState.DECLINED,
    "cancelled": SigningState.CANCELLED,
    "expired": SigningState.EXPIRED,
}


@workflow.defn(name="SigningWorkflow")
class SigningStandIn:
    @workflow.init
    def __init__(self, process: SigningProcessInput) -> None:
        self._process = process
        self._stages = list(process.request.approval_stages)
        self._state = (
            SigningState.AWAITING_APPROVAL if self._stages else SigningState.AWAITING_SIGNATURE
        )
        self._version = process.document.version
        self._decided: set[str] = set()
        self._seen: set[str] = set()
        self._audit: list[AuditEntry] = []
        self._requests = RequestLedger(RequestLedgerState())

    @workflow.run
    async def run(self, process: SigningProcessInput) -> SigningStatus:
        self._record("started", process.started_by)
        await workflow.wait_condition(lambda: self._state in TERMINAL_STATES)
        return self.status()

    @workflow.signal(name="signature_event")
    def signature_event(self, event: SignatureEvent) -> None:
        if event.event_id in self._seen:
            return
        self._seen.add(event.event_id)
        self._record(
            "event",
            "core-signature",
            event.event_type.value,
            {
                "event_id": event.event_id,
                "signer": event.signer_email or "",
                "detail": event.detail,
            },
        )
        if event.event_type in TERMINAL_EVENTS:
            self._state = _OUTCOMES[event.event_type.value]

    @workflow.update(name="decide")
    def decide(self, decision: ApprovalDecision) -> UpdateAccepted:
        stage = self._stages[0]
        self._decided.add(decision.actor)
        self._requests.remember(decision)
        self._record("decision", decision.actor, decision.decision.value)
        if decision.decision is Decision.APPROVE:
            self._stages.pop(0)
            if not self._stages:
                self._state = SigningState.AWAITING_SIGNATURE
        elif decision.decision is Decision.REJECT:
            self._state = SigningState.REJECTED
        else:
            self._state = SigningState.CHANGES_REQUESTED
        return UpdateAccepted(state=self._state.value, stage=stage.name, detail="recorded")

    @decide.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        self._requests.check(decision)
        if self._state is not SigningState.AWAITING_APPROVAL:
            raise ValueError(f"no approval stage is open (process is {self._state.value})")
        stage = self._stages[0]
        if decision.stage is not None and decision.stage != stage.name:
            raise ValueError(f"stage '{decision.stage}' is not open; '{stage.name}' is")
        if decision.actor not in stage.approvers:
            raise ValueError(f"{decision.actor} is not an approver of stage '{stage.name}'")

    @workflow.update(name="submit_new_version")
    def submit_new_version(self, revision: NewDocumentVersion) -> UpdateAccepted:
        self._version = revision.document.version
        self._state = SigningState.AWAITING_APPROVAL
        self._stages = list(self._process.request.approval_stages)
        self._record("new_version", revision.actor, f"v{revision.document.version}")
        return UpdateAccepted(state=self._state.value, detail="approval restarts")

    @submit_new_version.validator
    def _validate_new_version(self, revision: NewDocumentVersion) -> None:
        if self._state is not SigningState.CHANGES_REQUESTED:
            raise ValueError(f"no new version is expected (process is {self._state.value})")
        if revision.document.version <= self._version:
            raise ValueError(f"version {revision.document.version} is not newer")

    @workflow.update(name="correct_signature")
    def correct_signature(self, correction: SignatureCorrection) -> UpdateAccepted:
        self._record("correction", correction.actor, correction.comment)
        return UpdateAccepted(state=self._state.value, detail="signature request will be resent")

    @correct_signature.validator
    def _validate_correction(self, correction: SignatureCorrection) -> None:
        raise ValueError(f"no signature exception is open (process is {self._state.value})")

    @workflow.update(name="cancel")
    def cancel(self, request: CancelRequest) -> UpdateAccepted:
        self._requests.remember(request)
        self._record("cancel_requested", request.actor, request.reason)
        self._state = SigningState.CANCELLED
        return UpdateAccepted(state=self._state.value, detail="cancelling")

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        self._requests.check(request)
        if self._state in TERMINAL_STATES:
            raise ValueError(f"the process has already ended ({self._state.value})")

    @workflow.query(name="status")
    def status(self) -> SigningStatus:
        return SigningStatus(
            business_key=self._process.request.business_key,
            state=self._state,
            source_system=self._process.request.source.system,
            participants=sorted(
                {
                    a.casefold()
                    for stage in self._process.request.approval_stages
                    for a in [*stage.approvers, stage.escalation_approver]
                    if a
                }
            ),
            stage=self._stages[0].name if self._state is SigningState.AWAITING_APPROVAL else None,
            document_version=self._version,
            audit=self._audit,
        )

    def _record(
        self, kind: str, actor: str, detail: str = "", data: dict[str, str] | None = None
    ) -> None:
        self._audit.append(
            AuditEntry(at=workflow.now(), kind=kind, actor=actor, detail=detail, data=data or {})
        )
