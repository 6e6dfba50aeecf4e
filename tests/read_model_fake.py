"""The read model's activity for workers of stand-in activities: keeps every change in memory,
so a workflow test can also see what its process wrote."""

from __future__ import annotations

from temporalio import activity

from docflow.models.records import ProcessChange, RecordWritten

CHANGES: list[ProcessChange] = []


@activity.defn(name="record_process_change")
async def record_process_change(change: ProcessChange) -> RecordWritten:
    CHANGES.append(change)
    return RecordWritten(applied=True, audit_written=len(change.audit))


def changes_of(workflow_id: str) -> list[ProcessChange]:
    return [c for c in CHANGES if c.workflow_id == workflow_id]
