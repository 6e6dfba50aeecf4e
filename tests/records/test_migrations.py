"""The read model's Alembic revisions: up to head, down to base and up again, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from docflow.records import migrations
from docflow.records.schema import metadata

TABLES = {"processes", "audit_entries", "approvals", "holds", "approved_versions", "access_log"}


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
            assert migrations.current_revision(connection) == "0001_initial"
    finally:
        engine.dispose()


def test_store_migrate_is_repeatable(database_url: str) -> None:
    from docflow.records import RecordStore

    with RecordStore(database_url) as store:
        store.migrate()
        store.migrate()
    assert _tables(database_url) >= TABLES
