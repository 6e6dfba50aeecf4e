"""`CaseProcesses`: start case assembly, read a case's status, retry a source that is missing.

A case is checked against this environment's configuration before anything starts (case
type, sources, the workspace's required fields, attachments stored), with the same rules the
workflow's own planning applies, so a refused case is refused with every reason at once.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from docflow import search_attributes as sa
from docflow.config.bundle import BundleReader, bundle_reader
from docflow.config.cases import plan_case
from docflow.config.workspaces import CaseSources, WorkspaceMappings, plan_workspace
from docflow.docstore import DocumentStore
from docflow.idempotency import field_digests
from docflow.models import UpdateAccepted
from docflow.models.bounds import CALLER_INPUT
from docflow.models.workspaces import (
    CaseAssemblyInput,
    CaseRequest,
    CaseRetryPolicy,
    CaseStatus,
    PlanRequest,
    RetrySource,
)
from docflow.settings import Settings
from docflow.temporal import CASE_SYSTEM, case_business_key, case_workflow_id
from starter.processes.base import (
    InvalidProcessInput,
    ProcessClient,
    StartResult,
)


def case_key(case_type: str, case_id: str) -> str:
    """The process key of a case (its business key): `<case_type>/<case_id>`."""
    return case_business_key(case_type, case_id)


async def case_problems(
    request: CaseRequest, config: BundleReader, store: DocumentStore
) -> list[str]:
    """Every reason a case cannot be assembled in this environment (empty: it can): the
    caller-input bounds, the case type and sources (`plan_case`), the workspace's required
    fields (`plan_workspace`), attachments in the document store. No Temporal needed, so a
    refused case is refused even while Temporal is down."""
    try:
        request = CaseRequest.model_validate(
            request.model_dump(mode="json"), context={CALLER_INPUT: True}
        )
    except ValidationError as exc:
        return [
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()[:10]
        ]
    bundle = await config.current()
    mappings = bundle.get(WorkspaceMappings)
    plan = plan_case(mappings, bundle.get(CaseSources), request, config_version=bundle.version)
    reasons = list(plan.reasons)
    if plan.accepted and plan.object is not None:
        workspace = plan_workspace(mappings, PlanRequest(object=plan.object, data=plan.data))
        reasons += workspace.reasons
    for index, document in enumerate(request.attachments):
        try:
            stored = await store.exists(document)
        except ValueError:  # a key that escapes the store is simply not one of ours
            stored = False
        if not stored:
            reasons.append(
                f"attachments[{index}]: document {document.key} is not in the document "
                "store; upload it first"
            )
    return reasons


class CaseProcesses(ProcessClient):
    """Start and drive case assembly for one environment (settings profile)."""

    workflow_type = "CaseAssemblyWorkflow"
    process_name = "case"

    def __init__(
        self,
        client: Client,
        settings: Settings,
        store: DocumentStore,
        *,
        config: BundleReader | None = None,
        policy: CaseRetryPolicy | None = None,
    ) -> None:
        super().__init__(client, settings)
        self.store = store
        self._config = config or bundle_reader(settings)
        self._policy = policy or settings.case_policy

    def workflow_id(self, key: str) -> str:
        case_type, _, case_id = key.partition("/")
        return case_workflow_id(case_type, case_id)

    # ---------------------------------------------------------------- start
    async def problems(self, request: CaseRequest) -> list[str]:
        """Every reason this case cannot be assembled here (empty: it can)."""
        return await case_problems(request, self._config, self.store)

    async def start(self, request: CaseRequest, started_by: str) -> StartResult:
        """Start the case's assembly, or return the run the case already has (the same case
        again with a different request is refused, naming the fields that differ)."""
        if reasons := await self.problems(request):
            raise InvalidProcessInput("; ".join(reasons))
        request = request.model_copy(update={"requested_by": started_by})
        key = case_key(request.case_type, request.case_id)
        return await self.start_process(
            key,
            CaseAssemblyInput(
                request=request,
                environment=self.settings.profile,
                started_by=started_by,
                policy=self._policy,
            ),
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.BUSINESS_KEY, key),
                    SearchAttributePair(sa.SOURCE_RECORD, key),
                    SearchAttributePair(sa.DOCUMENT_TYPE, "case"),
                    SearchAttributePair(sa.ENVIRONMENT, self.settings.profile),
                    SearchAttributePair(sa.STATUS, "planning"),
                    SearchAttributePair(sa.SOURCE_SYSTEM, CASE_SYSTEM),
                ]
            ),
            static_summary=f"Case {key}" + (f": {request.title}" if request.title else ""),
        )

    def fingerprint(self, arg: BaseModel) -> dict[str, str] | None:
        """A start repeats another if the case request is the same (who asked aside)."""
        assert isinstance(arg, CaseAssemblyInput)
        request = arg.request.model_copy(update={"requested_by": ""})
        return field_digests(request, prefix="request.")

    # -------------------------------------------------------- status, retry
    async def status(self, case_type: str, case_id: str) -> CaseStatus:
        """Sources done, items filed, gaps, the workspace, the audit trail."""
        return await self.query(case_key(case_type, case_id), "status", result_type=CaseStatus)

    async def retry_source(
        self,
        case_type: str,
        case_id: str,
        source: str,
        actor: str,
        *,
        request_id: str | None = None,
    ) -> UpdateAccepted:
        """Gather a source that failed again now; `actor` is the authenticated caller."""
        return await self.update(
            case_key(case_type, case_id),
            "retry_source",
            RetrySource(source=source, actor=actor),
            result_type=UpdateAccepted,
            request_id=request_id,
        )
