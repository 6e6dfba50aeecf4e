"""`SigningProcesses`: start and drive signing workflows (decide, correct, cancel, status).

Business apps and docflow's own HTTP API both go through it, so the rules for ids,
idempotency and error mapping live here (and in `ProcessClient`), not in HTTP handlers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError
from temporalio.api.common.v1 import WorkflowExecution as WorkflowExecutionRef
from temporalio.api.workflowservice.v1 import ResetActivityRequest
from temporalio.client import Client, WorkflowExecution, WorkflowQueryFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from docflow import search_attributes as sa
from docflow.correlation import business_key_from_external_id
from docflow.docstore import DocumentStore
from docflow.filetypes import DocumentTypeError, check_document, safe_filename
from docflow.idempotency import digest, field_digests
from docflow.models import (
    ApprovalDecision,
    CancelRequest,
    Decision,
    DocumentRef,
    NewDocumentVersion,
    RepairRequest,
    SignatureCorrection,
    SignatureEvent,
    Signer,
    SigningProcessInput,
    SigningRequest,
    SigningState,
    SigningStatus,
    UpdateAccepted,
)
from docflow.models.approvals import RepairAction
from docflow.models.bounds import CALLER_INPUT
from docflow.models.delivery import RedeliverRequest
from docflow.settings import Settings
from docflow.temporal import signing_workflow_id
from starter.processes.base import (
    QUERY_TIMEOUT,
    Delivery,
    DocumentNotStored,
    DocumentTypeRefused,
    InvalidProcessInput,
    ProcessClient,
    ProcessError,
    ProcessNotFound,
    StartResult,
)

# The receiver's whole answer is due within about a second: the admission question gets half.
ADMIT_TIMEOUT = timedelta(seconds=0.5)


class InvalidQuery(ProcessError):
    """Temporal refused a visibility query."""


class FailingStep(BaseModel):
    """An activity of the process that is being retried (from Temporal's describe)."""

    activity: str
    activity_id: str = Field(default="", description="Temporal's id of this activity run.")
    attempt: int
    last_error: str = ""
    next_attempt_at: datetime | None = Field(default=None, description="When it runs again.")


class SigningProcesses(ProcessClient):
    """Start and drive signing workflows for one environment (settings profile)."""

    workflow_type = "SigningWorkflow"
    process_name = "signing process"

    def __init__(self, client: Client, settings: Settings, store: DocumentStore) -> None:
        super().__init__(client, settings)
        self.store = store

    def workflow_id(self, key: str) -> str:
        return signing_workflow_id(key)

    # ---------------------------------------------------------------- start
    async def start(
        self, request: SigningRequest, document: DocumentRef, started_by: str
    ) -> StartResult:
        """Start the process for `request.business_key`, or return the run that already exists.

        The request and document are checked against the caller-input bounds first (the API
        did so already; other callers of these helpers get the same rules).
        """
        request = _caller_checked(request)
        document = _caller_checked(document)
        if problems := self.unknown_approvers(request):
            raise InvalidProcessInput("; ".join(problems))
        await self._require_stored(document)
        process = SigningProcessInput(
            request=request,
            document=document,
            environment=self.settings.profile,
            policy=self.settings.signing_policy,
            started_by=started_by,
        )
        source = request.source
        return await self.start_process(
            request.business_key,
            process,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.BUSINESS_KEY, request.business_key),
                    SearchAttributePair(
                        sa.SOURCE_RECORD,
                        f"{source.system}/{source.record_type}/{source.record_id}",
                    ),
                    SearchAttributePair(sa.DOCUMENT_TYPE, request.document_type),
                    SearchAttributePair(sa.ENVIRONMENT, self.settings.profile),
                    SearchAttributePair(sa.STATUS, SigningState.VALIDATING.value),
                    SearchAttributePair(sa.SOURCE_SYSTEM, source.system),
                    SearchAttributePair(sa.PARTICIPANTS, sa.participants(request.approval_stages)),
                ]
            ),
            static_summary=f"Signing {request.business_key}: {request.document_type} "
            f"for {source.system} {source.record_type} {source.record_id}",
        )

    def unknown_approvers(self, request: SigningRequest) -> list[str]:
        """Approvers who are not known people: refused at start with the reason, since the
        process could otherwise only expire waiting for someone who can never decide."""
        api = self.settings.api
        known, applications = api.approver_directory(), api.applications()
        problems = []
        for stage in request.approval_stages:
            named = [*stage.approvers, *filter(None, [stage.escalation_approver])]
            for who in named:
                if who.casefold() in applications or who.startswith("app:"):
                    problems.append(f"stage '{stage.name}': {who} is an application, not a person")
                elif who.casefold() not in known:
                    problems.append(
                        f"stage '{stage.name}': {who} is not a known approver "
                        "(an API key with approvals:decide, or api.approvers)"
                    )
        return problems

    async def store_document(
        self, data: bytes, filename: str, content_type: str = "application/pdf", version: int = 1
    ) -> DocumentRef:
        """Put bytes into the store under a plain file name, once their signature matches the
        declared type and name; the returned reference is what processes carry."""
        filename = safe_filename(filename)
        try:
            content_type = check_document(data, filename, content_type)
        except DocumentTypeError as exc:
            raise DocumentTypeRefused(str(exc)) from exc
        return await self.store.put(
            data, filename=filename, content_type=content_type, version=version
        )

    def fingerprint(self, arg: BaseModel) -> dict[str, str] | None:
        """A start repeats another if its request's fields and its document are the same."""
        assert isinstance(arg, SigningProcessInput)
        return {
            **field_digests(arg.request, prefix="request."),
            "document": digest(arg.document.model_dump(mode="json")),
        }

    # -------------------------------------------------------------- updates
    async def decide(
        self,
        business_key: str,
        actor: str,
        decision: Decision,
        comment: str = "",
        stage: str | None = None,
        *,
        request_id: str | None = None,
        version: int | None = None,
    ) -> UpdateAccepted:
        """Record an approver's decision; `actor` must be the authenticated caller (or the
        principal an action link is bound to). `version` pins the approval cycle."""
        payload = ApprovalDecision(
            actor=actor, decision=decision, comment=comment, stage=stage, version=version
        )
        return await self._accepted(business_key, "decide", payload, request_id)

    async def submit_new_version(
        self,
        business_key: str,
        actor: str,
        document: DocumentRef,
        comment: str = "",
        *,
        request_id: str | None = None,
    ) -> UpdateAccepted:
        """Hand in a revised document after changes were requested."""
        await self._require_stored(document)
        payload = NewDocumentVersion(actor=actor, document=document, comment=comment)
        return await self._accepted(business_key, "submit_new_version", payload, request_id)

    async def correct(
        self,
        business_key: str,
        actor: str,
        signers: list[Signer] | None = None,
        document: DocumentRef | None = None,
        comment: str = "",
        *,
        request_id: str | None = None,
    ) -> UpdateAccepted:
        """Resolve a signature exception with new signers and/or a new document version."""
        if document is not None:
            await self._require_stored(document)
        payload = SignatureCorrection(
            actor=actor, signers=signers, document=document, comment=comment
        )
        return await self._accepted(business_key, "correct_signature", payload, request_id)

    async def repair(
        self,
        business_key: str,
        actor: str,
        action: RepairAction,
        comment: str = "",
        *,
        request_id: str | None = None,
    ) -> UpdateAccepted:
        """Answer a step that gave up (archiving): retry it after fixing the cause, or abandon."""
        payload = RepairRequest(actor=actor, action=action, comment=comment)
        return await self._accepted(business_key, "repair", payload, request_id)

    async def redeliver(
        self, business_key: str, actor: str, comment: str = "", *, request_id: str | None = None
    ) -> UpdateAccepted:
        """Deliver a dead-lettered status report again (after fixing the source's endpoint)."""
        payload = RedeliverRequest(actor=actor, comment=comment)
        return await self._accepted(business_key, "redeliver", payload, request_id)

    async def cancel(
        self, business_key: str, actor: str, reason: str, *, request_id: str | None = None
    ) -> UpdateAccepted:
        """Cancel the process (and any open signature request)."""
        payload = CancelRequest(actor=actor, reason=reason)
        return await self._accepted(business_key, "cancel", payload, request_id)

    # ----------------------------------------------------- queries, signals
    async def status(self, business_key: str) -> SigningStatus:
        """The process's state, stages, signature, archive and audit trail."""
        return await self.query(business_key, "status", result_type=SigningStatus)

    async def list_page(
        self, query: str, *, page_size: int, cursor: bytes | None = None
    ) -> tuple[list[WorkflowExecution], bytes | None]:
        """One page of signing processes matching a visibility `query` (newest first)."""
        full = f"WorkflowType = '{self.workflow_type}'" + (f" AND ({query})" if query else "")
        pages = self.client.list_workflows(
            full, page_size=page_size, next_page_token=cursor, rpc_timeout=QUERY_TIMEOUT
        )
        try:
            await pages.fetch_next_page()
        except RPCError as exc:
            if exc.status is RPCStatusCode.INVALID_ARGUMENT:
                raise InvalidQuery(f"invalid query: {exc.message}") from exc
            self.fail(exc, "(list)")
        except Exception as exc:
            self.fail(exc, "(list)")
        return list(pages.current_page or []), pages.next_page_token or None

    async def failing_steps(self, business_key: str) -> list[FailingStep]:
        """Activities of the process that are retrying, with their last error (describe)."""
        try:
            description = await self.handle(business_key).describe(rpc_timeout=QUERY_TIMEOUT)
        except Exception as exc:
            self.fail(exc, business_key)
        steps = []
        for pending in description.raw_description.pending_activities:
            failure = pending.last_failure
            steps.append(
                FailingStep(
                    activity=pending.activity_type.name,
                    activity_id=pending.activity_id,
                    attempt=pending.attempt,
                    last_error=failure.message if pending.HasField("last_failure") else "",
                    next_attempt_at=pending.next_attempt_schedule_time.ToDatetime(tzinfo=UTC)
                    if pending.HasField("next_attempt_schedule_time")
                    else None,
                )
            )
        return steps

    async def retry_steps_now(self, business_key: str, actor: str) -> list[FailingStep]:
        """Skip the backoff of every step that is retrying: Temporal's activity reset (the
        attempt count starts again and the next attempt runs now). Returns what was reset."""
        retrying = [step for step in await self.failing_steps(business_key) if step.attempt > 1]
        for step in retrying:
            request = ResetActivityRequest(
                namespace=self.client.namespace,
                execution=WorkflowExecutionRef(workflow_id=self.workflow_id(business_key)),
                id=step.activity_id,
                identity=f"docflow:{actor}",
            )
            try:
                await self.client.workflow_service.reset_activity(request, timeout=QUERY_TIMEOUT)
            except Exception as exc:
                self.fail(exc, business_key)
        return retrying

    async def next_document_version(self, business_key: str) -> int:
        """The version number a newly uploaded revision gets when the caller names none."""
        return (await self.status(business_key)).document_version + 1

    async def deliver_signature_event(self, event: SignatureEvent) -> Delivery:
        """Signal a verified Core Signature event; "ignored" if it would change nothing.

        The process is asked first (a query leaves no history): a duplicate, an event for
        another document or cycle, one past the process's per-cycle bounds, or one after the
        signature phase is answered "ignored" without a signal. If the question cannot be
        answered quickly (no worker), the event is signalled and the workflow decides.
        """
        business_key = business_key_from_external_id(event.external_id)
        if business_key is None:
            raise ProcessNotFound(f"external id {event.external_id!r} is not one of ours")
        try:
            admitted = await self.handle(business_key).query(
                "admits_signature_event", event, result_type=bool, rpc_timeout=ADMIT_TIMEOUT
            )
        except WorkflowQueryFailedError:
            admitted = True  # a run on code without the query: signal
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise ProcessNotFound(f"no signing process for {business_key}") from exc
            if exc.status not in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED):
                self.fail(exc, business_key)  # unreachable: TemporalUnavailable
            admitted = True  # no quick answer (worker busy or down): signal, it dedupes
        except Exception as exc:
            self.fail(exc, business_key)
        if not admitted:
            return "ignored"
        return await self.signal(business_key, "signature_event", event)

    # -------------------------------------------------------------- helpers
    async def _accepted(
        self, business_key: str, update: str, payload: BaseModel, request_id: str | None
    ) -> UpdateAccepted:
        return await self.update(
            business_key, update, payload, result_type=UpdateAccepted, request_id=request_id
        )

    async def _require_stored(self, document: DocumentRef) -> None:
        try:
            stored = await self.store.exists(document)
        except ValueError:  # a key that escapes the store is simply not one of ours
            stored = False
        if not stored:
            raise DocumentNotStored(
                f"document {document.key} is not in the document store; upload it first"
            )


Checked = TypeVar("Checked", bound=BaseModel)


def _caller_checked(model: Checked) -> Checked:
    """`model` validated again under the caller-input bounds (`docflow.models.bounds`)."""
    try:
        return type(model).model_validate(
            model.model_dump(mode="json"), context={CALLER_INPUT: True}
        )
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()[:5]
        ]
        raise InvalidProcessInput("; ".join(problems)) from exc
