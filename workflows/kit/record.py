"""Process record: state, what the process waits for since when and until when, a condensed
and bounded audit trail, current details for the Web UI, search attributes on indexed states.

Rules:
- identical consecutive audit entries (a poll answering the same status every hour) collapse
  into one entry with a repeat count, so the trail grows with what happened, not with time;
- the trail keeps at most `audit_limit` entries: the oldest after "started" are dropped and
  counted, so queries, results and continue-as-new inputs stay bounded;
- search attributes are upserted only when they change: status, stage, since
  (`DocflowSince`) and deadline (`DocflowDeadline`) on indexed states and on any state that
  needs attention; `DocflowAttention` whenever its reason changes — an exception open, a
  report dead-lettered (both set with the state), or a step retrying past its expected time
  (`step_retrying`, raised and cleared by `calls.call`). Each upsert is a billed action and
  a visibility write. Runs started before these attributes existed keep their old upserts
  (patch `kit.record.operator-attributes`);
- the read model gets the process at each state change (state, stage, deadline or attention;
  a refresh of what it waits for goes with the next write), when its facts change, for the
  audit entries an auditor must see at once (decisions, holds, failed deliveries) and at its
  end, by the activity
  `record_process_change`; other audit entries go with the next write. At most one write is
  in flight: changes made while one runs go in the next, so a burst costs one or two
  activities (each about six history events). Each write carries the
  process's row, a version (highest wins) and the audit entries since the last acknowledged one
  by sequence number, so retries and replays write nothing twice. `flush()` waits for the last
  write before the run ends; a run continuing as new waits for the write in flight only and
  hands its unacknowledged changes over (the next run's first state writes them). Runs
  started before the read model keep their history (patch `kit.record.read-model`);
- everything lives in one `RecordState` model, handed over intact on continue-as-new.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.records.options import RECORD
    from docflow import search_attributes as sa
    from docflow.models.process import AuditEntry, RecordState
    from docflow.models.records import (
        DECISION_KIND,
        DELIVERY_FAILED_KIND,
        HOLD_APPLIED_KIND,
        HOLD_RELEASED_KIND,
        ApprovedVersion,
        AuditRow,
        ProcessChange,
        RecordWritten,
    )

OPERATOR_ATTRIBUTES_PATCH = "kit.record.operator-attributes"
READ_MODEL_PATCH = "kit.record.read-model"
RECORD_ACTIVITY = "record_process_change"
APPROVED_KEPT = 20
# Audit entries written at once rather than with the next state change.
WRITTEN_AT_ONCE = frozenset(
    {DECISION_KIND, HOLD_APPLIED_KIND, HOLD_RELEASED_KIND, DELIVERY_FAILED_KIND}
)


class ProcessRecord:
    def __init__(
        self,
        process_type: str,
        business_key: str,
        *,
        state: str,
        indexed_states: Iterable[str],
        details: Callable[[], str] | None = None,
        saved: RecordState | None = None,
        audit_limit: int = 300,
        read_model: bool = True,
    ) -> None:
        self.process_type = process_type
        self.business_key = business_key
        self.data = saved or RecordState(state=state)
        self._indexed_states = frozenset(indexed_states)
        self._details = details
        self._audit_limit = audit_limit
        self._read_model = read_model
        self._publishing: bool | None = None
        self._dirty = False
        self._writing = False
        self._closed = False
        self._unwritten = False  # audit entries waiting for the next write
        self._handing_over = False  # continuing as new: no new write
        # Continued as new: what the last run had not yet acknowledged goes in the first write.
        self._resumed = saved is not None and saved.written_version > 0
        self._pump: asyncio.Task[None] | None = None

    @property
    def state(self) -> str:
        return self.data.state

    def set_state(
        self,
        state: str,
        waiting_for: str,
        *,
        stage: str | None = None,
        until: timedelta | datetime | None = None,
        attention: bool | str = False,
    ) -> None:
        """Enter `state` (or refresh what it waits for); `until` is the wait's deadline.

        `attention` is why a person must act (a `search_attributes` reason); True means an
        exception is open."""
        now = workflow.now()
        data = self.data
        before = (data.state, data.stage, data.until, data.attention_reason)
        if data.state != state or data.since is None:
            data.since = now
        reason = sa.EXCEPTION_OPEN if attention is True else (attention or "")
        data.state, data.waiting_for, data.stage = state, waiting_for, stage
        data.attention, data.attention_reason = bool(reason), reason
        data.until = now + until if isinstance(until, timedelta) else until
        self.show()
        if (data.state, data.stage, data.until, data.attention_reason) != before or self._resumed:
            self._resumed = False
            self._changed()  # a new wait; what it waits for alone goes with the next write
        if self.operator_attributes():
            self._index()
            return
        key = f"{state}/{stage or ''}"
        if state in self._indexed_states and data.indexed != key:
            data.indexed = key
            workflow.upsert_search_attributes(
                [
                    sa.STATUS.value_set(state),
                    sa.STAGE.value_set(stage) if stage else sa.STAGE.value_unset(),
                ]
            )

    @property
    def attention(self) -> str:
        """Why a person must look now ('' when nobody must): the DocflowAttention value."""
        data = self.data
        return data.attention_reason or (sa.STEP_RETRYING if data.retrying else "")

    def step_retrying(self, step: str | None) -> None:
        """Raise (`step` = its summary) or clear (None) the "retrying past expected" flag."""
        if (step or "") == self.data.retrying:
            return
        self.data.retrying = step or ""
        self.record("step_retrying" if step else "step_recovered", "system", step or "")
        self.show()
        self._index()

    def operator_attributes(self) -> bool:
        """True for runs that keep the operator attributes (all runs started by this code)."""
        return workflow.patched(OPERATOR_ATTRIBUTES_PATCH)

    def _index(self) -> None:
        data, attention = self.data, self.attention
        wanted = {sa.ATTENTION.name: attention}
        if data.state in self._indexed_states or attention:
            wanted |= {
                sa.STATUS.name: data.state,
                sa.STAGE.name: data.stage or "",
                sa.SINCE.name: data.since.isoformat() if data.since else "",
                sa.DEADLINE.name: data.until.isoformat() if data.until else "",
            }
        changed = {k: v for k, v in wanted.items() if data.upserted.get(k, "") != v}
        if not changed:
            return
        keys: dict[str, Any] = {
            sa.STATUS.name: (sa.STATUS, data.state),
            sa.STAGE.name: (sa.STAGE, data.stage),
            sa.SINCE.name: (sa.SINCE, data.since),
            sa.DEADLINE.name: (sa.DEADLINE, data.until),
            sa.ATTENTION.name: (sa.ATTENTION, attention),
        }
        updates = []
        for name, text in changed.items():
            key, value = keys[name]
            updates.append(key.value_set(value) if text else key.value_unset())
        data.upserted.update(changed)
        data.indexed = f"{data.state}/{data.stage or ''}"
        workflow.upsert_search_attributes(updates)

    def index_at_start(
        self,
        *,
        business_key: str,
        source_record: str,
        document_type: str,
        environment: str,
        source_system: str | None = None,
        participants: Sequence[str] = (),
    ) -> None:
        """Make a process started without search attributes findable (starters normally set
        them at start, before the first task; an upsert is a billed action)."""
        if workflow.info().typed_search_attributes.get(sa.BUSINESS_KEY) is not None:
            return
        updates = [
            sa.BUSINESS_KEY.value_set(business_key),
            sa.SOURCE_RECORD.value_set(source_record),
            sa.DOCUMENT_TYPE.value_set(document_type),
            sa.ENVIRONMENT.value_set(environment),
            sa.STATUS.value_set(self.data.state),
        ]
        if self.operator_attributes():
            if source_system:
                updates.append(sa.SOURCE_SYSTEM.value_set(source_system))
            if participants:
                updates.append(sa.PARTICIPANTS.value_set(sorted(set(participants))))
            self.data.upserted[sa.STATUS.name] = self.data.state
        workflow.upsert_search_attributes(updates)

    def show(self) -> None:
        """Current details in the Web UI: state, what it waits for, since/until, extras."""
        data = self.data
        lines = [f"**{data.state}**" + (f" · stage `{data.stage}`" if data.stage else "")]
        wait = f"Waiting for: {data.waiting_for}"
        if data.since:
            wait += f" since {data.since:%Y-%m-%d %H:%M} UTC"
        if data.until:
            wait += f" until {data.until:%Y-%m-%d %H:%M} UTC"
        lines.append(wait)
        if data.retrying:
            lines.append(f"⚠ retrying longer than expected: {data.retrying}")
        if data.attention_reason:
            lines.append(
                f"⚠ needs an operator ({data.attention_reason}): see below and the audit trail"
            )
        if self._details:
            lines.append(self._details())
        workflow.set_current_details("\n\n".join(lines))

    def record(
        self, kind: str, actor: str, detail: str = "", *, data: dict[str, str] | None = None
    ) -> None:
        now = workflow.now()
        entries = self.data.audit
        last = entries[-1] if entries else None
        if last is not None and (last.kind, last.actor, last.detail, last.data) == (
            kind,
            actor,
            detail,
            data or {},
        ):
            last.repeated += 1
            last.last_at = now
            self._unwritten = True
            return
        entries.append(AuditEntry(at=now, kind=kind, actor=actor, detail=detail, data=data or {}))
        if len(entries) > self._audit_limit:
            del entries[1]  # keep "started": it says who asked for the process
            self.data.audit_dropped += 1
        self._unwritten = True
        if kind in WRITTEN_AT_ONCE:
            self._changed()

    def last(self, kind: str) -> AuditEntry | None:
        return next((e for e in reversed(self.data.audit) if e.kind == kind), None)

    def summary_fields(self) -> dict[str, object]:
        """The ProcessSummary fields, for a process's status model."""
        data = self.data
        return {
            "process_type": self.process_type,
            "business_key": self.business_key,
            "state": data.state,
            "waiting_for": data.waiting_for,
            "since": data.since,
            "until": data.until,
            "attention": bool(self.attention),
            "attention_reason": self.attention,
            "retrying": data.retrying,
            "outcome_reason": data.outcome_reason,
            "audit": list(data.audit),
            "audit_dropped": data.audit_dropped,
        }

    # ------------------------------------------------------------------ read model

    def describe(self, **facts: Any) -> None:
        """Set what the process knows of its subject (`RecordFacts` fields); written with
        the next change."""
        current = self.data.facts
        updated = current.model_copy(update=facts)
        if updated != current:
            self.data.facts = type(current).model_validate(updated.model_dump())
            self._changed()

    def approved(self, version: ApprovedVersion) -> None:
        """A version this process approved (signed, published): portals may read it."""
        kept = [
            v
            for v in self.data.facts.approved
            if (v.source, v.object_id, v.version)
            != (version.source, version.object_id, version.version)
        ]
        self.data.facts.approved = [*kept, version][-APPROVED_KEPT:]
        self._changed()

    async def flush(self, *, closed: bool = False) -> None:
        """Wait until the read model has every change (`closed`: the process has ended)."""
        if closed and not self._closed:
            self._closed = True
            self._changed()
        elif self._unwritten:
            self._changed()
        if self._pump is None:
            return
        await workflow.wait_condition(lambda: not self._dirty and not self._writing)

    async def hand_over(self) -> None:
        """Before continuing as new: let the write in flight end and start no other (the
        state carried holds what is unwritten; the next run's first write sends it)."""
        self._handing_over = True
        if self._pump is not None:
            await workflow.wait_condition(lambda: not self._writing)

    def _changed(self) -> None:
        if not self._read_model:
            return
        if self._publishing is None:
            self._publishing = workflow.patched(READ_MODEL_PATCH)
        if not self._publishing:
            return
        if self.data.started_at is None:
            self.data.started_at = workflow.info().start_time
        self._dirty = True
        if self._pump is None:
            self._pump = asyncio.create_task(self._write_changes())

    async def _write_changes(self) -> None:
        while True:
            # Evaluated once the activation's coroutines have run: one write per burst.
            await workflow.wait_condition(lambda: self._dirty and not self._handing_over)
            self._dirty = False
            self._writing = True
            change = self._change()
            try:
                await workflow.execute_activity(
                    RECORD_ACTIVITY,
                    change,
                    result_type=RecordWritten,
                    start_to_close_timeout=RECORD.start_to_close,
                    schedule_to_close_timeout=RECORD.give_up,
                    retry_policy=RECORD.retry,
                    summary=f"read model: {change.state} (v{change.version})",
                )
            except ActivityError as err:
                # Down for a week: the next write sends the row and the unacknowledged
                # entries again; `docflow records backfill` restores the rest.
                workflow.logger.warning("read model write v%s given up: %s", change.version, err)
                continue
            finally:
                self._writing = False
            if change.audit:
                self.data.written_seq = max(self.data.written_seq, change.audit[-1].seq)

    def _change(self) -> ProcessChange:
        data, info = self.data, workflow.info()
        data.written_version += 1
        self._unwritten = False
        rows = []
        for index, entry in enumerate(data.audit):
            seq = 0 if index == 0 else data.audit_dropped + index
            if seq >= data.written_seq:  # the last one again: it may have been condensed
                rows.append(AuditRow(seq=seq, **entry.model_dump()))
        return ProcessChange(
            process_key=info.first_execution_run_id or info.run_id,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            process_type=self.process_type,
            business_key=self.business_key[:255],
            version=data.written_version,
            at=workflow.now(),
            started_at=data.started_at or info.start_time,
            state=data.state,
            stage=data.stage,
            waiting_for=data.waiting_for,
            since=data.since,
            until=data.until,
            attention_reason=self.attention,
            outcome_reason=data.outcome_reason,
            closed=self._closed,
            facts=data.facts,
            audit=rows,
        )
