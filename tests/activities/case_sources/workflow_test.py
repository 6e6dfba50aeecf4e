"""The case workflows on the real case-source activities: the mail archive and the forms
portal simulators over HTTP, the ERP stand-in, the document store on disk. Planning the
workspace, provisioning and filing (other changes) are stand-ins that keep what they get."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from docflow.config.bundle import load_bundle
from docflow.config.workspaces import WorkspaceMappings, plan_workspace
from docflow.docstore import LocalDocumentStore
from docflow.models import Notification
from docflow.models.workspaces import (
    CaseAssemblyInput,
    CaseRequest,
    CaseStatus,
    FiledDocument,
    FileDocumentInput,
    FileDocumentsInput,
    PlanRequest,
    PlanResult,
    ProvisionedWorkspace,
    WorkspacePlan,
)
from docflow.temporal import case_workflow_id
from tests.activities.case_sources.conftest import ErpStandIn, activities_for
from tests.activities.simulated import Sim
from tests.read_model_fake import record_process_change
from workflows.case_assembly import CaseAssemblyWorkflow, CaseSourceWorkflow, CaseState


class Ecm:
    """Plans with the bundle, provisions workspace 42, files by name (and SHA-256)."""

    def __init__(self, config_dir: Path) -> None:
        self.mappings = load_bundle("local", config_dir, check_secrets=False).get(WorkspaceMappings)
        self.filed: list[FileDocumentInput] = []

    @activity.defn(name="plan_workspace")
    async def plan(self, request: PlanRequest) -> PlanResult:
        return plan_workspace(self.mappings, request)

    @activity.defn(name="provision_workspace")
    async def provision(self, plan: WorkspacePlan) -> ProvisionedWorkspace:
        return ProvisionedWorkspace(workspace_id=42, how="created", name=plan.name, link="x")

    @activity.defn(name="file_documents")
    async def file_documents(self, batch: FileDocumentsInput) -> list[FiledDocument]:
        results = []
        for one in batch.items:
            twin = next(
                (
                    f
                    for f in self.filed
                    if f.folder == one.folder and f.document.sha256 == one.document.sha256
                ),
                None,
            )
            if twin is None:
                self.filed.append(one)
            results.append(
                FiledDocument(
                    node_id=len(self.filed),
                    version=1,
                    name=(twin or one).name,
                    folder_id=1,
                    link="x",
                    sha256=one.document.sha256,
                    outcome="unchanged" if twin else "created",
                )
            )
        return results

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        return None

    def activities(self) -> list[Callable[..., object]]:
        return [record_process_change, self.plan, self.provision, self.file_documents, self.notify]


async def test_a_claim_is_gathered_from_the_simulators_into_the_store(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    config_dir: Path,
    http: httpx.AsyncClient,
    store: LocalDocumentStore,
    mail_sim: Sim,
    forms_sim: Sim,
    erp: ErpStandIn,
) -> None:
    case_id = f"CLM-{uuid.uuid4().hex[:6]}"
    await mail_sim.control(
        "POST",
        "/seed",
        json={
            "case_reference": case_id,
            "count": 30,
            "attachments_per_message": 3,
            "duplicates": 1,
        },
    )
    await forms_sim.control("POST", "/seed", json={"case_reference": case_id, "count": 3})
    erp.seed(case_id, 5)
    photo = await store.put(
        b"%PDF-1.4\n% photo\n%%EOF\n", filename="photo.pdf", content_type="application/pdf"
    )
    cases, ecm = activities_for(config_dir, http, store), Ecm(config_dir)
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[CaseAssemblyWorkflow, CaseSourceWorkflow],
        activities=[
            cases.plan_case,
            cases.list_case_items,
            cases.fetch_case_items,
            *ecm.activities(),
        ],
    ):
        handle = await time_skipping_env.client.start_workflow(
            CaseAssemblyWorkflow.run,
            CaseAssemblyInput(
                request=CaseRequest(
                    case_type="claims", case_id=case_id, title="Hail", attachments=[photo]
                ),
                environment="local",
            ),
            id=case_workflow_id("claims", case_id),
            task_queue=task_queue,
        )
        status: CaseStatus = await handle.result()

    assert status.state == CaseState.ASSEMBLED, status.outcome_reason
    by_source = {p.source: p for p in status.sources}
    # 31 messages (30 + a forward), 91 attachments (the forward's is a copy: skipped).
    assert (by_source["mail_archive"].listed, by_source["mail_archive"].filed) == (122, 121)
    assert by_source["mail_archive"].duplicates == 1
    assert by_source["forms_portal"].filed == 3 and by_source["erp_history"].filed == 5
    assert by_source["attachments"].filed == 1
    assert status.items_filed == 130
    names = [f.name for f in ecm.filed]
    assert len(names) == len(set(names)) == 130
    assert all(":" not in name and "/" not in name for name in names)
    folders = {f.folder for f in ecm.filed}
    assert folders == {"E-mails", "Forms", "Transactions", "Attachments"}
    transaction = next(f for f in ecm.filed if f.folder == "Transactions")
    assert transaction.category_id == 9300
    assert transaction.category_values == {
        "1": "transactions",
        "2": case_id,
        "3": "erp_history:TX/1",
    }
    assert transaction.rm_classification_id == 5004
    for filed in ecm.filed:  # every filed reference points at verified bytes in the store
        assert len(await store.get(filed.document)) == filed.document.size
