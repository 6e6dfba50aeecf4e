"""Lifecycle action: one (ECM event, rule) that starts a process in a business system — an
invoice's final approval starts invoice processing in ERP, a signed contract activates the
contract, an approved purchase requisition releases procurement — and brings its result back
into the document's status metadata in Content Server.

The story: the document's event workflow starts this one as a child whose id is made of the
rule and the event (so each (event, rule) acts once) → the rule is resolved in the current
bundle (removed meanwhile: refused, recorded) → "started" is written on the document → the
process is started with the workflow id as idempotency key and reference (a retried start, or
this workflow started twice, never makes two processes) → its result is awaited: the system's
`process_result` event is a hint confirmed with a read, a lost event is caught by polling,
and nothing by `result_timeout_s` is a failure ("no result") → the outcome (completed with the
system's document number, or failed with the reason) is written on the document → every
failure tells support and flags the run for attention; the run returns the outcome.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal, NoReturn

from temporalio import workflow

from workflows.kit.await_external import await_outcome
from workflows.kit.calls import GaveUp, call
from workflows.kit.lifecycle import ProcessEnded, run_story
from workflows.kit.notify import Notifier
from workflows.kit.record import ProcessRecord
from workflows.versioning import behaviour

with workflow.unsafe.imports_passed_through():
    from activities.business_processes import BusinessProcessActivities
    from activities.business_processes import options as business
    from activities.business_processes.activities import STILL_RUNNING
    from activities.content_server import options as content_server
    from activities.content_server.status_writeback import StatusWritebackActivities
    from docflow.config.ecm_events import StartProcess, StatusWriteback
    from docflow.models.business_processes import (
        BusinessProcess,
        ProcessLookup,
        ProcessResultHint,
        ResolvedRule,
        RuleLookup,
        StatusWrite,
        process_start,
        result_detail,
    )
    from docflow.models.ecm_events import LifecycleActionInput, LifecycleActionResult
    from docflow.models.process import ProcessSummary

INDEXED_STATES = {"waiting_for_result", "completed", "failed", "refused"}
ACTION_FAILED = "action_failed"  # DocflowAttention: the action failed, support was told
FIRST_POLL_AFTER = timedelta(minutes=10)  # callbacks first; then poll
POLL_EVERY = timedelta(minutes=30)
NOTE_GIVE_UP = timedelta(hours=1)  # "In progress", "cancelled": never held back long
MAX_HINTS = 10
Outcome = Literal["completed", "failed", "refused"]


@workflow.defn(
    name="LifecycleActionWorkflow", versioning_behavior=behaviour("LifecycleActionWorkflow")
)
class LifecycleActionWorkflow:
    @workflow.init
    def __init__(self, action: LifecycleActionInput) -> None:
        self._input = action
        self._key = f"node:{action.event.node.id}"
        self._record = ProcessRecord(
            "lifecycle-action",
            self._key,
            state="resolving",
            indexed_states=INDEXED_STATES,
            details=self._details,
        )
        self._notify = Notifier(self._key, self._record)
        self._rule: ResolvedRule | None = None
        self._process: BusinessProcess | None = None
        self._hints: list[ProcessResultHint] = []
        self._result: LifecycleActionResult | None = None

    # ------------------------------------------------------------------ story
    @workflow.run
    async def run(self, action: LifecycleActionInput) -> LifecycleActionResult:
        event = action.event
        self._record.record(
            "started",
            "ecm",
            f"{event.type} of node {event.node.id} ({event.key}) → {action.rule_id}",
        )
        await run_story(self._story, on_cancel=self._cancelled, record=self._record)
        assert self._result is not None
        return self._result

    async def _story(self) -> None:
        rule = await self._resolve()
        start = rule.action
        assert start is not None
        await self._write_status(
            "started", f"{start.process} in {start.system}", give_up=NOTE_GIVE_UP
        )
        self._record.set_state("starting", f"{start.system} to start {start.process}")
        try:
            process = await call(
                BusinessProcessActivities.start,
                process_start(start, self._input, workflow.info().workflow_id),
                business.START,
                summary=f"Start {start.process} in {start.system} (key = this workflow's id)",
                record=self._record,
            )
        except GaveUp as failure:
            await self._finish(
                "failed", f"{start.system} did not start {start.process}: {failure.reason}"
            )
        self._process = process
        self._record.record("process_started", start.system, f"{start.process} {process.id}")
        finished = process if process.finished else await self._wait_for_result(start, process)
        if finished is None:
            await self._finish(
                "failed", f"no result from {start.system} within {start.result_timeout_s:g} s"
            )
        if finished.status == "completed":
            await self._finish("completed", "", finished.result or {})
        await self._finish(
            "failed", finished.reason or f"{start.system} reported the process failed"
        )

    async def _resolve(self) -> ResolvedRule:
        """The rule as configured now (only activities read configuration)."""
        action = self._input
        try:
            rule = await call(
                BusinessProcessActivities.resolve_rule,
                RuleLookup(rule_id=action.rule_id, planned_with=action.config_version),
                business.RESOLVE,
                summary=f"Resolve lifecycle rule {action.rule_id} in the current bundle",
                record=self._record,
            )
        except GaveUp as failure:
            await self._finish("failed", f"the configuration could not be read: {failure.reason}")
        self._rule = rule
        system = rule.action.system if rule.action else None
        self._record.index_at_start(
            business_key=self._key,
            source_record=workflow.info().workflow_id,
            document_type=action.rule_id,
            environment=rule.environment,
            source_system=system,
        )
        if rule.refused:
            await self._finish("refused", rule.refused)
        self._record.record(
            "resolved", "system", f"{action.rule_id} (bundle {rule.config_version})"
        )
        return rule

    async def _wait_for_result(
        self, start: StartProcess, process: BusinessProcess
    ) -> BusinessProcess | None:
        """The finished process (a confirmed event, or a poll), or None past the timeout."""
        deadline = workflow.now() + timedelta(seconds=start.result_timeout_s)
        lookup = ProcessLookup(system=start.system, process_id=process.id)
        what = f"{start.process} {process.id} in {start.system}"
        while (left := deadline - workflow.now()) > timedelta(0):
            self._record.set_state(
                "waiting_for_result", f"{start.system} to finish {what}", until=deadline
            )
            first = min(FIRST_POLL_AFTER, left / 4)
            try:
                polled = await await_outcome(
                    lambda: bool(self._hints),
                    poll=BusinessProcessActivities.await_finished,
                    poll_arg=lookup,
                    options=business.POLL,
                    first_poll_after=first,
                    every=max(min(POLL_EVERY, left / 10), timedelta(seconds=1)),
                    give_up=max(left - first, timedelta(seconds=1)),
                    summary=f"Result of {what}",
                )
            except GaveUp as failure:
                if failure.error_type in ("Timeout", STILL_RUNNING):
                    return None
                await self._finish(
                    "failed", f"the result of {what} could not be read: {failure.reason}"
                )
            if polled is not None:
                self._record.record("result_polled", start.system, f"{polled.status} {process.id}")
                return polled
            hint = self._hints.pop(0)
            confirmed = await self._confirm(lookup, hint, what)
            if confirmed is not None:
                return confirmed
        return None

    async def _confirm(
        self, lookup: ProcessLookup, hint: ProcessResultHint, what: str
    ) -> BusinessProcess | None:
        """An event is a hint: the system's own answer decides."""
        if hint.process_id != lookup.process_id:
            self._record.record("result_ignored", hint.system, f"{hint.event_id}: another process")
            return None
        try:
            process = await call(
                BusinessProcessActivities.read,
                lookup,
                business.READ,
                summary=f"Confirm '{hint.status}' of {what}",
                record=self._record,
            )
        except GaveUp as failure:
            self._record.record(
                "result_unconfirmed", lookup.system, f"{hint.event_id}: {failure.reason}"
            )
            return None
        if not process.finished:
            self._record.record(
                "result_unconfirmed",
                lookup.system,
                f"{hint.event_id} says {hint.status}; still running",
            )
            return None
        self._record.record(
            "result_confirmed", lookup.system, f"{process.status} {process.id} ({hint.event_id})"
        )
        return process

    # --------------------------------------------------------------- outcomes
    async def _finish(
        self, outcome: Outcome, reason: str, result: dict[str, Any] | None = None
    ) -> NoReturn:
        """Write the outcome on the document, report it; failures tell support."""
        detail = reason or result_detail(result or {})
        if outcome != "refused":
            self._record.set_state("writing_outcome", f"Content Server to take '{outcome}'")
            await self._write_status(outcome, detail)
        self._result = LifecycleActionResult(
            rule_id=self._input.rule_id, outcome=outcome, detail=result or {}, reason=reason
        )
        self._record.data.outcome_reason = reason
        self._record.record(outcome, self._system or "system", detail)
        if outcome != "failed":
            self._record.set_state(outcome, "nothing (finished)")
            raise ProcessEnded
        self._record.set_state("failed", "nothing (failed; support told)", attention=ACTION_FAILED)
        await self._notify.support(
            f"Lifecycle action {self._input.rule_id} for node "
            f"{self._input.event.node.id} failed: {reason}",
            key=f"{workflow.info().workflow_id}:failed",  # one per (event, rule)
            reason=reason,
        )
        raise ProcessEnded

    async def _write_status(
        self, outcome: str, detail: str, give_up: timedelta | None = None
    ) -> None:
        writeback: StatusWriteback | None = self._rule.writeback if self._rule else None
        if writeback is None:
            return
        node = self._input.event.node.id
        try:
            await call(
                StatusWritebackActivities.write_ecm_status,
                StatusWrite(
                    node_id=node, writeback=writeback, outcome=outcome, detail=detail[:500]
                ),
                content_server.CALL,
                summary=f"Write status '{writeback.values.get(outcome, outcome)}' on node {node}",
                give_up=give_up,
                record=self._record,
            )
        except GaveUp as failure:  # the outcome stands; the metadata is support's to fix
            self._record.record(
                "status_not_written", "content-server", f"{outcome}: {failure.reason}"
            )
            await self._notify.support(
                f"Status '{outcome}' of node {node} could not be written",
                key=f"{workflow.info().workflow_id}:status:{outcome}",
                reason=failure.reason,
            )

    async def _cancelled(self) -> None:
        """A Temporal cancellation stops docflow's follow-up; a started process is not withdrawn."""
        reason = "cancelled in Temporal" + (
            f"; {self._system} process {self._process.id} not withdrawn" if self._process else ""
        )
        self._result = LifecycleActionResult(
            rule_id=self._input.rule_id, outcome="failed", reason=reason
        )
        self._record.data.outcome_reason = reason
        self._record.record("cancelled", "system", reason)
        self._record.set_state("failed", "nothing (cancelled)")
        await self._write_status("failed", reason, give_up=NOTE_GIVE_UP)

    @property
    def _system(self) -> str | None:
        return self._rule.action.system if self._rule and self._rule.action else None

    # --------------------------------------------------------------- signals
    @workflow.signal(name="process_result")
    def process_result(self, hint: ProcessResultHint) -> None:
        """The system says the process finished (via the business-object receiver): a hint."""
        mine = hint.reference == workflow.info().workflow_id and hint.system == self._system
        if not mine or (self._process is not None and hint.process_id != self._process.id):
            self._record.record(
                "result_ignored", hint.system, f"{hint.event_id}: not this action's process"
            )
            return
        if any(h.event_id == hint.event_id for h in self._hints) or len(self._hints) >= MAX_HINTS:
            return
        self._hints.append(hint)
        self._record.record(
            "result_event", hint.system, f"{hint.status} {hint.process_id} ({hint.event_id})"
        )

    # --------------------------------------------------------------- queries
    @workflow.query(name="status")
    def status(self) -> ProcessSummary:
        return ProcessSummary.model_validate(self._record.summary_fields())

    def _details(self) -> str:
        event, rule = self._input.event, self._input.rule_id
        lines = [
            f"Lifecycle rule `{rule}` for {event.type} of node {event.node.id} ({event.node.name})"
        ]
        if self._process is not None:
            lines.append(f"Process: {self._system} {self._process.process} `{self._process.id}`")
        if self._result is not None:
            lines.append(f"Outcome: {self._result.outcome} {self._result.reason}".rstrip())
        return "\n\n".join(lines)
