"""The read model: processes, audit, approvals, holds, approved versions and access, kept in a
relational database (SQLite embedded, PostgreSQL in production) beyond Temporal's retention."""

from docflow.records.store import RecordStore, visible

__all__ = ["RecordStore", "visible"]
