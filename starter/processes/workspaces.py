"""`BusinessObjects`: the workspace process of each business object — its events, portal
requests, filed documents, milestones, repairs and status.

The business-object receiver, the portal and document routes, the CLI and other processes
(signing's milestones) all go through it: ids, signal-with-start and error mapping live here.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from docflow import search_attributes as sa
from docflow.config.bundle import BundleReader, bundle_reader
from docflow.config.source_systems import SourceSystems
from docflow.config.workspaces import WorkspaceMappings, plan_workspace
from docflow.docstore import DocumentStore
from docflow.models import RepairRequest, UpdateAccepted
from docflow.models.workspaces import (
    BusinessObjectEvent,
    BusinessObjectInput,
    BusinessObjectRef,
    DocumentFiling,
    FiledDocument,
    PlanRequest,
    PortalWorkspaceRequest,
    ProvisionAnswer,
    WorkspaceMilestone,
    WorkspaceStatus,
)
from docflow.settings import Settings
from docflow.temporal import business_object_workflow_id
from starter.processes.base import (
    Delivery,
    DocumentNotStored,
    InvalidProcessInput,
    ProcessClient,
)


class BusinessObjects(ProcessClient):
    """The long-lived workspace processes of one environment, keyed by business object."""

    workflow_type = "BusinessObjectWorkflow"
    process_name = "business-object workspace process"

    def __init__(
        self,
        client: Client,
        settings: Settings,
        store: DocumentStore,
        config: BundleReader | None = None,
    ) -> None:
        super().__init__(client, settings)
        self.store = store
        self._config = config or bundle_reader(settings)

    def workflow_id(self, key: str) -> str:
        ext_system_id, bo_type, bo_id = key.split("/", 2)
        return business_object_workflow_id(ext_system_id, bo_type, bo_id)

    def _start_arg(self, obj: BusinessObjectRef, started_by: str) -> BusinessObjectInput:
        return BusinessObjectInput(
            object=obj, environment=self.settings.profile, started_by=started_by
        )

    def _attributes(self, obj: BusinessObjectRef) -> TypedSearchAttributes:
        return TypedSearchAttributes(
            [
                SearchAttributePair(sa.BUSINESS_KEY, obj.key),
                SearchAttributePair(sa.SOURCE_RECORD, obj.key),
                SearchAttributePair(sa.DOCUMENT_TYPE, obj.bo_type),
                SearchAttributePair(sa.ENVIRONMENT, self.settings.profile),
                SearchAttributePair(sa.SOURCE_SYSTEM, obj.ext_system_id),
                SearchAttributePair(sa.STATUS, "waiting_for_object"),
            ]
        )

    # ------------------------------------------------------------- events
    async def deliver_event(self, event: BusinessObjectEvent) -> Delivery:
        """Signal-with-start the object's workflow; "ignored" once its workspace is closed."""
        obj = event.object
        try:
            await self.signal_with_start(
                obj.key,
                "business_object_event",
                event,
                self._start_arg(obj, f"{obj.ext_system_id} event {event.event_id}"),
                search_attributes=self._attributes(obj),
                static_summary=f"Workspace of {obj.bo_type} {obj.bo_id} ({obj.ext_system_id})",
                # A closed workspace (the object was deleted or closed) is never re-created
                # by a late event; within Temporal's retention the closed run answers.
                reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return "ignored"
        return "accepted"

    async def milestone(self, obj: BusinessObjectRef, milestone: WorkspaceMilestone) -> Delivery:
        return await self.signal(obj.key, "workspace_milestone", milestone)

    # ------------------------------------------------------------- portal
    async def provision(
        self, request: PortalWorkspaceRequest, actor: str, request_id: str | None
    ) -> ProvisionAnswer:
        obj = await portal_object(self._config, request)
        request = request.model_copy(update={"requested_by": actor})
        return await self.update_with_start(
            obj.key,
            "provision",
            request,
            self._start_arg(obj, actor),
            result_type=ProvisionAnswer,
            request_id=request_id,
            search_attributes=self._attributes(obj),
            static_summary=f"Portal request {request.request_type} {request.request_id}",
        )

    # ---------------------------------------------------------- documents
    async def file_document(
        self, obj: BusinessObjectRef, filing: DocumentFiling, request_id: str | None
    ) -> FiledDocument:
        try:
            stored = await self.store.exists(filing.document)
        except ValueError:
            stored = False
        if not stored:
            raise DocumentNotStored(
                f"document {filing.document.key} is not in the document store; upload it first"
            )
        return await self.update(
            obj.key, "file_document", filing, result_type=FiledDocument, request_id=request_id
        )

    # ---------------------------------------------------------- operators
    async def repair(self, obj: BusinessObjectRef, request: RepairRequest) -> UpdateAccepted:
        return await self.update(obj.key, "repair", request, result_type=UpdateAccepted)

    async def status(self, obj: BusinessObjectRef) -> WorkspaceStatus:
        return await self.query(obj.key, "status", result_type=WorkspaceStatus)


# ------------------------------------------------------------ the mapping (no Temporal needed)
async def event_secret(config: BundleReader, system: str) -> str | None:
    """The secret reference that verifies `system`'s events (None: it sends none)."""
    bundle = await config.current()
    entry = bundle.get(SourceSystems).systems.get(system)
    return entry.event_secret if entry is not None else None


async def is_mapped(config: BundleReader, obj: BusinessObjectRef) -> bool:
    """Does this environment provision workspaces for the object's type?"""
    bundle = await config.current()
    return obj.type_key in bundle.get(WorkspaceMappings).types


async def portal_object(config: BundleReader, request: PortalWorkspaceRequest) -> BusinessObjectRef:
    """The business object a portal request becomes, once the mapping accepts the request
    (every reason it does not: 422, before anything starts)."""
    bundle = await config.current()
    mappings = bundle.get(WorkspaceMappings)
    spec = mappings.portal_requests.get(request.request_type)
    if spec is None:
        known = ", ".join(sorted(mappings.portal_requests)) or "none"
        raise InvalidProcessInput(f"unknown request type {request.request_type!r} (known: {known})")
    ext_system_id, bo_type = spec.workspace.split("/", 1)
    obj = BusinessObjectRef(ext_system_id=ext_system_id, bo_type=bo_type, bo_id=request.request_id)
    result = plan_workspace(
        mappings,
        PlanRequest(
            object=obj,
            data=dict(request.fields),
            members=list(request.members),
            portal_type=request.request_type,
        ),
    )
    if not result.accepted:
        raise InvalidProcessInput("; ".join(result.reasons))
    return obj
