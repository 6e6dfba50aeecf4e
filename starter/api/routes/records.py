"""Records routes: the read model for dashboards and auditors. Processes with their audit trails
and approvals, everything about one document, workspace or business object, the dashboard's
figures, the access log, and CSV exports of every listing.

Scope `records:read`. Per object a caller sees the records of its source systems, support and
auditors (`'*'`) all of them, as `starter.api.access` rules processes: another system's record
answers 404 and is absent from every list, export and figure. The store is synchronous
(SQLAlchemy): every call to it runs in a thread.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.exc import OperationalError

from docflow.models.records import (
    AccessEvent,
    ApprovalRow,
    AuditRecord,
    DashboardFigures,
    HoldRow,
    Page,
    ProcessRow,
    RecordQuery,
    RecordScope,
    WorkspaceCompliance,
)
from docflow.records.store import RecordStore, visible
from starter.api.access_log import AccessLog
from starter.api.auth import Principal, Scope, require
from starter.api.errors import (
    EXAMPLE_SUBJECT,
    RETRY_AFTER_SECONDS,
    ApiError,
    InsufficientScope,
    InvalidRequest,
    NotFound,
    NotPermitted,
    error_responses,
)
from starter.api.records_store import get_store

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/v1/records", tags=["records"])
T = TypeVar("T")

MAX_PAGE = 500
EXPORT_PAGE = 500
MAX_EXPORT_ROWS = 100_000
EXPORT_LIMIT_HEADER = "X-Export-Limit"  # rows: an export with this many may have been cut
VIEW_ITEMS = 200  # per section of a process, document, workspace or business-object view
MAX_ID = 2**53
# Cells a spreadsheet would run as a formula are exported with a leading apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXAMPLE_PROCESS_KEY = "5b3c9a0e-8f1d-4c2a-9e77-1d2f3a4b5c6d"  # a first run id
BAD_CURSOR = "cursor: not one this API returned (pass next_cursor back unchanged)"

Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ProcessKey = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", examples=[EXAMPLE_PROCESS_KEY])
]
NodeId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[100123])]
ListingFetch = Callable[[str | None, int], Page[Any]]


class RecordsUnavailable(ApiError):
    status_code = 503
    code = "records_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "the records database is unavailable; retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


# ------------------------------------------------------------------ parameters
class RecordFilters(RecordQuery):
    """Filters as query parameters: lists repeat (`state=a&state=b`); dates are ISO 8601
    (no zone: UTC), inclusive from, exclusive to."""

    model_config = ConfigDict(extra="forbid")

    process_type: list[Name] = Field(
        default_factory=list, max_length=20, description="signing, workspace, case, …"
    )
    state: list[Name] = Field(default_factory=list, max_length=30, description="The state now.")
    source_system: list[Name] = Field(
        default_factory=list, max_length=20, description="Within the caller's own systems."
    )
    outcome: Literal["open", "closed", "attention"] | None = Field(
        default=None, description="Open, closed, or open with a reason for a person to look."
    )
    business_key: str | None = Field(default=None, max_length=255, description="Exactly.")
    document_node_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="ECM node.")
    workspace_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="ECM node.")
    business_object_type: str | None = Field(default=None, max_length=128, examples=["Account"])
    business_object_id: str | None = Field(default=None, max_length=255)
    started_from: datetime | None = Field(default=None, description="Started at or after.")
    started_to: datetime | None = Field(default=None, description="Started before.")
    updated_from: datetime | None = Field(default=None, description="Last changed at or after.")
    updated_to: datetime | None = Field(default=None, description="Last changed before.")
    closed_from: datetime | None = Field(default=None, description="Ended at or after.")
    closed_to: datetime | None = Field(default=None, description="Ended before.")

    @field_validator(
        "started_from", "started_to", "updated_from", "updated_to", "closed_from", "closed_to"
    )
    @classmethod
    def _utc(cls, moment: datetime | None) -> datetime | None:
        return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment

    @model_validator(mode="after")
    def _ranges(self) -> RecordFilters:
        for name in ("started", "updated", "closed"):
            start, end = getattr(self, f"{name}_from"), getattr(self, f"{name}_to")
            if start and end and start > end:
                raise ValueError(f"{name}_from is after {name}_to")
        return self

    def query(self) -> RecordQuery:
        return RecordQuery.model_validate(self.model_dump(include=set(RecordQuery.model_fields)))


class Listing(RecordFilters):
    cursor: str | None = Field(default=None, max_length=2000, description="From `next_cursor`.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="Items per page (JSON).")
    format: Literal["json", "csv"] | None = Field(
        default=None,
        description="`csv`: every page from `cursor` on as one CSV download (also with "
        f"`Accept: text/csv`), at most {MAX_EXPORT_ROWS:,} rows.",
    )


class ProcessListing(Listing):
    order: Literal["updated", "started"] = Field(
        default="updated", description="Newest first by last change or by start."
    )


class AccessListing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object_id: str | None = Field(
        default=None, min_length=1, max_length=128, description="Node id, item id, process:…"
    )
    party: str | None = Field(
        default=None, min_length=1, max_length=128, description="Party, principal, anonymous."
    )
    since: datetime | None = Field(default=None, description="At or after (no zone: UTC).")
    cursor: str | None = Field(default=None, max_length=2000, description="From `next_cursor`.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="Items per page (JSON).")
    format: Literal["json", "csv"] | None = Field(default=None, description="As for processes.")


# ------------------------------------------------------------------ answers
class ProcessRecord(BaseModel):
    process: ProcessRow
    audit: list[AuditRecord] = Field(description="Its audit trail (the first 200 entries).")
    approvals: list[ApprovalRow]
    truncated: bool = Field(
        description="More entries than shown: page them at /v1/records/audit?business_key=…"
    )


class Retention(BaseModel):
    """A document's records-management state, from the newest process that classified it."""

    document_node_id: int
    retention_class: int | None
    disposition_at: datetime | None
    on_hold: bool = Field(description="An active hold suspends disposition.")
    process_key: str


class SubjectRecords(BaseModel):
    processes: list[ProcessRow] = Field(description="Newest first, at most 200.")
    approvals: list[ApprovalRow]
    holds: list[HoldRow] = Field(
        description="On the documents of the processes shown (support, auditors: all of a "
        "workspace's)."
    )
    retention: list[Retention] = Field(description="Per document with a retention class.")
    audit: list[AuditRecord]
    truncated: bool = Field(description="A section holds 200 items and may have more.")


class DocumentRecords(SubjectRecords):
    node_id: int


class WorkspaceRecords(SubjectRecords):
    workspace_id: int
    compliance: WorkspaceCompliance


class BusinessObjectRecords(SubjectRecords):
    business_object_type: str
    business_object_id: str


# ------------------------------------------------------------------ plumbing
def record_scope(principal: Principal) -> RecordScope:
    """What the caller may see: its source systems ('*' all), like the process routes."""
    return RecordScope(source_systems=sorted(principal.source_systems))


async def _read(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`call` in a thread; an unreachable database is 503."""
    try:
        return await asyncio.to_thread(call, *args, **kwargs)
    except OperationalError as exc:
        log.warning("records database unavailable: %s", exc)
        raise RecordsUnavailable() from exc


@dataclass(frozen=True)
class Reading:
    """One caller's read of the records: who, what they may see, the store, the request."""

    principal: Principal
    scope: RecordScope
    store: RecordStore
    request: Request

    async def logged(self, object_id: str, action: str = "read", outcome: str = "ok") -> None:
        """Put the read in the access log auditors read; a failed write never fails it."""
        await AccessLog.of(self.request, self.store).record(
            self.principal.subject,
            action,
            source="records",
            object_id=object_id,
            outcome=outcome,
            detail=self.request.url.query,
        )


async def _reading(
    request: Request, principal: Annotated[Principal, Depends(require(Scope.RECORDS_READ))]
) -> Reading:
    store = await _read(get_store, request)  # opened (and SQLite migrated) on first use
    return Reading(principal, record_scope(principal), store, request)


Caller = Annotated[Reading, Depends(_reading)]


async def _page(fetch: ListingFetch, cursor: str | None, limit: int) -> Page[Any]:
    """One page; a cursor the store refuses (ValueError) is 422."""
    try:
        return await _read(fetch, cursor, limit)
    except ValueError as exc:
        if cursor is None or isinstance(exc, ValidationError):
            raise
        raise InvalidRequest(BAD_CURSOR) from exc


async def _collect(fetch: ListingFetch) -> tuple[list[Any], bool]:
    """The first VIEW_ITEMS items, and whether there are more."""
    page = await _page(fetch, None, VIEW_ITEMS)
    return page.items, page.next_cursor is not None


async def _listing(
    caller: Reading,
    params: Listing | AccessListing,
    fetch: ListingFetch,
    row: type[BaseModel],
    name: str,
) -> Page[Any] | Response:
    """One page as JSON, or, for CSV, every page from the cursor on, streamed."""
    accept = caller.request.headers.get("accept", "")
    if (params.format or ("csv" if "text/csv" in accept else "json")) == "json":
        return await _page(fetch, params.cursor, params.limit)
    first = await _page(fetch, params.cursor, EXPORT_PAGE)  # a bad cursor is refused, not cut
    await caller.logged(f"export:{name}", "download")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%MZ")
    return StreamingResponse(
        _csv(fetch, first, list(row.model_fields)),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="docflow-{name}-{stamp}.csv"',
            EXPORT_LIMIT_HEADER: str(MAX_EXPORT_ROWS),
        },
    )


async def _csv(fetch: ListingFetch, page: Page[Any], columns: list[str]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    written = 0
    while True:
        for item in page.items[: MAX_EXPORT_ROWS - written]:
            writer.writerow([_cell(getattr(item, column)) for column in columns])
            written += 1
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if page.next_cursor is None or written >= MAX_EXPORT_ROWS:
            return
        page = await _page(fetch, page.next_cursor, EXPORT_PAGE)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _errors(*statuses: int, not_found: str = "", **extra: Any) -> dict[int | str, Any]:
    refusals: list[ApiError] = [
        InsufficientScope.lacking(EXAMPLE_SUBJECT, [Scope.START]),  # docs name the real scope
        InvalidRequest(BAD_CURSOR),
        RecordsUnavailable(),
    ]
    if not_found:
        refusals.append(NotFound(not_found))
    refusals += extra.get("examples", [])
    responses = error_responses(*statuses, 503, examples=refusals)
    responses[503]["description"] = "The records database is unreachable; retry later."
    if 422 in statuses:
        responses[422]["description"] = "A malformed filter, date or cursor, or an unknown one."
    if 404 in statuses:
        responses[404]["description"] = "Nothing the caller may see (another system's is 404)."
    return responses


CSV_RESPONSE: dict[int | str, Any] = {
    200: {
        "description": "One page as JSON, or with `format=csv` / `Accept: text/csv` every page "
        f"from `cursor` on as CSV (a header row; at most {MAX_EXPORT_ROWS:,} rows: narrow the "
        "filters, e.g. by dates, for more).",
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "headers": {
            EXPORT_LIMIT_HEADER: {
                "description": "CSV only: the most rows an export holds.",
                "schema": {"type": "integer"},
            }
        },
    }
}


# ------------------------------------------------------------------ listings
@router.get(
    "/processes",
    summary="List process records (filters, cursor paging, CSV export)",
    description="Every process of the caller's source systems matching all given filters, "
    "newest first. `outcome`: open, closed, or needing attention.",
    response_model=Page[ProcessRow],
    responses={**CSV_RESPONSE, **_errors(401, 403, 422)},
)
async def list_processes(
    caller: Caller, params: Annotated[ProcessListing, Query()]
) -> Page[Any] | Response:
    query, scope, store = params.query(), caller.scope, caller.store

    def fetch(cursor: str | None, limit: int) -> Page[ProcessRow]:
        return store.processes(query, scope, cursor=cursor, limit=limit, order=params.order)

    return await _listing(caller, params, fetch, ProcessRow, "processes")


@router.get(
    "/audit",
    summary="Audit entries of the processes matching the filters (paging, CSV export)",
    description="Oldest first.",
    response_model=Page[AuditRecord],
    responses={**CSV_RESPONSE, **_errors(401, 403, 422)},
)
async def list_audit(caller: Caller, params: Annotated[Listing, Query()]) -> Page[Any] | Response:
    query, scope, store = params.query(), caller.scope, caller.store

    def fetch(cursor: str | None, limit: int) -> Page[AuditRecord]:
        return store.audit(query, scope, cursor=cursor, limit=limit)

    return await _listing(caller, params, fetch, AuditRecord, "audit")


@router.get(
    "/approvals",
    summary="Approval decisions of the processes matching the filters (paging, CSV export)",
    description="Oldest first.",
    response_model=Page[ApprovalRow],
    responses={**CSV_RESPONSE, **_errors(401, 403, 422)},
)
async def list_approvals(
    caller: Caller, params: Annotated[Listing, Query()]
) -> Page[Any] | Response:
    query, scope, store = params.query(), caller.scope, caller.store

    def fetch(cursor: str | None, limit: int) -> Page[ApprovalRow]:
        return store.approvals(query, scope, cursor=cursor, limit=limit)

    return await _listing(caller, params, fetch, ApprovalRow, "approvals")


@router.get(
    "/figures",
    summary="The dashboard's figures over the caller's records and the filters",
    description="Counts by type and state, ages of open processes, overdue approvals, "
    "signature turnaround, delivery failures, holds and per-workspace compliance.",
    response_model=DashboardFigures,
    responses=_errors(401, 403, 422),
)
async def figures(caller: Caller, params: Annotated[RecordFilters, Query()]) -> DashboardFigures:
    return await _figures(caller, params.query())


async def _figures(caller: Reading, query: RecordQuery) -> DashboardFigures:
    return await _read(caller.store.figures, query, caller.scope, now=datetime.now(UTC))


@router.get(
    "/access-log",
    summary="Who accessed what: reads, downloads, links, uploads, refusals (support, auditors)",
    description="Newest first: partners' and portals' accesses, and reads of these records "
    "(source `records`). Only for callers of every source system (support, auditors).",
    response_model=Page[AccessEvent],
    responses={
        **CSV_RESPONSE,
        **_errors(
            401, 403, 422, examples=[NotPermitted(f"{EXAMPLE_SUBJECT} may not read the access log")]
        ),
    },
)
async def access_log(
    caller: Caller, params: Annotated[AccessListing, Query()]
) -> Page[Any] | Response:
    if not caller.principal.sees_every_source:
        raise NotPermitted(f"{caller.principal.subject} may not read the access log")
    since = params.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)

    def fetch(cursor: str | None, limit: int) -> Page[AccessEvent]:
        return caller.store.access_log(
            object_id=params.object_id, party=params.party, since=since, cursor=cursor, limit=limit
        )

    return await _listing(caller, params, fetch, AccessEvent, "access-log")


# ------------------------------------------------------------------ one record, one subject
@router.get(
    "/processes/{process_key}",
    summary="One process record with its audit trail and approvals",
    response_model=ProcessRecord,
    responses=_errors(401, 403, 404, 422, not_found=f"no process record {EXAMPLE_PROCESS_KEY}"),
)
async def process_record(process_key: ProcessKey, caller: Caller) -> ProcessRecord:
    scope, store = caller.scope, caller.store
    row = await _read(store.process, process_key)
    if row is None or not visible(row, scope):
        await caller.logged(f"process:{process_key}", "denied", "not_found")
        raise NotFound(f"no process record {process_key}")
    await caller.logged(f"process:{process_key}")
    query = RecordQuery(business_key=row.business_key)
    audit, more_audit = await _collect(
        lambda cursor, limit: store.audit(query, scope, cursor=cursor, limit=limit)
    )
    approvals, more_approvals = await _collect(
        lambda cursor, limit: store.approvals(query, scope, cursor=cursor, limit=limit)
    )
    return ProcessRecord(
        process=row,
        audit=[a for a in audit if a.process_key == process_key],
        approvals=[a for a in approvals if a.process_key == process_key],
        truncated=more_audit or more_approvals,
    )


async def _subject(caller: Reading, query: RecordQuery, kind: str, name: str) -> dict[str, Any]:
    """The sections every subject view has; 404 when the caller sees none of its processes."""
    scope, store = caller.scope, caller.store
    processes, more = await _collect(
        lambda cursor, limit: store.processes(query, scope, cursor=cursor, limit=limit)
    )
    if not processes:
        await caller.logged(f"{kind}:{name}", "denied", "not_found")
        raise NotFound(f"no records for {kind.replace('-', ' ')} {name}")
    await caller.logged(f"{kind}:{name}")
    approvals, more_approvals = await _collect(
        lambda cursor, limit: store.approvals(query, scope, cursor=cursor, limit=limit)
    )
    audit, more_audit = await _collect(
        lambda cursor, limit: store.audit(query, scope, cursor=cursor, limit=limit)
    )
    return {
        "processes": processes,
        "approvals": approvals,
        "audit": audit,
        "truncated": more or more_approvals or more_audit,
    }


async def _holds(caller: Reading, processes: list[ProcessRow], **where: Any) -> list[HoldRow]:
    """Holds on the documents of the processes shown (`where`: one holds() query for all of
    them, else one per document); support and auditors see every hold `where` finds."""
    documents = sorted({p.document_node_id for p in processes if p.document_node_id})
    store = caller.store

    def find() -> list[HoldRow]:
        if where:
            return store.holds(**where)
        return [hold for node_id in documents for hold in store.holds(document_node_id=node_id)]

    found = await _read(find)
    if where and caller.principal.sees_every_source:
        return found
    return [hold for hold in found if hold.document_node_id in documents]


def _retention(processes: list[ProcessRow], holds: list[HoldRow]) -> list[Retention]:
    held = {h.document_node_id for h in holds if h.released_at is None}
    newest: dict[int, ProcessRow] = {}
    for p in processes:
        if p.document_node_id is None or (p.retention_class is None and not p.disposition_at):
            continue
        if p.document_node_id not in newest or p.updated_at > newest[p.document_node_id].updated_at:
            newest[p.document_node_id] = p
    return [
        Retention(
            document_node_id=node_id,
            retention_class=p.retention_class,
            disposition_at=p.disposition_at,
            on_hold=node_id in held,
            process_key=p.process_key,
        )
        for node_id, p in sorted(newest.items())
    ]


@router.get(
    "/documents/{node_id}",
    summary="Everything about one ECM document",
    description="Its processes, approvals, holds, retention and disposition, and audit trail.",
    response_model=DocumentRecords,
    responses=_errors(401, 403, 404, 422, not_found="no records for document 100123"),
)
async def document_records(node_id: NodeId, caller: Caller) -> DocumentRecords:
    parts = await _subject(caller, RecordQuery(document_node_id=node_id), "document", str(node_id))
    holds = await _holds(caller, parts["processes"], document_node_id=node_id)
    retention = _retention(parts["processes"], holds)
    return DocumentRecords(node_id=node_id, holds=holds, retention=retention, **parts)


@router.get(
    "/workspaces/{workspace_id}",
    summary="Everything about one business workspace, with its compliance figures",
    response_model=WorkspaceRecords,
    responses=_errors(401, 403, 404, 422, not_found="no records for workspace 100123"),
)
async def workspace_records(workspace_id: NodeId, caller: Caller) -> WorkspaceRecords:
    query = RecordQuery(workspace_id=workspace_id)
    parts = await _subject(caller, query, "workspace", str(workspace_id))
    holds = await _holds(caller, parts["processes"], workspace_id=workspace_id)
    shown = await _figures(caller, query)
    compliance = next(
        (c for c in shown.compliance if c.workspace_id == workspace_id),
        WorkspaceCompliance(workspace_id=workspace_id),
    )
    return WorkspaceRecords(
        workspace_id=workspace_id,
        compliance=compliance,
        holds=holds,
        retention=_retention(parts["processes"], holds),
        **parts,
    )


@router.get(
    "/business-objects/{bo_type}/{bo_id}",
    summary="Everything about one business object (its processes' documents included)",
    response_model=BusinessObjectRecords,
    responses=_errors(401, 403, 404, 422, not_found="no records for business object Account/1"),
)
async def business_object_records(
    bo_type: Annotated[str, Path(min_length=1, max_length=128, examples=["Account"])],
    bo_id: Annotated[str, Path(min_length=1, max_length=255, examples=["0015X00001"])],
    caller: Caller,
) -> BusinessObjectRecords:
    query = RecordQuery(business_object_type=bo_type, business_object_id=bo_id)
    parts = await _subject(caller, query, "business-object", f"{bo_type}/{bo_id}")
    holds = await _holds(caller, parts["processes"])
    return BusinessObjectRecords(
        business_object_type=bo_type,
        business_object_id=bo_id,
        holds=holds,
        retention=_retention(parts["processes"], holds),
        **parts,
    )
