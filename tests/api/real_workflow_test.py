"""The API driving the real SigningWorkflow (stand-in activities): start, decide, callbacks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from docflow.docstore import LocalDocumentStore
from docflow.models import (
    ArchivedNode,
    ArchiveDocumentInput,
    ConfirmedClaim,
    CreateSignatureInput,
    DocumentRef,
    Notification,
    RoutingDecision,
    SignatureDocumentStatus,
    SignatureEventClaim,
    SignatureRequestCreated,
    SignedArtifacts,
    SignerOutcome,
    SigningProcessInput,
    SigningState,
    SourceReport,
    ValidationResult,
    WorkspaceRef,
    WorkspaceRequest,
)
from docflow.settings import Settings
from starter.api import create_app
from tests.api.conftest import auth, make_settings
from tests.api.support import (
    PDF,
    callback,
    new_key,
    signals_received,
    signing_request,
    wait_until,
    workflow,
)
from tests.read_model_fake import record_process_change
from workflows.kit.signature import MAX_PROGRESS_EVENTS
from workflows.signing import SigningWorkflow

ALICE = "alice@example.com"
ROUTE = RoutingDecision(
    rules_version="api-test",
    rule="sales-contracts",
    signature_template="t",
    sender_email="contracts@example.com",
    workspace_parent_id=1,
    workspace_type_id=2,
    workspace_template_id=3,
    category_id=4,
    rm_classification_id=5,
)


class Systems:
    """Instant stand-ins for every external system, under the real activity names."""

    def __init__(self, document: DocumentRef) -> None:
        self.document = document
        self.reports: list[SourceReport] = []
        self.archive_down = False
        self.archive_unavailable = False

    @activity.defn(name="validate_signing_request")
    async def validate(self, process: SigningProcessInput) -> ValidationResult:
        return ValidationResult(accepted=True, route=ROUTE)

    @activity.defn(name="create_signature_request")
    async def create(self, request: CreateSignatureInput) -> SignatureRequestCreated:
        # Named like the callbacks of tests.api.support: doc-{external_id}.
        return SignatureRequestCreated(
            document_uuid=f"doc-{request.external_id}",
            document_url=f"http://sign.test/api/v1/documents/doc-{request.external_id}/",
            signature_request_uuid=f"sr-{request.external_id}",
        )

    @activity.defn(name="cancel_signature_request")
    async def cancel(self, ref: SignatureRequestCreated) -> SignatureDocumentStatus:
        return SignatureDocumentStatus(document_uuid=ref.document_uuid, status="ca")

    @activity.defn(name="await_final_signature_status")
    async def poll(self, ref: SignatureRequestCreated) -> SignatureDocumentStatus:
        raise ApplicationError("still sent", type="NotFinalYet")

    @activity.defn(name="confirm_signature_event")
    async def confirm(self, claim: SignatureEventClaim) -> ConfirmedClaim:
        # The callbacks these tests send are genuine: Core Signature confirms them.
        status = "si" if claim.event_type == "signed" else "se"
        return ConfirmedClaim(document_uuid=claim.document_uuid, status=status, event_listed=True)

    @activity.defn(name="fetch_signed_artifacts")
    async def fetch(self, ref: SignatureRequestCreated) -> SignedArtifacts:
        return SignedArtifacts(
            signed_pdf=self.document,
            signing_log=self.document,
            security_hash=self.document.sha256,
            signers=[SignerOutcome(email="signer@acme.example.com")],
        )

    @activity.defn(name="ensure_business_workspace")
    async def workspace(self, request: WorkspaceRequest) -> WorkspaceRef:
        return WorkspaceRef(id=10, created=True)

    @activity.defn(name="archive_document")
    async def archive(self, request: ArchiveDocumentInput) -> ArchivedNode:
        if self.archive_down:
            raise ApplicationError("category 4 does not exist", non_retryable=True)
        if self.archive_unavailable:
            raise ApplicationError("Content Server is unavailable (503)")  # retried
        return ArchivedNode(node_id=20, created=True)

    @activity.defn(name="report_to_source")
    async def report(self, report: SourceReport) -> None:
        self.reports.append(report)

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        return None

    def activities(self, *, notify: Callable[..., Awaitable[None]] | None = None) -> list[Any]:
        """Every stand-in under its real name (`notify`: the real notification activity)."""
        return [
            record_process_change,
            self.validate,
            self.create,
            self.cancel,
            self.poll,
            self.confirm,
            self.fetch,
            self.workspace,
            self.archive,
            self.report,
            notify or self.notify,
        ]


@contextlib.asynccontextmanager
async def serve_real_workflow(
    client: Client, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Systems, DocumentRef]]:
    """The API in front of the real SigningWorkflow (stand-in systems) on `client`'s server."""
    store = LocalDocumentStore(settings.documents.root)
    document = await store.put(PDF, filename="msa.pdf", content_type="application/pdf")
    systems = Systems(document)
    async with Worker(
        client,
        task_queue=settings.temporal.task_queue,
        workflows=[SigningWorkflow],
        activities=systems.activities(),
    ):
        app = create_app(settings, client, store)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as api:
            yield api, systems, document


@pytest.fixture
async def real_api(
    dev_server_env: WorkflowEnvironment, tmp_path: Path, task_queue: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Systems, DocumentRef]]:
    settings = make_settings(tmp_path, task_queue)
    async with serve_real_workflow(dev_server_env.client, settings) as served:
        yield served


async def test_start_decide_and_signed_callback_complete_the_real_workflow(
    real_api: tuple[httpx.AsyncClient, Systems, DocumentRef], dev_server_env: WorkflowEnvironment
) -> None:
    api, systems, document = real_api
    key = new_key("REAL")
    body = {
        "request": signing_request(key, approvers=[ALICE]).model_dump(mode="json"),
        "document": document.model_dump(),
    }
    handle = workflow(dev_server_env.client, key)

    started = await api.post("/v1/signing-processes", json=body, headers=auth("crm"))
    assert started.status_code == 201, started.text
    await wait_until(handle, lambda s: s.state is SigningState.AWAITING_APPROVAL)

    refused = await api.post(
        f"/v1/signing-processes/{key}/decisions", json={"decision": "approve"}, headers=auth("bob")
    )
    decided = await api.post(
        f"/v1/signing-processes/{key}/decisions",
        json={"decision": "approve", "stage": "legal", "actor": "bob@example.com"},
        headers=auth("alice"),
    )
    assert refused.status_code == 404, refused.text  # bob is not assigned: no such process
    assert decided.status_code == 200, decided.text
    await wait_until(handle, lambda s: s.state is SigningState.AWAITING_SIGNATURE)

    signer = callback(key, "signer_signed")
    answers = [
        (await api.post("/webhooks/core-signature", json=body)).json()
        for body in (signer, signer, callback(key, "signed"))
    ]
    # The duplicate is answered by the process's admission query: never signalled.
    assert answers == [{"status": "accepted"}, {"status": "ignored"}, {"status": "accepted"}]

    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert [e.actor for e in result.audit if e.kind == "decision"] == [ALICE]
    assert [e.detail for e in result.audit if e.kind == "event"] == [
        "signer_signed by signer@acme.example.com",
        "signed by signer@acme.example.com",
    ]
    assert systems.reports[-1].outcome.value == "completed"
    status = await api.get(f"/v1/signing-processes/{key}", headers=auth("crm"))
    assert status.json()["state"] == "completed"


async def test_support_retries_an_archive_that_gave_up(
    real_api: tuple[httpx.AsyncClient, Systems, DocumentRef], dev_server_env: WorkflowEnvironment
) -> None:
    api, systems, document = real_api
    systems.archive_down = True
    key = new_key("REPAIR")
    body = {
        "request": signing_request(key, approvers=[ALICE]).model_dump(mode="json"),
        "document": document.model_dump(),
    }
    handle = workflow(dev_server_env.client, key)
    assert (await api.post("/v1/signing-processes", json=body, headers=auth("crm"))).is_success
    await wait_until(handle, lambda s: s.state is SigningState.AWAITING_APPROVAL)
    early = await api.post(
        f"/v1/signing-processes/{key}/repairs", json={"action": "retry"}, headers=auth("ops")
    )
    assert early.status_code == 409, early.text  # nothing gave up yet
    await api.post(
        f"/v1/signing-processes/{key}/decisions",
        json={"decision": "approve"},
        headers=auth("alice"),
    )
    await wait_until(handle, lambda s: s.state is SigningState.AWAITING_SIGNATURE)
    await api.post("/webhooks/core-signature", json=callback(key, "signed"))
    status = await wait_until(handle, lambda s: s.state is SigningState.ARCHIVE_EXCEPTION)
    assert status.attention and "category 4 does not exist" in status.waiting_for

    forbidden = await api.post(
        f"/v1/signing-processes/{key}/repairs", json={"action": "retry"}, headers=auth("crm")
    )
    assert forbidden.status_code == 403, forbidden.text
    systems.archive_down = False  # support restored the category
    repaired = await api.post(
        f"/v1/signing-processes/{key}/repairs",
        json={"action": "retry", "comment": "category restored"},
        headers=auth("ops"),
    )
    assert repaired.status_code == 200, repaired.text
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert any(e.kind == "repair_retry" and e.actor == "ops@example.com" for e in result.audit)


async def test_callbacks_that_would_change_nothing_never_reach_the_history(
    real_api: tuple[httpx.AsyncClient, Systems, DocumentRef], dev_server_env: WorkflowEnvironment
) -> None:
    """Duplicates, another document under this process's external id, a cycle that cannot
    exist yet, and a flood past the per-cycle bound are answered "ignored" without a signal."""
    api, _, document = real_api
    key = new_key("ADMIT")
    body = {
        "request": signing_request(key, approvers=[]).model_dump(mode="json"),
        "document": document.model_dump(),
    }
    handle = workflow(dev_server_env.client, key)
    assert (await api.post("/v1/signing-processes", json=body, headers=auth("crm"))).is_success
    await wait_until(handle, lambda s: s.state is SigningState.AWAITING_SIGNATURE)

    viewed = callback(key, "signer_viewed")
    other_document = callback(key, "signed")
    other_document["document"]["uuid"] = "doc-somebody-else"
    two_ahead = callback(key, "signed", cycle=3)
    answers = [
        (await api.post("/webhooks/core-signature", json=b)).json()["status"]
        for b in (viewed, viewed, other_document, two_ahead)
    ]
    assert answers == ["accepted", "ignored", "ignored", "ignored"]

    flood = [callback(key, "signer_viewed") for _ in range(MAX_PROGRESS_EVENTS + 20)]
    statuses = [
        (await api.post("/webhooks/core-signature", json=b)).json()["status"] for b in flood
    ]
    accepted = statuses.count("accepted")
    status = await wait_until(
        handle,
        lambda s: s.signature.events_received + s.signature.events_dropped == 1 + accepted,
    )
    # The bound holds in the workflow; what the query already knew was never signalled.
    assert status.signature.events_received == MAX_PROGRESS_EVENTS
    assert statuses.count("ignored") >= 20
    assert await signals_received(handle) == 1 + accepted
    assert status.state is SigningState.AWAITING_SIGNATURE
    await handle.cancel()


async def test_support_runs_a_retrying_step_now_instead_of_waiting_for_its_backoff(
    real_api: tuple[httpx.AsyncClient, Systems, DocumentRef], dev_server_env: WorkflowEnvironment
) -> None:
    api, systems, document = real_api
    systems.archive_unavailable = True
    key = new_key("NOW")
    body = {
        "request": signing_request(key, approvers=[]).model_dump(mode="json"),
        "document": document.model_dump(),
    }
    handle = workflow(dev_server_env.client, key)
    assert (await api.post("/v1/signing-processes", json=body, headers=auth("crm"))).is_success
    await wait_until(handle, lambda s: s.state is SigningState.AWAITING_SIGNATURE)
    await api.post("/webhooks/core-signature", json=callback(key, "signed"))

    async def attempts() -> int:
        status = await api.get(f"/v1/signing-processes/{key}", headers=auth("ops"))
        return max((s["attempt"] for s in status.json()["failing_steps"]), default=0)

    while await attempts() < 4:  # noqa: ASYNC110 - the backoff is now seconds long
        await asyncio.sleep(0.2)
    systems.archive_unavailable = False  # the cause is fixed; do not wait for the backoff

    refused = await api.post(f"/v1/signing-processes/{key}/steps/retry-now", headers=auth("crm"))
    reset = await api.post(f"/v1/signing-processes/{key}/steps/retry-now", headers=auth("ops"))

    assert refused.status_code == 403  # the application may not operate its processes' steps
    assert reset.status_code == 200, reset.text
    assert [step["activity"] for step in reset.json()] == ["archive_document"]
    assert "unavailable" in reset.json()[0]["last_error"]
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    # The archive attempt that succeeded is the reset's first, not the backoff's fifth.
    events = (await handle.fetch_history()).events
    first_archive = next(
        e.event_id
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == "archive_document"
    )
    (attempt,) = [
        e.activity_task_started_event_attributes.attempt
        for e in events
        if e.HasField("activity_task_started_event_attributes")
        and e.activity_task_started_event_attributes.scheduled_event_id == first_archive
    ]
    assert attempt == 1
