"""Processes docflow starts in business systems (ERP, CRM, procurement) when a lifecycle rule
fires, and the models a lifecycle action carries across Temporal boundaries.

The process API is our design (external-apis.md §5): `POST {processes_endpoint}` with an
`Idempotency-Key` starts one process (the same key answers the same process), `GET
{processes_endpoint}/{id}` reads it, and the system announces the end as a signed
`process.completed` / `process.failed` event whose `data.reference` is what docflow sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from docflow.config.ecm_events import StartProcess, StatusWriteback
from docflow.models.ecm_events import LifecycleActionInput

MAX_REFERENCE = 200
MAX_REASON = 500

ProcessStatus = Literal["running", "completed", "failed"]
PROCESS_EVENT_TYPES = {"process.completed": "completed", "process.failed": "failed"}


class ProcessDocument(BaseModel):
    node_id: int = Field(gt=0)
    version: int | None = None
    name: str = Field(default="", max_length=255)


class ProcessBusinessObject(BaseModel):
    ext_system_id: str = Field(max_length=64)
    bo_type: str = Field(max_length=64)
    bo_id: str = Field(max_length=128)


class ProcessStart(BaseModel):
    """Start `process` in `system`; the activity finds the endpoint and key in the registry."""

    system: str = Field(max_length=64)
    process: str = Field(max_length=64)
    reference: str = Field(max_length=MAX_REFERENCE, description="Comes back in the result.")
    idempotency_key: str = Field(
        max_length=MAX_REFERENCE, description="The same key never starts a second process."
    )
    document: ProcessDocument
    business_object: ProcessBusinessObject | None = None
    data: dict[str, Any] = Field(default_factory=dict)


def process_start(start: StartProcess, action: LifecycleActionInput, key: str) -> ProcessStart:
    """What a lifecycle action asks the system: `key` (the action's workflow id) is both the
    reference that comes back with the result and the idempotency key."""
    event, space = action.event, action.event.workspace
    bo = None
    if space and space.ext_system_id and space.bo_type and space.bo_id:
        bo = ProcessBusinessObject(
            ext_system_id=space.ext_system_id, bo_type=space.bo_type, bo_id=space.bo_id
        )
    return ProcessStart(
        system=start.system,
        process=start.process,
        reference=key,
        idempotency_key=key,
        document=ProcessDocument(
            node_id=event.node.id, version=event.node.version, name=event.node.name
        ),
        business_object=bo,
        data={"rule": action.rule_id, "event": event.type, "audit_date": event.audit_date},
    )


def result_detail(result: dict[str, Any]) -> str:
    """A short detail for the document: the system's plain result values
    (`erp_document_no 5100012345, posting_status posted`)."""
    parts = [
        f"{k} {v}"
        for k, v in result.items()
        if isinstance(v, str | int | float) and not isinstance(v, bool)
    ]
    return ", ".join(parts)[:200]


class ProcessLookup(BaseModel):
    system: str
    process_id: str


class BusinessProcess(BaseModel):
    """A process as the business system reports it."""

    id: str = Field(max_length=200)
    process: str = ""
    reference: str = ""
    status: ProcessStatus
    created_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.status != "running"


class ProcessResultHint(BaseModel):
    """A system's `process.completed|failed` event, signalled as `process_result` to the action
    workflow named by its reference: a hint the workflow confirms with a read."""

    system: str
    event_id: str = Field(max_length=200)
    process_id: str = Field(max_length=200)
    reference: str = Field(max_length=MAX_REFERENCE)
    status: ProcessStatus


# ------------------------------------------------------------ lifecycle actions
class RuleLookup(BaseModel):
    rule_id: str
    planned_with: str = Field(
        default="", description="The bundle version the event was planned with."
    )


class ResolvedRule(BaseModel):
    """A lifecycle rule as the current bundle holds it (None: removed meanwhile)."""

    rule_id: str
    config_version: str
    environment: str
    action: StartProcess | None = None
    writeback: StatusWriteback | None = None
    refused: str = Field(default="", description="Why the rule cannot act, when it cannot.")


class StatusWrite(BaseModel):
    """Write an action's status (and a short detail) on the document's status category."""

    node_id: int = Field(gt=0)
    writeback: StatusWriteback
    outcome: str = Field(description="A key of `writeback.values`: started, completed, failed.")
    detail: str = Field(default="", max_length=MAX_REASON)


class StatusWritten(BaseModel):
    category_id: int
    values: dict[str, str]
    applied: bool = Field(description="True: the category was applied (POST); False: updated.")
