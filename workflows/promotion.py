"""Configuration promotion: a candidate set of concern files becomes an environment's next
configuration version — or is refused, rejected, expires, or finds the environment moved on.

The story (it runs in the target environment, on that environment's workers): diff the
candidate against the current configuration and validate it (schemas, cross-references,
secret references resolving here, no production endpoint or secret outside production) →
look every id it names up in this environment's live systems (Core Signature templates,
Content Server types, templates, categories, attributes, RM classes, Amplience workflow
states, targets' and subscribers' health) → a release approver decides (the kit's approval
task: deadline, reminder, escalation; the proposer never decides) → applied atomically as
the next version, only if the environment is still on the version that was checked; running
workers pick it up within seconds. A rollback re-applies what the current version replaced:
static checks only, no approval wait (it restores a configuration that was approved). Every
step is in the audit trail and the read model; the proposer is told the outcome.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.kit.calls import GaveUp, call
from workflows.kit.human_task import ApprovalTask
from workflows.kit.lifecycle import ProcessEnded, run_story
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.http.options import CallOptions
    from activities.promotion import options
    from activities.promotion.activities import PromotionActivities
    from docflow.models import ApprovalDecision, Decision, NotificationKind, UpdateAccepted
    from docflow.models.environment import LiveReport
    from docflow.models.promotion import (
        PROMOTION_TERMINAL,
        ApplyRequest,
        CandidateCheck,
        CandidateRequest,
        PromotionInput,
        PromotionState,
        PromotionStatus,
    )

T = TypeVar("T")
S = PromotionState
INDEXED_STATES = {S.AWAITING_APPROVAL} | PROMOTION_TERMINAL
MAX_LISTED = 5


@workflow.defn(
    name="ConfigPromotionWorkflow", versioning_behavior=behaviour("ConfigPromotionWorkflow")
)
class ConfigPromotionWorkflow:
    @workflow.init
    def __init__(self, request: PromotionInput) -> None:
        self._input = request
        self._record = ProcessRecord(
            "config-promotion",
            request.promotion_id,
            state=S.VALIDATING,
            indexed_states=INDEXED_STATES,
        )
        self._notify = Notifier(request.promotion_id, self._record)
        self._check: CandidateCheck | None = None
        self._live: LiveReport | None = None
        self._task: ApprovalTask | None = None
        self._approver, self._comment = "", ""
        self._decided_at = None
        self._applied: int | None = None

    # ------------------------------------------------------------------ story
    @workflow.run
    async def run(self, request: PromotionInput) -> PromotionStatus:
        approvers = request.approval.approvers if request.approval else []
        self._record.index_at_start(
            business_key=request.promotion_id,
            source_record=f"{request.kind} to {request.environment}",
            document_type="config_promotion",
            environment=request.environment,
            source_system=request.source,
            participants=[request.proposer, *approvers],
        )
        what = f"{request.kind} of {request.source} to {request.environment}"
        self._record.record("proposed", request.proposer, f"{what}: {request.reason}".strip())
        await run_story(self._story, on_cancel=self._cancelled, record=self._record)
        return self.status()

    async def _story(self) -> None:
        request = self._input
        candidate = CandidateRequest(environment=request.environment, candidate=request.candidate)
        check = self._check = await self._call(
            PromotionActivities.check_candidate,
            candidate,
            options.CHECK,
            f"Diff and validate the candidate for {request.environment}",
        )
        against = f"v{check.current}" if check.current else "its files"
        self._record.record("diffed", "system", f"against {against}: {check.diff_summary}")
        if check.problems:
            await self._conclude(S.REFUSED, _listed("validation", check.problems))
        self._record.record("validated", "system", "schemas, references and secrets: ok")
        if not check.changed_files:
            await self._conclude(S.UNCHANGED, f"the candidate equals {against}")
        if request.kind == "promotion":
            await self._check_live(candidate)
            decision = await self._approval()
            if decision is None:
                await self._conclude(S.EXPIRED, "no release decision by the deadline")
            if decision is not Decision.APPROVE:
                await self._conclude(S.REJECTED, self._comment or decision.value)
        await self._apply(check)

    async def _check_live(self, candidate: CandidateRequest) -> None:
        self._record.set_state(S.CHECKING_LIVE, f"{self._input.environment}'s live systems")
        live = self._live = await self._call(
            PromotionActivities.check_live,
            candidate,
            options.LIVE,
            f"Look the candidate's ids up in {self._input.environment}'s systems",
        )
        failed = [str(c) for c in live.problems]
        self._record.record(
            "live_checked", "system", f"{len(live.checks)} checked, {len(failed)} failed"
        )
        if failed:
            await self._conclude(S.REFUSED, _listed("live checks", failed))

    async def _approval(self) -> Decision | None:
        spec = self._input.approval
        if spec is None:
            raise ApplicationError("a promotion needs release approvers", non_retryable=True)
        task = self._task = ApprovalTask.open(spec)
        self._record.set_state(
            S.AWAITING_APPROVAL,
            f"release decision of {task.describe_quorum()}",
            until=spec.deadline,
        )

        def escalated(approver: str) -> None:
            self._record.record("escalated", "system", f"to {approver}")
            self._record.set_state(
                S.AWAITING_APPROVAL, f"escalation approver {approver}", until=spec.escalation_window
            )

        return await task.run(
            notify=self._notify.for_task("release"),
            subject=f"release of configuration {self._input.promotion_id} to "
            f"{self._input.environment} ({self._check.diff_summary if self._check else ''})",
            interrupted=lambda: False,
            on_reminder=lambda: self._record.record("reminder", "system", ", ".join(task.pending)),
            on_escalation=escalated,
        )

    async def _apply(self, check: CandidateCheck) -> None:
        request = self._input
        self._record.set_state(S.APPLYING, f"the new version of {request.environment}")
        result = await self._call(
            PromotionActivities.apply,
            ApplyRequest(
                promotion_id=request.promotion_id,
                kind=request.kind,
                environment=request.environment,
                candidate=request.candidate,
                expected=check.current,
                candidate_content=check.candidate_content,
                source=request.source,
                proposer=request.proposer,
                approver=self._approver,
                summary=check.diff_summary,
            ),
            options.APPLY,
            f"Apply the candidate to {request.environment}",
        )
        if not result.applied:
            await self._conclude(S.SUPERSEDED, result.conflict)
        self._applied = result.number
        await self._conclude(
            S.APPLIED,
            f"{request.environment} runs configuration version {result.number} "
            f"({check.candidate_content})",
        )

    # --------------------------------------------------------------- outcomes
    async def _call(
        self,
        activity: Callable[..., Awaitable[T]],
        arg: Any,
        preset: CallOptions,
        summary: str,
    ) -> T:
        """One step; a step that gives up refuses the promotion with its reason."""
        try:
            return await call(activity, arg, preset, summary=summary, record=self._record)
        except GaveUp as failure:
            await self._conclude(S.REFUSED, f"{summary}: {failure.reason}")

    async def _conclude(self, state: PromotionState, reason: str) -> NoReturn:
        """Record the outcome, tell the proposer, end."""
        request = self._input
        self._record.data.outcome_reason = reason
        self._record.record(state.value, self._approver or "system", reason)
        self._record.set_state(state, "nothing (finished)")
        await self._notify(
            NotificationKind.PROMOTION_OUTCOME,
            [request.proposer],
            f"Configuration {request.kind} {request.promotion_id} to {request.environment}: "
            f"{state.value}",
            key=f"outcome:{state.value}",
            data={"reason": reason[:1000], "state": state.value},
        )
        raise ProcessEnded

    async def _cancelled(self) -> None:
        with contextlib.suppress(ProcessEnded):
            await self._conclude(S.CANCELLED, "cancelled (Temporal cancellation)")

    # -------------------------------------------------------------- decisions
    @workflow.update(name="decide")
    def decide(self, decision: ApprovalDecision) -> UpdateAccepted:
        task = self._task
        if task is None:  # the validator refuses this; a handler error must not fail the task
            raise ApplicationError("no release decision is open", non_retryable=True)
        accepted = task.decide(decision, self._record, what="release")
        if task.outcome is not None:
            self._approver, self._comment = decision.actor, decision.comment
            self._decided_at = workflow.now()
        return accepted

    @decide.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        task = self._task
        if self._record.state != S.AWAITING_APPROVAL or task is None:
            raise ValueError(f"the promotion is not open for decisions ({self._record.state})")
        if decision.actor.casefold() == self._input.proposer.casefold():
            raise ValueError(
                f"{decision.actor} proposed this promotion; a release approver other than "
                "the proposer must decide (separation of duties)"
            )
        if (reason := task.refusal(decision)) is not None:
            raise ValueError(reason)

    # ---------------------------------------------------------------- queries
    @workflow.query(name="status")
    def status(self) -> PromotionStatus:
        request = self._input
        return PromotionStatus.model_validate(
            {
                **self._record.summary_fields(),
                "promotion_id": request.promotion_id,
                "kind": request.kind,
                "environment": request.environment,
                "source": request.source,
                "proposer": request.proposer,
                "reason": request.reason,
                "check": self._check,
                "live": self._live,
                "stage": self._task.status if self._task else None,
                "approver": self._approver,
                "decided_at": self._decided_at,
                "comment": self._comment,
                "applied_version": self._applied,
            }
        )


def _listed(what: str, problems: list[str]) -> str:
    more = len(problems) - MAX_LISTED
    shown = "; ".join(problems[:MAX_LISTED])
    return f"{what}: {len(problems)} problem(s): {shown}" + (
        f" (and {more} more)" if more > 0 else ""
    )
