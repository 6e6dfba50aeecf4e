"""Partner inboxes named by business object and folder path, resolved in Content Server.

A party's inbox may be configured as "the folder 'Inbox/From supplier' of the workspace of
SAP / Supplier / V-1001" instead of fixed node ids, which differ between environments (and
between runs of the embedded simulator). The `resolve_inbox` activity finds the workspace
bound to the business object and walks the folder path by name, making a missing folder
(a concurrent "already exists" means "look it up again"), so a retry never makes a second
one. It never creates a workspace: a party's inbox lives only in a workspace that exists.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from temporalio.exceptions import ApplicationError

from activities.content_server.client import ContentServerClient
from activities.content_server.filing import Filer
from docflow.models.documents import DocumentRef


class InboxLocation(BaseModel):
    """An inbox folder by the business object of its workspace and a path of folder names."""

    ext_system_id: str = Field(min_length=1, max_length=80)
    bo_type: str = Field(min_length=1, max_length=80)
    bo_id: str = Field(min_length=1, max_length=80)
    folder: list[str] = Field(min_length=1, max_length=10, examples=[["Inbox", "From supplier"]])

    @property
    def label(self) -> str:
        return f"'{'/'.join(self.folder)}' of {self.ext_system_id}/{self.bo_type}/{self.bo_id}"


class ResolvedInbox(BaseModel):
    workspace_id: int
    folder_id: int


class InboxFilingInput(BaseModel):
    """One party upload to file: into `folder_id`, or into the folder `location` resolves to
    when it is filed (exactly one of them)."""

    name: str
    document: DocumentRef
    category_id: int | None = None
    category_values: dict[str, str] = Field(default_factory=dict)
    folder_id: int | None = None
    location: InboxLocation | None = None

    @property
    def where(self) -> str:
        return self.location.label if self.location else f"folder {self.folder_id}"


async def resolve_inbox(
    client: ContentServerClient, filer: Filer, location: InboxLocation
) -> ResolvedInbox:
    """The workspace of the business object and the folder at the path inside it (made when
    missing); a missing workspace or a path through a document fails for good."""
    found = await client.find_workspace(location.ext_system_id, location.bo_type, location.bo_id)
    if found is None:
        raise ApplicationError(
            f"no workspace for business object {location.ext_system_id}/{location.bo_type}/"
            f"{location.bo_id}",
            type="WorkspaceNotFound",
            non_retryable=True,
        )
    workspace_id = found.properties.id
    folder_id = workspace_id
    for name in location.folder:
        folder_id = await filer.folder_id(folder_id, name)
    return ResolvedInbox(workspace_id=workspace_id, folder_id=folder_id)
