"""Document signing: validate → internal approval → Core Signature → archive → report back.

The story only; the mechanisms are the workflow kit's (`workflows/kit/`). Approvals,
corrections, repairs and cancels arrive as validated Updates for the authenticated actor;
Core Signature callbacks arrive as signals and are hints; a lost callback is caught by a
poll whose history stays flat. Every give-up ends in a reported outcome or in an exception
an operator can repair; a Temporal cancellation is the business cancel.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

from workflows.kit.calls import GaveUp, call, watched_phase
from workflows.kit.delivery import deliver
from workflows.kit.human_task import ApprovalTask, wait_for_person
from workflows.kit.lifecycle import ProcessEnded, continue_as_new, history_due, run_story
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord
from workflows.kit.repair import Repairable
from workflows.kit.requests import RequestLedger
from workflows.kit.signature import SignatureException, SignatureRequest
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.content_server import ContentServerActivities
    from activities.content_server import options as content_server
    from activities.core_signature import CoreSignatureActivities
    from activities.core_signature import options as core_signature
    from activities.source_systems import SourceSystemActivities
    from activities.source_systems import options as source_systems
    from activities.validation import ValidationActivities
    from activities.validation import options as validation
    from docflow import search_attributes as sa
    from docflow.config.mappings import signing_category_values
    from docflow.correlation import signature_external_id
    from docflow.models import (
        ApprovalActionFacts,
        ApprovalDecision,
        ArchiveDocumentInput,
        CancelRequest,
        CorrectionCheck,
        CreateSignatureInput,
        Decision,
        DocumentRef,
        NewDocumentVersion,
        RepairRequest,
        ReportOutcome,
        RoutingDecision,
        SignatureCorrection,
        SignatureEvent,
        SignedArtifacts,
        SigningCarry,
        SigningProcessInput,
        SigningState,
        SigningStatus,
        SourceReport,
        UpdateAccepted,
        WorkspaceRequest,
    )
    from docflow.models.delivery import DeliveryResult, RedeliverRequest
    from docflow.models.events import (
        SignatureEventType,
    )
    from docflow.models.records import ApprovedVersion, business_object_key
    from docflow.models.status import TERMINAL_STATES
    from docflow.models.workspaces import FiledDocument, MilestoneKind, WorkspaceMilestone
    from docflow.repairs import describe_repairs, signing_repairs
    from docflow.temporal import business_object_workflow_id

S = SigningState
# States operators filter on (DocflowStatus); passing states last seconds and are not indexed.
INDEXED_STATES = {
    S.AWAITING_APPROVAL,
    S.CHANGES_REQUESTED,
    S.AWAITING_SIGNATURE,
    S.SIGNATURE_EXCEPTION,
    S.ARCHIVING,
    S.ARCHIVE_EXCEPTION,
} | TERMINAL_STATES
# A cancel is answered once decided (Core Signature may report the document signed first);
# past this the answer is "cancelling" and the status tells the rest. Older runs: no wait.
CANCEL_ANSWERS = "cancel-answers"
CANCEL_ANSWER_WITHIN = timedelta(seconds=10)
# Corrections' new signers pass the routing rules again (older runs accepted them unchecked).
CORRECTIONS_ROUTED = "corrections-routed"
# Download, workspace and two uploads normally take seconds; past this the phase is flagged
# `step_retrying` (one watch for the phase: a timer per call would cost an action each).
ARCHIVE_EXPECTED = timedelta(minutes=15)
# Only the signature wait takes unbounded input (callbacks): it continues as new past this.
HISTORY_BUDGET = 2_000
Verdict = Literal["resend", "approve", "signed"]
# A dead-lettered status report waits for an operator's `redeliver` (runs before it ended).
REDELIVER_PATCH = "signing.report-redeliver"
# The business object's workspace process hears of the outcome (status and the signed
# document's reference back to the source record, the team told); older runs did not.
WORKSPACE_MILESTONES = "workspace-milestones"
MILESTONE_OF = {
    S.COMPLETED: MilestoneKind.SIGNED,
    S.REJECTED: MilestoneKind.REJECTED,
    S.DECLINED: MilestoneKind.REJECTED,
}


@workflow.defn(name="SigningWorkflow", versioning_behavior=behaviour("SigningWorkflow"))
class SigningWorkflow:
    @workflow.init
    def __init__(self, process: SigningProcessInput) -> None:
        carry = process.resume or SigningCarry(document=process.document)
        self._input, self._request, self._carry = process, process.request, carry
        self._signers = carry.signers or list(process.request.signers)
        self._record = ProcessRecord(
            "signing",
            process.request.business_key,
            state=S.VALIDATING,
            indexed_states=INDEXED_STATES,
            details=self._details,
            saved=carry.record,
        )
        carry.record = self._record.data
        self._notify = Notifier(process.request.business_key, self._record)
        self._signature = SignatureRequest(carry.request, self._record, self._notify)
        self._repairs = Repairable(self._record, self._notify)
        self._requests = RequestLedger(carry.requests)  # Idempotency-Key reuse → refused
        self._open_stage: ApprovalTask | None = None
        self._new_version: NewDocumentVersion | None = None
        self._correction: SignatureCorrection | None = None
        self._cancel: CancelRequest | None = None
        self._cancel_answer: str | None = None  # "cancelled", or why the cancel was refused
        self._correcting = False  # a correction's signers are being checked
        self._signed: SignedArtifacts | None = None
        self._ending: tuple[SigningState, str] | None = None
        self._redelivery_open = False
        self._redeliver: RedeliverRequest | None = None

    # ------------------------------------------------------------------ story
    @workflow.run
    async def run(self, process: SigningProcessInput) -> SigningStatus:
        if process.resume is None:
            source = self._request.source
            self._record.index_at_start(
                business_key=self._request.business_key,
                source_record=f"{source.system}/{source.record_type}/{source.record_id}",
                document_type=self._request.document_type,
                environment=process.environment,
                source_system=source.system,
                participants=sa.participants(self._request.approval_stages),
            )
            self._record.record("started", process.started_by, f"document v{self._doc.version}")
            target = self._request.workspace
            self._record.describe(
                source_system=source.system,
                business_object_type=f"{target.ext_system_id}/{target.bo_type}",
                business_object_id=target.bo_id,
                document_name=self._doc.filename,
                document_version=self._doc.version,
            )
        await run_story(self._story, on_cancel=self._temporal_cancel, record=self._record)
        return self.status()

    async def _story(self) -> None:
        try:
            if self._carry.request.created is None:
                self._carry.route = await self._validate()
                await self._approve_current_version()
            while not await self._collect_signature():
                await self._approve_current_version()
            if self._cancel is not None:  # it raced the signature: a signed document wins
                self._refuse_cancel("the document was signed first; it is archived instead")
            await self._archive_signed()
            await self._finish(S.COMPLETED, "signed and archived")
        except _Cancelled as cancelled:
            await self._cancelled(cancelled.request)
        except GaveUp as failure:  # the one give-up policy: a reported outcome, never FAILED
            await self._finish(S.FAILED, f"{failure.operation} gave up: {failure.reason}")

    async def _validate(self) -> RoutingDecision:
        self._record.set_state(S.VALIDATING, "routing-rule validation")
        result = await call(
            ValidationActivities.validate_signing_request,
            self._input,
            validation.VALIDATE,
            summary="Check the request against this environment's routing rules",
            record=self._record,
        )
        if not result.accepted or result.route is None:
            self._record.record("refused", "system", "; ".join(result.reasons))
            await self._finish(S.REFUSED, "; ".join(result.reasons))
        route = result.route
        configuration = result.config_version or "unversioned"
        self._record.describe(retention_class=route.rm_classification_id)
        # The audit entry's wording and data only (no command changes): which rule set of a
        # gradual rollout routed the process, and its version.
        self._record.record(
            "routed",
            "system",
            f"rule {route.rule} ({route.track} rules {route.rules_version}, configuration "
            f"{configuration}), template {route.signature_template}",
            data={
                "rule": route.rule,
                "track": route.track,
                "rules_version": route.rules_version,
                "config_version": configuration,
            },
        )
        return route

    # ------------------------------------------------------------- approvals
    async def _approve_current_version(self) -> None:
        """Every approval stage for the current version; "changes requested" loops."""
        while True:
            self._carry.stages = []
            outcome = Decision.APPROVE
            for spec in self._request.approval_stages:
                outcome = await self._run_stage(ApprovalTask.open(spec))
                if outcome is not Decision.APPROVE:
                    break
            if outcome is Decision.REJECT:
                await self._finish(S.REJECTED, self._last_decision("rejected"))
            if outcome is Decision.APPROVE:
                self._carry.approved_sha256 = self._doc.sha256
                if self._request.approval_stages:
                    self._record.record("approved", "system", f"document v{self._doc.version}")
                    if workflow.patched(WORKSPACE_MILESTONES):
                        await self._tell_workspace(
                            MilestoneKind.APPROVED, f"document v{self._doc.version} approved"
                        )
                return
            self._new_version = None
            self._record.set_state(
                S.CHANGES_REQUESTED,
                f"a new version of the document (now v{self._doc.version})",
                until=self._input.policy.changes_deadline,
            )
            if not await wait_for_person(
                lambda: self._new_version is not None or self._cancel is not None,
                deadline=self._input.policy.changes_deadline,
                what="the revised document",
            ):
                await self._finish(S.EXPIRED, "no revised document arrived after changes request")
            self._raise_if_cancelled()
            assert self._new_version is not None
            self._carry.document = self._new_version.document
            self._carry.submitted_by = self._new_version.actor

    async def _run_stage(self, task: ApprovalTask) -> Decision:
        spec, doc = task.spec, self._doc
        self._carry.stages.append(task.status)
        index = len(self._carry.stages) - 1
        self._open_stage = task
        self._record.set_state(
            S.AWAITING_APPROVAL,
            f"decision of {task.describe_quorum()} in stage '{spec.name}'",
            stage=spec.name,
            until=spec.deadline,
        )

        def escalated(approver: str) -> None:
            self._record.record("escalated", "system", f"stage '{spec.name}' to {approver}")
            self._record.set_state(
                S.AWAITING_APPROVAL,
                f"escalation approver {approver} in stage '{spec.name}'",
                stage=spec.name,
                until=spec.escalation_window,
            )

        def link_facts() -> ApprovalActionFacts:  # what the notification's action links bind
            assert task.closes_at is not None
            return ApprovalActionFacts(
                stage=spec.name,
                stage_index=index,
                version=doc.version,
                sha256=doc.sha256,
                closes_at=task.closes_at,
            )

        outcome = await task.run(
            notify=self._notify.for_task(f"{spec.name}:v{doc.version}", link_facts),
            subject=f"approval of {self._request.title or self._request.business_key}",
            interrupted=lambda: self._cancel is not None,
            on_reminder=lambda: self._record.record(
                "reminder", "system", f"stage '{spec.name}': {', '.join(task.pending)}"
            ),
            on_escalation=escalated,
        )
        self._open_stage = None
        self._raise_if_cancelled()
        if outcome is None:
            await self._finish(
                S.EXPIRED,
                f"approval stage '{spec.name}' got no decision by its deadline"
                + (" and escalation window" if task.escalated else ""),
            )
        return outcome

    # ------------------------------------------------------------- signature
    async def _collect_signature(self) -> bool:
        """Send until signed (True); False when a corrected document needs approval first."""
        carry = self._carry
        while True:
            self._raise_if_cancelled()
            try:
                if not self._signature.is_open:
                    await self._send_for_signature()
                event = await self._await_signature_outcome()
            except SignatureException as problem:
                verdict = await self._resolve_exception(str(problem))
                if verdict != "resend":
                    return verdict == "signed"
                continue
            kind = event.event_type
            if kind is SignatureEventType.SIGNED:
                return True
            if kind is SignatureEventType.DECLINED:
                who = event.signer_email or "a signer"
                await self._finish(
                    S.DECLINED, f"declined by {who}" + (f": {event.detail}" if event.detail else "")
                )
            if kind is SignatureEventType.CANCELLED:
                await self._finish(S.CANCELLED, "cancelled in Core Signature")
            if (
                kind is SignatureEventType.EXPIRED
                and carry.resends < self._input.policy.max_resends
            ):
                carry.resends += 1
                self._signature.close()
                self._record.record(
                    "resend", "system", f"signature expired; resend {carry.resends}"
                )
                continue
            reason = (
                f"signature expired {carry.resends + 1} times"
                if kind is SignatureEventType.EXPIRED
                else kind.value
                + (f" ({event.signer_email})" if event.signer_email else "")
                + (f": {event.detail}" if event.detail else "")
            )
            verdict = await self._resolve_exception(reason)
            if verdict != "resend":
                return verdict == "signed"

    async def _send_for_signature(self) -> None:
        carry, signature = self._carry, self._carry.request.status
        if self._doc.sha256 != carry.approved_sha256 or carry.route is None:
            raise GaveUp("docflow", "send for signature", "document version was not approved")
        signature.cycle += 1
        self._record.set_state(S.SENDING, "Core Signature to accept the request")
        await self._signature.send(
            CreateSignatureInput(
                external_id=signature_external_id(self._request.business_key, signature.cycle),
                document=self._doc,
                signers=self._signers,
                sender_email=carry.route.sender_email,
                subject=self._request.title or f"Please sign: {self._doc.filename}",
                message=self._request.message,
                auto_expire_days=self._input.policy.auto_expire_days,
            ),
            poll_after=self._input.policy.signature_poll_after,
        )

    async def _await_signature_outcome(self) -> SignatureEvent:
        """The deciding event of the open request; continues as new past the history budget."""
        policy = self._input.policy
        while True:
            self._record.set_state(
                S.AWAITING_SIGNATURE, f"signature by {', '.join(s.email for s in self._signers)}"
            )
            event = await self._signature.outcome(
                every=policy.signature_poll_interval,
                give_up=policy.signature_poll_give_up,
                interrupted=lambda: self._cancel is not None or history_due(HISTORY_BUDGET),
            )
            if event is not None:
                return event
            if self._cancel is not None:
                if await self._withdraw("cancel requested"):
                    assert self._carry.request.created is not None
                    return self._signature.polled(self._carry.request.created.document_uuid, "si")
                self._raise_if_cancelled()
            await continue_as_new(
                self._input.model_copy(update={"resume": self._carry}), record=self._record
            )

    async def _withdraw(self, why: str) -> bool:
        """Withdraw the open request; True (and the cancel refused) when it is signed."""
        signed = await self._signature.withdraw(why)
        if signed and self._cancel is not None:
            self._refuse_cancel(
                "Core Signature reports the document signed; it is archived instead", record=False
            )
        return signed

    def _refuse_cancel(self, why: str, *, record: bool = True) -> None:
        """The pending cancel does not happen: audited, and answered to whoever asked."""
        assert self._cancel is not None
        if record:
            self._record.record("cancel_refused", self._cancel.actor, why)
        self._cancel, self._cancel_answer = None, f"cancel refused: {why}"

    async def _resolve_exception(self, reason: str) -> Verdict:
        """Support corrects (new signers or document), cancels, or the deadline ends it.

        "approve" when the correction brought a new document version that needs approval;
        "signed" when the request turned out to be signed after all.
        """
        policy, self._correction = self._input.policy, None
        self._record.record("exception", "system", reason)
        self._record.set_state(
            S.SIGNATURE_EXCEPTION,
            f"a correction (new recipient or document) or a cancel: {reason}",
            until=policy.exception_deadline,
            attention=True,
        )
        await self._notify.support(
            f"Signature exception for {self._request.business_key}: {reason}",
            key=f"exception:{self._carry.request.status.cycle}",
            reason=reason,
        )
        got = await wait_for_person(
            lambda: self._correction is not None or self._cancel is not None,
            deadline=policy.exception_deadline,
            what="resolving the signature exception",
        )
        if await self._withdraw("the exception was resolved"):
            return "signed"
        self._raise_if_cancelled()
        if not got or self._correction is None:
            await self._finish(S.FAILED, f"signature exception not resolved in time: {reason}")
        correction = self._correction
        if correction.signers:
            self._signers = self._carry.signers = list(correction.signers)
        if correction.document is not None:
            self._carry.document, self._carry.submitted_by = correction.document, correction.actor
            if self._request.approval_stages:
                return "approve"
            self._carry.approved_sha256 = correction.document.sha256
        return "resend"

    # ---------------------------------------------------------------- archive
    async def _archive_signed(self) -> None:
        """Fetch, verify and file the signed PDF and its audit trail; repairable on give-up."""
        outcome = await self._repairs.run(
            lambda: watched_phase(
                self._archive_once,
                expected=ARCHIVE_EXPECTED,
                summary="archive of the signed document in Extended ECM",
                record=self._record,
            ),
            name="archive of the signed document in Extended ECM",
            running=S.ARCHIVING,
            waiting=S.ARCHIVE_EXCEPTION,
            deadline=self._input.policy.exception_deadline,
        )
        if isinstance(outcome, str):
            await self._finish(S.FAILED, f"archiving failed: {outcome}")

    async def _archive_once(self) -> None:
        carry, created = self._carry, self._carry.request.status
        assert carry.route is not None and carry.request.created is not None
        signed = self._signed = await call(
            CoreSignatureActivities.fetch_signed_artifacts,
            carry.request.created,
            core_signature.TRANSFER,
            summary="Download signed PDF and signing log, verify SHA-256",
        )
        created.signed_by = [s.email for s in signed.signers]
        created.completed_at = signed.completed_at or created.completed_at
        self._record.record("verified", "system", f"signed PDF sha256 {signed.security_hash[:12]}…")
        target = self._request.workspace
        workspace = await call(
            ContentServerActivities.ensure_business_workspace,
            WorkspaceRequest(target=target, route=carry.route),
            content_server.TRANSFER,
            summary=f"Find or create workspace {target.bo_type} {target.bo_id}",
        )
        archive = carry.archive
        archive.workspace_id = workspace.id
        stem = self._doc.filename.rsplit(".", 1)[0]
        for ref, suffix in ((signed.signed_pdf, "signed"), (signed.signing_log, "audit trail")):
            name = f"{self._request.business_key} - {stem} ({suffix}).pdf"
            node = await call(
                ContentServerActivities.archive_document,
                ArchiveDocumentInput(
                    workspace_id=workspace.id,
                    document=ref,
                    name=name,
                    category_id=carry.route.category_id,
                    category_values=signing_category_values(self._request, carry.route, signed),
                    rm_classification_id=carry.route.rm_classification_id,
                    folder=carry.route.archive_folder,
                ),
                content_server.TRANSFER,
                summary=f"Upload '{name}' with metadata and retention",
            )
            if suffix == "signed":
                archive.document_node_id = node.node_id
                archive.document_link, archive.document_name = node.link, name
                archive.document_version = node.version
            else:
                archive.audit_trail_node_id = node.node_id
        self._record.record(
            "archived", "system", f"workspace {workspace.id}, node {archive.document_node_id}"
        )
        self._describe_archive(signed)

    def _describe_archive(self, signed: SignedArtifacts) -> None:
        """The signed document is the approved version portals and partners may read; its
        retention clock starts now."""
        archive, now = self._carry.archive, workflow.now()
        record = self._record
        record.describe(
            workspace_id=archive.workspace_id,
            document_node_id=archive.document_node_id,
            document_name=archive.document_name,
            retention_from=now,
        )
        if archive.document_node_id is None:
            return
        record.approved(
            ApprovedVersion(
                source="ecm",
                object_id=str(archive.document_node_id),
                version=archive.document_version,
                name=archive.document_name,
                mime_type=signed.signed_pdf.content_type,
                sha256=signed.signed_pdf.sha256,
                approved_at=signed.completed_at or now,
                approved_by=", ".join(s.email for s in signed.signers)[:255],
                workspace_id=archive.workspace_id,
                document_type=self._request.document_type,
                business_object=business_object_key(
                    self._request.workspace.ext_system_id,
                    self._request.workspace.bo_type,
                    self._request.workspace.bo_id,
                ),
            )
        )

    # ------------------------------------------------------------ the end
    async def _finish(self, state: SigningState, reason: str) -> None:
        """Record the outcome, report it to the source (dead-letter on give-up), unwind."""
        record, request, archive = self._record, self._request, self._carry.archive
        if self._cancel is not None and state is not S.CANCELLED:
            self._refuse_cancel(f"the process ended {state.value} first")
        record.data.outcome_reason, self._ending = reason, (state, reason)
        if state in MILESTONE_OF and workflow.patched(WORKSPACE_MILESTONES):
            await self._tell_workspace(MILESTONE_OF[state], reason)
        record.set_state(S.REPORTING, "the source system to accept the status report")
        signed = self._signed
        key = f"{request.business_key}:{state.value}"
        report = SourceReport(
            idempotency_key=key,
            business_key=request.business_key,
            source=request.source,
            outcome=ReportOutcome(state.value),
            reason=reason,
            occurred_at=workflow.now(),
            document_version=self._doc.version,
            signers=signed.signers if signed else [],
            completed_at=signed.completed_at if signed else None,
            workspace_id=archive.workspace_id,
            archived_node_id=archive.document_node_id,
            audit_trail_node_id=archive.audit_trail_node_id,
        )
        result = await self._report(report)
        if not result.delivered or state is S.FAILED:
            await self._notify.support(
                f"{request.business_key} ended {state.value}"
                + ("" if result.delivered else f"; report to {request.source.system} failed"),
                key=f"finished:{state.value}",
                reason=reason if result.delivered else result.reason,
            )
        if not result.delivered and workflow.patched(REDELIVER_PATCH):
            result = await self._await_redelivery(report, result)
        record.set_state(
            state,
            "nothing (finished)",
            attention=sa.REPORT_DEAD_LETTERED if not result.delivered else False,
        )
        record.record("finished", "system", f"{state.value}: {reason}")
        raise ProcessEnded

    async def _tell_workspace(self, kind: MilestoneKind, reason: str) -> None:
        """Signal the workspace process of the business object the document belongs to; a
        workspace docflow does not sync (no such process) is recorded, nothing more."""
        target, archive = self._request.workspace, self._carry.archive
        signed = self._signed
        document = (
            FiledDocument(
                node_id=archive.document_node_id,
                version=archive.document_version,
                name=archive.document_name,
                folder_id=archive.workspace_id or 0,
                link=archive.document_link,
                sha256=signed.signed_pdf.sha256,
                outcome="created",
            )
            if kind is MilestoneKind.SIGNED and archive.document_node_id and signed
            else None
        )
        milestone = WorkspaceMilestone(
            milestone_id=f"{self._request.business_key}:{kind.value}:v{self._doc.version}",
            kind=kind,
            occurred_at=workflow.now(),
            detail=reason,
            business_key=self._request.business_key,
            document=document,
        )
        workflow_id = business_object_workflow_id(
            target.ext_system_id, target.bo_type, target.bo_id
        )
        try:
            await workflow.get_external_workflow_handle(workflow_id).signal(
                "workspace_milestone", milestone
            )
        except FailureError as exc:  # no workspace process: nothing to tell
            self._record.record("workspace_not_told", "system", f"{workflow_id}: {exc}")
            return
        self._record.record("workspace_told", "system", f"{kind.value} to {workflow_id}")

    async def _report(self, report: SourceReport) -> DeliveryResult:
        """Deliver the status report on the source's schedule; a give-up is a dead letter."""
        source, state = report.source, report.outcome.value
        result = await deliver(
            SourceSystemActivities.report_to_source,
            report,
            source_systems.REPORT,
            target=source.system,
            idempotency_key=report.idempotency_key,
            summary=f"Report '{state}' to {source.system} {source.record_type} {source.record_id}",
            record=self._record,
        )
        if result.delivered:
            self._record.record("reported", "system", f"{state} to {source.system}")
        else:  # dead-lettered: the outcome stands, a person is told the source was not
            self._record.record("report_failed", "system", result.reason)
        return result

    async def _await_redelivery(
        self, report: SourceReport, result: DeliveryResult
    ) -> DeliveryResult:
        """The outcome stands; the dead letter waits (with a deadline) for `redeliver`."""
        deadline = self._input.policy.exception_deadline
        while not result.delivered:
            self._redeliver, self._redelivery_open = None, True
            self._record.set_state(
                self._record.state,
                f"an operator to redeliver the status report to {report.source.system} "
                f"(after fixing it): {result.reason}",
                until=deadline,
                attention=sa.REPORT_DEAD_LETTERED,
            )
            asked = await wait_for_person(
                lambda: self._redeliver is not None,
                deadline=deadline,
                what="redelivery of the status report",
            )
            self._redelivery_open = False
            if not asked:
                return result
            result = await self._report(report)
        return result

    async def _cancelled(self, request: CancelRequest) -> None:
        self._cancel_answer = "cancelled"
        await self._finish(S.CANCELLED, f"cancelled by {request.actor}: {request.reason}")

    async def _temporal_cancel(self) -> None:
        """The Web UI's or a batch's cancellation: the business cancel, except that a signed
        document is still archived and an outcome being reported is still reported."""
        state = self._record.state
        if state in TERMINAL_STATES:
            return
        request = CancelRequest(actor="temporal", reason="cancellation requested in Temporal")
        self._record.record("cancel_requested", request.actor, request.reason)
        try:
            if state == S.REPORTING and self._ending is not None:
                await self._finish(*self._ending)
            if state == S.ARCHIVE_EXCEPTION:
                await self._finish(S.FAILED, "archiving abandoned: cancelled in Temporal")
            if state == S.ARCHIVING:
                self._record.record("cancel_refused", "system", "the document is signed")
            elif not await self._withdraw(request.reason):  # records a refusal if signed
                await self._cancelled(request)
            await self._archive_signed()
            await self._finish(S.COMPLETED, "signed and archived")
        except GaveUp as failure:
            await self._finish(S.FAILED, f"{failure.operation} gave up: {failure.reason}")

    # -------------------------------------------------------------- handlers
    @workflow.signal(name="signature_event")
    def signature_event(self, event: SignatureEvent) -> None:
        """A verified Core Signature event (callback or replay): a hint, applied once."""
        self._signature.on_event(event, listening=self._listening)

    @workflow.query(name="admits_signature_event")
    def admits_signature_event(self, event: SignatureEvent) -> bool:
        """Asked by the receiver before signalling: False for what would change nothing."""
        return self._signature.admits(event, listening=self._listening)

    @property
    def _listening(self) -> bool:
        state = self._record.state
        past = state in TERMINAL_STATES or state in (S.ARCHIVING, S.ARCHIVE_EXCEPTION, S.REPORTING)
        return not past

    @workflow.update(name="decide")
    def decide(self, decision: ApprovalDecision) -> UpdateAccepted:
        stage = self._open_stage
        if stage is None:  # the validator refuses this; a handler error must not fail the task
            raise ApplicationError("no approval stage is open", non_retryable=True)
        self._requests.remember(decision)
        return stage.decide(decision, self._record, what="stage", where=f" in stage '{stage.name}'")

    @decide.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        self._requests.check(decision)
        stage = self._open_stage
        if self._record.state != S.AWAITING_APPROVAL or stage is None:
            raise ValueError(f"no approval stage is open (process is {self._record.state})")
        if decision.version is not None and decision.version != self._doc.version:
            raise ValueError(
                f"document v{decision.version} is no longer up for approval "
                f"(v{self._doc.version} is)"
            )
        if (reason := stage.refusal(decision)) is not None:
            raise ValueError(reason)
        submitter = self._carry.submitted_by or self._input.started_by
        if decision.actor.casefold() == submitter.casefold():
            raise ValueError(
                f"{decision.actor} submitted document v{self._doc.version}; someone else "
                "must decide on it (separation of duties)"
            )

    @workflow.update(name="submit_new_version")
    def submit_new_version(self, revision: NewDocumentVersion) -> UpdateAccepted:
        self._new_version = revision
        self._requests.remember(revision)
        comment = f": {revision.comment}" if revision.comment else ""
        self._record.record(
            "new_version", revision.actor, f"document v{revision.document.version}{comment}"
        )
        return UpdateAccepted(state=self._record.state, detail="approval restarts")

    @submit_new_version.validator
    def _validate_new_version(self, revision: NewDocumentVersion) -> None:
        self._requests.check(revision)
        if self._record.state != S.CHANGES_REQUESTED or self._new_version is not None:
            raise ValueError(f"no new version is expected (process is {self._record.state})")
        if revision.document.version <= self._doc.version:
            raise ValueError(
                f"version {revision.document.version} is not newer than v{self._doc.version}"
            )
        if revision.document.sha256 == self._doc.sha256:
            raise ValueError("the new version has the same content as the current one")

    @workflow.update(name="correct_signature")
    async def correct_signature(self, correction: SignatureCorrection) -> UpdateAccepted:
        if correction.signers and workflow.patched(CORRECTIONS_ROUTED):
            await self._check_correction(correction)
        self._correction = correction
        self._requests.remember(correction)
        parts = []
        if correction.signers:
            parts.append("signers " + ", ".join(s.email for s in correction.signers))
        if correction.document:
            parts.append(f"document v{correction.document.version}")
        self._record.record("correction", correction.actor, "; ".join(parts))
        return UpdateAccepted(state=self._record.state, detail="signature request will be resent")

    async def _check_correction(self, correction: SignatureCorrection) -> None:
        """New signers go through the routing rules again; refused with every reason."""
        self._correcting = True
        try:
            corrected = self._input.model_copy(
                update={
                    "request": self._request.model_copy(update={"signers": correction.signers}),
                    "document": correction.document or self._doc,
                }
            )
            result = await call(
                ValidationActivities.validate_correction,
                CorrectionCheck(corrected=corrected, route=self._carry.route),
                validation.VALIDATE,
                summary="Check the correction against this environment's routing rules",
            )
        except GaveUp as failure:
            raise ApplicationError(
                f"the correction could not be checked: {failure.reason}", non_retryable=True
            ) from None
        finally:
            self._correcting = False
        if not result.accepted:
            reasons = "; ".join(result.reasons)
            self._record.record("correction_refused", correction.actor, reasons)
            raise ApplicationError(
                f"correction refused: {reasons}", type="CorrectionRefused", non_retryable=True
            )
        if self._record.state != S.SIGNATURE_EXCEPTION:  # resolved otherwise meanwhile
            raise ApplicationError(
                f"no signature exception is open (process is {self._record.state})",
                non_retryable=True,
            )

    @correct_signature.validator
    def _validate_correction(self, correction: SignatureCorrection) -> None:
        self._requests.check(correction)
        if self._correcting:
            raise ValueError("another correction is being checked")
        if self._record.state != S.SIGNATURE_EXCEPTION or self._correction is not None:
            raise ValueError(f"no signature exception is open (process is {self._record.state})")
        if not correction.signers and correction.document is None:
            raise ValueError("a correction needs new signers, a new document version, or both")
        if correction.document is not None and correction.document.version <= self._doc.version:
            raise ValueError("the corrected document must be a newer version")

    @workflow.update(name="repair")
    def repair(self, request: RepairRequest) -> UpdateAccepted:
        self._repairs.apply(request)
        self._requests.remember(request)
        return UpdateAccepted(state=self._record.state, detail=f"archiving will {request.action}")

    @repair.validator
    def _validate_repair(self, request: RepairRequest) -> None:
        self._requests.check(request)
        if (reason := self._repairs.refusal(request)) is not None:
            raise ValueError(reason)

    @workflow.update(name="redeliver")
    def redeliver(self, request: RedeliverRequest) -> UpdateAccepted:
        self._redeliver = request
        self._record.record("redeliver", request.actor, request.comment)
        return UpdateAccepted(state=self._record.state, detail="redelivering the status report")

    @redeliver.validator
    def _validate_redeliver(self, request: RedeliverRequest) -> None:
        if not self._redelivery_open or self._redeliver is not None:
            raise ValueError(
                f"no dead-lettered status report to redeliver (process is {self._record.state})"
            )

    @workflow.update(name="cancel")
    async def cancel(self, request: CancelRequest) -> UpdateAccepted:
        """Answers what became of the cancel: done, refused (signed first), or still going."""
        self._cancel, self._cancel_answer = request, None
        self._requests.remember(request)
        self._record.record("cancel_requested", request.actor, request.reason)
        if not workflow.patched(CANCEL_ANSWERS):
            return UpdateAccepted(state=self._record.state, detail="cancelling")
        try:
            await workflow.wait_condition(
                lambda: self._cancel_answer is not None, timeout=CANCEL_ANSWER_WITHIN
            )
        except TimeoutError:
            return UpdateAccepted(
                state=self._record.state,
                detail="cancelling: waiting for Core Signature's final status; the process "
                "status shows the outcome (a document signed meanwhile is archived instead)",
            )
        if self._cancel_answer != "cancelled":
            raise ApplicationError(
                str(self._cancel_answer), type="CancelRefused", non_retryable=True
            )
        return UpdateAccepted(state=self._record.state, detail="cancelled")

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        self._requests.check(request)
        state = self._record.state
        if state in TERMINAL_STATES:
            raise ValueError(f"the process has already ended ({state})")
        if state in (S.ARCHIVING, S.ARCHIVE_EXCEPTION, S.REPORTING):
            raise ValueError("the document is signed; it can no longer be cancelled")
        if self._cancel is not None:
            raise ValueError("a cancel is already in progress")

    @workflow.query(name="status")
    def status(self) -> SigningStatus:
        carry = self._carry
        return SigningStatus.model_validate(
            {
                **self._record.summary_fields(),
                "source_system": self._request.source.system,
                "participants": sa.participants(self._request.approval_stages),
                "stage": self._open_stage.name if self._open_stage else None,
                "document_version": self._doc.version,
                "stages": carry.stages,
                "signature": carry.request.status,
                "archive": carry.archive,
            }
        )

    # -------------------------------------------------------------- helpers
    @property
    def _doc(self) -> DocumentRef:
        return self._carry.document

    def _details(self) -> str:
        details = f"Document v{self._doc.version} (`{self._doc.sha256[:12]}…`)"
        hints = signing_repairs(
            self._request.business_key, self._record.state, self._record.attention
        )
        if hints:
            details += "\n\nRepair:\n" + describe_repairs(hints)
        return details

    def _raise_if_cancelled(self) -> None:
        if self._cancel is not None:
            raise _Cancelled(self._cancel)

    def _last_decision(self, verb: str) -> str:
        entry = self._record.last("decision")
        if entry is None:
            return verb
        return f"{verb} by {entry.actor}" + (
            f": {entry.data['comment']}" if entry.data.get("comment") else ""
        )


class _Cancelled(ProcessEnded):
    def __init__(self, request: CancelRequest) -> None:
        super().__init__(request.reason)
        self.request = request
