"""Business processes the ERP starts on request (docflow's lifecycle triggers, our design):
invoice processing, contract activation, procurement release.

`POST /api/processes` with an `Idempotency-Key` starts one (the same key again answers the same
process: a replay); a process runs for `process_duration_ms`, then ends `completed` with a
result of its kind, or `failed` with a reason when `/_control/processes/faults` says so. Its
status is derived from the time at each read, so a GET never waits for a timer; the finish is
also sent, when events are on, as a signed Standard Webhooks event (the events secret, the
kit's dispatcher and its faults) to `process_events_url`, or else the ERP's events URL:

    {"type": "process.completed" | "process.failed", "timestamp": "...Z",
     "data": {"id", "process", "reference", "status", "result", "reason", "finished_at"}}
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from simulators.kit.business_objects import iso

PROCESS_KINDS = ("invoice_processing", "contract_activation", "procurement_release")
MAX_REFERENCE = 200
MAX_IDEMPOTENCY_KEY = 200
MAX_DATA_BYTES = 16 * 1024
Outcome = Literal["completed", "failed"]


class DocumentIn(BaseModel):
    """The ECM document the process is about."""

    node_id: int
    version: int | None = Field(default=None, ge=1)
    name: str = Field(max_length=255)


class BusinessObjectIn(BaseModel):
    ext_system_id: str = Field(min_length=1, max_length=200)
    bo_type: str = Field(min_length=1, max_length=200)
    bo_id: str = Field(min_length=1, max_length=200)


class ProcessStart(BaseModel):
    """`POST /api/processes`: what docflow asks the ERP to start."""

    process: str
    reference: str = Field(
        min_length=1, max_length=MAX_REFERENCE, description="docflow's action id."
    )
    document: DocumentIn
    business_object: BusinessObjectIn | None = None
    data: dict[str, Any] = Field(default_factory=dict, description="At most 16 KiB as JSON.")

    @field_validator("process")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in PROCESS_KINDS:
            raise ValueError(f"unknown process {value!r} (known: {', '.join(PROCESS_KINDS)})")
        return value


def parse_start(payload: Any) -> ProcessStart:
    """The start request; raises ValueError with every problem named."""
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    kind = payload.get("process")
    if kind not in PROCESS_KINDS:
        raise ValueError(f"unknown process {kind!r} (known: {', '.join(PROCESS_KINDS)})")
    try:
        start = ProcessStart.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(problems) from None
    size = len(json.dumps(start.data, separators=(",", ":")).encode())
    if size > MAX_DATA_BYTES:
        raise ValueError(f"data: {size} bytes as JSON, at most {MAX_DATA_BYTES}")
    return start


class ProcessFaults(BaseModel):
    """`POST /_control/processes/faults` (replaced whole): how the next processes end."""

    fail_next: int = Field(default=0, ge=0, description="The next N starts end `failed`.")
    reason: str = Field(default="Rejected by the ERP.", min_length=1, max_length=500)
    fail_process: str | None = Field(
        default=None, description="Only starts of this process kind count; None: any."
    )
    duration_ms: int | None = Field(
        default=None, ge=0, description="How long new processes run; None: the config's."
    )
    lose_answer_next: int = Field(
        default=0,
        ge=0,
        description="The next N new starts are made but answered 504 (the answer lost on the "
        "way): a retry with the same Idempotency-Key finds the process.",
    )

    @field_validator("fail_process")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is not None and value not in PROCESS_KINDS:
            raise ValueError(f"unknown process {value!r} (known: {', '.join(PROCESS_KINDS)})")
        return value


def new_process_id() -> str:
    """Random, not seeded: ids never repeat across resets and restarts."""
    return f"PRC-{secrets.randbelow(10**10):010d}"


def result_of(kind: str) -> dict[str, Any]:
    """What a completed process of this kind reports (SAP-style numbers)."""
    if kind == "invoice_processing":
        return {
            "erp_document_no": f"51000{secrets.randbelow(10**5):05d}",
            "posting_status": "posted",
        }
    if kind == "contract_activation":
        return {"contract_no": f"40{secrets.randbelow(10**8):08d}", "status": "active"}
    return {"po_number": f"45{secrets.randbelow(10**8):08d}", "status": "released"}


@dataclass
class Process:
    """One started process; its status is derived from the time (`finishes_at`)."""

    id: str
    process: str
    reference: str
    idempotency_key: str
    document: dict[str, Any]
    business_object: dict[str, Any] | None
    data: dict[str, Any]
    created_at: datetime
    finishes_at: datetime
    outcome: Outcome
    result: dict[str, Any] | None
    reason: str | None
    replays: int = 0
    settled: bool = False  # the finish timer ran (its event, if any, is on its way)
    event_id: str | None = None

    @classmethod
    def create(
        cls, start: ProcessStart, key: str, duration_ms: int, fail_reason: str | None
    ) -> Process:
        now = datetime.now(UTC)
        return cls(
            id=new_process_id(),
            process=start.process,
            reference=start.reference,
            idempotency_key=key,
            document=start.document.model_dump(),
            business_object=start.business_object.model_dump() if start.business_object else None,
            data=dict(start.data),
            created_at=now,
            finishes_at=now + timedelta(milliseconds=duration_ms),
            outcome="failed" if fail_reason is not None else "completed",
            result=None if fail_reason is not None else result_of(start.process),
            reason=fail_reason,
        )

    def finished(self, now: datetime | None = None) -> bool:
        return self.settled or (now or datetime.now(UTC)) >= self.finishes_at

    def status(self, now: datetime | None = None) -> str:
        return self.outcome if self.finished(now) else "running"

    def event_data(self) -> dict[str, Any]:
        """`data` of the finish event (the process as finished)."""
        return {
            "id": self.id,
            "process": self.process,
            "reference": self.reference,
            "status": self.outcome,
            "result": self.result,
            "reason": self.reason,
            "finished_at": iso(self.finishes_at),
        }

    def to_json(self) -> dict[str, Any]:
        """The API's view: result, reason and finished_at stay null while running."""
        done = self.finished()
        return {
            "id": self.id,
            "process": self.process,
            "reference": self.reference,
            "status": self.outcome if done else "running",
            "created_at": iso(self.created_at),
            "finished_at": iso(self.finishes_at) if done else None,
            "result": self.result if done else None,
            "reason": self.reason if done else None,
            "document": self.document,
            "business_object": self.business_object,
        }

    def detail(self) -> dict[str, Any]:
        """The control view: plus the key, data, replays and the finish event's webhook-id."""
        return {
            **self.to_json(),
            "idempotency_key": self.idempotency_key,
            "data": self.data,
            "replays": self.replays,
            "finishes_at": iso(self.finishes_at),
            "event_id": self.event_id,
        }
