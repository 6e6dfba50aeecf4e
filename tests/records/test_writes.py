"""Writing changes: idempotency per version, audit rows by seq, derived approvals, holds and
approved versions, concurrent writers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from docflow.models.records import (
    DECISION_KIND,
    HOLD_APPLIED_KIND,
    HOLD_RELEASED_KIND,
    AccessEvent,
    ApprovedVersion,
    AuditRow,
    RecordQuery,
    RecordScope,
)
from docflow.records import RecordStore
from docflow.settings import Settings
from tests.records.factories import T0, at, audit, change

ALL = RecordScope(source_systems=["*"])


def _audit(store: RecordStore, key: str = "p1") -> list[AuditRow]:
    page = store.audit(RecordQuery(business_key=f"bk-{key}"), ALL, limit=100)
    return [AuditRow.model_validate(r.model_dump()) for r in page.items]


def test_same_change_twice_changes_nothing(store: RecordStore) -> None:
    first = change(entries=[audit(0), audit(1)])
    assert store.apply(first).model_dump() == {"applied": True, "audit_written": 2}
    assert store.apply(first).model_dump() == {"applied": False, "audit_written": 0}
    row = store.process("p1")
    assert row is not None
    assert (row.version, row.state, row.updated_at) == (1, "awaiting_approval", T0)
    assert row.started_at.tzinfo is not None and row.started_at.utcoffset() == timedelta(0)
    assert len(_audit(store)) == 2


def test_older_version_after_newer_keeps_newer_but_writes_its_audit(store: RecordStore) -> None:
    assert store.apply(change(version=3, hours=3, state="signing", entries=[audit(2, hours=3)]))
    late = store.apply(change(version=2, hours=2, state="approved", entries=[audit(1, hours=2)]))
    assert late.model_dump() == {"applied": False, "audit_written": 1}
    row = store.process("p1")
    assert row is not None
    assert (row.version, row.state, row.updated_at) == (3, "signing", at(3))
    assert [e.seq for e in _audit(store)] == [1, 2]
    # An equal version is not applied either.
    assert not store.apply(change(version=3, hours=4, state="other")).applied
    assert store.process("p1").state == "signing"  # type: ignore[union-attr]


def test_out_of_order_audit_rows(store: RecordStore) -> None:
    store.apply(change(version=2, hours=2, entries=[audit(5, hours=5), audit(3, hours=3)]))
    store.apply(change(version=1, hours=1, entries=[audit(4, hours=4), audit(1, hours=1)]))
    assert [e.seq for e in _audit(store)] == [1, 3, 4, 5]


def test_condensed_entry_updated_only_when_it_grew(store: RecordStore) -> None:
    entry = audit(7, kind="reminder_sent")
    store.apply(change(version=1, entries=[entry]))
    grown = entry.model_copy(update={"repeated": 3, "last_at": at(5)})
    assert store.apply(change(version=2, entries=[grown])).audit_written == 1
    stale = entry.model_copy(update={"repeated": 2, "last_at": at(2)})
    assert store.apply(change(version=3, entries=[stale])).audit_written == 0
    (stored,) = _audit(store)
    assert (stored.repeated, stored.last_at) == (3, at(5))
    assert store.apply(change(version=4, entries=[grown])).audit_written == 0


def test_closed_at_is_the_first_close(store: RecordStore) -> None:
    store.apply(change(version=1))
    assert store.process("p1").closed_at is None  # type: ignore[union-attr]
    store.apply(change(version=2, hours=2, state="completed", closed=True))
    store.apply(change(version=3, hours=3, state="completed", closed=True, outcome_reason="x"))
    row = store.process("p1")
    assert row is not None
    assert (row.closed, row.closed_at, row.updated_at, row.outcome_reason) == (
        True,
        at(2),
        at(3),
        "x",
    )


def test_disposition_is_kept_until_a_new_one_is_given(store: RecordStore) -> None:
    store.apply(change(version=1), disposition_at=at(1000))
    store.apply(change(version=2))
    assert store.process("p1").disposition_at == at(1000)  # type: ignore[union-attr]
    store.apply(change(version=3), disposition_at=at(2000))
    assert store.process("p1").disposition_at == at(2000)  # type: ignore[union-attr]


def test_approvals_from_decision_entries(store: RecordStore) -> None:
    decision = audit(2, DECISION_KIND, 1, decision="approve", comment="fine", stage="legal")
    store.apply(change(entries=[audit(1), decision]))
    store.apply(change(version=2, entries=[decision]))
    page = store.approvals(RecordQuery(), ALL, limit=10)
    assert [r.model_dump() for r in page.items] == [
        {
            "process_key": "p1",
            "process_type": "signing",
            "business_key": "bk-p1",
            "seq": 2,
            "at": at(1),
            "actor": "actor-2",
            "decision": "approve",
            "comment": "fine",
            "stage": "legal",
        }
    ]


def test_holds_applied_released_and_reapplied(store: RecordStore) -> None:
    facts = {"document_node_id": 42, "workspace_id": 7}
    store.apply(change(facts=facts, entries=[audit(1, HOLD_APPLIED_KIND, 1, hold="LIT-1")]))
    (hold,) = store.holds(active_only=True)
    assert (hold.document_node_id, hold.hold, hold.workspace_id) == (42, "LIT-1", 7)
    assert (hold.applied_at, hold.applied_by, hold.released_at) == (at(1), "actor-1", None)

    store.apply(
        change(version=2, facts=facts, entries=[audit(2, HOLD_RELEASED_KIND, 2, hold="LIT-1")])
    )
    assert store.holds(active_only=True) == []
    assert store.holds(document_node_id=42)[0].released_at == at(2)
    # A replay of the application does not reopen it; a later application does.
    store.apply(
        change(version=3, facts=facts, entries=[audit(1, HOLD_APPLIED_KIND, 1, hold="LIT-1")])
    )
    assert store.holds(active_only=True) == []
    store.apply(
        change(version=4, facts=facts, entries=[audit(3, HOLD_APPLIED_KIND, 3, hold="LIT-1")])
    )
    assert [h.applied_at for h in store.holds(workspace_id=7, active_only=True)] == [at(3)]
    assert store.holds(workspace_id=8) == []


def test_hold_released_before_its_application_arrives(store: RecordStore) -> None:
    facts = {"document_node_id": 42}
    store.apply(change(facts=facts, entries=[audit(2, HOLD_RELEASED_KIND, 2, hold="H")]))
    store.apply(change(facts=facts, entries=[audit(1, HOLD_APPLIED_KIND, 1, hold="H")]))
    assert store.holds(active_only=True) == []


def _approved(version: int, hours: float, sha256: str = "") -> ApprovedVersion:
    return ApprovedVersion(
        source="ecm",
        object_id="node-9",
        version=version,
        name=f"contract-v{version}.pdf",
        approved_at=at(hours),
        approved_by="alice",
        workspace_id=7,
        document_type="contract",
        sha256=sha256,
    )


def test_approved_versions_are_superseded_by_newer_ones(store: RecordStore) -> None:
    store.apply(change("a", facts={"approved": [_approved(1, 1)]}))
    store.apply(change("c", facts={"approved": [_approved(3, 3)]}))
    # Version 2 arrives after version 3: superseded on arrival by 3's approval.
    store.apply(change("b", facts={"approved": [_approved(2, 2)]}))
    latest = store.latest_approved("ecm", "node-9")
    assert latest is not None
    assert (latest.version, latest.process_key, latest.superseded_at) == (3, "c", None)
    assert store.approved_version("ecm", "node-9", 1).superseded_at == at(3)  # type: ignore[union-attr]
    assert store.approved_version("ecm", "node-9", 2).superseded_at == at(3)  # type: ignore[union-attr]
    assert store.approved_version("ecm", "node-9", 4) is None
    assert store.latest_approved("amplience", "node-9") is None

    page = store.approved_versions("ecm", limit=10)
    assert [(r.object_id, r.version) for r in page.items] == [("node-9", 3)]
    assert store.approved_versions("ecm", workspace_ids=[8], limit=10).items == []
    assert store.approved_versions("ecm", document_types=["contract"], limit=10).items


def test_version_digest_is_learned(store: RecordStore) -> None:
    store.apply(change(facts={"approved": [_approved(1, 1)]}))
    assert store.latest_approved("ecm", "node-9").sha256 == ""  # type: ignore[union-attr]
    assert store.set_version_digest("ecm", "node-9", 1, "ab" * 32, 1234)
    assert not store.set_version_digest("ecm", "node-9", 2, "ab" * 32, 1)
    row = store.approved_version("ecm", "node-9", 1)
    assert row is not None and (row.sha256, row.size) == ("ab" * 32, 1234)
    # A replay of the approval without a hash keeps the learned one.
    store.apply(change(version=2, facts={"approved": [_approved(1, 1)]}))
    assert store.approved_version("ecm", "node-9", 1).sha256 == "ab" * 32  # type: ignore[union-attr]


def test_approved_versions_paging(store: RecordStore) -> None:
    for n in range(5):
        item = _approved(1, 1).model_copy(update={"object_id": f"obj-{n}"})
        store.apply(change(f"p{n}", facts={"approved": [item]}))
    first = store.approved_versions("ecm", limit=3)
    second = store.approved_versions("ecm", limit=3, cursor=first.next_cursor)
    ids = [r.object_id for r in first.items + second.items]
    assert ids == [f"obj-{n}" for n in reversed(range(5))]
    assert second.next_cursor is None


def test_access_log(store: RecordStore) -> None:
    for n in range(5):
        store.record_access(
            AccessEvent(at=at(n // 2), party=f"party-{n % 2}", action="read", object_id="x")
        )
    store.record_access(AccessEvent(at=at(9), party="party-0", action="denied", outcome="scope"))
    first = store.access_log(limit=4)
    second = store.access_log(limit=4, cursor=first.next_cursor)
    assert [e.at for e in first.items + second.items] == [at(9), at(2), at(1), at(1), at(0), at(0)]
    assert second.next_cursor is None
    assert len(store.access_log(object_id="x", limit=10).items) == 5
    assert len(store.access_log(party="party-1", limit=10).items) == 2
    assert len(store.access_log(since=at(1), limit=10).items) == 4


def test_concurrent_writers_of_one_process(store: RecordStore) -> None:
    changes = [
        change(version=v, hours=v, state=f"s{v}", entries=[audit(v, hours=v)]) for v in range(1, 31)
    ]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(store.apply, reversed(changes)))
    assert any(r.applied for r in results)
    row = store.process("p1")
    assert row is not None and (row.version, row.state) == (30, "s30")
    assert [e.seq for e in _audit(store)] == list(range(1, 31))


def test_concurrent_approvals_of_one_object(store: RecordStore) -> None:
    changes = [change(f"v{n}", facts={"approved": [_approved(n, n)]}) for n in range(1, 13)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(store.apply, reversed(changes)))
    latest = store.latest_approved("ecm", "node-9")
    assert latest is not None and latest.version == 12
    current = store.approved_versions("ecm", limit=100).items
    assert [(r.object_id, r.version) for r in current] == [("node-9", 12)]
    for n in range(1, 12):
        row = store.approved_version("ecm", "node-9", n)
        assert row is not None and row.superseded_at is not None
        assert row.superseded_at > row.approved_at


def test_bulk_apply(store: RecordStore) -> None:
    applied = store.bulk_apply((change(f"p{n}", entries=[audit(0)]) for n in range(20)), batch=7)
    assert applied == 20
    assert len(store.processes(RecordQuery(), ALL, limit=100).items) == 20
    # Same results as one by one, in order: a newer version wins, an older one is ignored.
    decision = audit(1, DECISION_KIND, decision="approve")
    applied = store.bulk_apply(
        [
            change("p1", 3, hours=3, state="signed", entries=[decision]),
            change("p1", 2, hours=2, state="stale", entries=[audit(2)]),
            change("p2", 2, hours=2, state="closed", closed=True),
            change("p2", 3, hours=3, state="closed", closed=True),
        ]
    )
    assert applied == 3
    p1, p2 = store.process("p1"), store.process("p2")
    assert p1 is not None and (p1.version, p1.state) == (3, "signed")
    assert p2 is not None and (p2.version, p2.closed_at) == (3, at(2))
    assert [e.seq for e in _audit(store, "p1")] == [0, 1, 2]
    assert len(store.approvals(RecordQuery(), ALL, limit=10).items) == 1


def test_from_settings_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with RecordStore.from_settings(settings) as store:
        assert store.dialect == "sqlite"
        store.migrate()
        store.apply(change())
    assert (tmp_path / "data" / "records.db").exists()


def test_from_settings_merges_the_password_reference() -> None:
    settings = Settings().with_overrides(
        records={
            "url": "postgresql+psycopg://docflow@db.example/records",
            "password": "value:s3cr%t",
        }
    )
    store = RecordStore.from_settings(settings)
    try:
        assert store.url.password == "s3cr%t"
        assert store.url.host == "db.example"
    finally:
        store.close()


def test_datetimes_come_back_in_utc(store: RecordStore) -> None:
    from datetime import timezone

    berlin = timezone(timedelta(hours=1))
    started = datetime(2026, 3, 2, 10, 0, tzinfo=berlin)
    store.apply(change(started_at=started, at=started))
    row = store.process("p1")
    assert row is not None
    assert row.started_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert row.started_at.tzinfo == UTC


def test_many_audit_rows_in_one_change(store: RecordStore) -> None:
    entries = [audit(n, hours=n / 100) for n in range(450)]
    assert store.apply(change(entries=entries)).audit_written == 450
    assert store.apply(change(version=2, entries=entries)).audit_written == 0
    assert len(store.audit(RecordQuery(), ALL, limit=1000).items) == 450


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = RecordStore(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
    finally:
        store.close()
