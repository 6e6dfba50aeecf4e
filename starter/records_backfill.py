"""Rebuild the read model from Temporal's histories (`docflow records backfill`).

Every write a process made is in its history, as the input of a `record_process_change`
activity: the backfill reads each run's history and applies those changes again. The store is
idempotent per process and version, so running it twice, or over a model that is already
current, changes nothing. A run from before the read model (no such activity) is rebuilt from
its result when it has ended: the status it returned (state, business key, audit trail).
Runs of that age still running are counted and left: they appear once they end and the
backfill runs again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from docflow.models.process import AuditEntry
from docflow.models.records import AuditRow, ProcessChange, RecordFacts
from docflow.records.store import RecordStore

RECORD_ACTIVITY = "record_process_change"
# The processes whose runs write the read model (infrastructure workflows do not).
RECORDED_TYPES = (
    "SigningWorkflow",
    "BusinessObjectWorkflow",
    "CaseAssemblyWorkflow",
    "ContentDistributionWorkflow",
    "MasterDataWorkflow",
    "EcmDocumentWorkflow",
    "LifecycleActionWorkflow",
    "EcmReviewTaskWorkflow",
    "EcmContentUpdateWorkflow",
)


class BackfillReport(BaseModel):
    runs: int = 0
    changes_applied: int = 0
    rebuilt_from_result: int = 0
    running_without_writes: int = 0
    unreadable: int = 0


def default_query(since: datetime | None = None) -> str:
    types = ", ".join(f"'{t}'" for t in RECORDED_TYPES)
    query = f"WorkflowType IN ({types})"
    if since is not None:
        query += f" AND StartTime >= '{since.isoformat()}'"
    return query


async def backfill(
    client: Client,
    store: RecordStore,
    *,
    query: str,
    progress: Callable[[BackfillReport], None] | None = None,
) -> BackfillReport:
    """Apply every recorded change of every run `query` lists; report what was done."""
    report = BackfillReport()
    async for execution in client.list_workflows(query):
        report.runs += 1
        try:
            changes = await _run_changes(client, execution, report)
        except (ValidationError, ValueError):
            report.unreadable += 1
            continue
        if changes:
            await asyncio.to_thread(store.bulk_apply, changes)
            report.changes_applied += len(changes)
        if progress is not None:
            progress(report)
    return report


async def _run_changes(
    client: Client, execution: WorkflowExecution, report: BackfillReport
) -> list[ProcessChange]:
    handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
    converter = client.data_converter
    changes: list[ProcessChange] = []
    first_run_id, result = execution.run_id, None
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            started = event.workflow_execution_started_event_attributes
            first_run_id = started.first_execution_run_id or execution.run_id
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled = event.activity_task_scheduled_event_attributes
            if scheduled.activity_type.name == RECORD_ACTIVITY:
                [change] = await converter.decode(scheduled.input.payloads, [ProcessChange])
                changes.append(change)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            completed = event.workflow_execution_completed_event_attributes
            if completed.result.payloads:
                [result] = await converter.decode(completed.result.payloads, [dict])
    if changes:
        return changes
    if execution.status == WorkflowExecutionStatus.RUNNING:
        report.running_without_writes += 1
        return []
    if isinstance(result, dict) and {"state", "business_key"} <= result.keys():
        report.rebuilt_from_result += 1
        return [_from_result(execution, first_run_id, result)]
    report.unreadable += 1
    return []


def _from_result(
    execution: WorkflowExecution, first_run_id: str, result: dict[str, Any]
) -> ProcessChange:
    """A process that ended before the read model: its final status as one change."""
    audit = [AuditEntry.model_validate(entry) for entry in result.get("audit") or []]
    dropped = int(result.get("audit_dropped") or 0)
    rows = [
        AuditRow(seq=0 if i == 0 else dropped + i, **entry.model_dump())
        for i, entry in enumerate(audit)
    ]
    ended = execution.close_time or execution.start_time
    return ProcessChange(
        process_key=first_run_id,
        workflow_id=execution.id,
        run_id=execution.run_id,
        process_type=str(result.get("process_type") or execution.workflow_type)[:64],
        business_key=str(result["business_key"])[:255],
        version=1,
        at=ended,
        started_at=execution.start_time,
        state=str(result["state"])[:64],
        stage=result.get("stage"),
        waiting_for=str(result.get("waiting_for") or ""),
        outcome_reason=str(result.get("outcome_reason") or ""),
        closed=True,
        facts=RecordFacts(source_system=str(result.get("source_system") or "")[:64]),
        audit=rows,
    )
