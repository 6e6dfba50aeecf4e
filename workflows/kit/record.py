"""Process record: state, what the process waits for since when and until when, a condensed
and bounded audit trail, current details for the Web UI, search attributes on indexed states.

Rules:
- identical consecutive audit entries (a poll answering the same status every hour) collapse
  into one entry with a repeat count, so the trail grows with what happened, not with time;
- the trail keeps at most `audit_limit` entries: the oldest after "started" are dropped and
  counted, so queries, results and continue-as-new inputs stay bounded;
- search attributes are upserted only when an indexed state (or its stage) changes: each
  upsert is a billed action and a visibility write;
- everything lives in one `RecordState` model, handed over intact on continue-as-new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from docflow import search_attributes as sa
    from docflow.models.process import AuditEntry, RecordState


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
    ) -> None:
        self.process_type = process_type
        self.business_key = business_key
        self.data = saved or RecordState(state=state)
        self._indexed_states = frozenset(indexed_states)
        self._details = details
        self._audit_limit = audit_limit

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
        attention: bool = False,
    ) -> None:
        """Enter `state` (or refresh what it waits for); `until` is the wait's deadline."""
        now = workflow.now()
        data = self.data
        if data.state != state or data.since is None:
            data.since = now
        data.state, data.waiting_for, data.stage, data.attention = (
            state,
            waiting_for,
            stage,
            attention,
        )
        data.until = now + until if isinstance(until, timedelta) else until
        self.show()
        key = f"{state}/{stage or ''}"
        if state in self._indexed_states and data.indexed != key:
            data.indexed = key
            workflow.upsert_search_attributes(
                [
                    sa.STATUS.value_set(state),
                    sa.STAGE.value_set(stage) if stage else sa.STAGE.value_unset(),
                ]
            )

    def index_at_start(
        self, *, business_key: str, source_record: str, document_type: str, environment: str
    ) -> None:
        """Make a process started without search attributes findable (starters normally set
        them at start, before the first task; an upsert is a billed action)."""
        if workflow.info().typed_search_attributes.get(sa.BUSINESS_KEY) is not None:
            return
        workflow.upsert_search_attributes(
            [
                sa.BUSINESS_KEY.value_set(business_key),
                sa.SOURCE_RECORD.value_set(source_record),
                sa.DOCUMENT_TYPE.value_set(document_type),
                sa.ENVIRONMENT.value_set(environment),
                sa.STATUS.value_set(self.data.state),
            ]
        )

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
        if data.attention:
            lines.append("⚠ needs an operator: see the audit trail for what to do")
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
            return
        entries.append(AuditEntry(at=now, kind=kind, actor=actor, detail=detail, data=data or {}))
        if len(entries) > self._audit_limit:
            del entries[1]  # keep "started": it says who asked for the process
            self.data.audit_dropped += 1

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
            "attention": data.attention,
            "outcome_reason": data.outcome_reason,
            "audit": list(data.audit),
            "audit_dropped": data.audit_dropped,
        }
