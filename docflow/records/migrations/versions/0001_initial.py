"""The read model's tables: processes, audit entries, approvals, holds, approved versions and
the access log.

Revision ID: 0001_initial
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "processes",
        sa.Column("process_key", sa.String(64), primary_key=True),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("process_type", sa.String(64), nullable=False),
        sa.Column("business_key", sa.String(255), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("stage", sa.Text(), nullable=True),
        sa.Column("waiting_for", sa.Text(), nullable=False),
        sa.Column("since", _ts(), nullable=True),
        sa.Column("until", _ts(), nullable=True),
        sa.Column("attention_reason", sa.Text(), nullable=False),
        sa.Column("outcome_reason", sa.Text(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("source_system", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("document_node_id", sa.BigInteger(), nullable=True),
        sa.Column("document_version", sa.Integer(), nullable=True),
        sa.Column("document_name", sa.String(255), nullable=False),
        sa.Column("workspace_id", sa.BigInteger(), nullable=True),
        sa.Column("business_object_type", sa.String(128), nullable=False),
        sa.Column("business_object_id", sa.String(255), nullable=False),
        sa.Column("retention_class", sa.BigInteger(), nullable=True),
        sa.Column("disposition_at", _ts(), nullable=True),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("closed_at", _ts(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_processes_updated", "processes", ["updated_at", "process_key"])
    op.create_index("ix_processes_started", "processes", ["started_at", "process_key"])
    op.create_index("ix_processes_type_state", "processes", ["process_type", "state"])
    op.create_index("ix_processes_source_tenant", "processes", ["source_system", "tenant"])
    op.create_index("ix_processes_business_key", "processes", ["business_key"])
    op.create_index("ix_processes_document", "processes", ["document_node_id"])
    op.create_index("ix_processes_workspace", "processes", ["workspace_id"])
    op.create_index(
        "ix_processes_business_object",
        "processes",
        ["business_object_type", "business_object_id"],
    )
    op.create_index("ix_processes_closed", "processes", ["closed", "closed_at"])
    op.create_index("ix_processes_until", "processes", ["until"])

    op.create_table(
        "audit_entries",
        sa.Column("process_key", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("repeated", sa.Integer(), nullable=False),
        sa.Column("last_at", _ts(), nullable=True),
    )
    op.create_index("ix_audit_at", "audit_entries", ["at"])
    op.create_index("ix_audit_kind", "audit_entries", ["kind"])

    op.create_table(
        "approvals",
        sa.Column("process_key", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("decision", sa.String(64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("stage", sa.String(128), nullable=False),
    )
    op.create_index("ix_approvals_at", "approvals", ["at"])

    op.create_table(
        "holds",
        sa.Column("document_node_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hold", sa.String(255), primary_key=True),
        sa.Column("workspace_id", sa.BigInteger(), nullable=True),
        sa.Column("applied_at", _ts(), nullable=False),
        sa.Column("applied_by", sa.String(255), nullable=False),
        sa.Column("released_at", _ts(), nullable=True),
        sa.Column("process_key", sa.String(64), nullable=False),
    )
    op.create_index("ix_holds_workspace", "holds", ["workspace_id"])
    op.create_index("ix_holds_process", "holds", ["process_key"])

    op.create_table(
        "approved_versions",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("object_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("mime_type", sa.String(127), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("approved_at", _ts(), nullable=False),
        sa.Column("approved_by", sa.String(255), nullable=False),
        sa.Column("workspace_id", sa.BigInteger(), nullable=True),
        sa.Column("folder_id", sa.BigInteger(), nullable=True),
        sa.Column("document_type", sa.String(128), nullable=False),
        sa.Column("process_key", sa.String(64), nullable=False),
        sa.Column("superseded_at", _ts(), nullable=True),
    )
    op.create_index(
        "ix_approved_versions_listing",
        "approved_versions",
        ["source", "approved_at", "object_id"],
    )
    op.create_index("ix_approved_versions_workspace", "approved_versions", ["workspace_id"])

    op.create_table(
        "access_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("party", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(255), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(255), nullable=False),
        sa.Column("detail", sa.String(1000), nullable=False),
    )
    op.create_index("ix_access_at", "access_log", ["at"])
    op.create_index("ix_access_object", "access_log", ["source", "object_id"])
    op.create_index("ix_access_party", "access_log", ["party"])


def downgrade() -> None:
    for table in (
        "access_log",
        "approved_versions",
        "holds",
        "approvals",
        "audit_entries",
        "processes",
    ):
        op.drop_table(table)
