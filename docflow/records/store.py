"""The read model's store: writes process changes, reads listings, pages and dashboard figures.

Synchronous SQLAlchemy (callers in async code use `asyncio.to_thread`). Writes are idempotent and
safe under concurrent writers: every row is written with INSERT ... ON CONFLICT (the dialect's
own insert on SQLite and PostgreSQL), guarded so a replayed or older write changes nothing.
Listings page with an opaque keyset cursor.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    case,
    create_engine,
    event,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url

from docflow.models.records import (
    DECISION_KIND,
    DELIVERY_FAILED_KIND,
    HOLD_APPLIED_KIND,
    HOLD_RELEASED_KIND,
    AccessEvent,
    AgeBucket,
    ApprovalRow,
    ApprovedVersion,
    ApprovedVersionRow,
    AuditRecord,
    AuditRow,
    ContentSource,
    CountBy,
    DashboardFigures,
    HoldRow,
    Page,
    ProcessChange,
    ProcessRow,
    RecordQuery,
    RecordScope,
    RecordWritten,
    Turnaround,
    WorkspaceCompliance,
)
from docflow.records import migrations
from docflow.records.schema import (
    access_log,
    approvals,
    approved_versions,
    audit_entries,
    holds,
    processes,
)
from docflow.settings import Settings

ProcessOrder = Literal["updated", "started"]
M = TypeVar("M", bound=BaseModel)
SIGNING_PROCESS = "signing"
SIGNING_COMPLETED = "completed"
OVERDUE_LISTED = 20
COMPLIANCE_WORKSPACES = 50
MIGRATION_LOCK = 0x646F63666C6F77  # "docflow": one advisory lock for schema changes
DISPOSITION_HORIZON = timedelta(days=90)
MAX_LIMIT = 1000


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ---------------------------------------------------------------- scope and filters


def _allows(allowed: Sequence[str], value: str) -> bool:
    return "*" in allowed or value in allowed


def visible(row: ProcessRow, scope: RecordScope) -> bool:
    """Whether a caller with `scope` may see a process (the check `process()` leaves to routes)."""
    return _allows(scope.source_systems, row.source_system) and _allows(scope.tenants, row.tenant)


class _Unindexed:
    """The processes table's columns as SQLite expressions its planner uses no index for
    (`+column`): a listing then walks its order's index and stops at the page's end, where
    SQLite would rather fetch every row of a broad filter (e.g. a source system) and sort."""

    def __getattr__(self, name: str) -> ColumnElement[Any]:
        column = processes.c[name]
        return literal_column(f"+{processes.name}.{column.name}", type_=column.type)


def _columns(unindexed: bool) -> Any:
    return _Unindexed() if unindexed else processes.c


def _scope_filter(scope: RecordScope, *, unindexed: bool = False) -> list[ColumnElement[bool]]:
    c = _columns(unindexed)
    conditions: list[ColumnElement[bool]] = []
    for column, allowed in (
        (c.source_system, scope.source_systems),
        (c.tenant, scope.tenants),
    ):
        if "*" in allowed:
            continue
        conditions.append(column.in_(allowed) if allowed else false())
    return conditions


def _query_filter(query: RecordQuery, *, unindexed: bool = False) -> list[ColumnElement[bool]]:
    c = _columns(unindexed)
    conditions: list[ColumnElement[bool]] = []
    if query.process_type:
        conditions.append(c.process_type.in_(query.process_type))
    if query.state:
        conditions.append(c.state.in_(query.state))
    if query.source_system:
        conditions.append(c.source_system.in_(query.source_system))
    if query.outcome == "open":
        conditions.append(c.closed == false())
    elif query.outcome == "closed":
        conditions.append(c.closed == true())
    elif query.outcome == "attention":
        conditions.append(c.attention_reason > "")  # non-empty, through its index
    for column, value in (
        (c.business_key, query.business_key),
        (c.document_node_id, query.document_node_id),
        (c.workspace_id, query.workspace_id),
        (c.business_object_type, query.business_object_type),
        (c.business_object_id, query.business_object_id),
    ):
        if value is not None:
            conditions.append(column == value)
    for column, start, end in (
        (c.started_at, query.started_from, query.started_to),
        (c.updated_at, query.updated_from, query.updated_to),
        (c.closed_at, query.closed_from, query.closed_to),
    ):
        if start is not None:
            conditions.append(column >= _utc(start))
        if end is not None:
            conditions.append(column < _utc(end))
    return conditions


def _narrow(query: RecordQuery, order: ProcessOrder | None = None) -> bool:
    """Whether a query has a filter that narrows it to few processes through its own index
    (a range on the listing's own order column does not: that index serves the order)."""
    ranges = {
        "started": (query.started_from, query.started_to),
        "updated": (query.updated_from, query.updated_to),
    }
    values = (
        query.business_key,
        query.document_node_id,
        query.workspace_id,
        query.business_object_type,
        query.business_object_id,
        *(bound for name, pair in ranges.items() if name != order for bound in pair),
        query.closed_from,
        query.closed_to,
    )
    return any(value is not None for value in values)


def _process_filter(
    query: RecordQuery, scope: RecordScope, *, unindexed: bool = False
) -> list[ColumnElement[bool]]:
    return _scope_filter(scope, unindexed=unindexed) + _query_filter(query, unindexed=unindexed)


# ---------------------------------------------------------------- cursors


def _encode_cursor(listing: str, *values: Any) -> str:
    """An opaque, url-safe cursor: the listing it belongs to and the last row's sort key."""
    parts = [listing, *(v.isoformat() if isinstance(v, datetime) else v for v in values)]
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, listing: str, kinds: Sequence[type]) -> list[Any]:
    """The sort key in a cursor of `listing` with values of the given kinds (datetime, str,
    int); ValueError if it is malformed or belongs to another listing."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError("malformed cursor") from exc
    if not isinstance(parts, list) or len(parts) != len(kinds) + 1 or parts[0] != listing:
        raise ValueError("malformed cursor")
    values: list[Any] = []
    for part, kind in zip(parts[1:], kinds, strict=True):
        if kind is datetime:
            if not isinstance(part, str):
                raise ValueError("malformed cursor")
            try:
                values.append(_utc(datetime.fromisoformat(part)))
            except ValueError as exc:
                raise ValueError("malformed cursor") from exc
        elif kind is int:
            if not isinstance(part, int) or isinstance(part, bool):
                raise ValueError("malformed cursor")
            values.append(part)
        elif not isinstance(part, kind):
            raise ValueError("malformed cursor")
        else:
            values.append(part)
    return values


def _after(
    columns: Sequence[ColumnElement[Any]], values: Sequence[Any], *, descending: bool
) -> ColumnElement[bool]:
    """Rows strictly after `values` in the (all ascending or all descending) order of `columns`."""
    first, *rest = columns
    head, *tail = values
    beyond = first < head if descending else first > head
    if not rest:
        return beyond
    # The leading bound on its own lets the database seek the index instead of walking it.
    reached = first <= head if descending else first >= head
    return and_(
        reached, or_(beyond, and_(first == head, _after(rest, tail, descending=descending)))
    )


def _limit(limit: int) -> int:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return min(limit, MAX_LIMIT)


# ---------------------------------------------------------------- the store


class RecordStore:
    """The read model's database. `RecordStore(url)` or `RecordStore.from_settings(settings)`."""

    def __init__(self, url: str | URL, *, pool_size: int = 5) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            self.engine = create_engine(self.url)
            _sqlite_pragmas(self.engine)
        else:
            connect_args: dict[str, Any] = {}
            if self.url.get_driver_name() == "psycopg":
                connect_args["options"] = "-c timezone=UTC"
            self.engine = create_engine(
                self.url, pool_size=pool_size, pool_pre_ping=True, connect_args=connect_args
            )
        # Writers take SQLite's write lock at BEGIN (no upgrade deadlock between writers).
        self._writer = self.engine.execution_options(docflow_write=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> RecordStore:
        """The configured database: `records.url` (with the `records.password` reference
        resolved), else SQLite at `<data_dir>/records.db`."""
        records = settings.records
        if records.url is None:
            data_dir = Path(settings.data_dir)
            data_dir.mkdir(parents=True, exist_ok=True)
            url = make_url(f"sqlite:///{(data_dir / 'records.db').resolve()}")
        else:
            url = make_url(records.url)
        if records.password is not None:
            url = url.set(password=settings.secret(records.password))
        return cls(url, pool_size=records.pool_size)

    def migrate(self) -> None:
        """Bring the schema to the newest revision. Safe when several processes start at once
        (the worker and the API): SQLite takes its write lock at BEGIN, PostgreSQL an advisory
        lock, so the second one finds the schema current."""
        with self._writer.begin() as connection:
            if self.dialect == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            migrations.upgrade_connection(connection)

    def migrate_if_embedded(self) -> None:
        """Migrate an embedded SQLite database at startup; PostgreSQL is migrated by its
        operators (`docflow records migrate`), before new code is rolled out."""
        if self.dialect == "sqlite":
            self.migrate()

    def close(self) -> None:
        self.engine.dispose()

    def writing(self) -> Any:
        """A write transaction (`with store.writing() as connection:`): on SQLite it takes the
        write lock at BEGIN."""
        return self._writer.begin()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------ writing

    def _insert(self, table: Any) -> Any:
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        if self.dialect == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(
            f"records store supports sqlite and postgresql, not {self.dialect}"
        )

    def apply(
        self, change: ProcessChange, *, disposition_at: datetime | None = None
    ) -> RecordWritten:
        """Write one change: the process row if its version is newer than the stored one, its
        audit entries (new, or grown by condensing) and what they imply (approvals, holds,
        approved versions). Idempotent; replays and older versions change nothing stale."""
        with self._writer.begin() as connection:
            return self._apply(connection, change, disposition_at)

    def bulk_apply(self, changes: Iterable[ProcessChange], *, batch: int = 500) -> int:
        """Apply many changes in one transaction (seeding, benchmarks); the number applied.
        Changes of distinct processes are written `batch` at a time with multi-row statements;
        the result is the same as applying them one by one, in order."""
        applied = 0
        with self._writer.begin() as connection:
            pending: dict[str, ProcessChange] = {}
            for change in changes:
                if change.process_key in pending or len(pending) >= batch:
                    applied += self._apply_batch(connection, list(pending.values()))
                    pending = {}
                pending[change.process_key] = change
            applied += self._apply_batch(connection, list(pending.values()))
            if self.dialect == "postgresql":
                # Fresh statistics, so the planner does not wait for autovacuum after a seed.
                tables = ", ".join(t.name for t in (processes, audit_entries, approvals, holds))
                connection.exec_driver_sql(f"ANALYZE {tables}")
        return applied

    def _apply(
        self, connection: Connection, change: ProcessChange, disposition_at: datetime | None
    ) -> RecordWritten:
        applied = self._write_processes(connection, [_process_values(change, disposition_at)])
        written = self._write_audit(connection, _audit_values(change))
        self._write_approvals(connection, _approval_values(change))
        self._write_holds(connection, change)
        for approved in _lock_order(change.facts.approved):
            self._write_approved(connection, change.process_key, approved)
        return RecordWritten(applied=applied == 1, audit_written=written)

    def _apply_batch(self, connection: Connection, changes: list[ProcessChange]) -> int:
        """Changes of distinct processes, as multi-row statements; the number applied."""
        if not changes:
            return 0
        applied = self._write_processes(connection, [_process_values(c, None) for c in changes])
        self._write_audit(connection, [row for c in changes for row in _audit_values(c)])
        self._write_approvals(connection, [row for c in changes for row in _approval_values(c)])
        for change in changes:
            self._write_holds(connection, change)
            for approved in _lock_order(change.facts.approved):
                self._write_approved(connection, change.process_key, approved)
        return applied

    # Row writes are executemany: one compiled (and cached) statement, which SQLAlchemy sends
    # as multi-row INSERTs ("insertmanyvalues") with RETURNING on SQLite and PostgreSQL.

    def _write_processes(self, connection: Connection, rows: list[dict[str, Any]]) -> int:
        """Insert process rows, or update those stored at a lower version; the number written."""
        if not rows:
            return 0
        stmt = self._insert(processes)
        new = stmt.excluded
        stored = processes.c
        set_: dict[str, Any] = {
            column.name: new[column.name]
            for column in processes.columns
            if column.name not in {"process_key", "closed_at", "disposition_at"}
        }
        # Closing keeps the first close's time; a later reopening (not closed) clears it.
        set_["closed_at"] = case(
            (new.closed == true(), func.coalesce(stored.closed_at, new.updated_at)),
            else_=None,
        )
        set_["disposition_at"] = func.coalesce(new.disposition_at, stored.disposition_at)
        stmt = stmt.on_conflict_do_update(
            index_elements=[stored.process_key],
            set_=set_,
            where=stored.version < new.version,
        ).returning(stored.process_key)
        return len(connection.execute(stmt, rows).all())

    def _write_audit(self, connection: Connection, rows: list[dict[str, Any]]) -> int:
        """Insert audit rows, or update those a condensed entry grew; the number written."""
        if not rows:
            return 0
        stmt = self._insert(audit_entries)
        new = stmt.excluded
        stored = audit_entries.c
        grew = or_(
            new.repeated > stored.repeated,
            and_(
                new.last_at.is_not(None),
                or_(stored.last_at.is_(None), new.last_at > stored.last_at),
            ),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[stored.process_key, stored.seq],
            set_={
                "repeated": func.max(new.repeated, stored.repeated)
                if self.dialect == "sqlite"
                else func.greatest(new.repeated, stored.repeated),
                "last_at": new.last_at,
                "detail": new.detail,
                "data": new.data,
            },
            where=grew,
        ).returning(stored.seq)
        return len(connection.execute(stmt, rows).all())

    def _write_approvals(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        if rows:
            connection.execute(self._insert(approvals).on_conflict_do_nothing(), rows)

    def _write_holds(self, connection: Connection, change: ProcessChange) -> None:
        node = change.facts.document_node_id
        if node is None:
            return
        events = sorted(
            (e for e in change.audit if e.kind in (HOLD_APPLIED_KIND, HOLD_RELEASED_KIND)),
            key=lambda e: (e.at, e.seq),
        )
        stored = holds.c
        for entry in events:
            hold = entry.data.get("hold", "")
            if not hold:
                continue
            at = _utc(entry.at)
            if entry.kind == HOLD_APPLIED_KIND:
                stmt = self._insert(holds).values(
                    document_node_id=node,
                    hold=hold,
                    workspace_id=change.facts.workspace_id,
                    applied_at=at,
                    applied_by=entry.actor,
                    released_at=None,
                    process_key=change.process_key,
                )
                new = stmt.excluded
                # A later application re-opens the hold unless a release came after it.
                stmt = stmt.on_conflict_do_update(
                    index_elements=[stored.document_node_id, stored.hold],
                    set_={
                        "applied_at": new.applied_at,
                        "applied_by": new.applied_by,
                        "workspace_id": func.coalesce(new.workspace_id, stored.workspace_id),
                        "process_key": new.process_key,
                        "released_at": case(
                            (stored.released_at > new.applied_at, stored.released_at),
                            else_=None,
                        ),
                    },
                    where=stored.applied_at < new.applied_at,
                )
            else:
                # A release seen before its application keeps the release's time as both.
                stmt = self._insert(holds).values(
                    document_node_id=node,
                    hold=hold,
                    workspace_id=change.facts.workspace_id,
                    applied_at=at,
                    applied_by="",
                    released_at=at,
                    process_key=change.process_key,
                )
                new = stmt.excluded
                stmt = stmt.on_conflict_do_update(
                    index_elements=[stored.document_node_id, stored.hold],
                    set_={"released_at": new.released_at},
                    where=and_(
                        new.released_at >= stored.applied_at,
                        or_(stored.released_at.is_(None), new.released_at > stored.released_at),
                    ),
                )
            connection.execute(stmt)

    def _write_approved(
        self, connection: Connection, process_key: str, approved: ApprovedVersion
    ) -> None:
        stored = approved_versions.c
        if self.dialect == "postgresql":
            # Writers of one object's versions take turns (SQLite's writers always do), so a
            # version stored concurrently with a newer one cannot miss its supersession.
            key = f"approved:{approved.source}:{approved.object_id}"
            connection.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
        stmt = self._insert(approved_versions).values(
            source=approved.source,
            object_id=approved.object_id,
            version=approved.version,
            name=approved.name,
            mime_type=approved.mime_type,
            sha256=approved.sha256,
            size=None,
            approved_at=_utc(approved.approved_at),
            approved_by=approved.approved_by,
            workspace_id=approved.workspace_id,
            folder_id=approved.folder_id,
            document_type=approved.document_type,
            business_object=approved.business_object,
            process_key=process_key,
            superseded_at=None,
        )
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[stored.source, stored.object_id, stored.version],
            set_={"sha256": new.sha256},
            where=and_(stored.sha256 == "", new.sha256 != ""),
        )
        connection.execute(stmt)
        same_object = and_(stored.source == approved.source, stored.object_id == approved.object_id)
        # Older versions are superseded by this one...
        connection.execute(
            update(approved_versions)
            .where(same_object, stored.version < approved.version, stored.superseded_at.is_(None))
            .values(superseded_at=_utc(approved.approved_at))
        )
        # ... and this one by the oldest newer version already stored (an out-of-order write).
        newer = approved_versions.alias("newer")
        first_newer = (
            select(newer.c.approved_at)
            .where(
                newer.c.source == approved.source,
                newer.c.object_id == approved.object_id,
                newer.c.version > approved.version,
            )
            .order_by(newer.c.version)
            .limit(1)
            .scalar_subquery()
        )
        connection.execute(
            update(approved_versions)
            .where(same_object, stored.version == approved.version, stored.superseded_at.is_(None))
            .values(superseded_at=first_newer)
        )

    def set_version_digest(
        self, source: ContentSource, object_id: str, version: int, sha256: str, size: int | None
    ) -> bool:
        """Record a learned hash (and size) of an approved version; False if it is unknown."""
        stored = approved_versions.c
        with self._writer.begin() as connection:
            result = connection.execute(
                update(approved_versions)
                .where(
                    stored.source == source,
                    stored.object_id == object_id,
                    stored.version == version,
                )
                .values(sha256=sha256, size=size)
            )
            return result.rowcount > 0

    def record_access(self, event: AccessEvent) -> None:
        values = event.model_dump()
        values["at"] = _utc(event.at)
        with self._writer.begin() as connection:
            connection.execute(access_log.insert().values(values))

    # ------------------------------------------------------------ reading

    def _listing_filter(
        self, query: RecordQuery, scope: RecordScope, order: ProcessOrder | None = None
    ) -> list[ColumnElement[bool]]:
        """A listing's conditions. On SQLite, the scope never picks the index (it narrows
        little), nor do the query's filters unless one narrows (see `_Unindexed`)."""
        sqlite = self.dialect == "sqlite"
        return _scope_filter(scope, unindexed=sqlite) + _query_filter(
            query, unindexed=sqlite and not _narrow(query, order)
        )

    def process(self, process_key: str) -> ProcessRow | None:
        """One process, unscoped: callers check `visible(row, scope)`."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(processes).where(processes.c.process_key == process_key)
            ).first()
        return None if row is None else ProcessRow.model_validate(dict(row._mapping))

    def processes(
        self,
        query: RecordQuery,
        scope: RecordScope,
        *,
        cursor: str | None = None,
        limit: int = 50,
        order: ProcessOrder = "updated",
    ) -> Page[ProcessRow]:
        """Matching processes the scope may see, newest first (by last change or by start)."""
        limit = _limit(limit)
        if order not in ("updated", "started"):
            raise ValueError(f"unknown order {order!r}")
        column = processes.c.updated_at if order == "updated" else processes.c.started_at
        keys = [column, processes.c.process_key]
        stmt = select(processes).where(*self._listing_filter(query, scope, order))
        if cursor is not None:
            stmt = stmt.where(
                _after(keys, _decode_cursor(cursor, order, [datetime, str]), descending=True)
            )
        stmt = stmt.order_by(column.desc(), processes.c.process_key.desc()).limit(limit + 1)
        with self.engine.connect() as connection:
            rows = [ProcessRow.model_validate(dict(r._mapping)) for r in connection.execute(stmt)]
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = None
        if more:
            last = rows[-1]
            when = last.updated_at if order == "updated" else last.started_at
            next_cursor = _encode_cursor(order, when, last.process_key)
        return Page[ProcessRow](items=rows, next_cursor=next_cursor)

    def audit(
        self,
        query: RecordQuery,
        scope: RecordScope,
        *,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[AuditRecord]:
        """Audit entries of the matching processes, oldest first (by time, process, seq)."""
        limit = _limit(limit)
        a = audit_entries.c
        keys = [a.at, a.process_key, a.seq]
        stmt = (
            select(audit_entries, processes.c.process_type, processes.c.business_key)
            .join(processes, processes.c.process_key == a.process_key)
            .where(*self._listing_filter(query, scope))
        )
        if cursor is not None:
            values = _decode_cursor(cursor, "audit", [datetime, str, int])
            stmt = stmt.where(_after(keys, values, descending=False))
        stmt = stmt.order_by(*keys).limit(limit + 1)
        with self.engine.connect() as connection:
            rows = [AuditRecord.model_validate(dict(r._mapping)) for r in connection.execute(stmt)]
        return _page(AuditRecord, "audit", rows, limit, lambda r: (r.at, r.process_key, r.seq))

    def approvals(
        self,
        query: RecordQuery,
        scope: RecordScope,
        *,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[ApprovalRow]:
        """Decisions on the matching processes, oldest first (by time, process, seq)."""
        limit = _limit(limit)
        a = approvals.c
        keys = [a.at, a.process_key, a.seq]
        stmt = (
            select(approvals, processes.c.process_type, processes.c.business_key)
            .join(processes, processes.c.process_key == a.process_key)
            .where(*self._listing_filter(query, scope))
        )
        if cursor is not None:
            values = _decode_cursor(cursor, "approvals", [datetime, str, int])
            stmt = stmt.where(_after(keys, values, descending=False))
        stmt = stmt.order_by(*keys).limit(limit + 1)
        with self.engine.connect() as connection:
            rows = [ApprovalRow.model_validate(dict(r._mapping)) for r in connection.execute(stmt)]
        return _page(ApprovalRow, "approvals", rows, limit, lambda r: (r.at, r.process_key, r.seq))

    def holds(
        self,
        *,
        document_node_id: int | None = None,
        workspace_id: int | None = None,
        active_only: bool = False,
    ) -> list[HoldRow]:
        """Retention holds on documents (by document, then hold name)."""
        h = holds.c
        stmt = select(holds)
        if document_node_id is not None:
            stmt = stmt.where(h.document_node_id == document_node_id)
        if workspace_id is not None:
            stmt = stmt.where(h.workspace_id == workspace_id)
        if active_only:
            stmt = stmt.where(h.released_at.is_(None))
        stmt = stmt.order_by(h.document_node_id, h.hold)
        with self.engine.connect() as connection:
            return [HoldRow.model_validate(dict(r._mapping)) for r in connection.execute(stmt)]

    def latest_approved(self, source: ContentSource, object_id: str) -> ApprovedVersionRow | None:
        """The version portals may serve: the highest approved one not superseded."""
        v = approved_versions.c
        stmt = (
            select(approved_versions)
            .where(v.source == source, v.object_id == object_id, v.superseded_at.is_(None))
            .order_by(v.version.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(stmt).first()
        return None if row is None else ApprovedVersionRow.model_validate(dict(row._mapping))

    def approved_version(
        self, source: ContentSource, object_id: str, version: int
    ) -> ApprovedVersionRow | None:
        """One approved version, superseded or not."""
        v = approved_versions.c
        stmt = select(approved_versions).where(
            v.source == source, v.object_id == object_id, v.version == version
        )
        with self.engine.connect() as connection:
            row = connection.execute(stmt).first()
        return None if row is None else ApprovedVersionRow.model_validate(dict(row._mapping))

    def approved_versions(
        self,
        source: ContentSource,
        *,
        workspace_ids: Sequence[int] | None = None,
        document_types: Sequence[str] | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[ApprovedVersionRow]:
        """The current (not superseded) approved versions of a source, newest approval first."""
        limit = _limit(limit)
        v = approved_versions.c
        keys = [v.approved_at, v.object_id, v.version]
        stmt = select(approved_versions).where(v.source == source, v.superseded_at.is_(None))
        if workspace_ids is not None:
            stmt = stmt.where(v.workspace_id.in_(list(workspace_ids)))
        if document_types is not None:
            stmt = stmt.where(v.document_type.in_(list(document_types)))
        if cursor is not None:
            values = _decode_cursor(cursor, "approved", [datetime, str, int])
            stmt = stmt.where(_after(keys, values, descending=True))
        stmt = stmt.order_by(*(k.desc() for k in keys)).limit(limit + 1)
        with self.engine.connect() as connection:
            rows = [
                ApprovedVersionRow.model_validate(dict(r._mapping))
                for r in connection.execute(stmt)
            ]
        return _page(
            ApprovedVersionRow,
            "approved",
            rows,
            limit,
            lambda r: (r.approved_at, r.object_id, r.version),
        )

    def access_log(
        self,
        *,
        object_id: str | None = None,
        party: str | None = None,
        since: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[AccessEvent]:
        """Accesses, newest first."""
        limit = _limit(limit)
        c = access_log.c
        keys = [c.at, c.id]
        stmt = select(access_log)
        if object_id is not None:
            stmt = stmt.where(c.object_id == object_id)
        if party is not None:
            stmt = stmt.where(c.party == party)
        if since is not None:
            stmt = stmt.where(c.at >= _utc(since))
        if cursor is not None:
            stmt = stmt.where(
                _after(keys, _decode_cursor(cursor, "access", [datetime, int]), descending=True)
            )
        stmt = stmt.order_by(c.at.desc(), c.id.desc()).limit(limit + 1)
        with self.engine.connect() as connection:
            rows = [dict(r._mapping) for r in connection.execute(stmt)]
        more = len(rows) > limit
        rows = rows[:limit]
        items = [AccessEvent.model_validate(r) for r in rows]
        next_cursor = _encode_cursor("access", rows[-1]["at"], rows[-1]["id"]) if more else None
        return Page[AccessEvent](items=items, next_cursor=next_cursor)

    # ------------------------------------------------------------ figures

    def figures(self, query: RecordQuery, scope: RecordScope, *, now: datetime) -> DashboardFigures:
        """The dashboard's figures over the matching processes the scope may see."""
        now = _utc(now)
        where = _process_filter(query, scope)
        with self.engine.connect() as connection:
            ages, overdue, person_states = self._ages_and_overdue(connection, where, now)
            return DashboardFigures(
                generated_at=now,
                by_state=self._by_state(connection, where),
                ages=ages,
                approvals_overdue=overdue,
                overdue=self._overdue_rows(connection, where, now, person_states),
                turnaround=self._turnaround(connection, where),
                delivery_failures=self._delivery_failures(connection, where),
                **self._holds_figures(connection, query, scope),
                compliance=self._compliance(connection, where, now),
            )

    def _by_state(self, connection: Connection, where: list[ColumnElement[bool]]) -> list[CountBy]:
        c = processes.c
        stmt = (
            select(c.process_type, c.state, func.count())
            .where(*where)
            .group_by(c.process_type, c.state)
            .order_by(c.process_type, c.state)
        )
        return [
            CountBy(key=f"{ptype}/{state}", label=state, count=count)
            for ptype, state, count in connection.execute(stmt)
        ]

    def _ages_and_overdue(
        self, connection: Connection, where: list[ColumnElement[bool]], now: datetime
    ) -> tuple[list[AgeBucket], int, list[str]]:
        """Open processes by type and age in their state, the number waiting on a person past
        their deadline, and the states that wait on a person. One pass over the open rows."""
        c = processes.c
        since = func.coalesce(c.since, c.updated_at)

        def total(condition: ColumnElement[bool]) -> Any:
            return func.sum(case((condition, 1), else_=0))

        hour, day, week = now - timedelta(hours=1), now - timedelta(days=1), now - timedelta(days=7)
        stmt = (
            select(
                c.process_type,
                c.state,
                total(since > hour),
                total(and_(since <= hour, since > day)),
                total(and_(since <= day, since > week)),
                total(since <= week),
                total(c.until < now),
            )
            .where(*where, c.closed == false())
            .group_by(c.process_type, c.state)
            .order_by(c.process_type, c.state)
        )
        buckets: dict[str, AgeBucket] = {}
        overdue = 0
        person_states: set[str] = set()
        for ptype, state, h1, d1, d7, older, late in connection.execute(stmt):
            bucket = buckets.setdefault(ptype, AgeBucket(process_type=ptype))
            bucket.under_1h += int(h1 or 0)
            bucket.under_1d += int(d1 or 0)
            bucket.under_7d += int(d7 or 0)
            bucket.over_7d += int(older or 0)
            if _waits_on_person(state):
                person_states.add(state)
                overdue += int(late or 0)
        return list(buckets.values()), overdue, sorted(person_states)

    def _overdue_rows(
        self,
        connection: Connection,
        where: list[ColumnElement[bool]],
        now: datetime,
        states: list[str],
    ) -> list[ProcessRow]:
        """The open processes waiting on a person longest past their deadline."""
        c = processes.c
        rows: list[ProcessRow] = []
        # One query per state: each walks its deadline index in order and stops at the limit.
        for state in states:
            stmt = (
                select(processes)
                .where(*where, c.closed == false(), c.state == state, c.until < now)
                .order_by(c.until, c.process_key)
                .limit(OVERDUE_LISTED)
            )
            rows.extend(
                ProcessRow.model_validate(dict(r._mapping)) for r in connection.execute(stmt)
            )
        rows.sort(key=lambda row: (row.until, row.process_key))
        return rows[:OVERDUE_LISTED]

    def _hours(self, start: Any, end: Any) -> Any:
        if self.dialect == "sqlite":
            return (func.julianday(end) - func.julianday(start)) * 24.0
        return func.extract("epoch", end - start) / 3600.0

    def _day(self, column: Any) -> Any:
        if self.dialect == "sqlite":
            return func.substr(column, 1, 10)
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")

    def _turnaround(self, connection: Connection, where: list[ColumnElement[bool]]) -> Turnaround:
        c = processes.c
        signed = [
            *where,
            c.process_type == SIGNING_PROCESS,
            c.state == SIGNING_COMPLETED,
            c.closed == true(),
        ]
        day = self._day(c.closed_at).label("day")
        by_day = [
            CountBy(key=str(key), count=count)
            for key, count in connection.execute(
                select(day, func.count()).where(*signed).group_by(day).order_by(day)
            )
        ]
        completed = sum(item.count for item in by_day)
        if not completed:
            return Turnaround()
        hours = self._hours(c.started_at, c.closed_at).label("hours")

        def percentile(fraction: float) -> float:
            # Nearest rank: the smallest duration with at least `fraction` of them at or below.
            rank = max(1, math.ceil(fraction * completed))
            stmt = select(hours).where(*signed).order_by(hours).offset(rank - 1).limit(1)
            return round(float(connection.execute(stmt).scalar_one()), 3)

        return Turnaround(
            completed=completed,
            p50_hours=percentile(0.5),
            p90_hours=percentile(0.9),
            by_day=by_day,
        )

    def _delivery_failures(
        self, connection: Connection, where: list[ColumnElement[bool]]
    ) -> list[CountBy]:
        a = audit_entries.c
        target = func.coalesce(a.data["target"].as_string(), literal("")).label("target")
        stmt = (
            select(target, func.count())
            .select_from(audit_entries.join(processes, processes.c.process_key == a.process_key))
            .where(*where, a.kind == DELIVERY_FAILED_KIND)
            .group_by(target)
            .order_by(func.count().desc(), target)
        )
        return [CountBy(key=str(key), count=count) for key, count in connection.execute(stmt)]

    def _holds_figures(
        self, connection: Connection, query: RecordQuery, scope: RecordScope
    ) -> dict[str, Any]:
        h = holds.c
        # Holds count where the scope may see the process that applied them.
        # Driven from the (few) holds: each one's process is checked by its key.
        seen = (
            select(literal(1))
            .where(processes.c.process_key == h.process_key, *_scope_filter(scope))
            .exists()
        )
        stmt = (
            select(h.workspace_id, func.count())
            .where(h.released_at.is_(None), seen)
            .group_by(h.workspace_id)
            .order_by(func.count().desc(), h.workspace_id)
        )
        if query.workspace_id is not None:
            stmt = stmt.where(h.workspace_id == query.workspace_id)
        counts = list(connection.execute(stmt))
        return {
            "active_holds": sum(count for _, count in counts),
            "holds_by_workspace": [
                CountBy(key=str(workspace), count=count)
                for workspace, count in counts
                if workspace is not None
            ],
        }

    def _compliance(
        self, connection: Connection, where: list[ColumnElement[bool]], now: datetime
    ) -> list[WorkspaceCompliance]:
        c = processes.c
        due = now + DISPOSITION_HORIZON
        count = func.count()
        stmt = (
            select(
                c.workspace_id,
                count,
                func.sum(case((c.closed == false(), 1), else_=0)),
                func.sum(
                    case((and_(c.disposition_at.is_not(None), c.disposition_at < due), 1), else_=0)
                ),
                func.max(c.updated_at),
            )
            .where(*where, c.workspace_id.is_not(None))
            .group_by(c.workspace_id)
            .order_by(count.desc(), c.workspace_id)
            .limit(COMPLIANCE_WORKSPACES)
        )
        rows = list(connection.execute(stmt))
        if not rows:
            return []
        ids = [row[0] for row in rows]
        # Few processes need attention: counted through their index, not in the pass above.
        needing = dict(
            connection.execute(
                select(c.workspace_id, func.count())
                .where(*where, c.attention_reason > "", c.workspace_id.in_(ids))
                .group_by(c.workspace_id)
            ).all()
        )
        # Versions and holds count only through processes the caller may see: a workspace
        # shared by two source systems shows each only its own.
        v = approved_versions.c
        approved = dict(
            connection.execute(
                select(v.workspace_id, func.count())
                .join(processes, processes.c.process_key == v.process_key)
                .where(*where, v.workspace_id.in_(ids), v.superseded_at.is_(None))
                .group_by(v.workspace_id)
            ).all()
        )
        h = holds.c
        held = dict(
            connection.execute(
                select(h.workspace_id, func.count())
                .join(processes, processes.c.process_key == h.process_key)
                .where(*where, h.workspace_id.in_(ids), h.released_at.is_(None))
                .group_by(h.workspace_id)
            ).all()
        )
        return [
            WorkspaceCompliance(
                workspace_id=workspace,
                processes=total,
                open=int(open_ or 0),
                attention=needing.get(workspace, 0),
                approved_versions=approved.get(workspace, 0),
                active_holds=held.get(workspace, 0),
                disposition_due_90d=int(disposing or 0),
                last_activity=last,
            )
            for workspace, total, open_, disposing, last in rows
        ]


def _process_values(change: ProcessChange, disposition_at: datetime | None) -> dict[str, Any]:
    facts = change.facts
    at = _utc(change.at)
    return {
        "process_key": change.process_key,
        "workflow_id": change.workflow_id,
        "run_id": change.run_id,
        "process_type": change.process_type,
        "business_key": change.business_key,
        "state": change.state,
        "stage": change.stage,
        "waiting_for": change.waiting_for,
        "since": change.since,
        "until": change.until,
        "attention_reason": change.attention_reason,
        "outcome_reason": change.outcome_reason,
        "closed": change.closed,
        "source_system": facts.source_system,
        "tenant": facts.tenant,
        "document_node_id": facts.document_node_id,
        "document_version": facts.document_version,
        "document_name": facts.document_name,
        "workspace_id": facts.workspace_id,
        "business_object_type": facts.business_object_type,
        "business_object_id": facts.business_object_id,
        "retention_class": facts.retention_class,
        "disposition_at": disposition_at,
        "started_at": change.started_at,
        "updated_at": at,
        "closed_at": at if change.closed else None,
        "version": change.version,
    }


def _audit_values(change: ProcessChange) -> list[dict[str, Any]]:
    """A change's audit rows, one per seq (the most condensed one if repeated)."""
    entries: dict[int, AuditRow] = {}
    for entry in change.audit:
        known = entries.get(entry.seq)
        if known is None or entry.repeated > known.repeated:
            entries[entry.seq] = entry
    return [
        {
            "process_key": change.process_key,
            "seq": entry.seq,
            "at": entry.at,
            "kind": entry.kind,
            "actor": entry.actor,
            "detail": entry.detail,
            "data": entry.data,
            "repeated": entry.repeated,
            "last_at": entry.last_at,
        }
        for entry in sorted(entries.values(), key=lambda e: e.seq)
    ]


def _approval_values(change: ProcessChange) -> list[dict[str, Any]]:
    """The decisions among a change's audit entries."""
    return [
        {
            "process_key": change.process_key,
            "seq": entry.seq,
            "at": entry.at,
            "actor": entry.actor,
            "decision": entry.data.get("decision", ""),
            "comment": entry.data.get("comment", ""),
            "stage": entry.data.get("stage", ""),
        }
        for entry in {e.seq: e for e in change.audit if e.kind == DECISION_KIND}.values()
    ]


def _lock_order(approved: list[ApprovedVersion]) -> list[ApprovedVersion]:
    """Approved versions in one order for every writer (their locks cannot deadlock)."""
    return sorted(approved, key=lambda a: (a.source, a.object_id, a.version))


def _waits_on_person(state: str) -> bool:
    name = state.casefold()
    return "approval" in name or "review" in name


def _page(
    model: type[M],
    listing: str,
    rows: list[M],
    limit: int,
    key: Callable[[M], tuple[Any, ...]],
) -> Page[M]:
    """A page of at most `limit` rows from `limit + 1` fetched; a cursor when there are more."""
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(listing, *key(rows[-1])) if more else None
    return Page[model](items=rows, next_cursor=next_cursor)  # type: ignore[valid-type]


def _sqlite_pragmas(engine: Engine) -> None:
    """WAL and a busy timeout on every connection; transactions begun by the store itself
    (IMMEDIATE for writers, so two writers never deadlock upgrading a read lock)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver leaves BEGIN to us
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("docflow_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
