"""Activities for OpenText Extended ECM / Content Server: workspaces and archiving."""

from __future__ import annotations

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.http.error_mapping import external_call
from activities.http.errors import AlreadyExistsError
from docflow.docstore import DocumentStore
from docflow.models import ArchivedNode, ArchiveDocumentInput, WorkspaceRef, WorkspaceRequest
from docflow.models.workspaces import (
    CloseWorkspaceInput,
    FiledDocument,
    FileDocumentInput,
    FileDocumentsInput,
    MetadataUpdate,
    ProvisionedWorkspace,
    WorkspacePlan,
)
from docflow.settings import Settings


class ContentServerActivities:
    def __init__(self, client: ContentServerClient, store: DocumentStore) -> None:
        self._client = client
        self._store = store

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient, store: DocumentStore
    ) -> ContentServerActivities:
        """The activities under one service account's ticket, on the shared pool."""
        otcs = settings.content_server
        auth = OtcsTicketAuth(
            http,
            otcs.base_url,
            otcs.username,
            settings.secret(otcs.password),
            timeout_s=otcs.timeout_s,
        )
        client = ContentServerClient(http, otcs.base_url, auth, timeout_s=otcs.timeout_s)
        return cls(client, store)

    @activity.defn(name="ensure_business_workspace")
    async def ensure_business_workspace(self, request: WorkspaceRequest) -> WorkspaceRef:
        """Find the workspace bound to the business object, or create it from the template."""
        target, route = request.target, request.route
        bo = f"{target.ext_system_id}/{target.bo_type}/{target.bo_id}"
        with external_call(f"ensure business workspace for {bo}"):
            found = await self._client.find_workspace(
                target.ext_system_id, target.bo_type, target.bo_id
            )
            if found is not None:
                activity.logger.info("workspace %s exists for %s", found.properties.id, bo)
                return WorkspaceRef(id=found.properties.id, created=False)
            try:
                workspace_id = await self._client.create_workspace(
                    name=target.name,
                    template_id=route.workspace_template_id,
                    wksp_type_id=route.workspace_type_id,
                    parent_id=route.workspace_parent_id,
                    ext_system_id=target.ext_system_id,
                    bo_type=target.bo_type,
                    bo_id=target.bo_id,
                )
            except AlreadyExistsError:
                # Someone else created it between our lookup and our create.
                found = await self._client.find_workspace(
                    target.ext_system_id, target.bo_type, target.bo_id
                )
                if found is None:
                    raise ApplicationError(
                        f"workspace name {target.name!r} is taken in folder "
                        f"{route.workspace_parent_id}, but no workspace is bound to {bo}",
                        type="WorkspaceConflict",
                        non_retryable=True,
                    ) from None
                activity.logger.info(
                    "workspace %s was created concurrently for %s", found.properties.id, bo
                )
                return WorkspaceRef(id=found.properties.id, created=False)
        activity.logger.info(
            "created workspace %s (%r) for %s from template %s",
            workspace_id,
            target.name,
            bo,
            route.workspace_template_id,
        )
        return WorkspaceRef(id=workspace_id, created=True)

    @activity.defn(name="archive_document")
    async def archive_document(self, request: ArchiveDocumentInput) -> ArchivedNode:
        """Upload once with its category values and retention; a retry finds it by name."""
        where = f"{request.name!r} in workspace {request.workspace_id}"
        with external_call(f"archive {where}"):
            existing = await self._client.find_child_by_name(request.workspace_id, request.name)
            if existing is not None:
                activity.logger.info("%s exists already as node %s", where, existing.id)
                # An earlier attempt may have uploaded it and failed before classifying it.
                await self._classify(existing.id, request.rm_classification_id)
                return ArchivedNode(node_id=existing.id, created=False)
            content = await self._store.get(request.document)
            categories = {
                f"{request.category_id}_{attr}": value
                for attr, value in request.category_values.items()
            }
            try:
                node = await self._client.upload_document(
                    parent_id=request.workspace_id,
                    name=request.name,
                    content=content,
                    content_type=request.document.content_type,
                    categories=categories,
                    description=f"sha256 {request.document.sha256}",
                )
            except AlreadyExistsError:
                existing = await self._client.find_child_by_name(request.workspace_id, request.name)
                if existing is None:
                    raise
                activity.logger.info("%s was archived concurrently as %s", where, existing.id)
                await self._classify(existing.id, request.rm_classification_id)
                return ArchivedNode(node_id=existing.id, created=False)
            await self._classify(node.id, request.rm_classification_id)
        activity.logger.info(
            "archived %s as node %s (%d bytes, category %s, RM class %s)",
            where,
            node.id,
            len(content),
            request.category_id,
            request.rm_classification_id,
        )
        return ArchivedNode(node_id=node.id, created=True)

    # ------------------------------------------------ business workspaces (issue 8)
    @activity.defn(name="provision_workspace")
    async def provision_workspace(self, plan: WorkspacePlan) -> ProvisionedWorkspace:
        """Look up by business object (expanded view) → create from the template → on failure
        look up again; adopt a bound one, bind an unbound one of that name; members, role
        permissions and retention applied idempotently. Unknown members: non-retryable
        `UnknownMembers` before anything is created."""
        raise NotImplementedError("provision_workspace")

    @activity.defn(name="update_workspace_metadata")
    async def update_workspace_metadata(self, update: MetadataUpdate) -> None:
        """Set the workspace's category values (the newest source version's)."""
        raise NotImplementedError("update_workspace_metadata")

    @activity.defn(name="file_document")
    async def file_document(self, request: FileDocumentInput) -> FiledDocument:
        """A new node, a new version when the bytes differ, nothing when they are the same."""
        raise NotImplementedError("file_document")

    @activity.defn(name="file_documents")
    async def file_documents(self, batch: FileDocumentsInput) -> list[FiledDocument]:
        """`file_document` for a batch (case assembly), optionally deduplicated by SHA-256."""
        raise NotImplementedError("file_documents")

    @activity.defn(name="close_workspace")
    async def close_workspace(self, request: CloseWorkspaceInput) -> None:
        """Close per policy: status value, closing classification; content is never deleted."""
        raise NotImplementedError("close_workspace")

    async def _classify(self, node_id: int, class_id: int | None) -> None:
        """Apply the records-management classification; applying it twice changes nothing."""
        if class_id is None:
            return
        try:
            await self._client.apply_rm_classification(node_id, class_id)
        except AlreadyExistsError:
            activity.logger.info("node %s already has RM classification %s", node_id, class_id)
