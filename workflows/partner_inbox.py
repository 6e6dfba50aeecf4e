"""Partner inbox filing: one document a party uploaded, filed into its inbox folder.

The API has checked the party, the file's type, size and metadata, and stored the bytes; this
workflow files them with the same activity that files business documents (`file_document`,
into the inbox folder itself), so a retried or replayed run never makes a second node. An
inbox named by business object and folder path is resolved first (`resolve_inbox`: the
workspace bound to the object, the folder by name, made when missing), so the API never
writes to Content Server. The workflow id is the party and its request id: the same upload
again is the same filing.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.kit.calls import GaveUp, call
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.content_server import options as content_server
    from activities.content_server.activities import ContentServerActivities
    from activities.content_server.inbox import InboxFilingInput
    from docflow.models.workspaces import FiledDocument, FileDocumentInput


@workflow.defn(name="PartnerInboxFiling", versioning_behavior=behaviour("PartnerInboxFiling"))
class PartnerInboxWorkflow:
    @workflow.run
    async def run(self, upload: InboxFilingInput) -> FiledDocument:
        try:
            folder_id = upload.folder_id
            if upload.location is not None:
                resolved = await call(
                    ContentServerActivities.resolve_inbox,
                    upload.location,
                    content_server.CALL,
                    summary=f"Find inbox {upload.location.label}",
                )
                folder_id = resolved.folder_id
            if folder_id is None:
                raise ApplicationError(
                    "the upload names no inbox folder", type="InvalidUpload", non_retryable=True
                )
            item = FileDocumentInput(
                workspace_id=folder_id,  # the inbox folder itself: never another one
                folder=None,
                name=upload.name,
                document=upload.document,
                category_id=upload.category_id,
                category_values=upload.category_values,
            )
            return await call(
                ContentServerActivities.file_document,
                item,
                content_server.TRANSFER,
                summary=f"File partner upload '{item.name}' into folder {folder_id}",
            )
        except GaveUp as failure:
            raise ApplicationError(
                f"filing gave up: {failure.reason}", type="FilingFailed", non_retryable=True
            ) from None
