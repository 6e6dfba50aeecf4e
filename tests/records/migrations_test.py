"""The read model's Alembic revisions: up to head, down to base and up again, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from docflow.records import migrations
from docflow.records.schema import metadata

TABLES = {
    "processes",
    "audit_entries",
    "approvals",
    "holds",
    "approved_versions",
    "access_log",
    "config_versions",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_up_down_up(database_url: str) -> None:
    migrations.upgrade(database_url)
    assert _tables(database_url) >= TABLES
    # The revisions create exactly what the declarative schema describes.
    assert _differences(database_url) == []

    migrations.downgrade(database_url, "base")
    assert _tables(database_url) & TABLES == set()

    migrations.upgrade(database_url, "head")
    assert _tables(database_url) >= TABLES
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            assert migrations.current_revision(connection) == "0003_config_versions"
    finally:
        engine.dispose()


def test_store_migrate_is_repeatable(database_url: str) -> None:
    from docflow.records import RecordStore

    with RecordStore(database_url) as store:
        store.migrate()
        store.migrate()
    assert _tables(database_url) >= TABLES


def _process_indexes(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {str(ix["name"]) for ix in inspect(connection).get_indexes("processes")}
    finally:
        engine.dispose()


def test_each_revision_up_and_down(database_url: str) -> None:
    migrations.upgrade(database_url, "0001_initial")
    initial = _process_indexes(database_url)
    assert "ix_processes_until" in initial and "ix_processes_open" not in initial

    migrations.upgrade(database_url, "0002_dashboard_indexes")
    current = _process_indexes(database_url)
    assert {"ix_processes_open", "ix_processes_deadline", "ix_processes_attention"} <= current
    assert "ix_processes_until" not in current

    migrations.upgrade(database_url, "0003_config_versions")
    assert "config_versions" in _tables(database_url)
    assert _differences(database_url) == []
    migrations.downgrade(database_url, "0002_dashboard_indexes")
    assert "config_versions" not in _tables(database_url)

    migrations.downgrade(database_url, "0001_initial")
    assert _process_indexes(database_url) == initial
