"""`EcmReviewTasks` and `EcmContentUpdates`: work external applications request in ECM — a
review task on a document, a new version of a node — keyed by the requester's system and
request id, so the same request again is the same process.

`review_input` applies `ecm-requests.json` (requesters, defaults and maxima) and the approver
directory to a request before anything starts: every reason it is refused, at once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from docflow import search_attributes as sa
from docflow.config.ecm_requests import EcmRequests
from docflow.idempotency import field_digests
from docflow.models import ApprovalDecision, ApprovalStageSpec, Decision, UpdateAccepted
from docflow.models.documents import DocumentRef
from docflow.models.ecm_requests import (
    REVIEW_STAGE,
    ContentUpdateInput,
    ContentUpdateResult,
    ReviewState,
    ReviewTaskBody,
    ReviewTaskInput,
    ReviewTaskStatus,
    request_key,
    review_workflow_id,
    update_workflow_id,
)
from docflow.settings import Settings
from starter.processes.base import (
    InvalidProcessInput,
    ProcessClient,
    StartResult,
)

# What makes two requests with the same id the same request (not who sent it, nor when).
NOT_FINGERPRINTED = frozenset({"started_by", "environment"})


def _fingerprint(arg: BaseModel) -> dict[str, str]:
    return {k: v for k, v in field_digests(arg).items() if k not in NOT_FINGERPRINTED}


def _split(key: str) -> tuple[str, str]:
    system, _, request_id = key.partition("/")
    return system, request_id


def review_input(
    config: EcmRequests,
    settings: Settings,
    body: ReviewTaskBody,
    system: str,
    started_by: str,
) -> ReviewTaskInput:
    """The workflow's input with this environment's defaults, or InvalidProcessInput naming
    every problem (unknown requester, bounds, unknown people, the proposer as reviewer)."""
    policy, problems = config.review, []
    if system not in config.requesters:
        problems.append(f"{system} may not request work in ECM in this environment")
    deadline = body.deadline or policy.default_deadline
    if deadline > policy.max_deadline:
        problems.append(f"deadline is longer than {policy.max_deadline}")
    window = body.escalation_window or policy.default_escalation_window
    if window > policy.max_escalation_window:
        problems.append(f"escalation_window is longer than {policy.max_escalation_window}")
    if len(body.assignees) > policy.max_assignees:
        problems.append(f"at most {policy.max_assignees} assignees")
    reminder = (
        policy.default_reminder_before if body.reminder_before is None else body.reminder_before
    )
    known, applications = settings.api.approver_directory(), settings.api.applications()
    people = [*body.assignees, *filter(None, [body.escalation_to])]
    for who in people:
        if who.casefold() in applications or who.startswith("app:"):
            problems.append(f"{who} is an application, not a person")
        elif who.casefold() not in known:
            problems.append(
                f"{who} is not a known reviewer (an API key with approvals:decide, "
                "or api.approvers)"
            )
    if body.proposer and body.proposer.casefold() in {p.casefold() for p in people}:
        problems.append(f"{body.proposer} proposed the review and cannot review it")
    if problems:
        raise InvalidProcessInput("; ".join(problems))
    stage = ApprovalStageSpec(
        name=REVIEW_STAGE,
        approvers=list(body.assignees),
        quorum=body.quorum,
        deadline=deadline,
        reminder_before=reminder,
        escalation_approver=body.escalation_to,
        escalation_window=window,
    )
    return ReviewTaskInput(
        key=request_key(system, body.request_id),
        requester=system,
        request_id=body.request_id,
        node_id=body.node_id,
        version=body.version,
        title=body.title,
        instructions=body.instructions,
        stage=stage,
        proposer=body.proposer,
        started_by=started_by,
        environment=settings.profile,
    )


class EcmReviewTasks(ProcessClient):
    """Review tasks on ECM documents, one workflow per (requester, request id)."""

    workflow_type = "EcmReviewTaskWorkflow"
    process_name = "ECM review task"

    def workflow_id(self, key: str) -> str:
        return review_workflow_id(*_split(key))

    def fingerprint(self, arg: BaseModel) -> dict[str, str]:
        return _fingerprint(arg)

    async def start(self, task: ReviewTaskInput) -> StartResult:
        spec = task.stage
        return await self.start_process(
            task.key,
            task,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.BUSINESS_KEY, task.key),
                    SearchAttributePair(sa.SOURCE_RECORD, f"node {task.node_id}"),
                    SearchAttributePair(sa.DOCUMENT_TYPE, "ecm_review"),
                    SearchAttributePair(sa.ENVIRONMENT, self.settings.profile),
                    SearchAttributePair(sa.STATUS, ReviewState.CHECKING.value),
                    SearchAttributePair(sa.SOURCE_SYSTEM, task.requester or ""),
                    SearchAttributePair(sa.PARTICIPANTS, sa.participants([spec])),
                ]
            ),
            static_summary=f"ECM review of node {task.node_id} for {task.key}: {task.title}",
        )

    async def status(self, system: str, request_id: str) -> ReviewTaskStatus:
        return await self.query(
            request_key(system, request_id), "status", result_type=ReviewTaskStatus
        )

    async def decide(
        self,
        system: str,
        request_id: str,
        actor: str,
        decision: Decision,
        comment: str,
        *,
        idempotency_key: str | None = None,
    ) -> UpdateAccepted:
        return await self.update(
            request_key(system, request_id),
            "decide",
            ApprovalDecision(actor=actor, decision=decision, comment=comment),
            result_type=UpdateAccepted,
            request_id=idempotency_key,
        )


class EcmContentUpdates(ProcessClient):
    """New versions of ECM documents, one workflow per (requester, request id)."""

    workflow_type = "EcmContentUpdateWorkflow"
    process_name = "ECM content update"

    def workflow_id(self, key: str) -> str:
        return update_workflow_id(*_split(key))

    def fingerprint(self, arg: BaseModel) -> dict[str, str]:
        return _fingerprint(arg)

    async def start(
        self,
        *,
        system: str,
        request_id: str,
        node_id: int,
        base_version: int,
        document: DocumentRef,
        metadata: dict[str, dict[str, str | int | float | bool | None]],
        started_by: str,
    ) -> StartResult:
        update = ContentUpdateInput(
            key=request_key(system, request_id),
            requester=system,
            request_id=request_id,
            node_id=node_id,
            base_version=base_version,
            document=document,
            metadata=metadata,
            started_by=started_by,
            environment=self.settings.profile,
        )
        return await self.start_process(
            update.key,
            update,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.BUSINESS_KEY, update.key),
                    SearchAttributePair(sa.SOURCE_RECORD, f"node {node_id}"),
                    SearchAttributePair(sa.DOCUMENT_TYPE, "ecm_update"),
                    SearchAttributePair(sa.ENVIRONMENT, self.settings.profile),
                    SearchAttributePair(sa.STATUS, "checking"),
                    SearchAttributePair(sa.SOURCE_SYSTEM, system),
                ]
            ),
            static_summary=f"ECM content update of node {node_id} for {update.key}",
        )

    async def result(
        self, system: str, request_id: str, wait: timedelta
    ) -> ContentUpdateResult | None:
        """The update's result, waiting at most `wait`; None while it still runs."""
        key = request_key(system, request_id)
        handle = self.client.get_workflow_handle(
            self.workflow_id(key), result_type=ContentUpdateResult
        )
        try:
            return await asyncio.wait_for(handle.result(), wait.total_seconds())
        except TimeoutError:
            return None
        except Exception as exc:
            self.fail(exc, key)

    async def status(self, system: str, request_id: str) -> ContentUpdateResult:
        return await self.query(
            request_key(system, request_id), "status", result_type=ContentUpdateResult
        )
