"""Python helpers that drive signing processes: start, decide, correct, cancel, query, signal.

Business apps and docflow's own HTTP API both go through `SigningProcesses`, so the rules
for ids, idempotency and error mapping live here and not in HTTP handlers.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any, Literal, NoReturn
from urllib.parse import quote

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from docflow import search_attributes as sa
from docflow.docstore import DocumentStore
from docflow.models import (
    ApprovalDecision,
    CancelRequest,
    Decision,
    DocumentRef,
    NewDocumentVersion,
    ProcessState,
    ProcessStatus,
    SignatureCorrection,
    SignatureEvent,
    Signer,
    SigningProcessInput,
    SigningRequest,
    UpdateAccepted,
)
from docflow.settings import Settings
from docflow.temporal import signing_workflow_id

log = logging.getLogger("docflow.starter")

# Started by name so the starter never imports workflow (and activity) code.
SIGNING_WORKFLOW = "SigningWorkflow"
# Bounds on calls that wait for a worker (queries, updates): a stalled worker becomes a
# "Temporal unavailable" answer instead of a hanging HTTP request.
QUERY_TIMEOUT = timedelta(seconds=10)
UPDATE_TIMEOUT = timedelta(seconds=20)
SIGNAL_TIMEOUT = timedelta(seconds=10)

# Same business-key rule as SigningRequest.business_key, then "#" and the signature cycle.
_EXTERNAL_ID = re.compile(r"^(?P<key>[A-Za-z0-9][A-Za-z0-9._:-]{0,127})#(?P<cycle>[1-9]\d{0,5})$")

Delivery = Literal["accepted", "ignored"]


class SigningProcessError(Exception):
    """Base of the errors the helpers raise; `message` is safe to show to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProcessNotFound(SigningProcessError):
    """No signing process exists for this business key."""


class ProcessRuleViolation(SigningProcessError):
    """The workflow refused the request (its Update validator said no)."""


class DocumentNotStored(SigningProcessError):
    """A document reference does not point at bytes in the document store."""


class TemporalUnavailable(SigningProcessError):
    """Temporal (or its worker) could not be reached; the call may be retried."""


class StartResult(BaseModel):
    workflow_id: str
    run_id: str
    created: bool


def temporal_unavailable(exc: BaseException) -> bool:
    """True when an error means "Temporal is unreachable right now" (retry later)."""
    if isinstance(exc, TemporalUnavailable | WorkflowUpdateRPCTimeoutOrCancelledError):
        return True
    if isinstance(exc, RPCError):
        # The SDK reports an expired rpc_timeout (e.g. a query no worker answered right after
        # a worker crash) as CANCELLED "Timeout expired", and a connection that broke during
        # the call (the server restarting) as UNKNOWN "transport error". A query while the
        # workflow task is being retried (its worker crashed) is refused as WorkflowNotReady.
        if exc.status is RPCStatusCode.UNKNOWN:
            return exc.message == "transport error"
        if exc.status is RPCStatusCode.FAILED_PRECONDITION:
            return any(
                detail.type_url.endswith(".WorkflowNotReadyFailure")
                for detail in exc.grpc_status.details
            )
        return exc.status in (
            RPCStatusCode.UNAVAILABLE,
            RPCStatusCode.DEADLINE_EXCEEDED,
            RPCStatusCode.CANCELLED,
        )
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    # The SDK's core raises a plain RuntimeError when the (lazy) connection cannot be made.
    return isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect")


def business_key_from_external_id(external_id: str | None) -> str | None:
    """`"{business_key}#{cycle}"` (the Core Signature document's external id) → business key."""
    match = _EXTERNAL_ID.match(external_id or "")
    return match["key"] if match else None


class SigningProcesses:
    """Start and drive signing workflows for one environment (settings profile)."""

    def __init__(self, client: Client, settings: Settings, store: DocumentStore) -> None:
        self.client = client
        self.settings = settings
        self.store = store

    # ---------------------------------------------------------------- start
    async def start(
        self, request: SigningRequest, document: DocumentRef, started_by: str
    ) -> StartResult:
        """Start the process for `request.business_key`, or return the run that already exists."""
        await self._require_stored(document)
        workflow_id = signing_workflow_id(request.business_key)
        process = SigningProcessInput(
            request=request,
            document=document,
            environment=self.settings.profile,
            policy=self.settings.signing_policy,
            started_by=started_by,
        )
        source = request.source
        try:
            handle = await self.client.start_workflow(
                SIGNING_WORKFLOW,
                process,
                id=workflow_id,
                task_queue=self.settings.temporal.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                # A running or closed run with this id raises WorkflowAlreadyStartedError:
                # that run is the answer, never a second one.
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                # Set at start so a process is findable before its first workflow task runs.
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.BUSINESS_KEY, request.business_key),
                        SearchAttributePair(
                            sa.SOURCE_RECORD,
                            f"{source.system}/{source.record_type}/{source.record_id}",
                        ),
                        SearchAttributePair(sa.DOCUMENT_TYPE, request.document_type),
                        SearchAttributePair(sa.ENVIRONMENT, self.settings.profile),
                        SearchAttributePair(sa.STATUS, ProcessState.VALIDATING.value),
                    ]
                ),
                static_summary=f"Signing {request.business_key}: {request.document_type} "
                f"for {source.system} {source.record_type} {source.record_id}",
            )
        except WorkflowAlreadyStartedError as exc:
            run_id = exc.run_id or await self._latest_run_id(workflow_id)
            return StartResult(workflow_id=workflow_id, run_id=run_id, created=False)
        except Exception as exc:
            self._fail(exc, request.business_key)
        run_id = handle.result_run_id or await self._latest_run_id(workflow_id)
        return StartResult(workflow_id=workflow_id, run_id=run_id, created=True)

    async def store_document(
        self, data: bytes, filename: str, content_type: str = "application/pdf", version: int = 1
    ) -> DocumentRef:
        """Put bytes into the document store; the returned reference is what processes carry."""
        return await self.store.put(
            data, filename=filename, content_type=content_type, version=version
        )

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
    ) -> UpdateAccepted:
        """Record an approver's decision; `actor` must be the authenticated caller."""
        payload = ApprovalDecision(actor=actor, decision=decision, comment=comment, stage=stage)
        return await self._update(business_key, "decide", payload, request_id)

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
        return await self._update(business_key, "submit_new_version", payload, request_id)

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
        return await self._update(business_key, "correct_signature", payload, request_id)

    async def cancel(
        self, business_key: str, actor: str, reason: str, *, request_id: str | None = None
    ) -> UpdateAccepted:
        """Cancel the process (and any open signature request)."""
        payload = CancelRequest(actor=actor, reason=reason)
        return await self._update(business_key, "cancel", payload, request_id)

    # ----------------------------------------------------- queries, signals
    async def status(self, business_key: str) -> ProcessStatus:
        """The process's state, stages, signature, archive and audit trail."""
        handle = self._handle(business_key)
        try:
            return await handle.query(
                "status", result_type=ProcessStatus, rpc_timeout=QUERY_TIMEOUT
            )
        except Exception as exc:
            self._fail(exc, business_key)

    async def next_document_version(self, business_key: str) -> int:
        """The version number a newly uploaded revision gets when the caller names none."""
        return (await self.status(business_key)).document_version + 1

    async def deliver_signature_event(self, event: SignatureEvent) -> Delivery:
        """Signal a verified Core Signature event; "ignored" if the process already ended."""
        business_key = business_key_from_external_id(event.external_id)
        if business_key is None:
            raise ProcessNotFound(f"external id {event.external_id!r} is not one of ours")
        handle = self._handle(business_key)
        try:
            await handle.signal("signature_event", event, rpc_timeout=SIGNAL_TIMEOUT)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                self._fail(exc, business_key)
            if await self._is_closed(business_key):
                return "ignored"
            raise ProcessNotFound(f"no signing process for {business_key}") from exc
        except Exception as exc:
            self._fail(exc, business_key)
        return "accepted"

    def web_ui_url(self, business_key: str, run_id: str | None = None) -> str:
        """Link to the process in the Temporal Web UI."""
        base = self.settings.temporal.ui_url.rstrip("/")
        namespace = quote(self.client.namespace, safe="")
        url = f"{base}/namespaces/{namespace}/workflows/"
        url += quote(signing_workflow_id(business_key), safe="")
        return f"{url}/{quote(run_id, safe='')}/history" if run_id else url

    # -------------------------------------------------------------- helpers
    def _handle(self, business_key: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(signing_workflow_id(business_key))

    async def _update(
        self, business_key: str, update: str, payload: BaseModel, request_id: str | None
    ) -> UpdateAccepted:
        handle = self._handle(business_key)
        try:
            return await handle.execute_update(
                update,
                payload,
                id=request_id,
                result_type=UpdateAccepted,
                rpc_timeout=UPDATE_TIMEOUT,
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError):
                raise ProcessRuleViolation(cause.message) from exc
            raise
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND and await self._is_closed(business_key):
                raise ProcessRuleViolation(f"the process {business_key} has already ended") from exc
            self._fail(exc, business_key)
        except Exception as exc:
            self._fail(exc, business_key)

    async def _is_closed(self, business_key: str) -> bool:
        """True if the workflow exists and is closed; False if it does not exist."""
        try:
            description = await self._handle(business_key).describe(rpc_timeout=QUERY_TIMEOUT)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False
            self._fail(exc, business_key)
        return description.status not in (None, WorkflowExecutionStatus.RUNNING)

    async def _latest_run_id(self, workflow_id: str) -> str:
        description = await self.client.get_workflow_handle(workflow_id).describe()
        return description.run_id

    async def _require_stored(self, document: DocumentRef) -> None:
        try:
            stored = await self.store.exists(document)
        except ValueError:  # a key that escapes the store is simply not one of ours
            stored = False
        if not stored:
            raise DocumentNotStored(
                f"document {document.key} is not in the document store; upload it first"
            )

    @staticmethod
    def _fail(exc: Exception, business_key: str) -> NoReturn:
        """Re-raise an SDK error as this module's error; anything unexpected as it is."""
        if isinstance(exc, SigningProcessError):
            raise exc
        if temporal_unavailable(exc):
            raise TemporalUnavailable(f"Temporal is unavailable: {exc}") from exc
        if isinstance(exc, RPCError) and exc.status is RPCStatusCode.NOT_FOUND:
            raise ProcessNotFound(f"no signing process for {business_key}") from exc
        raise exc
