"""A read model with a few dozen processes whose dashboard figures are known in advance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from docflow.models.records import (
    DELIVERY_FAILED_KIND,
    HOLD_APPLIED_KIND,
    HOLD_RELEASED_KIND,
    ApprovedVersion,
    AuditRow,
    ProcessChange,
    RecordFacts,
)
from docflow.records.store import RecordStore


@dataclass(frozen=True)
class Expected:
    """What the seeded store's unrestricted figures must show."""

    processes: int = 37
    by_state: tuple[tuple[str, str, int], ...] = (
        ("case", "assembling", 5),
        ("case", "completed", 3),
        ("signing", "awaiting_approval", 6),
        ("signing", "awaiting_signature", 3),
        ("signing", "completed", 10),
        ("signing", "failed", 2),
        ("workspace_sync", "active", 8),
    )
    overdue: int = 4
    oldest_overdue: str = "Q-OVERDUE-4"
    signings_completed: int = 10
    # Completed signings took 2, 4, ..., 20 hours: nearest-rank p50 = 10 h, p90 = 18 h.
    p50_hours: float = 10.0
    p90_hours: float = 18.0
    failures: tuple[tuple[str, int], ...] = (("sap", 3), ("crm", 2), ("amplience", 1))
    holds: int = 4
    holds_by_workspace: tuple[tuple[str, int], ...] = (("101", 3), ("102", 1))
    # Workspace 101: processes, open, attention; workspace 102: approved versions, disposing.
    workspace_101: tuple[int, int, int] = (14, 14, 2)
    workspace_102_approved: int = 10
    workspace_102_disposing: int = 2
    open_case_ages_under_1h: int = 5


EXPECTED = Expected()


def _change(
    n: int,
    *,
    process_type: str,
    state: str,
    started: datetime,
    source: str,
    workspace: int | None,
    closed_at: datetime | None = None,
    until: datetime | None = None,
    since: datetime | None = None,
    attention: str = "",
    waiting_for: str = "",
    audit: list[AuditRow] | None = None,
    node: int | None = None,
    key: str | None = None,
    approved: bool = False,
) -> ProcessChange:
    business_key = key or f"{process_type[:2].upper()}-{n}"
    at = closed_at or since or started
    node_id = node if node is not None else 5000 + n
    versions = [
        ApprovedVersion(
            source="ecm",
            object_id=str(node_id),
            version=1,
            name=f"{business_key}.pdf",
            approved_at=at,
            workspace_id=workspace,
        )
    ]
    return ProcessChange(
        process_key=f"run-{n:03d}",
        workflow_id=f"{process_type}-{business_key}",
        run_id=f"run-{n:03d}",
        process_type=process_type,
        business_key=business_key,
        version=1,
        at=at,
        started_at=started,
        state=state,
        waiting_for=waiting_for,
        since=since or at,
        until=until,
        attention_reason=attention,
        closed=closed_at is not None,
        facts=RecordFacts(
            source_system=source,
            tenant="acme",
            workspace_id=workspace,
            document_node_id=node_id,
            document_name=f"{business_key}.pdf",
            approved=versions if approved else [],
        ),
        audit=audit or [],
    )


def _failed(seq: int, at: datetime, target: str) -> AuditRow:
    return AuditRow(
        seq=seq, at=at, kind=DELIVERY_FAILED_KIND, actor="docflow", data={"target": target}
    )


def _hold(seq: int, at: datetime, hold: str, *, released: bool = False) -> AuditRow:
    kind = HOLD_RELEASED_KIND if released else HOLD_APPLIED_KIND
    return AuditRow(seq=seq, at=at, kind=kind, actor="records@example.com", data={"hold": hold})


def changes(now: datetime) -> list[ProcessChange]:
    """The seeded processes (see `Expected`), relative to `now`."""
    day = timedelta(days=1)
    hour = timedelta(hours=1)
    result: list[ProcessChange] = []
    n = 0

    def add(**kwargs: object) -> None:
        nonlocal n
        n += 1
        result.append(_change(n, **kwargs))  # type: ignore[arg-type]

    # Signing, waiting for approvers: four past their deadline (the 4th the oldest), two not.
    for i, overdue_by in enumerate([hour, 5 * hour, 2 * day, 10 * day], start=1):
        add(
            process_type="signing",
            state="awaiting_approval",
            started=now - overdue_by - 3 * day,
            since=now - overdue_by - 2 * day,
            until=now - overdue_by,
            source="SFDC",
            workspace=101,
            waiting_for="alice@example.com",
            key=f"Q-OVERDUE-{i}",
        )
    for _ in range(2):
        add(
            process_type="signing",
            state="awaiting_approval",
            started=now - 2 * hour,
            since=now - 30 * timedelta(minutes=1),
            until=now + 2 * day,
            source="SFDC",
            workspace=101,
            waiting_for="bob@example.com",
        )
    # Signing, with the signers: open for a few days; deliveries to SAP failed on two.
    for i in range(3):
        add(
            process_type="signing",
            state="awaiting_signature",
            started=now - 3 * day,
            since=now - 2 * day,
            source="SFDC",
            workspace=101,
            audit=[_failed(1, now - day, "sap")] if i < 2 else None,
        )
    # Signing, completed on the last days: 2, 4, ... 20 hours from start to signed.
    for i in range(10):
        closed = now - (i % 5) * day - hour
        add(
            process_type="signing",
            state="completed",
            started=closed - (2 * (i + 1)) * hour,
            closed_at=closed,
            source="SFDC",
            workspace=102,
            approved=True,
        )
    # Signing, failed: both delivered badly to the CRM.
    for _ in range(2):
        add(
            process_type="signing",
            state="failed",
            started=now - 4 * day,
            closed_at=now - 3 * day,
            source="SFDC",
            workspace=102,
            attention="bounced",
            audit=[_failed(1, now - 3 * day, "crm")],
        )
    # Workspace sync (SAP): eight open, two need attention; holds on workspace 101's documents.
    for i in range(8):
        audit: list[AuditRow] = []
        if i < 3:
            audit.append(_hold(1, now - day, f"LIT-{i}"))
        if i == 3:
            audit += [
                _hold(1, now - 2 * day, "AUDIT-OLD"),
                _hold(2, now - day, "AUDIT-OLD", released=True),
            ]
        if i == 4:
            audit.append(_failed(1, now - hour, "sap"))
        if i == 5:
            audit.append(_failed(1, now - hour, "amplience"))
        add(
            process_type="workspace_sync",
            state="active",
            started=now - 20 * day,
            since=now - (8 + i) * day,
            source="SAP",
            workspace=101 if i < 5 else 103,
            attention="sync stalled" if i in (0, 1) else "",
            audit=audit,
        )
    # Cases: five assembling (just started), three completed; one hold on workspace 102.
    for _ in range(5):
        add(
            process_type="case",
            state="assembling",
            started=now - 20 * timedelta(minutes=1),
            since=now - 10 * timedelta(minutes=1),
            source="CASES",
            workspace=None,
        )
    for i in range(3):
        add(
            process_type="case",
            state="completed",
            started=now - 6 * day,
            closed_at=now - 5 * day,
            source="CASES",
            workspace=102 if i == 0 else None,
            audit=[_hold(1, now - 5 * day, "CLAIM-7")] if i == 0 else None,
        )
    return result


def seed(url: str, now: datetime | None = None) -> RecordStore:
    """A migrated store at `url` holding `changes(now)`; the failed signings (workspace 102)
    are due for disposition in 30 days."""
    at = now or datetime.now(UTC)
    store = RecordStore(url)
    store.migrate()
    seeded = changes(at)
    disposing = [c for c in seeded if c.state == "failed"]
    store.bulk_apply(c for c in seeded if c not in disposing)
    for change in disposing:
        store.apply(change, disposition_at=at + timedelta(days=30))
    return store
