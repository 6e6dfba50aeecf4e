"""Dashboard figures on a small fixed dataset, with exact expected numbers."""

from __future__ import annotations

from datetime import timedelta

from docflow.models.records import (
    DELIVERY_FAILED_KIND,
    HOLD_APPLIED_KIND,
    HOLD_RELEASED_KIND,
    AgeBucket,
    ApprovedVersion,
    CountBy,
    RecordQuery,
    RecordScope,
    WorkspaceCompliance,
)
from docflow.records import RecordStore
from tests.records.factories import T0, at, audit, change

NOW = T0 + timedelta(days=10)
ERP = RecordScope(source_systems=["erp"])
ALL = RecordScope(source_systems=["*"])


def _hours_before_now(hours: float) -> float:
    """`at()` offset of a moment `hours` before NOW."""
    return 240 - hours


def _seed(store: RecordStore) -> None:
    def approved(version: int, hours: float) -> ApprovedVersion:
        return ApprovedVersion(
            source="ecm", object_id="d1", version=version, approved_at=at(hours), workspace_id=10
        )

    # Signing processes started at T0, closed 2 h, 10 h and 26 h later (completed), one declined.
    for key, hours, state, workspace, disposal, versions in (
        ("s1", 2, "completed", 10, NOW + timedelta(days=30), [approved(1, 2)]),
        ("s2", 10, "completed", 10, NOW + timedelta(days=200), [approved(2, 10)]),
        ("s3", 26, "completed", 11, None, []),
        ("s4", 5, "declined", None, None, []),
    ):
        store.apply(change(key, state="sending"))
        store.apply(
            change(
                key,
                2,
                hours=hours,
                state=state,
                closed=True,
                facts={"workspace_id": workspace, "approved": versions},
            ),
            disposition_at=disposal,
        )

    def waiting(key: str, state: str, since_h: float, until_h: float, **extra: object) -> None:
        facts = extra.pop("facts", {})
        store.apply(
            change(
                key,
                process_type="approval",
                state=state,
                hours=_hours_before_now(since_h),
                since=NOW - timedelta(hours=since_h),
                until=NOW - timedelta(hours=until_h),
                facts=facts,  # type: ignore[arg-type]
                **extra,
            )
        )

    waiting("a1", "awaiting_approval", 0.5, 1 / 6)
    waiting(
        "a2",
        "in_review",
        3,
        2,
        attention_reason="stuck",
        facts={"workspace_id": 11, "document_node_id": 101},
        entries=[
            audit(1, HOLD_APPLIED_KIND, 1, hold="H-old"),
            audit(2, HOLD_RELEASED_KIND, 2, hold="H-old"),
        ],
    )
    waiting("a3", "awaiting_approval", 48, -1)
    waiting(
        "a4",
        "delivering",
        8 * 24,
        5 * 24,
        facts={"workspace_id": 10, "document_node_id": 100},
        entries=[
            audit(1, DELIVERY_FAILED_KIND, 1, target="erp", reason="500"),
            audit(2, DELIVERY_FAILED_KIND, 2, target="erp", reason="timeout"),
            audit(3, DELIVERY_FAILED_KIND, 3, target="dms", reason="410"),
            audit(4, HOLD_APPLIED_KIND, 4, hold="LIT-1"),
        ],
    )
    # Another source system's process: invisible to the erp scope.
    waiting(
        "x1",
        "awaiting_approval",
        1,
        0.5,
        facts={"source_system": "crm", "workspace_id": 12, "document_node_id": 200},
        entries=[
            audit(1, DELIVERY_FAILED_KIND, 1, target="erp"),
            audit(2, HOLD_APPLIED_KIND, 2, hold="LIT-2"),
        ],
    )


def test_figures_over_the_callers_processes(store: RecordStore) -> None:
    _seed(store)
    figures = store.figures(RecordQuery(), ERP, now=NOW)

    assert figures.generated_at == NOW
    assert figures.by_state == [
        CountBy(key="approval/awaiting_approval", label="awaiting_approval", count=2),
        CountBy(key="approval/delivering", label="delivering", count=1),
        CountBy(key="approval/in_review", label="in_review", count=1),
        CountBy(key="signing/completed", label="completed", count=3),
        CountBy(key="signing/declined", label="declined", count=1),
    ]
    assert figures.ages == [
        AgeBucket(process_type="approval", under_1h=1, under_1d=1, under_7d=1, over_7d=1)
    ]
    assert figures.approvals_overdue == 2
    assert [row.process_key for row in figures.overdue] == ["a2", "a1"]

    turnaround = figures.turnaround
    assert turnaround.completed == 3
    assert turnaround.p50_hours == 10.0
    assert turnaround.p90_hours == 26.0
    assert turnaround.by_day == [
        CountBy(key="2026-03-02", count=2),
        CountBy(key="2026-03-03", count=1),
    ]

    assert figures.delivery_failures == [CountBy(key="erp", count=2), CountBy(key="dms", count=1)]
    assert figures.active_holds == 1
    assert figures.holds_by_workspace == [CountBy(key="10", count=1)]
    assert figures.compliance == [
        WorkspaceCompliance(
            workspace_id=10,
            processes=3,
            open=1,
            attention=0,
            approved_versions=1,
            active_holds=1,
            disposition_due_90d=1,
            last_activity=at(48),
        ),
        WorkspaceCompliance(
            workspace_id=11,
            processes=2,
            open=1,
            attention=1,
            approved_versions=0,
            active_holds=0,
            disposition_due_90d=0,
            last_activity=at(237),
        ),
    ]


def test_figures_follow_scope_and_query(store: RecordStore) -> None:
    _seed(store)
    everything = store.figures(RecordQuery(), ALL, now=NOW)
    assert everything.approvals_overdue == 3
    assert everything.delivery_failures == [
        CountBy(key="erp", count=3),
        CountBy(key="dms", count=1),
    ]
    assert everything.active_holds == 2
    assert [c.workspace_id for c in everything.compliance] == [10, 11, 12]

    signing = store.figures(RecordQuery(process_type=["signing"]), ERP, now=NOW)
    assert [c.key for c in signing.by_state] == ["signing/completed", "signing/declined"]
    assert signing.ages == []
    assert signing.approvals_overdue == 0
    assert signing.turnaround.completed == 3
    assert signing.delivery_failures == []

    window = RecordQuery(closed_from=at(24), closed_to=at(48))
    assert store.figures(window, ERP, now=NOW).turnaround.model_dump() == {
        "completed": 1,
        "p50_hours": 26.0,
        "p90_hours": 26.0,
        "by_day": [{"key": "2026-03-03", "label": "", "count": 1}],
    }

    nothing = store.figures(RecordQuery(), RecordScope(), now=NOW)
    assert nothing.by_state == [] and nothing.active_holds == 0 and nothing.compliance == []
    assert nothing.turnaround.completed == 0 and nothing.turnaround.p50_hours is None
