"""Reading the model: scope (authorization per object), filters and keyset paging."""

from __future__ import annotations

import base64

import pytest

from docflow.models.records import DECISION_KIND, ProcessRow, RecordQuery, RecordScope
from docflow.records import RecordStore, visible
from tests.records.factories import at, audit, change

ALL = RecordScope(source_systems=["*"])


def _seed_systems(store: RecordStore) -> None:
    store.apply(change("erp-acme", facts={"source_system": "erp", "tenant": "acme"}))
    store.apply(change("erp-globex", facts={"source_system": "erp", "tenant": "globex"}))
    store.apply(change("crm-acme", facts={"source_system": "crm", "tenant": "acme"}))


def _keys(store: RecordStore, scope: RecordScope, query: RecordQuery | None = None) -> set[str]:
    page = store.processes(query or RecordQuery(), scope, limit=100)
    return {row.process_key for row in page.items}


def test_scope_limits_processes_to_systems_and_tenants(store: RecordStore) -> None:
    _seed_systems(store)
    assert _keys(store, ALL) == {"erp-acme", "erp-globex", "crm-acme"}
    assert _keys(store, RecordScope(source_systems=["erp"])) == {"erp-acme", "erp-globex"}
    assert _keys(store, RecordScope(source_systems=["erp"], tenants=["acme"])) == {"erp-acme"}
    assert _keys(store, RecordScope(source_systems=["*"], tenants=["acme"])) == {
        "erp-acme",
        "crm-acme",
    }
    assert _keys(store, RecordScope(source_systems=[])) == set()
    assert _keys(store, RecordScope(source_systems=["*"], tenants=[])) == set()
    assert _keys(store, RecordScope(source_systems=["hr"])) == set()
    # With a narrowing filter too.
    erp = RecordScope(source_systems=["erp"])
    assert _keys(store, erp, RecordQuery(business_key="bk-erp-globex")) == {"erp-globex"}
    assert _keys(store, erp, RecordQuery(business_key="bk-crm-acme")) == set()


def test_scope_limits_audit_and_approvals(store: RecordStore) -> None:
    decision = audit(1, DECISION_KIND, decision="approve")
    store.apply(change("mine", facts={"source_system": "erp"}, entries=[decision]))
    store.apply(change("theirs", facts={"source_system": "crm"}, entries=[decision]))
    erp = RecordScope(source_systems=["erp"])
    assert [r.process_key for r in store.audit(RecordQuery(), erp, limit=10).items] == ["mine"]
    assert [r.process_key for r in store.approvals(RecordQuery(), erp, limit=10).items] == ["mine"]
    nobody = RecordScope()
    assert store.audit(RecordQuery(), nobody, limit=10).items == []
    assert store.approvals(RecordQuery(), nobody, limit=10).items == []


def test_process_is_unscoped_and_visible_decides(store: RecordStore) -> None:
    _seed_systems(store)
    row = store.process("erp-globex")
    assert isinstance(row, ProcessRow)
    assert visible(row, RecordScope(source_systems=["erp"]))
    assert visible(row, RecordScope(source_systems=["*"], tenants=["globex"]))
    assert not visible(row, RecordScope(source_systems=["crm"]))
    assert not visible(row, RecordScope(source_systems=["erp"], tenants=["acme"]))
    assert not visible(row, RecordScope())
    assert store.process("missing") is None


def test_query_filters(store: RecordStore) -> None:
    store.apply(
        change(
            "a",
            process_type="approval",
            state="approved",
            closed=True,
            facts={"document_node_id": 1, "workspace_id": 10, "business_object_type": "order"},
            hours=5,
        )
    )
    store.apply(change("b", state="awaiting_approval", attention_reason="stuck", hours=1))
    store.apply(
        change("c", facts={"source_system": "crm", "business_object_id": "42"}, started_at=at(-48))
    )

    def keys(**filters: object) -> set[str]:
        return _keys(store, ALL, RecordQuery.model_validate(filters))

    assert keys(process_type=["approval"]) == {"a"}
    assert keys(state=["awaiting_approval"]) == {"b", "c"}
    assert keys(source_system=["crm"]) == {"c"}
    assert keys(outcome="open") == {"b", "c"}
    assert keys(outcome="closed") == {"a"}
    assert keys(outcome="attention") == {"b"}
    assert keys(business_key="bk-b") == {"b"}
    assert keys(document_node_id=1) == {"a"}
    assert keys(workspace_id=10) == {"a"}
    assert keys(business_object_type="order") == {"a"}
    assert keys(business_object_id="42") == {"c"}
    assert keys(started_from=at(-1)) == {"a", "b"}
    assert keys(started_to=at(-1)) == {"c"}
    assert keys(updated_from=at(1), updated_to=at(5)) == {"b"}
    assert keys(closed_from=at(5), closed_to=at(6)) == {"a"}
    assert keys(closed_from=at(6)) == set()


@pytest.mark.parametrize("order", ["updated", "started"])
def test_paging_across_equal_timestamps(store: RecordStore, order: str) -> None:
    # 7 processes share one timestamp, 3 are newer: pages of 3 must not skip or repeat any.
    for n in range(7):
        store.apply(change(f"same-{n}", hours=1, started_at=at(1)))
    for n in range(3):
        store.apply(change(f"new-{n}", hours=2 + n, started_at=at(2 + n)))
    seen: list[ProcessRow] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = store.processes(RecordQuery(), ALL, cursor=cursor, limit=3, order=order)  # type: ignore[arg-type]
        seen.extend(page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
        assert "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert pages == 4
    keys = [row.process_key for row in seen]
    assert len(keys) == len(set(keys)) == 10
    assert keys[:3] == ["new-2", "new-1", "new-0"]
    assert keys[3:] == [f"same-{n}" for n in reversed(range(7))]


def test_audit_paging_in_time_then_seq_order(store: RecordStore) -> None:
    store.apply(change("x", entries=[audit(n, hours=n // 3) for n in range(8)]))
    store.apply(change("y", entries=[audit(n, hours=0) for n in range(3)]))
    seen = []
    cursor = None
    while True:
        page = store.audit(RecordQuery(), ALL, cursor=cursor, limit=4)
        seen.extend((r.at, r.process_key, r.seq) for r in page.items)
        if (cursor := page.next_cursor) is None:
            break
    assert len(seen) == 11
    assert seen == sorted(seen)


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00"]').decode(),
        base64.urlsafe_b64encode(b'["yesterday", "p1"]').decode(),
        base64.urlsafe_b64encode(b'[1, "p1"]').decode(),
        base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00", 5]').decode(),
        "",
    ],
)
def test_malformed_cursor_is_a_value_error(store: RecordStore, cursor: str) -> None:
    with pytest.raises(ValueError):
        store.processes(RecordQuery(), ALL, cursor=cursor, limit=10)
    with pytest.raises(ValueError):
        store.audit(RecordQuery(), ALL, cursor=cursor, limit=10)
    with pytest.raises(ValueError):
        store.access_log(cursor=cursor, limit=10)


def test_cursor_of_another_listing_is_refused(store: RecordStore) -> None:
    store.apply(change("x", entries=[audit(n) for n in range(3)]))
    audit_cursor = store.audit(RecordQuery(), ALL, limit=1).next_cursor
    assert audit_cursor is not None
    with pytest.raises(ValueError):
        store.processes(RecordQuery(), ALL, cursor=audit_cursor, limit=10)


def test_cursor_of_the_other_order_is_refused(store: RecordStore) -> None:
    for n in range(3):
        store.apply(change(f"p{n}"))
    updated = store.processes(RecordQuery(), ALL, limit=1, order="updated").next_cursor
    assert updated is not None
    with pytest.raises(ValueError):
        store.processes(RecordQuery(), ALL, cursor=updated, limit=1, order="started")
