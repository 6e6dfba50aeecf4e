"""Document signing: validate → internal approval → Core Signature → archive → report back.

The workflow only decides and waits. Every external call is an activity; approvals,
corrections and cancellations arrive as Updates (validated, recorded for the authenticated
actor the API puts in the payload); Core Signature callbacks arrive as signals, deduplicated
by event id, and a lost callback is caught by polling the document's status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.content_server import ContentServerActivities
    from activities.core_signature import CoreSignatureActivities
    from activities.notifications import NotificationActivities
    from activities.source_systems import SourceSystemActivities
    from activities.validation import ValidationActivities
    from docflow import search_attributes as sa
    from docflow.models import (
        ApprovalDecision,
        ApprovalStageSpec,
        ArchivedNode,
        ArchiveDocumentInput,
        ArchiveStatus,
        AuditEntry,
        CancelRequest,
        CreateSignatureInput,
        Decision,
        DocumentRef,
        NewDocumentVersion,
        Notification,
        NotificationKind,
        ProcessState,
        ProcessStatus,
        ReportOutcome,
        RoutingDecision,
        SignatureCorrection,
        SignatureEvent,
        SignatureRequestCreated,
        SignatureStatus,
        SignedArtifacts,
        SigningProcessInput,
        SourceReport,
        StageStatus,
        UpdateAccepted,
        WorkspaceRequest,
    )
    from docflow.models.events import (
        ERROR_EVENTS,
        STATUS_TO_EVENT,
        TERMINAL_EVENTS,
        SignatureEventType,
    )
    from docflow.models.status import TERMINAL_STATES
    from workflows.approvals import ApprovalStage

# Retry policies per external system. Activities classify errors themselves: 4xx become
# non-retryable ApplicationErrors, 429/5xx retryable (with Retry-After as next_retry_delay).
CORE_SIGNATURE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
)
CONTENT_SERVER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
# Standard Webhooks schedule: immediately, 5 s, ... up to hours apart, for about 3 days.
SOURCE_REPORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=4.0,
    maximum_interval=timedelta(hours=2),
)
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1)
)

SHORT_CALL = timedelta(seconds=30)
# Activities heartbeat (activities.heartbeat.HeartbeatInterceptor) so an attempt on a worker
# that died is retried within this, not after its start-to-close timeout.
HEARTBEAT = timedelta(seconds=10)
TRANSFER_CALL = timedelta(minutes=2)
SIGNATURE_CALLS_GIVE_UP = timedelta(hours=24)
ARCHIVE_GIVE_UP = timedelta(hours=24)
REPORT_GIVE_UP = timedelta(days=3)
NOTIFY_GIVE_UP = timedelta(hours=1)


# States an operator filters on in the Web UI (DocflowStatus). Passing states (validating,
# sending, reporting) last seconds and are not indexed: each upsert is a billed action and a
# visibility write. The current details always show the exact state.
INDEXED_STATES = (
    frozenset(
        {
            ProcessState.AWAITING_APPROVAL,
            ProcessState.CHANGES_REQUESTED,
            ProcessState.AWAITING_SIGNATURE,
            ProcessState.SIGNATURE_EXCEPTION,
            ProcessState.ARCHIVING,
        }
    )
    | TERMINAL_STATES
)


class ProcessEnded(Exception):
    """Raised inside the run to unwind to the end once a terminal state is recorded."""


@workflow.defn(name="SigningWorkflow")
class SigningWorkflow:
    @workflow.init
    def __init__(self, process: SigningProcessInput) -> None:
        self._input = process
        self._document: DocumentRef = process.document
        self._signers = list(process.request.signers)
        self._state = ProcessState.VALIDATING
        self._waiting_for = "routing-rule validation"
        self._outcome_reason = ""
        self._audit: list[AuditEntry] = []
        self._stages: list[StageStatus] = []
        self._open_stage: ApprovalStage | None = None
        self._new_version: NewDocumentVersion | None = None
        self._correction: SignatureCorrection | None = None
        self._cancel: CancelRequest | None = None
        self._inbox: list[SignatureEvent] = []
        self._seen_events: set[str] = set()
        self._signature = SignatureStatus()
        self._archive = ArchiveStatus()
        self._signed: SignedArtifacts | None = None
        self._approved_sha256: str | None = None
        self._indexed: tuple[ProcessState, str | None] | None = None

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, process: SigningProcessInput) -> ProcessStatus:
        request = process.request
        if workflow.info().typed_search_attributes.get(sa.BUSINESS_KEY) is None:
            # Starters normally set these at start (findable before the first task); an
            # upsert is a billed action, so only a bare start pays for it here.
            source = request.source
            workflow.upsert_search_attributes(
                [
                    sa.BUSINESS_KEY.value_set(request.business_key),
                    sa.SOURCE_RECORD.value_set(
                        f"{source.system}/{source.record_type}/{source.record_id}"
                    ),
                    sa.DOCUMENT_TYPE.value_set(request.document_type),
                    sa.ENVIRONMENT.value_set(process.environment),
                    sa.STATUS.value_set(ProcessState.VALIDATING.value),
                ]
            )
        self._record("started", process.started_by, f"document v{self._document.version}")
        self._set_state(ProcessState.VALIDATING, "routing-rule validation")
        try:
            try:
                route = await self._validate()
                while True:
                    await self._approve_current_version()
                    created = await self._collect_signature(route)
                    if created is not None:
                        break
                await self._archive_signed(created, route)
                await self._finish(ProcessState.COMPLETED, "signed and archived")
            except _CancelRequested as cancelled:
                request = cancelled.request
                await self._finish(
                    ProcessState.CANCELLED, f"cancelled by {request.actor}: {request.reason}"
                )
        except ProcessEnded:
            pass
        return self.status()

    # ----------------------------------------------------------- validation
    async def _validate(self) -> RoutingDecision:
        result = await workflow.execute_activity_method(
            ValidationActivities.validate_signing_request,
            self._input,
            start_to_close_timeout=SHORT_CALL,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=CORE_SIGNATURE_RETRY,
            summary="Check the request against this environment's routing rules",
        )
        if not result.accepted or result.route is None:
            self._record("refused", "system", "; ".join(result.reasons))
            await self._finish(ProcessState.REFUSED, "; ".join(result.reasons))
        self._record(
            "routed",
            "system",
            f"rule {result.route.rule} (rules {result.route.rules_version}), "
            f"template {result.route.signature_template}",
        )
        return result.route

    # ------------------------------------------------------------ approvals
    async def _approve_current_version(self) -> None:
        """Run every approval stage for the current version; loop on "changes requested"."""
        while True:
            self._stages = []
            changes_requested = False
            for spec in self._input.request.approval_stages:
                outcome = await self._run_stage(spec)
                if outcome is Decision.REJECT:
                    await self._finish(ProcessState.REJECTED, self._last_comment("rejected"))
                if outcome is Decision.REQUEST_CHANGES:
                    changes_requested = True
                    break
            if not changes_requested:
                self._approved_sha256 = self._document.sha256
                if self._input.request.approval_stages:
                    self._record(
                        "approved", "system", f"document v{self._document.version} approved"
                    )
                return
            await self._await_new_version()

    async def _run_stage(self, spec: ApprovalStageSpec) -> Decision:
        stage = ApprovalStage.open(spec)
        self._stages.append(stage.status)
        self._open_stage = stage
        self._set_state(
            ProcessState.AWAITING_APPROVAL,
            f"decision of {stage.describe_quorum()} in stage '{spec.name}'",
            stage=spec.name,
        )
        await self._notify(
            NotificationKind.APPROVAL_REQUESTED,
            sorted(stage.eligible),
            f"Approval needed: {self._input.request.title or self._input.request.business_key}",
            key=f"{spec.name}:v{self._document.version}:requested",
        )

        def decided() -> bool:
            return stage.outcome is not None or self._cancel is not None

        reminder_after = spec.deadline - spec.reminder_before
        waited = timedelta(0)
        if reminder_after > timedelta(0):
            if await self._wait(decided, reminder_after, f"reminder for stage '{spec.name}'"):
                return self._close_stage(stage)
            waited = reminder_after
            self._record("reminder", "system", f"stage '{spec.name}': {', '.join(stage.pending)}")
            await self._notify(
                NotificationKind.APPROVAL_REMINDER,
                stage.pending,
                f"Reminder: approval due for {self._input.request.business_key}",
                key=f"{spec.name}:v{self._document.version}:reminder",
            )
        if await self._wait(decided, spec.deadline - waited, f"deadline of stage '{spec.name}'"):
            return self._close_stage(stage)

        escalation_approver = stage.escalate()
        if escalation_approver:
            self._record("escalated", "system", f"stage '{spec.name}' to {escalation_approver}")
            self._set_state(
                ProcessState.AWAITING_APPROVAL,
                f"escalation approver {escalation_approver} in stage '{spec.name}'",
                stage=spec.name,
            )
            await self._notify(
                NotificationKind.APPROVAL_ESCALATED,
                [escalation_approver],
                f"Escalated approval: {self._input.request.business_key}",
                key=f"{spec.name}:v{self._document.version}:escalated",
            )
            if await self._wait(
                decided, spec.escalation_window, f"escalation window of stage '{spec.name}'"
            ):
                return self._close_stage(stage)

        self._open_stage = None
        stage.status.outcome = "expired"
        await self._finish(
            ProcessState.EXPIRED,
            f"approval stage '{spec.name}' got no decision by its deadline"
            + (" and escalation window" if escalation_approver else ""),
        )

    def _close_stage(self, stage: ApprovalStage) -> Decision:
        self._open_stage = None
        if stage.outcome is None:  # woken by a cancel
            self._raise_if_cancelled()
        return stage.close()

    async def _await_new_version(self) -> None:
        self._new_version = None
        self._set_state(
            ProcessState.CHANGES_REQUESTED,
            f"a new version of the document (now v{self._document.version})",
        )
        got = await self._wait(
            lambda: self._new_version is not None or self._cancel is not None,
            self._input.policy.changes_deadline,
            "deadline for the revised document",
        )
        self._raise_if_cancelled()
        if not got or self._new_version is None:
            await self._finish(
                ProcessState.EXPIRED, "no revised document arrived after changes were requested"
            )
        self._document = self._new_version.document

    # ------------------------------------------------------------ signature
    async def _collect_signature(self, route: RoutingDecision) -> SignatureRequestCreated | None:
        """Send for signature until signed. None means: a new version needs approval first."""
        resends = 0
        while True:
            self._raise_if_cancelled()
            created = await self._send_for_signature(route)
            event = await self._await_signature_outcome(created)
            kind = event.event_type
            if kind is SignatureEventType.SIGNED:
                return created
            if kind is SignatureEventType.DECLINED:
                await self._finish(
                    ProcessState.DECLINED,
                    f"declined by {event.signer_email or 'a signer'}"
                    + (f": {event.detail}" if event.detail else ""),
                )
            if kind is SignatureEventType.CANCELLED:
                await self._finish(ProcessState.CANCELLED, "cancelled in Core Signature")
            if kind is SignatureEventType.EXPIRED and resends < self._input.policy.max_resends:
                resends += 1
                self._record("resend", "system", f"signature expired; resend {resends}")
                continue
            reason = (
                f"signature expired {resends + 1} times"
                if kind is SignatureEventType.EXPIRED
                else f"{kind.value}"
                + (f" ({event.signer_email})" if event.signer_email else "")
                + (f": {event.detail}" if event.detail else "")
            )
            needs_approval = await self._resolve_exception(created, reason)
            if needs_approval:
                return None

    async def _send_for_signature(self, route: RoutingDecision) -> SignatureRequestCreated:
        if self._document.sha256 != self._approved_sha256:
            # Only an approved version goes out; reaching this is a bug, not a business case.
            raise ApplicationError("document version was not approved", non_retryable=True)
        self._signature.cycle += 1
        cycle = self._signature.cycle
        self._set_state(ProcessState.SENDING, "Core Signature to accept the request")
        request = self._input.request
        created = await workflow.execute_activity_method(
            CoreSignatureActivities.create_signature_request,
            CreateSignatureInput(
                external_id=f"{request.business_key}#{cycle}",
                document=self._document,
                signers=self._signers,
                sender_email=route.sender_email,
                subject=request.title or f"Please sign: {self._document.filename}",
                message=request.message,
                auto_expire_days=self._input.policy.auto_expire_days,
            ),
            start_to_close_timeout=TRANSFER_CALL,
            heartbeat_timeout=HEARTBEAT,
            schedule_to_close_timeout=SIGNATURE_CALLS_GIVE_UP,
            retry_policy=CORE_SIGNATURE_RETRY,
            summary=f"Create Core Signature request (cycle {cycle}, "
            f"{len(self._signers)} signer(s))",
        )
        self._signature.document_uuid = created.document_uuid
        self._signature.signature_request_uuid = created.signature_request_uuid
        self._signature.signed_by = []
        self._signature.last_event = None
        self._record(
            "sent",
            "system",
            f"signature request {created.signature_request_uuid}",
            data={"document_uuid": created.document_uuid, "cycle": str(cycle)},
        )
        return created

    async def _await_signature_outcome(self, created: SignatureRequestCreated) -> SignatureEvent:
        """First terminal or error event of this request, from callbacks or, failing them, polls."""
        policy = self._input.policy
        self._set_state(
            ProcessState.AWAITING_SIGNATURE,
            f"signature by {', '.join(str(s.email) for s in self._signers)}",
        )
        # One poll clock per period: non-terminal callbacks (viewed, signer_signed) wake the
        # loop but do not restart the timer, so polling is not postponed by every event and
        # no timers are churned.
        period = policy.signature_poll_after
        poll_clock: asyncio.Task[None] | None = None
        try:
            while True:
                outcome = self._take_outcome(created.document_uuid)
                if outcome is not None:
                    return outcome
                if self._cancel is not None:
                    await self._cancel_request(created)
                    self._raise_if_cancelled()
                if poll_clock is None:
                    poll_clock = asyncio.create_task(
                        workflow.sleep(period, summary="poll Core Signature if no callback arrives")
                    )
                clock = poll_clock
                await workflow.wait_condition(
                    lambda clock=clock: (
                        clock.done()
                        or self._cancel is not None
                        or self._has_events_for(created.document_uuid)
                    )
                )
                if not clock.done():
                    continue
                poll_clock = None
                period = policy.signature_poll_interval
                await self._poll_status(created)
        finally:
            if poll_clock is not None and not poll_clock.done():
                poll_clock.cancel()

    async def _poll_status(self, created: SignatureRequestCreated) -> None:
        """Ask Core Signature for the document's status; a final one becomes an event."""
        polled = await workflow.execute_activity_method(
            CoreSignatureActivities.get_signature_status,
            created,
            start_to_close_timeout=SHORT_CALL,
            heartbeat_timeout=HEARTBEAT,
            schedule_to_close_timeout=timedelta(hours=1),
            retry_policy=CORE_SIGNATURE_RETRY,
            summary="Poll document status (no terminal callback yet)",
        )
        event_type = STATUS_TO_EVENT.get(polled.status)
        self._record("polled", "system", f"document status '{polled.status}'")
        if event_type is not None:
            self._apply_event(
                SignatureEvent(
                    event_id=f"poll:{created.document_uuid}:{polled.status}",
                    event_type=event_type,
                    event_time=workflow.now(),
                    document_uuid=created.document_uuid,
                    detail=polled.decline_reason,
                    source="poll",
                )
            )

    def _has_events_for(self, document_uuid: str) -> bool:
        return any(e.document_uuid == document_uuid for e in self._inbox)

    def _take_outcome(self, document_uuid: str) -> SignatureEvent | None:
        """Apply buffered events of this document in arrival order; return the deciding one."""
        mine = [e for e in self._inbox if e.document_uuid == document_uuid]
        self._inbox = [e for e in self._inbox if e.document_uuid != document_uuid]
        for event in mine:
            self._record(
                "event",
                "core-signature",
                event.event_type.value
                + (f" by {event.signer_email}" if event.signer_email else ""),
                data={"event_id": event.event_id, "via": event.source},
            )
            self._signature.last_event = event.event_type.value
            if event.event_type is SignatureEventType.SIGNER_SIGNED and event.signer_email:
                self._signature.signed_by.append(event.signer_email)
            if event.event_type in TERMINAL_EVENTS or event.event_type in ERROR_EVENTS:
                for late in mine[mine.index(event) + 1 :]:
                    self._record(
                        "event_ignored",
                        "core-signature",
                        f"{late.event_type.value} after {event.event_type.value}",
                        data={"event_id": late.event_id},
                    )
                if event.event_type is SignatureEventType.SIGNED:
                    self._signature.completed_at = event.event_time
                return event
        return None

    async def _resolve_exception(self, created: SignatureRequestCreated, reason: str) -> bool:
        """Support fixes it (new recipients or document), cancels it, or its deadline ends it.

        Returns True when the correction brought a new document version that needs approval.
        """
        self._correction = None
        self._set_state(
            ProcessState.SIGNATURE_EXCEPTION,
            f"a correction (new recipient or document) or a cancel: {reason}",
        )
        self._record("exception", "system", reason)
        await self._notify(
            NotificationKind.SIGNATURE_EXCEPTION,
            [],  # no named recipient: the configured support queue
            f"Signature exception for {self._input.request.business_key}: {reason}",
            key=f"exception:{self._signature.cycle}",
            data={"reason": reason, "document_uuid": created.document_uuid},
        )
        got = await self._wait(
            lambda: self._correction is not None or self._cancel is not None,
            self._input.policy.exception_deadline,
            "deadline for resolving the signature exception",
        )
        if self._cancel is not None:
            await self._cancel_request(created)
            self._raise_if_cancelled()
        if not got or self._correction is None:
            await self._cancel_request(created)
            await self._finish(
                ProcessState.FAILED, f"signature exception not resolved in time: {reason}"
            )
        correction = self._correction
        assert correction is not None
        await self._cancel_request(created)
        if correction.signers:
            self._signers = list(correction.signers)
        if correction.document is not None:
            self._document = correction.document
            return bool(self._input.request.approval_stages)
        return False

    async def _cancel_request(self, created: SignatureRequestCreated) -> None:
        await workflow.execute_activity_method(
            CoreSignatureActivities.cancel_signature_request,
            created,
            start_to_close_timeout=SHORT_CALL,
            heartbeat_timeout=HEARTBEAT,
            schedule_to_close_timeout=SIGNATURE_CALLS_GIVE_UP,
            retry_policy=CORE_SIGNATURE_RETRY,
            summary=f"Cancel signature request {created.signature_request_uuid}",
        )

    # -------------------------------------------------------------- archive
    async def _archive_signed(
        self, created: SignatureRequestCreated, route: RoutingDecision
    ) -> None:
        self._set_state(ProcessState.ARCHIVING, "archive of the signed document in Extended ECM")
        try:
            signed = await workflow.execute_activity_method(
                CoreSignatureActivities.fetch_signed_artifacts,
                created,
                start_to_close_timeout=TRANSFER_CALL,
                heartbeat_timeout=HEARTBEAT,
                schedule_to_close_timeout=SIGNATURE_CALLS_GIVE_UP,
                retry_policy=CORE_SIGNATURE_RETRY,
                summary="Download signed PDF and signing log, verify SHA-256",
            )
            self._signed = signed
            self._signature.signed_by = [s.email for s in signed.signers]
            self._signature.completed_at = signed.completed_at or self._signature.completed_at
            self._record("verified", "system", f"signed PDF sha256 {signed.security_hash[:12]}…")
            workspace = await workflow.execute_activity_method(
                ContentServerActivities.ensure_business_workspace,
                WorkspaceRequest(target=self._input.request.workspace, route=route),
                start_to_close_timeout=TRANSFER_CALL,
                heartbeat_timeout=HEARTBEAT,
                schedule_to_close_timeout=ARCHIVE_GIVE_UP,
                retry_policy=CONTENT_SERVER_RETRY,
                summary=f"Find or create workspace {self._input.request.workspace.bo_type} "
                f"{self._input.request.workspace.bo_id}",
            )
            self._archive.workspace_id = workspace.id
            values = self._category_values(route, signed)
            key = self._input.request.business_key
            document = await self._archive_one(
                workspace.id,
                signed.signed_pdf,
                f"{key} - {self._stem()} (signed).pdf",
                route,
                values,
            )
            self._archive.document_node_id = document.node_id
            trail = await self._archive_one(
                workspace.id,
                signed.signing_log,
                f"{key} - {self._stem()} (audit trail).pdf",
                route,
                values,
            )
            self._archive.audit_trail_node_id = trail.node_id
        except ActivityError as err:
            cause = err.cause
            detail = cause.message if isinstance(cause, ApplicationError) else str(err)
            await self._finish(ProcessState.FAILED, f"archiving failed: {detail}")
        self._record(
            "archived",
            "system",
            f"workspace {self._archive.workspace_id}, node {self._archive.document_node_id}",
        )

    async def _archive_one(
        self,
        workspace_id: int,
        document: DocumentRef,
        name: str,
        route: RoutingDecision,
        values: dict[str, str],
    ) -> ArchivedNode:
        return await workflow.execute_activity_method(
            ContentServerActivities.archive_document,
            ArchiveDocumentInput(
                workspace_id=workspace_id,
                document=document,
                name=name,
                category_id=route.category_id,
                category_values=values,
                rm_classification_id=route.rm_classification_id,
            ),
            start_to_close_timeout=TRANSFER_CALL,
            heartbeat_timeout=HEARTBEAT,
            schedule_to_close_timeout=ARCHIVE_GIVE_UP,
            retry_policy=CONTENT_SERVER_RETRY,
            summary=f"Upload '{name}' with metadata and retention",
        )

    def _category_values(self, route: RoutingDecision, signed: SignedArtifacts) -> dict[str, str]:
        request = self._input.request
        semantic = {
            "deal_id": request.metadata.get("deal_id", request.source.record_id),
            "account": request.source.account_name or request.source.account_id or "",
            "signers": ", ".join(s.email for s in signed.signers),
            "completed_at": signed.completed_at.isoformat() if signed.completed_at else "",
            "business_key": request.business_key,
            "source_record": f"{request.source.system}/{request.source.record_type}/"
            f"{request.source.record_id}",
            "document_type": request.document_type,
        }
        return {
            str(attr): semantic[name]
            for name, attr in route.category_attributes.items()
            if name in semantic
        }

    def _stem(self) -> str:
        name = self._document.filename
        return name.rsplit(".", 1)[0] if "." in name else name

    # ------------------------------------------------------------ reporting
    async def _finish(self, state: ProcessState, reason: str) -> NoReturn:
        """Record the terminal state, tell the source system, and unwind the run."""
        self._outcome_reason = reason
        self._set_state(ProcessState.REPORTING, "the source system to accept the status report")
        request = self._input.request
        signed = self._signed
        report = SourceReport(
            idempotency_key=f"{request.business_key}:{state.value}",
            business_key=request.business_key,
            source=request.source,
            outcome=ReportOutcome(state.value),
            reason=reason,
            occurred_at=workflow.now(),
            document_version=self._document.version,
            signers=signed.signers if signed else [],
            completed_at=signed.completed_at if signed else None,
            workspace_id=self._archive.workspace_id,
            archived_node_id=self._archive.document_node_id,
            audit_trail_node_id=self._archive.audit_trail_node_id,
        )
        try:
            await workflow.execute_activity_method(
                SourceSystemActivities.report_to_source,
                report,
                start_to_close_timeout=SHORT_CALL,
                heartbeat_timeout=HEARTBEAT,
                schedule_to_close_timeout=REPORT_GIVE_UP,
                retry_policy=SOURCE_REPORT_RETRY,
                summary=f"Report '{state.value}' to {request.source.system} "
                f"{request.source.record_type} {request.source.record_id}",
            )
            self._record("reported", "system", f"{state.value} to {request.source.system}")
        except ActivityError as err:
            # Dead-lettered: the outcome stands, a person is told the source was not.
            self._record("report_failed", "system", str(err.cause or err))
            await self._notify(
                NotificationKind.SIGNATURE_EXCEPTION,
                [],
                f"Status report to {request.source.system} failed for {request.business_key}",
                key=f"report-failed:{state.value}",
            )
        self._set_state(state, "nothing (finished)", stage=None)
        self._record("finished", "system", f"{state.value}: {reason}")
        raise ProcessEnded

    # ------------------------------------------------------------- handlers
    @workflow.signal(name="signature_event")
    def signature_event(self, event: SignatureEvent) -> None:
        """A verified Core Signature event (callback or replay); applied once per event id."""
        self._apply_event(event)

    def _apply_event(self, event: SignatureEvent) -> None:
        if event.event_id in self._seen_events:
            return
        self._seen_events.add(event.event_id)
        if self._state in TERMINAL_STATES or self._state in (
            ProcessState.ARCHIVING,
            ProcessState.REPORTING,
        ):
            self._record(
                "event_ignored",
                "core-signature",
                f"{event.event_type.value} after the signature phase",
                data={"event_id": event.event_id},
            )
            return
        self._inbox.append(event)

    @workflow.update(name="decide")
    def decide(self, decision: ApprovalDecision) -> UpdateAccepted:
        stage = self._open_stage
        assert stage is not None  # guaranteed by the validator
        stage.apply(decision)
        self._record(
            "decision",
            decision.actor,
            f"{decision.decision.value} in stage '{stage.name}'"
            + (f": {decision.comment}" if decision.comment else ""),
            data={"comment": decision.comment, "decision": decision.decision.value},
        )
        return UpdateAccepted(
            state=self._state.value,
            stage=stage.name,
            detail=f"stage {'closed: ' + stage.outcome.value if stage.outcome else 'still open'}",
        )

    @decide.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        stage = self._open_stage
        if self._state is not ProcessState.AWAITING_APPROVAL or stage is None:
            raise ValueError(f"no approval stage is open (process is {self._state.value})")
        if (reason := stage.refusal(decision)) is not None:
            raise ValueError(reason)

    @workflow.update(name="submit_new_version")
    def submit_new_version(self, revision: NewDocumentVersion) -> UpdateAccepted:
        self._new_version = revision
        self._record(
            "new_version",
            revision.actor,
            f"document v{revision.document.version}"
            + (f": {revision.comment}" if revision.comment else ""),
        )
        return UpdateAccepted(state=self._state.value, detail="approval restarts")

    @submit_new_version.validator
    def _validate_new_version(self, revision: NewDocumentVersion) -> None:
        if self._state is not ProcessState.CHANGES_REQUESTED or self._new_version is not None:
            raise ValueError(f"no new version is expected (process is {self._state.value})")
        if revision.document.version <= self._document.version:
            raise ValueError(
                f"version {revision.document.version} is not newer than v{self._document.version}"
            )
        if revision.document.sha256 == self._document.sha256:
            raise ValueError("the new version has the same content as the current one")

    @workflow.update(name="correct_signature")
    def correct_signature(self, correction: SignatureCorrection) -> UpdateAccepted:
        self._correction = correction
        parts = []
        if correction.signers:
            parts.append("signers " + ", ".join(str(s.email) for s in correction.signers))
        if correction.document:
            parts.append(f"document v{correction.document.version}")
        self._record("correction", correction.actor, "; ".join(parts))
        return UpdateAccepted(state=self._state.value, detail="signature request will be resent")

    @correct_signature.validator
    def _validate_correction(self, correction: SignatureCorrection) -> None:
        if self._state is not ProcessState.SIGNATURE_EXCEPTION or self._correction is not None:
            raise ValueError(f"no signature exception is open (process is {self._state.value})")
        if not correction.signers and correction.document is None:
            raise ValueError("a correction needs new signers, a new document version, or both")
        if (
            correction.document is not None
            and correction.document.version <= self._document.version
        ):
            raise ValueError("the corrected document must be a newer version")

    @workflow.update(name="cancel")
    def cancel(self, request: CancelRequest) -> UpdateAccepted:
        self._cancel = request
        self._record("cancel_requested", request.actor, request.reason)
        return UpdateAccepted(state=self._state.value, detail="cancelling")

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if self._state in TERMINAL_STATES:
            raise ValueError(f"the process has already ended ({self._state.value})")
        if self._state in (ProcessState.ARCHIVING, ProcessState.REPORTING):
            raise ValueError("the document is signed; it can no longer be cancelled")
        if self._cancel is not None:
            raise ValueError("a cancel is already in progress")

    @workflow.query(name="status")
    def status(self) -> ProcessStatus:
        return ProcessStatus(
            business_key=self._input.request.business_key,
            state=self._state,
            stage=self._open_stage.spec.name if self._open_stage else None,
            waiting_for=self._waiting_for,
            outcome_reason=self._outcome_reason,
            document_version=self._document.version,
            stages=self._stages,
            signature=self._signature,
            archive=self._archive,
            audit=self._audit,
        )

    # -------------------------------------------------------------- helpers
    def _raise_if_cancelled(self) -> None:
        if self._cancel is not None:
            raise _CancelRequested(self._cancel)

    async def _wait(self, condition: Callable[[], bool], limit: timedelta, summary: str) -> bool:
        """Wait for a condition; False when the timer (`summary` in the UI) fired first."""
        try:
            await workflow.wait_condition(condition, timeout=limit, timeout_summary=summary)
        except TimeoutError:
            return False
        return True

    async def _notify(
        self,
        kind: NotificationKind,
        recipients: list[str],
        subject: str,
        *,
        key: str,
        data: dict[str, str] | None = None,
    ) -> None:
        business_key = self._input.request.business_key
        await workflow.execute_activity_method(
            NotificationActivities.notify,
            Notification(
                idempotency_key=f"{business_key}:{key}",
                kind=kind,
                business_key=business_key,
                recipients=recipients,
                subject=subject,
                data={"workflow_id": workflow.info().workflow_id, **(data or {})},
            ),
            start_to_close_timeout=SHORT_CALL,
            heartbeat_timeout=HEARTBEAT,
            schedule_to_close_timeout=NOTIFY_GIVE_UP,
            retry_policy=NOTIFY_RETRY,
            summary=f"Notify {', '.join(recipients)}: {kind.value}",
        )

    def _last_comment(self, verb: str) -> str:
        for entry in reversed(self._audit):
            if entry.kind == "decision":
                return f"{verb} by {entry.actor}" + (
                    f": {entry.data['comment']}" if entry.data.get("comment") else ""
                )
        return verb

    def _record(
        self, kind: str, actor: str, detail: str = "", *, data: dict[str, str] | None = None
    ) -> None:
        self._audit.append(
            AuditEntry(at=workflow.now(), kind=kind, actor=actor, detail=detail, data=data or {})
        )

    def _set_state(
        self, state: ProcessState, waiting_for: str, *, stage: str | None = None
    ) -> None:
        self._state = state
        self._waiting_for = waiting_for
        workflow.set_current_details(
            f"**{state.value}**"
            + (f" · stage `{stage}`" if stage else "")
            + f"\n\nWaiting for: {waiting_for}\n\nDocument v{self._document.version} "
            f"(`{self._document.sha256[:12]}…`)"
        )
        if state in INDEXED_STATES and self._indexed != (state, stage):
            self._indexed = (state, stage)
            workflow.upsert_search_attributes(
                [
                    sa.STATUS.value_set(state.value),
                    sa.STAGE.value_set(stage) if stage else sa.STAGE.value_unset(),
                ]
            )


class _CancelRequested(ProcessEnded):
    def __init__(self, request: CancelRequest) -> None:
        super().__init__(request.reason)
        self.request = request
