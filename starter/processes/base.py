"""`ProcessClient`: the Temporal plumbing every process's helpers share.

Ids, start with a conflict policy, signal-/update-with-start, updates and queries with one
error mapping, and Web UI links. A process module subclasses it and adds its own vocabulary
(`SigningProcesses.decide`, ...); it never talks to the SDK's errors itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Literal, NoReturn, TypeVar
from urllib.parse import quote

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from docflow.idempotency import IDEMPOTENCY_CONFLICT, differing, update_id
from docflow.settings import Settings

# Bounds on calls that wait for a worker (queries, updates): a stalled worker becomes a
# "Temporal unavailable" answer instead of a hanging HTTP request.
QUERY_TIMEOUT = timedelta(seconds=10)
UPDATE_TIMEOUT = timedelta(seconds=20)
SIGNAL_TIMEOUT = timedelta(seconds=10)

Result = TypeVar("Result")
# Memo key of a run's request fingerprint (docflow.idempotency.field_digests).
FINGERPRINT_MEMO = "docflow_request"
# What became of a signal: "ignored" when the process had already ended.
Delivery = Literal["accepted", "ignored"]


class ProcessError(Exception):
    """Base of the errors the helpers raise; `message` is safe to show to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProcessNotFound(ProcessError):
    """No process exists for this business key."""


class ProcessRuleViolation(ProcessError):
    """The workflow refused the request (its Update validator said no, or it has ended)."""


class DocumentNotStored(ProcessError):
    """A document reference does not point at bytes in the document store."""


class DocumentTypeRefused(ProcessError):
    """The document's bytes are not an accepted type, or not the type or name declared."""


class InvalidProcessInput(ProcessError):
    """The input breaks a bound or rule checked before anything starts."""


class ProcessInputTooLarge(ProcessError):
    """Temporal refused the input as larger than its payload limit."""


class IdempotencyConflict(ProcessError):
    """The key (business key or Idempotency-Key) was used before with a different request."""


class TemporalUnavailable(ProcessError):
    """Temporal (or its worker) could not be reached; the call may be retried."""


class ProcessRun(BaseModel):
    workflow_id: str
    run_id: str


class StartResult(ProcessRun):
    created: bool


def quoted(value: str) -> str:
    """A string literal for a visibility (List Filter) query."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def temporal_unavailable(exc: BaseException) -> bool:
    """True when an error means "Temporal is unreachable right now" (retry later)."""
    if isinstance(exc, TemporalUnavailable | WorkflowUpdateRPCTimeoutOrCancelledError):
        return True
    if isinstance(exc, RPCError):
        # The SDK reports an expired rpc_timeout (e.g. a query no worker answered right after
        # a worker crash) as CANCELLED "Timeout expired", and a connection that broke during
        # the call (the server restarting) as UNKNOWN "transport error". A query while the
        # workflow task is being retried (its worker crashed) is refused as WorkflowNotReady.
        # A busy server sheds load as RESOURCE_EXHAUSTED (e.g. "consistent query buffer is
        # full" while a workflow's task cannot run): also a "send it again later". An Update
        # with no worker polling its task queue (all workers restarting) is refused as
        # FAILED_PRECONDITION "no poller seen for task queue recently": the same.
        if exc.status is RPCStatusCode.UNKNOWN:
            return exc.message == "transport error"
        if exc.status is RPCStatusCode.FAILED_PRECONDITION:
            return exc.message.startswith("no poller seen") or any(
                detail.type_url.endswith(".WorkflowNotReadyFailure")
                for detail in exc.grpc_status.details
            )
        return exc.status in (
            RPCStatusCode.UNAVAILABLE,
            RPCStatusCode.DEADLINE_EXCEEDED,
            RPCStatusCode.CANCELLED,
            RPCStatusCode.RESOURCE_EXHAUSTED,
        )
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    # The SDK's core raises a plain RuntimeError when the (lazy) connection cannot be made.
    return isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect")


def payload_too_large(exc: BaseException) -> bool:
    """True when Temporal refused a request's payloads as over its size limit."""
    if isinstance(exc, RPCError):
        message = exc.message.lower()
        return exc.status in (
            RPCStatusCode.INVALID_ARGUMENT,
            RPCStatusCode.RESOURCE_EXHAUSTED,
        ) and any(
            phrase in message
            for phrase in ("exceeds limit", "size limit", "message larger than max", "too large")
        )
    return False


class ProcessClient:
    """One process type on one environment: a workflow per business key.

    Subclasses set `workflow_type` (started by name, so the starter never imports workflow
    or activity code) and `process_name` (how errors name the process), and implement
    `workflow_id(key)`.
    """

    workflow_type: ClassVar[str]
    process_name: ClassVar[str] = "process"

    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    # ------------------------------------------------------------ identity
    def workflow_id(self, key: str) -> str:
        raise NotImplementedError

    @property
    def task_queue(self) -> str:
        return self.settings.temporal.task_queue

    def handle(self, key: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(self.workflow_id(key))

    def web_ui_url(self, key: str, run_id: str | None = None) -> str:
        """Link to the process (or one of its runs) in the Temporal Web UI."""
        base = self.settings.temporal.ui_url.rstrip("/")
        namespace = quote(self.client.namespace, safe="")
        url = f"{base}/namespaces/{namespace}/workflows/{quote(self.workflow_id(key), safe='')}"
        return f"{url}/{quote(run_id, safe='')}/history" if run_id else url

    # --------------------------------------------------------------- start
    async def start_process(
        self,
        key: str,
        arg: BaseModel,
        *,
        search_attributes: TypedSearchAttributes | None = None,
        static_summary: str | None = None,
        reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.REJECT_DUPLICATE,
    ) -> StartResult:
        """Start the process for `key`, or return the run that already has this id.

        Conflict policy FAIL: a running run with this id (or a closed one the reuse policy
        keeps) is the answer, never a second run, so a repeated start is harmless — if it
        asks for the same thing: a start whose `fingerprint(arg)` differs from the existing
        run's raises `IdempotencyConflict` naming the fields that differ.
        """
        workflow_id = self.workflow_id(key)
        fingerprint = self.fingerprint(arg)
        try:
            handle = await self.client.start_workflow(
                self.workflow_type,
                arg,
                id=workflow_id,
                task_queue=self.task_queue,
                id_reuse_policy=reuse_policy,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                # Set at start so a process is findable before its first workflow task runs.
                search_attributes=search_attributes,
                static_summary=static_summary,
                memo={FINGERPRINT_MEMO: fingerprint} if fingerprint else None,
            )
        except WorkflowAlreadyStartedError as exc:
            run_id = exc.run_id or await self.latest_run_id(key)
            if fingerprint:
                await self._require_same_request(key, type(arg), fingerprint)
            return StartResult(workflow_id=workflow_id, run_id=run_id, created=False)
        except Exception as exc:
            self.fail(exc, key)
        run_id = handle.result_run_id or await self.latest_run_id(key)
        return StartResult(workflow_id=workflow_id, run_id=run_id, created=True)

    async def signal_with_start(
        self,
        key: str,
        signal: str,
        signal_arg: BaseModel,
        start_arg: BaseModel,
        *,
        search_attributes: TypedSearchAttributes | None = None,
        static_summary: str | None = None,
        reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    ) -> ProcessRun:
        """Signal the running workflow for `key`, starting it first if none runs.

        One atomic call, so the first event of an entity workflow can never be lost between
        a start and a signal. Search attributes and summary only apply to a new run.
        """
        try:
            handle = await self.client.start_workflow(
                self.workflow_type,
                start_arg,
                id=self.workflow_id(key),
                task_queue=self.task_queue,
                id_reuse_policy=reuse_policy,
                start_signal=signal,
                start_signal_args=[signal_arg],
                search_attributes=search_attributes,
                static_summary=static_summary,
                rpc_timeout=SIGNAL_TIMEOUT,
            )
        except Exception as exc:
            self.fail(exc, key)
        run_id = handle.result_run_id or await self.latest_run_id(key)
        return ProcessRun(workflow_id=handle.id, run_id=run_id)

    async def update_with_start(
        self,
        key: str,
        update: str,
        update_arg: BaseModel,
        start_arg: BaseModel,
        *,
        result_type: type[Result],
        request_id: str | None = None,
        search_attributes: TypedSearchAttributes | None = None,
        static_summary: str | None = None,
        reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    ) -> Result:
        """Run an Update on the workflow for `key`, starting it first if none runs.

        Conflict policy USE_EXISTING: a running workflow takes the Update; the caller gets
        the Update's result (or its refusal) either way. `request_id` makes a retry safe.
        """
        operation = WithStartWorkflowOperation(
            self.workflow_type,
            start_arg,
            id=self.workflow_id(key),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=reuse_policy,
            search_attributes=search_attributes,
            static_summary=static_summary,
        )
        try:
            result: Result = await self.client.execute_update_with_start_workflow(
                update,
                update_arg,
                start_workflow_operation=operation,
                id=update_id(request_id, update_arg) if request_id else None,
                result_type=result_type,
                rpc_timeout=UPDATE_TIMEOUT,
            )
        except WorkflowUpdateFailedError as exc:
            self._refused(exc)
        except Exception as exc:
            self.fail(exc, key)
        return result

    # ------------------------------------------------------------ messages
    async def update(
        self,
        key: str,
        update: str,
        payload: BaseModel,
        *,
        result_type: type[Result],
        request_id: str | None = None,
    ) -> Result:
        """Run an Update; a refusal or an ended process becomes ProcessRuleViolation.

        `request_id` (the caller's idempotency key) goes into the Update id with a digest of
        the payload: a retry is answered once, the same id with another body is refused.
        """
        try:
            result: Result = await self.handle(key).execute_update(
                update,
                payload,
                id=update_id(request_id, payload) if request_id else None,
                result_type=result_type,
                rpc_timeout=UPDATE_TIMEOUT,
            )
        except WorkflowUpdateFailedError as exc:
            self._refused(exc)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND and await self.is_closed(key):
                raise ProcessRuleViolation(f"the process {key} has already ended") from exc
            self.fail(exc, key)
        except Exception as exc:
            self.fail(exc, key)
        return result

    async def query(self, key: str, query: str, *, result_type: type[Result]) -> Result:
        try:
            result: Result = await self.handle(key).query(
                query, result_type=result_type, rpc_timeout=QUERY_TIMEOUT
            )
        except Exception as exc:
            self.fail(exc, key)
        return result

    async def signal(self, key: str, signal: str, arg: BaseModel) -> Delivery:
        """Signal the process; "ignored" if it has already ended (late events are normal)."""
        try:
            await self.handle(key).signal(signal, arg, rpc_timeout=SIGNAL_TIMEOUT)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                self.fail(exc, key)
            if await self.is_closed(key):
                return "ignored"
            raise ProcessNotFound(f"no {self.process_name} for {key}") from exc
        except Exception as exc:
            self.fail(exc, key)
        return "accepted"

    # ----------------------------------------------------------- describe
    async def is_closed(self, key: str) -> bool:
        """True if the workflow exists and is closed; False if it does not exist."""
        try:
            description = await self.handle(key).describe(rpc_timeout=QUERY_TIMEOUT)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False
            self.fail(exc, key)
        return description.status not in (None, WorkflowExecutionStatus.RUNNING)

    # --------------------------------------------------------- idempotency
    def fingerprint(self, arg: BaseModel) -> dict[str, str] | None:
        """What makes two starts of `key` the same request (digests by field); None: no check."""
        return None

    async def _require_same_request(
        self, key: str, input_type: type[BaseModel], fingerprint: dict[str, str]
    ) -> None:
        recorded = await self._recorded_fingerprint(key, input_type)
        if recorded is None:
            return
        fields = differing(recorded, fingerprint)
        if fields:
            raise IdempotencyConflict(
                f"{self.process_name} {key} was already started with a different request: "
                f"{', '.join(fields)} differ{'s' if len(fields) == 1 else ''}; the same "
                "business key only repeats the same request (use a new key for a new process)"
            )

    async def _recorded_fingerprint(
        self, key: str, input_type: type[BaseModel]
    ) -> dict[str, str] | None:
        """The existing run's fingerprint: from its memo, else from its input in history."""
        try:
            description = await self.handle(key).describe(rpc_timeout=QUERY_TIMEOUT)
            memo = await description.memo_value(FINGERPRINT_MEMO, None)
            if isinstance(memo, dict):
                return {str(name): str(value) for name, value in memo.items()}
            # Started before fingerprints, or continued as new without its memo.
            handle = self.client.get_workflow_handle(description.id, run_id=description.run_id)
            async for event in handle.fetch_history_events(page_size=1):
                started = event.workflow_execution_started_event_attributes
                [arg] = await self.client.data_converter.decode(
                    started.input.payloads, [input_type]
                )
                return self.fingerprint(arg)
        except Exception as exc:
            self.fail(exc, key)
        return None

    async def latest_run_id(self, key: str) -> str:
        description = await self.handle(key).describe(rpc_timeout=QUERY_TIMEOUT)
        return description.run_id

    # ------------------------------------------------------------- errors
    def fail(self, exc: Exception, key: str) -> NoReturn:
        """Re-raise an SDK error as this module's error; anything unexpected as it is."""
        if isinstance(exc, ProcessError):
            raise exc
        if payload_too_large(exc):
            raise ProcessInputTooLarge(
                f"the {self.process_name}'s input is larger than Temporal accepts; "
                "send less (metadata, comments) or upload documents separately"
            ) from exc
        if temporal_unavailable(exc):
            raise TemporalUnavailable(f"Temporal is unavailable: {exc}") from exc
        if isinstance(exc, RPCError) and exc.status is RPCStatusCode.NOT_FOUND:
            raise ProcessNotFound(f"no {self.process_name} for {key}") from exc
        raise exc

    @staticmethod
    def _refused(exc: WorkflowUpdateFailedError) -> NoReturn:
        # The workflow's validator or handler said no with a reason for the caller.
        if isinstance(exc.cause, ApplicationError):
            if exc.cause.type == IDEMPOTENCY_CONFLICT:
                raise IdempotencyConflict(exc.cause.message) from exc
            raise ProcessRuleViolation(exc.cause.message) from exc
        raise exc
