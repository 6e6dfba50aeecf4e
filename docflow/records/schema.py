"""The read model's tables (SQLAlchemy 2 declarative), identical on SQLite and PostgreSQL.

Datetimes are stored in UTC and always come back timezone-aware (`UTCDateTime`): PostgreSQL keeps
them as `timestamptz`, SQLite as naive UTC text in a fixed format (so text order is time order).
The Alembic revisions under `migrations/` create these tables; keep the two in step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC; naive values are taken to be UTC already."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # a raw SQLite value (e.g. from an aggregate)
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Process(Base):
    __tablename__ = "processes"

    process_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(255))
    run_id: Mapped[str] = mapped_column(String(64))
    process_type: Mapped[str] = mapped_column(String(64))
    business_key: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(Text)
    waiting_for: Mapped[str] = mapped_column(Text, default="")
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attention_reason: Mapped[str] = mapped_column(Text, default="")
    outcome_reason: Mapped[str] = mapped_column(Text, default="")
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    source_system: Mapped[str] = mapped_column(String(64), default="")
    tenant: Mapped[str] = mapped_column(String(64), default="")
    document_node_id: Mapped[int | None] = mapped_column(BigInteger)
    document_version: Mapped[int | None] = mapped_column(Integer)
    document_name: Mapped[str] = mapped_column(String(255), default="")
    workspace_id: Mapped[int | None] = mapped_column(BigInteger)
    business_object_type: Mapped[str] = mapped_column(String(128), default="")
    business_object_id: Mapped[str] = mapped_column(String(255), default="")
    retention_class: Mapped[int | None] = mapped_column(BigInteger)
    disposition_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        # Keyset paging, newest first.
        Index("ix_processes_updated", "updated_at", "process_key"),
        Index("ix_processes_started", "started_at", "process_key"),
        # Filters; the dashboard's aggregates read covering indexes, not the table, with or
        # without a scope (source system, tenant) narrowing them.
        Index("ix_processes_type_state", "process_type", "state"),
        Index("ix_processes_scope_state", "source_system", "tenant", "process_type", "state"),
        Index(
            "ix_processes_open",
            "closed",
            "process_type",
            "state",
            "source_system",
            "tenant",
            "since",
            "updated_at",
            "until",
        ),
        Index(
            "ix_processes_deadline",
            "closed",
            "state",
            "until",
            "process_key",
            "source_system",
            "tenant",
        ),
        Index("ix_processes_workspace", "workspace_id", "closed", "updated_at", "disposition_at"),
        Index(
            "ix_processes_scope_workspace",
            "source_system",
            "tenant",
            "workspace_id",
            "closed",
            "updated_at",
            "disposition_at",
        ),
        Index("ix_processes_business_key", "business_key"),
        Index("ix_processes_document", "document_node_id"),
        Index("ix_processes_business_object", "business_object_type", "business_object_id"),
        Index("ix_processes_closed_at", "closed_at"),
        Index("ix_processes_attention", "attention_reason"),
    )


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    process_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    detail: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    repeated: Mapped[int] = mapped_column(Integer, default=1)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_kind", "kind"),
    )


class Approval(Base):
    __tablename__ = "approvals"

    process_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(255))
    decision: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    stage: Mapped[str] = mapped_column(String(128), default="")

    __table_args__ = (Index("ix_approvals_at", "at"),)


class Hold(Base):
    __tablename__ = "holds"

    document_node_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hold: Mapped[str] = mapped_column(String(255), primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(BigInteger)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_by: Mapped[str] = mapped_column(String(255), default="")
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    process_key: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (
        Index("ix_holds_workspace", "workspace_id"),
        Index("ix_holds_process", "process_key"),
    )


class ApprovedVersionRecord(Base):
    __tablename__ = "approved_versions"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255), default="")
    mime_type: Mapped[str] = mapped_column(String(127), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    size: Mapped[int | None] = mapped_column(BigInteger)
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str] = mapped_column(String(255), default="")
    workspace_id: Mapped[int | None] = mapped_column(BigInteger)
    folder_id: Mapped[int | None] = mapped_column(BigInteger)
    document_type: Mapped[str] = mapped_column(String(128), default="")
    business_object: Mapped[str] = mapped_column(String(255), default="")
    process_key: Mapped[str] = mapped_column(String(64), default="")
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_approved_versions_listing", "source", "approved_at", "object_id"),
        Index("ix_approved_versions_workspace", "workspace_id"),
        Index("ix_approved_versions_business_object", "business_object"),
    )


class AccessLogEntry(Base):
    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    party: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32), default="ecm")
    object_id: Mapped[str] = mapped_column(String(128), default="")
    version: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(255), default="ok")
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[str] = mapped_column(String(1000), default="")

    __table_args__ = (
        Index("ix_access_at", "at"),
        Index("ix_access_object", "source", "object_id"),
        Index("ix_access_party", "party"),
    )


class ConfigVersion(Base):
    """One applied version of an environment's configuration concerns (append-only): what
    workers read, who proposed and approved it, and which version it replaced."""

    __tablename__ = "config_versions"

    environment: Mapped[str] = mapped_column(String(16), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_version: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(16))
    change_id: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(255), default="")
    proposer: Mapped[str] = mapped_column(String(255), default="")
    approver: Mapped[str] = mapped_column(String(255), default="")
    replaces: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text, default="")
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ux_config_versions_change", "environment", "change_id", unique=True),)


metadata = Base.metadata
processes = Process.__table__
audit_entries = AuditEntry.__table__
approvals = Approval.__table__
holds = Hold.__table__
approved_versions = ApprovedVersionRecord.__table__
access_log = AccessLogEntry.__table__
config_versions = ConfigVersion.__table__
