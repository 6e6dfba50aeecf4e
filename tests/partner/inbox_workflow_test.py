"""The durable path: an inbox upload starts `PartnerInboxFiling`, whose `file_document`
activity files the bytes into the inbox folder (the Filer against the simulator)."""

from __future__ import annotations

import json

from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from docflow.models.workspaces import FiledDocument, FileDocumentInput
from starter.api.context import TemporalConnection
from tests.partner.conftest import ACME, PDF_V1, Stack, sha
from workflows.partner_inbox import PartnerInboxWorkflow


async def test_an_upload_is_filed_by_the_partner_inbox_workflow(
    stack: Stack, time_skipping_env: WorkflowEnvironment
) -> None:
    filer = stack.inbox.filer
    filed_items: list[FileDocumentInput] = []

    @activity.defn(name="file_document")
    async def file_document(item: FileDocumentInput) -> FiledDocument:
        filed_items.append(item)
        return await filer.file(item)

    del stack.app.state.partner_inbox  # the API starts the workflow itself
    stack.app.state.docflow.temporal = TemporalConnection(time_skipping_env.client)
    settings = stack.app.state.docflow.settings
    async with Worker(
        time_skipping_env.client,
        task_queue=settings.temporal.task_queue,
        workflows=[PartnerInboxWorkflow],
        activities=[file_document],
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(
                "docflow", "activities", "workflows.kit"
            )
        ),
    ):
        response = await stack.api.post(
            "/v1/partner/inbox/30001",
            headers=ACME,
            data={
                "request_id": "WF-1",
                "metadata": json.dumps({"document_type": "invoice", "source_id": "INV-7"}),
            },
            files={"file": ("delivery-note.pdf", PDF_V1, "application/pdf")},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["document"]["folder_id"] == 2001
        assert body["document"]["sha256"] == sha(PDF_V1)
        handle = time_skipping_env.client.get_workflow_handle("partner-inbox-acme-supplies-WF-1")
        assert (await handle.describe()).workflow_type == "PartnerInboxFiling"
        status = await stack.api.get("/v1/partner/inbox/30001/uploads/WF-1", headers=ACME)
        assert status.json()["status"] == "filed"
    assert [i.workspace_id for i in filed_items] == [2001]
    node = await stack.cs.get_node(body["document"]["node_id"])
    assert node.properties.parent_id == 2001
