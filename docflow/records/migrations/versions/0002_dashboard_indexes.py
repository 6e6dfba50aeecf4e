"""Indexes for the dashboard and the listings at 100,000 processes: covering indexes the
figures' aggregates read instead of the table (with or without a scope), a deadline index for
overdue approvals, and an index on attention reasons; the indexes they replace are dropped.

Revision ID: 0002_dashboard_indexes
Revises: 0001_initial
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002_dashboard_indexes"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPLACED: tuple[tuple[str, list[str]], ...] = (
    ("ix_processes_source_tenant", ["source_system", "tenant"]),
    ("ix_processes_workspace", ["workspace_id"]),
    ("ix_processes_closed", ["closed", "closed_at"]),
    ("ix_processes_until", ["until"]),
)
ADDED: tuple[tuple[str, list[str]], ...] = (
    ("ix_processes_scope_state", ["source_system", "tenant", "process_type", "state"]),
    (
        "ix_processes_open",
        [
            "closed",
            "process_type",
            "state",
            "source_system",
            "tenant",
            "since",
            "updated_at",
            "until",
        ],
    ),
    (
        "ix_processes_deadline",
        ["closed", "state", "until", "process_key", "source_system", "tenant"],
    ),
    ("ix_processes_workspace", ["workspace_id", "closed", "updated_at", "disposition_at"]),
    (
        "ix_processes_scope_workspace",
        ["source_system", "tenant", "workspace_id", "closed", "updated_at", "disposition_at"],
    ),
    ("ix_processes_closed_at", ["closed_at"]),
    ("ix_processes_attention", ["attention_reason"]),
)


def upgrade() -> None:
    for name, _ in REPLACED:
        op.drop_index(name, table_name="processes")
    for name, columns in ADDED:
        op.create_index(name, "processes", columns)


def downgrade() -> None:
    for name, _ in reversed(ADDED):
        op.drop_index(name, table_name="processes")
    for name, columns in REPLACED:
        op.create_index(name, "processes", columns)
