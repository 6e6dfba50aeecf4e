"""Activities for OpenText Extended ECM / Content Server: workspaces and archiving."""

from __future__ import annotations

from temporalio import activity

from docflow.models import ArchivedNode, ArchiveDocumentInput, WorkspaceRef, WorkspaceRequest


class ContentServerActivities:
    @activity.defn(name="ensure_business_workspace")
    async def ensure_business_workspace(self, request: WorkspaceRequest) -> WorkspaceRef:
        raise NotImplementedError

    @activity.defn(name="archive_document")
    async def archive_document(self, request: ArchiveDocumentInput) -> ArchivedNode:
        raise NotImplementedError
