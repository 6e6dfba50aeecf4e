"""What every `docflow` status command prints the same way."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table

from docflow.models.process import AuditEntry


def audit_table(entries: Iterable[AuditEntry]) -> Table:
    """A process's audit trail: when, what, who, detail (repeats shown with their count)."""
    table = Table("at", "what", "who", "detail")
    for entry in entries:
        detail = entry.detail + (f" ({entry.repeated} times)" if entry.repeated > 1 else "")
        table.add_row(entry.at.strftime("%Y-%m-%d %H:%M:%S"), entry.kind, entry.actor, detail)
    return table
