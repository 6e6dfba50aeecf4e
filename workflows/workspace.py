"""Business object: one long-lived workflow per (ext_system_id, bo_type, bo_id) keeps its
Business Workspace provisioned and in sync both ways for the object's lifetime.

The story: the first event (or a portal request) provisions the workspace from the type's
template through this environment's mapping → every later change of the object updates the
workspace's metadata (last writer wins by the source's version; duplicates and stale events
are ignored and counted) → milestones of the workspace's content (a document signed,
approved, rejected) and documents filed into it are written back to the source record and the
responsible team is told → the object's closure or deletion closes the workspace per policy.
The workflow continues as new past its history budget, carrying every event not yet applied.

Mechanisms are the kit's; the write-backs run as DeliveryWorkflow children (each with its own
schedule, dead letter and redelivery), so a source that is down holds back no sync.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from workflows.delivery import DeliveryInput, DeliveryWorkflow, delivery_workflow_id
from workflows.kit.calls import GaveUp, call
from workflows.kit.events import EventInbox
from workflows.kit.lifecycle import ProcessEnded, continue_as_new, history_due, run_story
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord
from workflows.kit.repair import Repairable
from workflows.kit.requests import RequestLedger
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.content_server import ContentServerActivities
    from activities.content_server import options as content_server
    from activities.validation import ValidationActivities
    from activities.validation import options as validation
    from docflow.config.workspaces import category_values
    from docflow.models import NotificationKind, RepairRequest, UpdateAccepted
    from docflow.models.delivery import OutboundMessage
    from docflow.models.workspaces import (
        BusinessObjectEvent,
        BusinessObjectEventKind,
        BusinessObjectInput,
        CloseWorkspaceInput,
        DocumentFiling,
        FiledDocument,
        FileDocumentInput,
        MetadataUpdate,
        OutboundReference,
        PlanRequest,
        PortalWorkspaceRequest,
        ProvisionAnswer,
        ProvisionedWorkspace,
        WorkspaceCarry,
        WorkspaceMilestone,
        WorkspacePlan,
        WorkspaceState,
        WorkspaceStatus,
    )

S = WorkspaceState
INDEXED_STATES = {S.WAITING, S.REFUSED, S.IN_SYNC, S.EXCEPTION, S.CLOSED}
# Events (signals, activities) per run before it continues as new (`history_budget`, 5,000 by
# default): 10,000 changes to one object take a few runs, each quick to replay.
SEEN_EVENTS = 1_000  # webhook-ids remembered per object (older duplicates are stale by version)
# A step that gave up (Content Server down for a day) waits this long for support's repair.
REPAIR_WINDOW = timedelta(days=14)
# The source's retry schedule outlasts a day; a dead letter waits a week for a redelivery.
REDELIVERY_WINDOW = timedelta(days=7)
Closed = BusinessObjectEventKind.DELETED


@workflow.defn(
    name="BusinessObjectWorkflow", versioning_behavior=behaviour("BusinessObjectWorkflow")
)
class BusinessObjectWorkflow:
    @workflow.init
    def __init__(self, process: BusinessObjectInput) -> None:
        carry = process.resume or WorkspaceCarry()
        self._input, self._carry, self._object = process, carry, process.object
        self._record = ProcessRecord(
            "workspace",
            process.object.key,
            state=S.WAITING,
            indexed_states=INDEXED_STATES,
            details=self._details,
            saved=carry.record,
        )
        carry.record = self._record.data
        # One subject per inbox: events are only deduplicated (the version decides the rest);
        # milestones wait in their inbox until the workspace exists.
        self._events = EventInbox(
            carry.inbox, id_of=lambda e: e.event_id, subject_of=lambda e: "", seen_limit=SEEN_EVENTS
        )
        self._milestones = EventInbox(
            carry.milestones,
            id_of=lambda m: m.milestone_id,
            subject_of=lambda m: "",
            seen_limit=500,
        )
        self._requests = RequestLedger(carry.requests)
        self._notify = Notifier(process.object.key, self._record)
        self._repairs = Repairable(self._record, self._notify)
        self._portal: PortalWorkspaceRequest | None = None
        self._answer: ProvisionAnswer | None = None
        self._filings = 0  # file_document Updates running
        self._applying = -1  # the version being applied right now

    # ------------------------------------------------------------------ story
    @workflow.run
    async def run(self, process: BusinessObjectInput) -> WorkspaceStatus:
        if process.resume is None:
            obj = self._object
            self._record.index_at_start(
                business_key=obj.key,
                source_record=obj.key,
                document_type=obj.bo_type,
                environment=process.environment,
                source_system=obj.ext_system_id,
            )
            self._record.record("started", process.started_by, obj.key)
        await run_story(self._story, on_cancel=self._temporal_cancel, record=self._record)
        return self.status()

    async def _story(self) -> None:
        carry = self._carry
        if carry.workspace is None:
            await self._provision()
        while True:
            self._record.set_state(S.IN_SYNC, f"changes of {self._object.key} in its source")
            await workflow.wait_condition(lambda: self._has_work() or self._due())
            if not self._has_work():
                await self._continue_as_new()
            await self._start_write_backs()
            for milestone in self._milestones.take(""):
                await self._milestone(milestone)
            if carry.pending is not None:
                event, carry.pending = carry.pending, None
                self._applying = event.version  # older events arriving meanwhile are stale
                try:
                    await self._apply(event)
                finally:
                    self._applying = -1

    def _has_work(self) -> bool:
        carry = self._carry
        return (
            carry.pending is not None
            or bool(carry.references)
            or bool(self._carry.milestones.buffered)
        )

    def _due(self) -> bool:
        return self._filings == 0 and history_due(self._input.history_budget)

    async def _continue_as_new(self) -> None:
        self._carry.runs += 1
        self._record.record("continued", "system", f"run {self._carry.runs}")
        await continue_as_new(
            self._input.model_copy(update={"resume": self._carry}), record=self._record
        )

    # ------------------------------------------------------------- provision
    async def _provision(self) -> None:
        """Plan and create (or adopt) the workspace; a refusal waits for a better event."""
        carry, obj = self._carry, self._object
        refused = False
        while True:
            if refused:
                self._record.set_state(
                    S.REFUSED, "a newer event of the object that can be provisioned", attention=True
                )
            else:
                self._record.set_state(
                    S.WAITING, "the business object's first event or a portal request"
                )
            await workflow.wait_condition(
                lambda: carry.pending is not None or self._portal is not None
            )
            event, portal = carry.pending, self._portal
            carry.pending = None
            if event is not None and event.kind is Closed:
                await self._finish(S.CLOSED, "deleted in its source before a workspace existed")
            request = (
                PlanRequest(
                    object=obj,
                    data=dict(portal.fields),
                    members=list(portal.members),
                    portal_type=portal.request_type,
                )
                if portal is not None
                else PlanRequest(object=obj, data=dict(event.data) if event else {})
            )
            self._record.set_state(S.PROVISIONING, "the workspace mapping and Content Server")
            result = await call(
                ValidationActivities.plan_workspace,
                request,
                validation.VALIDATE,
                summary=f"Map {obj.key} to its workspace (this environment's mapping)",
                record=self._record,
            )
            reasons = result.reasons
            workspace: ProvisionedWorkspace | str | None = None
            if result.accepted and result.plan is not None:
                workspace = await self._create(result.plan)
                if isinstance(workspace, str):
                    reasons = [workspace]
            if isinstance(workspace, ProvisionedWorkspace):
                assert result.plan is not None
                self._provisioned(result.plan, workspace, event)
                return
            await self._refused(reasons, event, portal)
            refused = True

    async def _create(self, plan: WorkspacePlan) -> ProvisionedWorkspace | str:
        """The workspace, or why it cannot be made (unknown members: nothing is created)."""
        refused: list[str] = []

        async def create() -> ProvisionedWorkspace | None:
            try:
                return await call(
                    ContentServerActivities.provision_workspace,
                    plan,
                    content_server.TRANSFER,
                    summary=f"Find or create the workspace of {plan.object.key} from template "
                    f"{plan.template_id}",
                    record=self._record,
                )
            except GaveUp as failure:
                if failure.error_type != "UnknownMembers":
                    raise
                refused.append(failure.reason)
                return None

        outcome = await self._repairs.run(
            create,
            name=f"provisioning of the workspace of {plan.object.key}",
            running=S.PROVISIONING,
            waiting=S.EXCEPTION,
            deadline=REPAIR_WINDOW,
        )
        if isinstance(outcome, ProvisionedWorkspace):
            return outcome
        return refused[0] if refused else f"provisioning gave up: {outcome}"

    def _provisioned(
        self,
        plan: WorkspacePlan,
        workspace: ProvisionedWorkspace,
        event: BusinessObjectEvent | None,
    ) -> None:
        carry = self._carry
        carry.plan, carry.workspace = plan, workspace
        if event is not None:  # created with this version's metadata
            carry.applied_version, carry.applied = event.version, carry.applied + 1
        self._record.record(
            "provisioned",
            "system",
            f"workspace {workspace.workspace_id} '{workspace.name}' {workspace.how} "
            f"(mapping {plan.config_version or 'unversioned'})",
        )
        self._answer = ProvisionAnswer(accepted=True, workspace=workspace)
        self._write_back(
            "workspace.provisioned",
            "provisioned",
            {"workspace": workspace.model_dump(mode="json")},
        )
        if plan.closing and event is not None:  # created already closed: close it at once
            carry.pending = event.model_copy(update={"event_id": f"{event.event_id}:close"})

    async def _refused(
        self,
        reasons: list[str],
        event: BusinessObjectEvent | None,
        portal: PortalWorkspaceRequest | None,
    ) -> None:
        why = "; ".join(reasons) or "refused"
        self._record.record("refused", "system", why)
        if portal is not None:
            self._answer = ProvisionAnswer(accepted=False, reasons=reasons)
            await self._finish(S.REFUSED, why)
        await self._notify.support(
            f"No workspace for {self._object.key}: {why}",
            key=f"refused:{event.version if event else 0}",
            reason=why,
        )

    # ------------------------------------------------------------------ sync
    async def _apply(self, event: BusinessObjectEvent) -> None:
        """Apply the newest version's fields to the workspace; close it if the object closed."""
        carry, plan, workspace = self._carry, self._carry.plan, self._carry.workspace
        assert plan is not None and workspace is not None
        status = event.data.get(plan.status_field)
        closing = event.kind is Closed or (
            status is not None and str(status) in plan.closing_statuses
        )
        values = category_values(plan.attributes, event.data)
        if values and event.kind is not Closed:
            update = MetadataUpdate(
                workspace_id=workspace.workspace_id,
                category_id=plan.category_id,
                values=values,
                source_version=event.version,
            )
            outcome = await self._repairs.run(
                lambda: call(
                    ContentServerActivities.update_workspace_metadata,
                    update,
                    content_server.CALL,
                    summary=f"Apply {self._object.key} version {event.version} to workspace "
                    f"{workspace.workspace_id}",
                    record=self._record,
                ),
                name=f"metadata update to version {event.version}",
                running=S.IN_SYNC,
                waiting=S.EXCEPTION,
                deadline=REPAIR_WINDOW,
            )
            if isinstance(outcome, str):  # abandoned: the next change brings newer values
                self._record.record("sync_abandoned", "system", f"v{event.version}: {outcome}")
                return
        carry.applied_version, carry.applied = event.version, carry.applied + 1
        self._record.record(
            "applied", self._object.ext_system_id, f"{event.kind.value} v{event.version}"
        )
        if closing:
            await self._close(event)

    async def _close(self, event: BusinessObjectEvent) -> None:
        """Close per policy (status, closing retention); governed content is never deleted."""
        plan, workspace = self._carry.plan, self._carry.workspace
        assert plan is not None and workspace is not None
        why = (
            "deleted in its source"
            if event.kind is Closed
            else f"status '{event.data.get(plan.status_field)}' in its source"
        )
        await self._repairs.run(
            lambda: call(
                ContentServerActivities.close_workspace,
                CloseWorkspaceInput(
                    workspace_id=workspace.workspace_id,
                    category_id=plan.category_id,
                    status_attribute=plan.status_attribute,
                    closed_value=plan.closed_value,
                    rm_classification_id=plan.closing_rm_classification_id,
                    reason=why,
                ),
                content_server.CALL,
                summary=f"Close workspace {workspace.workspace_id} ({why})",
                record=self._record,
            ),
            name="closing the workspace",
            running=S.IN_SYNC,
            waiting=S.EXCEPTION,
            deadline=REPAIR_WINDOW,
        )
        self._write_back(
            "workspace.closed",
            "closed",
            {"workspace_id": workspace.workspace_id, "reason": why},
        )
        await self._start_write_backs()
        await self._finish(S.CLOSED, f"workspace closed: {why}")

    # ------------------------------------------------------------ milestones
    async def _milestone(self, milestone: WorkspaceMilestone) -> None:
        """Tell the source record (status, content reference) and the responsible team."""
        plan = self._carry.plan
        assert plan is not None
        status = plan.milestone_statuses.get(milestone.kind.value) or milestone.status
        document = milestone.document
        what = f"{milestone.kind.value}" + (f" '{document.name}'" if document else "")
        self._record.record("milestone", milestone.actor, what)
        self._write_back(
            "workspace.milestone",
            f"milestone:{milestone.milestone_id}",
            {
                "milestone": {
                    "kind": milestone.kind.value,
                    "status": status,
                    "detail": milestone.detail,
                    "business_key": milestone.business_key,
                    "document": document.model_dump(mode="json") if document else None,
                }
            },
        )
        await self._start_write_backs()
        if plan.team:
            await self._notify(
                NotificationKind.WORKSPACE_MILESTONE,
                list(plan.team),
                f"{self._object.key}: {what}",
                key=f"milestone:{milestone.milestone_id}",
                data={
                    "milestone": milestone.kind.value,
                    "status": status or "",
                    "link": document.link if document else self._workspace_link(),
                },
            )

    # ------------------------------------------------------------ write-backs
    def _write_back(self, event_type: str, key: str, payload: dict[str, object]) -> None:
        plan = self._carry.plan
        if plan is None or plan.report_to is None:
            return
        self._carry.references.append(
            OutboundReference(
                event_type=event_type,
                key=f"{self._object.key}:{key}",
                payload={"object": self._object.model_dump(mode="json"), **payload},
            )
        )

    async def _start_write_backs(self) -> None:
        """One DeliveryWorkflow child per write-back: its own schedule and dead letter."""
        plan, carry = self._carry.plan, self._carry
        while carry.references and plan is not None and plan.report_to is not None:
            reference = carry.references[0]
            message = OutboundMessage(
                target=plan.report_to,
                event_type=reference.event_type,
                idempotency_key=reference.key,
                business_key=self._object.key,
                payload=reference.payload,
            )
            with contextlib.suppress(WorkflowAlreadyStartedError):  # that delivery runs already
                await workflow.start_child_workflow(
                    DeliveryWorkflow.run,
                    DeliveryInput(message=message, redelivery_window=REDELIVERY_WINDOW),
                    id=delivery_workflow_id(message),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    static_summary=f"Tell {message.target}: {message.event_type}",
                )
            carry.references.pop(0)
            self._record.record(
                "write_back", "system", f"{reference.event_type} to {plan.report_to}"
            )

    def _workspace_link(self) -> str:
        return self._carry.workspace.link if self._carry.workspace else ""

    # ------------------------------------------------------------------ end
    async def _finish(self, state: WorkspaceState, reason: str) -> None:
        self._carry.closed = state is S.CLOSED
        self._record.data.outcome_reason = reason
        self._record.set_state(state, "nothing (finished)")
        self._record.record("finished", "system", f"{state.value}: {reason}")
        raise ProcessEnded

    async def _temporal_cancel(self) -> None:
        """A Temporal cancel stops docflow's sync of this object; the workspace stays."""
        self._record.data.outcome_reason = "sync stopped by a Temporal cancellation"
        self._record.set_state(S.CLOSED, "nothing (sync stopped)")
        self._record.record("cancelled", "system", "sync stopped; the workspace is kept")

    # -------------------------------------------------------------- signals
    @workflow.signal(name="business_object_event")
    def business_object_event(self, event: BusinessObjectEvent) -> None:
        """A change of the object in its source: duplicates and stale versions are counted
        and ignored; the newest version waits to be applied (it supersedes older ones)."""
        carry = self._carry
        if carry.closed or event.object != self._object:
            carry.ignored += 1
            return
        if self._events.offer(event, keep=False) != "accepted":
            carry.ignored += 1
            self._record.record("ignored", event.object.ext_system_id, "duplicate event")
            return
        newest = max(
            carry.applied_version,
            self._applying,
            carry.pending.version if carry.pending else -1,
        )
        if event.version <= newest and event.kind is not Closed:
            carry.ignored += 1
            self._record.record(
                "ignored", event.object.ext_system_id, f"stale v{event.version} (have v{newest})"
            )
            return
        if carry.pending is not None:
            carry.ignored += 1  # superseded before it was applied: the newer snapshot wins
        carry.pending = event

    @workflow.signal(name="workspace_milestone")
    def workspace_milestone(self, milestone: WorkspaceMilestone) -> None:
        if self._carry.closed:
            return
        if self._milestones.offer(milestone) != "accepted":
            self._record.record("ignored", milestone.actor, f"duplicate milestone {milestone.kind}")

    # -------------------------------------------------------------- updates
    @workflow.update(name="provision")
    async def provision(self, request: PortalWorkspaceRequest) -> ProvisionAnswer:
        """A portal's request: answered with the workspace, or every reason it was refused."""
        self._requests.remember(request)
        if self._carry.workspace is not None:
            return ProvisionAnswer(accepted=True, workspace=self._carry.workspace)
        self._portal = request
        self._record.record("requested", request.requested_by, request.request_type)
        await workflow.wait_condition(lambda: self._answer is not None)
        assert self._answer is not None
        return self._answer

    @provision.validator
    def _validate_provision(self, request: PortalWorkspaceRequest) -> None:
        self._requests.check(request)
        if self._portal is not None and self._carry.workspace is None:
            raise ApplicationError("this request is being provisioned", type="Conflict")

    @workflow.update(name="file_document")
    async def file_document(self, filing: DocumentFiling) -> FiledDocument:
        """File a business system's document into the object's workspace (ECM keeps the
        authoritative copy); the source record gets the reference."""
        self._requests.remember(filing)
        carry = self._carry
        plan, workspace = carry.plan, carry.workspace
        assert plan is not None and workspace is not None
        self._filings += 1
        try:
            name = filing.name or filing.document.filename
            attributes = {
                **{k: str(v) for k, v in filing.metadata.items() if v is not None},
                "document_type": filing.document_type,
                "source_record": filing.source_record or self._object.key,
            }
            filed = await call(
                ContentServerActivities.file_document,
                FileDocumentInput(
                    workspace_id=workspace.workspace_id,
                    folder=plan.folder_for(filing.document_type),
                    name=name,
                    document=filing.document,
                    category_id=plan.document_category_id,
                    category_values=category_values(plan.document_attributes, attributes),
                    rm_classification_id=plan.rm_classification_id,
                ),
                content_server.TRANSFER,
                summary=f"File '{name}' ({filing.document_type}) into workspace "
                f"{workspace.workspace_id}",
            )
        except GaveUp as failure:
            raise ApplicationError(
                f"filing gave up: {failure.reason}", type="FilingFailed", non_retryable=True
            ) from None
        finally:
            self._filings -= 1
        self._record.record(
            "filed", filing.actor, f"'{filed.name}' v{filed.version} ({filed.outcome})"
        )
        if filed.outcome != "unchanged":
            self._write_back(
                "document.filed",
                f"filed:{filed.node_id}:{filed.version}",
                {"source_record": filing.source_record, "document": filed.model_dump(mode="json")},
            )
        return filed

    @file_document.validator
    def _validate_filing(self, filing: DocumentFiling) -> None:
        self._requests.check(filing)
        if self._carry.closed:
            raise ApplicationError("the workspace is closed", type="Conflict")
        if self._carry.workspace is None or self._carry.plan is None:
            raise ApplicationError(
                f"no workspace is provisioned for {self._object.key} yet", type="NotReady"
            )

    @workflow.update(name="repair")
    def repair(self, request: RepairRequest) -> UpdateAccepted:
        self._repairs.apply(request)
        return UpdateAccepted(state=self._record.state, detail=f"repair: {request.action}")

    @repair.validator
    def _validate_repair(self, request: RepairRequest) -> None:
        refusal = self._repairs.refusal(request)
        if refusal:
            raise ApplicationError(refusal, type="Conflict")

    # -------------------------------------------------------------- queries
    @workflow.query(name="status")
    def status(self) -> WorkspaceStatus:
        carry = self._carry
        return WorkspaceStatus.model_validate(
            {
                **self._record.summary_fields(),
                "object": self._object,
                "workspace": carry.workspace,
                "applied_version": carry.applied_version,
                "applied": carry.applied,
                "ignored": carry.ignored,
                "pending_events": int(carry.pending is not None),
            }
        )

    def _details(self) -> str:
        carry = self._carry
        workspace = carry.workspace
        lines = [
            f"Business object `{self._object.key}`",
            f"Workspace: {workspace.workspace_id} '{workspace.name}' ({workspace.how})"
            if workspace
            else "Workspace: not provisioned yet",
            f"Source version applied: {carry.applied_version} · changes applied "
            f"{carry.applied}, ignored {carry.ignored} · run {carry.runs}",
        ]
        return "\n\n".join(lines)
