"""Workflow-test harness: stand-in activities under the real names, time-skipping server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from docflow.models import (
    ApprovalStageSpec,
    ArchivedNode,
    ArchiveDocumentInput,
    ConfirmedClaim,
    CorrectionCheck,
    CreateSignatureInput,
    DocumentRef,
    Notification,
    RoutingDecision,
    SignatureDocumentStatus,
    SignatureEvent,
    SignatureEventClaim,
    SignatureEventType,
    SignatureRequestCreated,
    SignedArtifacts,
    Signer,
    SignerOutcome,
    SigningPolicy,
    SigningProcessInput,
    SigningRequest,
    SigningState,
    SigningStatus,
    SourceRecord,
    SourceReport,
    ValidationResult,
    WorkspaceRef,
    WorkspaceRequest,
    WorkspaceTarget,
)
from docflow.models.events import STATUS_TO_EVENT
from tests.read_model_fake import record_process_change
from workflows.signing import SigningWorkflow

# The status a genuine deciding event leaves the document in (a bounce leaves it sent).
EVENT_TO_STATUS = {
    SignatureEventType.SIGNED: "si",
    SignatureEventType.DECLINED: "de",
    SignatureEventType.CANCELLED: "ca",
    SignatureEventType.EXPIRED: "xp",
    SignatureEventType.CONVERT_ERROR: "ec",
    SignatureEventType.SENDING_ERROR: "es",
}

ROUTE = RoutingDecision(
    rules_version="test.1",
    rule="sales-contracts",
    signature_template="sales-contract-v3",
    sender_email="contracts@example.com",
    workspace_parent_id=2000,
    workspace_type_id=7,
    workspace_template_id=20001,
    category_id=9001,
    category_attributes={"deal_id": 2, "business_key": 6},
    rm_classification_id=5001,
)


def document(version: int = 1) -> DocumentRef:
    sha = f"{version:064x}"
    return DocumentRef(
        key=f"sha256/{sha[:2]}/{sha}",
        sha256=sha,
        size=1000,
        filename="contract.pdf",
        version=version,
    )


def doc_uuid(business_key: str, cycle: int) -> str:
    """The stand-in Core Signature names documents after their external id."""
    return f"doc-{business_key}#{cycle}"


@dataclass
class VendorTruth:
    status: str
    event_ids: set[str] = field(default_factory=set)
    decliner: str | None = None
    reason: str = ""


@dataclass
class FakeSystems:
    """Records what the workflow asked of each system; tests script the answers."""

    validation: ValidationResult = field(
        default_factory=lambda: ValidationResult(accepted=True, route=ROUTE)
    )
    created: list[CreateSignatureInput] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    polled_status: str = "se"
    polls: int = 0
    status_at_cancel: str | None = None  # the vendor's status when a cancel arrives
    cancel_unavailable: bool = False  # Core Signature answers the cancel with 503s (retried)
    fail_create: str | None = None  # a non-retryable refusal of create
    fail_poll: str | None = None  # a non-retryable refusal of the status poll
    notify_down: bool = False
    notifications: list[Notification] = field(default_factory=list)
    reports: list[SourceReport] = field(default_factory=list)
    archived: list[ArchiveDocumentInput] = field(default_factory=list)
    workspaces: list[WorkspaceRequest] = field(default_factory=list)
    fail_archive: bool = False
    archive_fixed: bool = False
    archive_unavailable: bool = False  # retryable: the archive phase takes longer than expected
    # Core Signature's own status when asked to confirm a callback; None: the callbacks are
    # genuine (the status is the one the claimed event leads to, and the event is listed).
    vendor_status: str | None = None
    # Per document: what Core Signature really holds (status, its event ids, who declined
    # and why); confirmations and cancels answer from it when the document is listed.
    truth: dict[str, VendorTruth] = field(default_factory=dict)
    correction_result: ValidationResult = field(
        default_factory=lambda: ValidationResult(accepted=True)
    )
    correction_checks: list[CorrectionCheck] = field(default_factory=list)
    correction_check_fails: bool = False
    confirmations: list[SignatureEventClaim] = field(default_factory=list)

    @activity.defn(name="validate_signing_request")
    async def validate(self, process: SigningProcessInput) -> ValidationResult:
        return self.validation

    @activity.defn(name="validate_signature_correction")
    async def validate_correction(self, check: CorrectionCheck) -> ValidationResult:
        self.correction_checks.append(check)
        if self.correction_check_fails:
            raise ApplicationError("routing rules bundle is invalid", non_retryable=True)
        return self.correction_result

    @activity.defn(name="create_signature_request")
    async def create(self, request: CreateSignatureInput) -> SignatureRequestCreated:
        if self.fail_create:
            raise ApplicationError(self.fail_create, type="BadRequest", non_retryable=True)
        self.created.append(request)
        return SignatureRequestCreated(
            document_uuid=f"doc-{request.external_id}",
            document_url=f"http://sign.test/api/v1/documents/doc-{request.external_id}/",
            signature_request_uuid=f"sr-{request.external_id}",
        )

    @activity.defn(name="cancel_signature_request")
    async def cancel(self, ref: SignatureRequestCreated) -> SignatureDocumentStatus:
        if self.cancel_unavailable:
            raise ApplicationError("Core Signature answered 503", type="Unavailable")
        known = self.truth.get(ref.document_uuid)
        if known is not None and known.status in STATUS_TO_EVENT:
            return SignatureDocumentStatus(document_uuid=ref.document_uuid, status=known.status)
        if self.status_at_cancel is not None:
            return SignatureDocumentStatus(
                document_uuid=ref.document_uuid, status=self.status_at_cancel
            )
        self.cancelled.append(ref.signature_request_uuid)
        return SignatureDocumentStatus(document_uuid=ref.document_uuid, status="ca")

    @activity.defn(name="await_final_signature_status")
    async def status(self, ref: SignatureRequestCreated) -> SignatureDocumentStatus:
        self.polls += 1
        if self.fail_poll:
            raise ApplicationError(self.fail_poll, type="AuthenticationError", non_retryable=True)
        if self.polled_status not in STATUS_TO_EVENT:
            raise ApplicationError(
                f"still '{self.polled_status}'",
                type="NotFinalYet",
                category=ApplicationErrorCategory.BENIGN,
            )
        return SignatureDocumentStatus(document_uuid=ref.document_uuid, status=self.polled_status)

    @activity.defn(name="confirm_signature_event")
    async def confirm(self, claim: SignatureEventClaim) -> ConfirmedClaim:
        self.confirmations.append(claim)
        if (known := self.truth.get(claim.document_uuid)) is not None:
            return ConfirmedClaim(
                document_uuid=claim.document_uuid,
                status=known.status,
                event_listed=claim.event_id in known.event_ids,
                signer_email=known.decliner,
                decline_reason=known.reason,
            )
        if self.vendor_status is not None:
            return ConfirmedClaim(document_uuid=claim.document_uuid, status=self.vendor_status)
        genuine = EVENT_TO_STATUS.get(SignatureEventType(claim.event_type), "se")
        return ConfirmedClaim(document_uuid=claim.document_uuid, status=genuine, event_listed=True)

    @activity.defn(name="fetch_signed_artifacts")
    async def fetch(self, ref: SignatureRequestCreated) -> SignedArtifacts:
        signed_at = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
        return SignedArtifacts(
            signed_pdf=document(90),
            signing_log=document(91),
            security_hash=document(90).sha256,
            signers=[
                SignerOutcome(email=s.email, signed_on=signed_at) for s in self.created[-1].signers
            ],
            completed_at=signed_at,
        )

    @activity.defn(name="ensure_business_workspace")
    async def ensure_workspace(self, request: WorkspaceRequest) -> WorkspaceRef:
        self.workspaces.append(request)
        return WorkspaceRef(id=4242, created=True)

    @activity.defn(name="archive_document")
    async def archive(self, request: ArchiveDocumentInput) -> ArchivedNode:
        if self.fail_archive and not self.archive_fixed:
            raise ApplicationError("category 9001 not found", non_retryable=True)
        if self.archive_unavailable:
            raise ApplicationError("Content Server answered 503", type="Unavailable")
        self.archived.append(request)
        return ArchivedNode(node_id=5000 + len(self.archived), created=True)

    @activity.defn(name="report_to_source")
    async def report(self, report: SourceReport) -> None:
        self.reports.append(report)

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        if self.notify_down:
            raise ApplicationError("notification service unavailable", type="Unavailable")
        self.notifications.append(notification)

    def activities(self) -> list[Callable[..., object]]:
        return [
            record_process_change,
            self.validate,
            self.validate_correction,
            self.create,
            self.cancel,
            self.status,
            self.confirm,
            self.fetch,
            self.ensure_workspace,
            self.archive,
            self.report,
            self.notify,
        ]


def signing_input(
    *,
    business_key: str | None = None,
    stages: list[ApprovalStageSpec] | None = None,
    policy: SigningPolicy | None = None,
) -> SigningProcessInput:
    key = business_key or f"T-{uuid.uuid4().hex[:10]}"
    return SigningProcessInput(
        request=SigningRequest(
            business_key=key,
            document_type="sales_contract",
            title="MSA Acme",
            source=SourceRecord(system="SFDC", record_type="Opportunity", record_id="0065X"),
            approval_stages=stages
            if stages is not None
            else [ApprovalStageSpec(name="legal", approvers=["alice@example.com"])],
            signers=[Signer(email="signer@acme.example.com", first_name="Sam", last_name="Signer")],
            workspace=WorkspaceTarget(
                ext_system_id="SFDC", bo_type="Account", bo_id="0015X", name="Acme"
            ),
            metadata={"deal_id": "D-1"},
        ),
        document=document(1),
        environment="test",
        policy=policy or SigningPolicy(),
        started_by="app:crm",
    )


def event(
    business_key: str,
    kind: SignatureEventType,
    *,
    cycle: int = 1,
    event_id: str | None = None,
    signer: str | None = None,
    detail: str = "",
) -> SignatureEvent:
    return SignatureEvent(
        event_id=event_id or uuid.uuid4().hex,
        event_type=kind,
        event_time=datetime.now(UTC),
        document_uuid=doc_uuid(business_key, cycle),
        external_id=f"{business_key}#{cycle}",
        signer_email=signer,
        detail=detail,
    )


async def wait_for(
    handle: WorkflowHandle, predicate: Callable[[SigningStatus], bool], within: float = 15
) -> SigningStatus:
    """Poll the status query until the predicate holds (activities run in real time)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        status = await handle.query(SigningWorkflow.status)
        if predicate(status):
            return status
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out; last status {status.state} {status.waiting_for}")
        await asyncio.sleep(0.05)


def in_state(state: SigningState) -> Callable[[SigningStatus], bool]:
    return lambda status: status.state is state


@dataclass
class Harness:
    env: WorkflowEnvironment
    client: Client
    task_queue: str
    systems: FakeSystems
    started: list[WorkflowHandle] = field(default_factory=list)

    async def start(self, process: SigningProcessInput) -> WorkflowHandle:
        handle = await self.client.start_workflow(
            SigningWorkflow.run,
            process,
            id=f"signing-{process.request.business_key}",
            task_queue=self.task_queue,
            execution_timeout=timedelta(days=365),
        )
        self.started.append(handle)
        return handle


@pytest.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> AsyncIterator[Harness]:
    systems = FakeSystems()
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[SigningWorkflow],
        activities=systems.activities(),
    ):
        harness = Harness(time_skipping_env, time_skipping_env.client, task_queue, systems)
        yield harness
        # On the shared time-skipping server, a leftover run that wakes up later and schedules
        # an activity on this (stopped) worker's queue would stop time skipping for every
        # later test: end what the test left running.
        for handle in harness.started:
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")
