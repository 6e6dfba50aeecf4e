"""Activities for OpenText Extended ECM / Content Server: workspaces and archiving.

Thin: the logic lives in `provisioning` (workspaces, roles, retention) and `filing`
(documents, versions), which the signing workflow's `ensure_business_workspace` and
`archive_document` share with the business-workspace activities."""

from __future__ import annotations

import httpx
from temporalio import activity

from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.content_server.filing import Filer
from activities.content_server.inbox import InboxLocation, ResolvedInbox, resolve_inbox
from activities.content_server.provisioning import (
    SETTLE_S,
    Provisioner,
    WorkspaceSpec,
    flat_categories,
    node_link,
)
from activities.http.error_mapping import external_call
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
    def __init__(
        self,
        client: ContentServerClient,
        store: DocumentStore,
        *,
        ui_url: str | None = None,
        settle_s: float = SETTLE_S,
    ) -> None:
        self._client = client
        self._store = store
        self._ui_url = ui_url
        self._provisioner = Provisioner(client, settle_s=settle_s)
        self._filer = Filer(client, store, self._provisioner, self._link)

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
        return cls(client, store, ui_url=otcs.ui_url)

    def _link(self, node_id: int) -> str:
        return node_link(self._client.base_url, self._ui_url, node_id)

    # ------------------------------------------------------------ signing (issue 7)
    @activity.defn(name="ensure_business_workspace")
    async def ensure_business_workspace(self, request: WorkspaceRequest) -> WorkspaceRef:
        """Find the workspace bound to the business object, or create it from the template
        (the same mechanism as `provision_workspace`, without roles or retention)."""
        target, route = request.target, request.route
        spec = WorkspaceSpec(
            ext_system_id=target.ext_system_id,
            bo_type=target.bo_type,
            bo_id=target.bo_id,
            name=target.name,
            workspace_type_id=route.workspace_type_id,
            template_id=route.workspace_template_id,
            parent_id=route.workspace_parent_id,
        )
        with external_call(f"ensure business workspace for {spec.key}"):
            ensured = await self._provisioner.ensure_workspace(spec)
        return WorkspaceRef(id=ensured.id, created=ensured.how == "created")

    @activity.defn(name="archive_document")
    async def archive_document(self, request: ArchiveDocumentInput) -> ArchivedNode:
        """Upload once with its category values and retention; a retry finds it by name and,
        its bytes being the same, writes nothing (but retention)."""
        item = FileDocumentInput(
            workspace_id=request.workspace_id,
            folder=request.folder,
            name=request.name,
            document=request.document,
            category_id=request.category_id,
            category_values=request.category_values,
            rm_classification_id=request.rm_classification_id,
        )
        with external_call(f"archive {request.name!r} in workspace {request.workspace_id}"):
            filed = await self._filer.file(item)
        return ArchivedNode(
            node_id=filed.node_id,
            created=filed.outcome == "created",
            link=filed.link,
            version=filed.version,
        )

    # ------------------------------------------------ business workspaces (issue 8)
    @activity.defn(name="provision_workspace")
    async def provision_workspace(self, plan: WorkspacePlan) -> ProvisionedWorkspace:
        """Look up by business object (expanded view) → create from the template → on failure
        look up again; adopt a bound one, bind an unbound one of that name; members, role
        permissions and retention applied idempotently. Unknown members: non-retryable
        `UnknownMembers` before anything is created."""
        spec = WorkspaceSpec(
            ext_system_id=plan.object.ext_system_id,
            bo_type=plan.object.bo_type,
            bo_id=plan.object.bo_id,
            name=plan.name,
            workspace_type_id=plan.workspace_type_id,
            template_id=plan.template_id,
            parent_id=plan.parent_id,
            categories=flat_categories(plan.category_id, plan.category_values),
        )
        with external_call(f"provision workspace for {spec.key}"):
            member_ids = await self._provisioner.resolve_members(plan.roles)
            ensured = await self._provisioner.ensure_workspace(spec)
            await self._provisioner.apply_roles(ensured.id, plan.roles, member_ids)
            await self._provisioner.classify(ensured.id, plan.rm_classification_id)
        return ProvisionedWorkspace(
            workspace_id=ensured.id,
            how=ensured.how,
            name=ensured.name,
            link=self._link(ensured.id),
        )

    @activity.defn(name="update_workspace_metadata")
    async def update_workspace_metadata(self, update: MetadataUpdate) -> None:
        """Set the workspace's category values (the newest source version's)."""
        values = flat_categories(update.category_id, update.values)
        if not values:
            return
        with external_call(f"update metadata of workspace {update.workspace_id}"):
            await self._client.set_categories(update.workspace_id, update.category_id, values)
        activity.logger.info(
            "workspace %s: category %s set from source version %s",
            update.workspace_id,
            update.category_id,
            update.source_version,
        )

    @activity.defn(name="file_document")
    async def file_document(self, request: FileDocumentInput) -> FiledDocument:
        """A new node, a new version when the bytes differ, nothing when they are the same."""
        where = f"{request.name!r} in workspace {request.workspace_id}"
        with external_call(f"file {where}"):
            return await self._filer.file(request)

    @activity.defn(name="resolve_inbox")
    async def resolve_inbox(self, location: InboxLocation) -> ResolvedInbox:
        """A partner inbox by business object and folder path: the workspace bound to the
        object, the folder inside it (made when missing)."""
        with external_call(f"resolve inbox {location.label}"):
            return await resolve_inbox(self._client, self._filer, location)

    @activity.defn(name="file_documents")
    async def file_documents(self, batch: FileDocumentsInput) -> list[FiledDocument]:
        """`file_document` for a batch (case assembly), optionally deduplicated by SHA-256."""
        with external_call(f"file {len(batch.items)} documents in workspace {batch.workspace_id}"):
            return await self._filer.file_all(
                batch.workspace_id, batch.items, dedupe_sha256=batch.dedupe_sha256
            )

    @activity.defn(name="close_workspace")
    async def close_workspace(self, request: CloseWorkspaceInput) -> None:
        """Close per policy: status value, closing classification; content is never deleted."""
        with external_call(f"close workspace {request.workspace_id}"):
            if request.status_attribute:
                await self._client.set_categories(
                    request.workspace_id,
                    request.category_id,
                    {f"{request.category_id}_{request.status_attribute}": request.closed_value},
                )
            await self._provisioner.classify(
                request.workspace_id, request.rm_classification_id, apply_to_sub_items=True
            )
        activity.logger.info(
            "closed workspace %s (%s): status %r, RM class %s",
            request.workspace_id,
            request.reason or "no reason given",
            request.closed_value if request.status_attribute else None,
            request.rm_classification_id,
        )
