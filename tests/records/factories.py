"""Builders of the read model's inputs for the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from docflow.models.records import AuditRow, ProcessChange, RecordFacts

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(hours: float = 0) -> datetime:
    return T0 + timedelta(hours=hours)


def audit(seq: int, kind: str = "note", hours: float = 0, **data: str) -> AuditRow:
    return AuditRow(seq=seq, at=at(hours), kind=kind, actor=f"actor-{seq}", data=data)


def change(
    key: str = "p1",
    version: int = 1,
    *,
    hours: float = 0,
    process_type: str = "signing",
    state: str = "awaiting_approval",
    facts: dict[str, Any] | None = None,
    entries: list[AuditRow] | None = None,
    **fields: Any,
) -> ProcessChange:
    values: dict[str, Any] = {
        "process_key": key,
        "workflow_id": f"wf-{key}",
        "run_id": f"run-{key}-{version}",
        "process_type": process_type,
        "business_key": f"bk-{key}",
        "version": version,
        "at": at(hours),
        "started_at": T0,
        "state": state,
        "facts": RecordFacts(**({"source_system": "erp", "tenant": "acme"} | (facts or {}))),
        "audit": entries or [],
    }
    values.update(fields)
    return ProcessChange(**values)
