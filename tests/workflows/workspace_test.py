"""BusinessObjectWorkflow on the time-skipping server, with stand-in systems: provisioning,
last-writer-wins sync, milestones and filings written back, closure, portal requests, and
continue-as-new without losing an event."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from docflow.config.bundle import load_bundle
from docflow.config.workspaces import WorkspaceMappings, plan_workspace
from docflow.models import Notification, RepairRequest
from docflow.models.delivery import OutboundMessage
from docflow.models.documents import DocumentRef
from docflow.models.workspaces import (
    BusinessObjectEvent,
    BusinessObjectEventKind,
    BusinessObjectInput,
    BusinessObjectRef,
    CloseWorkspaceInput,
    DocumentFiling,
    FiledDocument,
    FileDocumentInput,
    MetadataUpdate,
    MilestoneKind,
    PlanRequest,
    PlanResult,
    PortalWorkspaceRequest,
    ProvisionAnswer,
    ProvisionedWorkspace,
    RoleMembers,
    WorkspaceMilestone,
    WorkspacePlan,
    WorkspaceStatus,
)
from docflow.temporal import business_object_workflow_id
from tests.read_model_fake import record_process_change
from tests.workflows.kit.support import kit_worker
from workflows.delivery import DeliveryWorkflow
from workflows.workspace import BusinessObjectWorkflow

ACME = BusinessObjectRef(ext_system_id="SFDC", bo_type="Account", bo_id="0015ACME")
FIELDS = {"name": "Acme", "account_number": "A-1", "owner": "alice@example.com"}


class Systems:
    """Content Server, the source system and the notification service, recorded."""

    def __init__(self) -> None:
        self.mappings = load_bundle(check_secrets=False).get(WorkspaceMappings)
        self.created: list[WorkspacePlan] = []
        self.metadata: list[MetadataUpdate] = []
        self.closed: list[CloseWorkspaceInput] = []
        self.filed: dict[str, FiledDocument] = {}
        self.messages: list[OutboundMessage] = []
        self.notified: list[Notification] = []
        self.known_members = {"account-team", "legal", "alice@example.com", "bob@example.com"}

    @activity.defn(name="plan_workspace")
    async def plan(self, request: PlanRequest) -> PlanResult:
        return plan_workspace(self.mappings, request, portal_type=request.portal_type)

    @activity.defn(name="provision_workspace")
    async def provision(self, plan: WorkspacePlan) -> ProvisionedWorkspace:
        unknown = sorted({m for r in plan.roles for m in r.members} - self.known_members)
        if unknown:
            raise ApplicationError(
                f"unknown members: {', '.join(unknown)}", type="UnknownMembers", non_retryable=True
            )
        self.created.append(plan)
        return ProvisionedWorkspace(
            workspace_id=5000 + len(self.created), how="created", name=plan.name, link="http://x"
        )

    @activity.defn(name="update_workspace_metadata")
    async def update(self, update: MetadataUpdate) -> None:
        self.metadata.append(update)

    @activity.defn(name="close_workspace")
    async def close(self, request: CloseWorkspaceInput) -> None:
        self.closed.append(request)

    @activity.defn(name="file_document")
    async def file(self, request: FileDocumentInput) -> FiledDocument:
        before = self.filed.get(request.name)
        same = before is not None and before.sha256 == request.document.sha256
        filed = FiledDocument(
            node_id=before.node_id if before else 7000 + len(self.filed),
            version=(before.version + (0 if same else 1)) if before else 1,
            name=request.name,
            folder_id=1,
            link="http://x/node",
            sha256=request.document.sha256,
            outcome="unchanged" if same else "new_version" if before else "created",
        )
        self.filed[request.name] = filed
        return filed

    @activity.defn(name="deliver_message")
    async def deliver(self, message: OutboundMessage) -> None:
        self.messages.append(message)

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        self.notified.append(notification)

    def activities(self) -> list[object]:
        return [
            record_process_change,
            self.plan,
            self.provision,
            self.update,
            self.close,
            self.file,
            self.deliver,
            self.notify,
        ]

    def types(self) -> list[str]:
        return [m.event_type for m in self.messages]


def event(
    version: int,
    kind: BusinessObjectEventKind = BusinessObjectEventKind.UPDATED,
    event_id: str | None = None,
    obj: BusinessObjectRef = ACME,
    **fields: object,
) -> BusinessObjectEvent:
    return BusinessObjectEvent(
        event_id=event_id or f"msg_{version}_{uuid.uuid4().hex[:6]}",
        kind=kind,
        object=obj,
        version=version,
        occurred_at=datetime(2026, 11, 29, tzinfo=UTC),
        data={**FIELDS, **fields},  # type: ignore[dict-item]
    )


async def start(
    client: Client, task_queue: str, first: BusinessObjectEvent, **options: object
) -> WorkflowHandle[BusinessObjectWorkflow, WorkspaceStatus]:
    obj = first.object
    return await client.start_workflow(
        BusinessObjectWorkflow.run,
        BusinessObjectInput(object=obj, **options),  # type: ignore[arg-type]
        id=business_object_workflow_id(obj.ext_system_id, obj.bo_type, obj.bo_id)
        + uuid.uuid4().hex[:6],
        task_queue=task_queue,
        start_signal="business_object_event",
        start_signal_args=[first],
    )


async def until(check: object, handle: WorkflowHandle, within: float = 20) -> WorkspaceStatus:
    """Poll the status query until `check(status)` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        status = await handle.query(BusinessObjectWorkflow.status)
        if check(status):  # type: ignore[operator]
            return status
        assert loop.time() < deadline, f"never reached: {status.state} {status.audit[-3:]}"
        await asyncio.sleep(0.05)


def worker(env_client: Client, task_queue: str, systems: Systems):  # type: ignore[no-untyped-def]
    return kit_worker(
        env_client,
        task_queue,
        [BusinessObjectWorkflow, DeliveryWorkflow],
        systems.activities(),  # type: ignore[arg-type]
    )


async def test_first_event_provisions_and_tells_the_source(time_skipping_env, task_queue) -> None:
    systems, client = Systems(), time_skipping_env.client
    async with worker(client, task_queue, systems):
        handle = await start(client, task_queue, event(1, BusinessObjectEventKind.CREATED))
        status = await until(lambda s: s.state == "in_sync" and systems.messages, handle)
    assert status.workspace is not None and status.workspace.name == "Acme (0015ACME)"
    assert status.applied_version == 1
    [plan] = systems.created
    assert plan.category_values == {"1": "A-1", "2": "Acme", "3": "alice@example.com"}
    assert [r.members for r in plan.roles if r.role == "Account Team"] == [
        ["account-team", "alice@example.com"]
    ]
    [message] = systems.messages
    assert (message.target, message.event_type) == ("SFDC", "workspace.provisioned")
    assert message.payload["workspace"]["workspace_id"] == status.workspace.workspace_id


async def test_a_storm_ends_at_the_newest_version_each_change_applied_once(
    time_skipping_env, task_queue
) -> None:
    """Duplicates, reordering and stale versions: the workspace ends with the newest fields,
    metadata is only ever written forward, and every ignored event is counted."""
    systems, client = Systems(), time_skipping_env.client
    rng = random.Random(8)
    events = [event(v, name=f"Acme v{v}") for v in range(2, 60)]
    storm = events + [e.model_copy() for e in rng.sample(events, 20)]  # duplicates (same id)
    rng.shuffle(storm)
    async with worker(client, task_queue, systems):
        handle = await start(client, task_queue, event(1, BusinessObjectEventKind.CREATED))
        for e in storm:
            await handle.signal(BusinessObjectWorkflow.business_object_event, e)
        status = await until(lambda s: s.applied_version == 59 and not s.pending_events, handle)
    written = [u.source_version for u in systems.metadata]
    assert written == sorted(set(written)), f"metadata written backwards or twice: {written}"
    assert systems.metadata[-1].values["2"] == "Acme v59"
    assert status.applied + status.ignored == 1 + len(storm)
    assert len(systems.created) == 1


async def test_milestones_and_filings_reach_the_source_and_the_team(
    time_skipping_env, task_queue
) -> None:
    systems, client = Systems(), time_skipping_env.client
    doc = DocumentRef(key="sha256/ab/x", sha256="a" * 64, size=3, filename="nda.pdf")
    async with worker(client, task_queue, systems):
        handle = await start(client, task_queue, event(1, BusinessObjectEventKind.CREATED))
        await until(lambda s: s.state == "in_sync", handle)
        filed = await handle.execute_update(
            BusinessObjectWorkflow.file_document,
            DocumentFiling(document=doc, document_type="nda", source_record="Opportunity/1"),
        )
        again = await handle.execute_update(
            BusinessObjectWorkflow.file_document, DocumentFiling(document=doc, document_type="nda")
        )
        milestone = WorkspaceMilestone(
            milestone_id="CONTRACT-1:signed",
            kind=MilestoneKind.SIGNED,
            occurred_at=datetime(2026, 11, 29, tzinfo=UTC),
            business_key="CONTRACT-1",
            document=filed,
        )
        for _ in range(2):  # a repeat is applied once
            await handle.signal(BusinessObjectWorkflow.workspace_milestone, milestone)
        await until(lambda s: len(systems.messages) >= 3 and systems.notified, handle)
    assert (filed.outcome, again.outcome) == ("created", "unchanged")
    assert systems.types() == ["workspace.provisioned", "document.filed", "workspace.milestone"]
    signed = systems.messages[-1].payload["milestone"]
    assert signed["status"] == "Contract signed" and signed["document"]["node_id"] == filed.node_id
    [told] = systems.notified
    assert told.recipients == ["account-team@example.com"] and told.data["link"] == filed.link


async def test_the_objects_closure_closes_the_workspace_and_ends_the_sync(
    time_skipping_env, task_queue
) -> None:
    systems, client = Systems(), time_skipping_env.client
    async with worker(client, task_queue, systems):
        handle = await start(client, task_queue, event(1, BusinessObjectEventKind.CREATED))
        await handle.signal(
            BusinessObjectWorkflow.business_object_event,
            event(2, BusinessObjectEventKind.STATUS_CHANGED, status="Closed"),
        )
        result = await handle.result()
        for _ in range(100):  # the write-back is a child of its own, abandoned by the parent
            if len(systems.messages) == 2:
                break
            await asyncio.sleep(0.05)
    assert result.state == "closed" and "Closed" in result.outcome_reason
    [closing] = systems.closed
    assert (closing.status_attribute, closing.rm_classification_id) == ("5", 5003)
    assert systems.types() == ["workspace.provisioned", "workspace.closed"]


async def test_a_refused_object_waits_for_a_newer_event(time_skipping_env, task_queue) -> None:
    systems, client = Systems(), time_skipping_env.client
    async with worker(client, task_queue, systems):
        handle = await start(client, task_queue, event(1, BusinessObjectEventKind.CREATED, name=""))
        refused = await until(lambda s: s.state == "refused", handle)
        assert refused.attention and "field 'name' is required" in refused.audit[-1].detail
        await handle.signal(BusinessObjectWorkflow.business_object_event, event(2))
        status = await until(lambda s: s.state == "in_sync", handle)
    assert status.applied_version == 2 and len(systems.created) == 1
    assert any("No workspace" in n.subject for n in systems.notified)


async def test_a_portal_request_is_answered_with_the_workspace_or_every_reason(
    time_skipping_env, task_queue
) -> None:
    systems, client = Systems(), time_skipping_env.client
    obj = BusinessObjectRef(ext_system_id="PORTAL", bo_type="Onboarding", bo_id="REQ-1")
    bad = BusinessObjectRef(ext_system_id="PORTAL", bo_type="Onboarding", bo_id="REQ-2")
    async with worker(client, task_queue, systems):
        answers: list[ProvisionAnswer] = []
        for ref, request in (
            (
                obj,
                PortalWorkspaceRequest(
                    request_type="onboarding",
                    request_id="REQ-1",
                    fields={"name": "Globex", "region": "EMEA"},
                    members=[RoleMembers(role="Onboarding Team", members=["bob@example.com"])],
                ),
            ),
            (
                bad,
                PortalWorkspaceRequest(
                    request_type="onboarding",
                    request_id="REQ-2",
                    fields={"name": "Initech", "region": "EMEA"},
                    members=[RoleMembers(role="Onboarding Team", members=["mallory@example.com"])],
                ),
            ),
        ):
            handle = await client.start_workflow(
                BusinessObjectWorkflow.run,
                BusinessObjectInput(object=ref),
                id=f"bo:{ref.key}:{uuid.uuid4().hex[:6]}",
                task_queue=task_queue,
            )
            answers.append(await handle.execute_update(BusinessObjectWorkflow.provision, request))
        ended = await handle.result()
    good, refused = answers
    assert good.accepted and good.workspace is not None
    assert good.workspace.name == "Onboarding Globex (REQ-1)"
    assert not refused.accepted and refused.reasons == ["unknown members: mallory@example.com"]
    assert ended.state == "refused"
    assert [p.object.bo_id for p in systems.created] == ["REQ-1"]  # nothing made for REQ-2
    assert systems.messages == []  # portal types report to nobody: the answer is the report


@pytest.mark.parametrize("changes", [600])
async def test_continue_as_new_loses_no_event(time_skipping_env, task_queue, changes) -> None:
    systems, client = Systems(), time_skipping_env.client
    async with worker(client, task_queue, systems):
        handle = await start(
            client, task_queue, event(1, BusinessObjectEventKind.CREATED), history_budget=300
        )
        for version in range(2, changes + 2):
            await handle.signal(
                BusinessObjectWorkflow.business_object_event, event(version, name=f"v{version}")
            )
        status = await until(lambda s: s.applied_version == changes + 1, handle, within=60)
        assert "continued" in {entry.kind for entry in status.audit}
        latest = await client.get_workflow_handle(handle.id).describe()
    assert latest.run_id != handle.result_run_id  # a later run applied the last changes
    assert systems.metadata[-1].values["2"] == f"v{changes + 1}"
    assert len(systems.created) == 1


async def test_a_metadata_update_that_gives_up_waits_for_support_then_retries(
    time_skipping_env, task_queue
) -> None:
    """Content Server refuses an update: the object is flagged, support is told; support
    fixes it and retries, the change is applied; an abandoned one leaves the next to come."""
    systems, client = Systems(), time_skipping_env.client
    failing = {"on": True}
    plain_update = systems.update

    @activity.defn(name="update_workspace_metadata")
    async def update(request: MetadataUpdate) -> None:
        if failing["on"]:
            raise ApplicationError("category 9100 is locked", non_retryable=True)
        await plain_update(request)

    acts = [a for a in systems.activities() if a.__name__ != "update"] + [update]
    async with kit_worker(client, task_queue, [BusinessObjectWorkflow, DeliveryWorkflow], acts):
        handle = await start(client, task_queue, event(1, BusinessObjectEventKind.CREATED))
        await until(lambda s: s.state == "in_sync", handle)
        await handle.signal(BusinessObjectWorkflow.business_object_event, event(2, name="v2"))
        stuck = await until(lambda s: s.state == "workspace_exception", handle)
        assert stuck.attention and "category 9100 is locked" in stuck.waiting_for
        assert any("metadata update to version 2 failed" in n.subject for n in systems.notified)
        failing["on"] = False
        await handle.execute_update(
            BusinessObjectWorkflow.repair, RepairRequest(actor="ops", action="retry")
        )
        fixed = await until(lambda s: s.applied_version == 2 and s.state == "in_sync", handle)
        assert not fixed.attention and systems.metadata[-1].values["2"] == "v2"

        failing["on"] = True
        await handle.signal(BusinessObjectWorkflow.business_object_event, event(3, name="v3"))
        await until(lambda s: s.state == "workspace_exception", handle)
        await handle.execute_update(
            BusinessObjectWorkflow.repair, RepairRequest(actor="ops", action="abandon")
        )
        abandoned = await until(lambda s: s.state == "in_sync", handle)
    assert abandoned.applied_version == 2  # v3 was never applied; the next change brings it
    assert "sync_abandoned" in {e.kind for e in abandoned.audit}


async def test_a_filing_that_gives_up_is_refused_with_the_reason(
    time_skipping_env, task_queue
) -> None:
    systems, client = Systems(), time_skipping_env.client

    @activity.defn(name="file_document")
    async def file(request: FileDocumentInput) -> FiledDocument:
        raise ApplicationError("folder 'Contracts' is read-only", non_retryable=True)

    acts = [a for a in systems.activities() if a.__name__ != "file"] + [file]
    doc = DocumentRef(key="sha256/ab/x", sha256="a" * 64, size=3, filename="nda.pdf")
    async with kit_worker(client, task_queue, [BusinessObjectWorkflow, DeliveryWorkflow], acts):
        handle = await start(client, task_queue, event(1, BusinessObjectEventKind.CREATED))
        await until(lambda s: s.state == "in_sync", handle)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                BusinessObjectWorkflow.file_document,
                DocumentFiling(document=doc, document_type="nda"),
            )
        status = await handle.query(BusinessObjectWorkflow.status)
    assert "folder 'Contracts' is read-only" in str(refused.value.cause)
    assert status.state == "in_sync"  # the object's sync goes on
    assert [m.event_type for m in systems.messages] == ["workspace.provisioned"]
