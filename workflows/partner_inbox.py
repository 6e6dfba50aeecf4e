"""Partner inbox filing: one document a party uploaded, filed into its inbox folder.

The API has checked the party, the file's type, size and metadata, and stored the bytes; this
workflow files them with the same activity that files business documents (`file_document`,
into the inbox folder itself), so a retried or replayed run never makes a second node. The
workflow id is the party and its request id: the same upload again is the same filing.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.kit.calls import GaveUp, call

with workflow.unsafe.imports_passed_through():
    from activities.content_server import options as content_server
    from activities.content_server.activities import ContentServerActivities
    from docflow.models.workspaces import FiledDocument, FileDocumentInput


@workflow.defn(name="PartnerInboxFiling")
class PartnerInboxWorkflow:
    @workflow.run
    async def run(self, item: FileDocumentInput) -> FiledDocument:
        try:
            return await call(
                ContentServerActivities.file_document,
                item,
                content_server.TRANSFER,
                summary=f"File partner upload '{item.name}' into folder {item.workspace_id}",
            )
        except GaveUp as failure:
            raise ApplicationError(
                f"filing gave up: {failure.reason}", type="FilingFailed", non_retryable=True
            ) from None
