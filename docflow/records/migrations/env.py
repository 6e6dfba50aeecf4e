"""Alembic environment: runs on the connection the caller put in `config.attributes`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from docflow.records.schema import metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the read model's migrations through docflow.records.migrations")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
