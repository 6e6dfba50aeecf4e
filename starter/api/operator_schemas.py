"""Bodies of the operator routes: list filters, list pages, batch repairs, the status view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from docflow import search_attributes as sa
from docflow.models import SigningState, SigningStatus
from docflow.repairs import RepairHint
from starter.api.access import all_of, literal, time_literal
from starter.processes.signing import FailingStep

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}$"
MAX_PAGE = 100
BatchAction = Literal["retry", "abandon", "redeliver", "cancel"]


class ProcessFilters(BaseModel):
    """What `GET /v1/signing-processes` and a batch select (all given filters must match)."""

    state: SigningState | None = None
    attention: str | None = Field(
        default=None,
        pattern=r"^(any|[a-z_]{1,40})$",
        description="A reason (step_retrying, exception_open, report_dead_lettered) or `any`.",
    )
    source_system: str | None = Field(default=None, pattern=NAME_PATTERN)
    document_type: str | None = Field(default=None, pattern=NAME_PATTERN)
    stuck_longer_than: timedelta | None = Field(
        default=None,
        ge=timedelta(0),
        le=timedelta(days=3650),
        description="In its current state longer than this (ISO 8601, e.g. P2D; ≤ 10 years).",
    )
    deadline_before: datetime | None = Field(
        default=None,
        ge=datetime(1970, 1, 1, tzinfo=UTC),
        le=datetime(9999, 1, 1, tzinfo=UTC),
        description="Next deadline before.",
    )
    running: bool | None = Field(default=None, description="Only running (true) or closed.")

    model_config = ConfigDict(extra="forbid")

    def clause(self, now: datetime | None = None) -> str:
        """The filters as a visibility query; every value quoted by `access.literal`."""
        now = now or datetime.now(UTC)
        parts: list[str] = []
        if self.state is not None:
            parts.append(f"{sa.STATUS.name} = {literal(self.state.value)}")
        if self.attention == "any":
            parts.append(f'{sa.ATTENTION.name} != ""')
        elif self.attention:
            parts.append(f"{sa.ATTENTION.name} = {literal(self.attention)}")
        if self.source_system:
            parts.append(f"{sa.SOURCE_SYSTEM.name} = {literal(self.source_system)}")
        if self.document_type:
            parts.append(f"{sa.DOCUMENT_TYPE.name} = {literal(self.document_type)}")
        if self.stuck_longer_than is not None:
            parts.append(f"{sa.SINCE.name} < {time_literal(now - self.stuck_longer_than)}")
        if self.deadline_before is not None:
            parts.append(f"{sa.DEADLINE.name} < {time_literal(self.deadline_before)}")
        if self.running is not None:
            op = "=" if self.running else "!="
            parts.append(f'ExecutionStatus {op} "Running"')
        return all_of(*parts)

    def is_empty(self) -> bool:
        return not self.model_dump(exclude_none=True)


class ListQuery(ProcessFilters):
    """The list route's query string: the filters and a page."""

    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="At most this many.")
    cursor: str | None = Field(default=None, max_length=4000, description="From `next_cursor`.")


class ProcessListItem(BaseModel):
    business_key: str
    workflow_id: str
    run_id: str
    execution_status: str = Field(description="Temporal's: Running, Completed, ...")
    state: str | None = Field(default=None, description="DocflowStatus")
    stage: str | None = None
    document_type: str | None = None
    source_system: str | None = None
    since: datetime | None = Field(default=None, description="In this state since (DocflowSince)")
    deadline: datetime | None = Field(default=None, description="Next deadline (DocflowDeadline)")
    attention: str | None = Field(default=None, description="Why a person must look")
    web_ui_url: str


class ProcessPage(BaseModel):
    items: list[ProcessListItem]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for more.")


class BatchBody(BaseModel):
    """Apply one repair to every matching process the caller may act on, a page at a time."""

    action: BatchAction
    filters: ProcessFilters = Field(default_factory=ProcessFilters)
    query: str | None = Field(
        default=None,
        max_length=2000,
        description="A Temporal visibility query instead of (or with) filters; support only.",
    )
    comment: str = Field(default="", max_length=4000, description="Kept in each audit trail.")
    reason: str = Field(default="", max_length=4000, description="Required for `cancel`.")
    limit: int = Field(default=20, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, max_length=4000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "action": "retry",
                    "filters": {"state": "archive_exception", "stuck_longer_than": "PT10M"},
                    "comment": "category 9001 restored in ECM",
                }
            ]
        },
    )


class BatchItem(BaseModel):
    business_key: str
    outcome: Literal["applied", "refused"]
    detail: str = Field(description="What the process answered, or why it refused.")


class BatchResult(BaseModel):
    action: BatchAction
    results: list[BatchItem]
    next_cursor: str | None = Field(default=None, description="More matched: call again.")


class RedeliverBody(BaseModel):
    comment: str = Field(default="", max_length=4000, examples=["CRM endpoint fixed"])

    model_config = ConfigDict(extra="forbid")


class SigningProcessView(SigningStatus):
    """The status plus what an operator needs: failing steps and the repairs that apply."""

    failing_steps: list[FailingStep] = Field(
        default_factory=list, description="Activities being retried, with their last error."
    )
    repairs: list[RepairHint] = Field(
        default_factory=list, description="The exact CLI command and API call for each repair."
    )
