"""Which signing processes a caller may see and act on, as one visibility-query clause.

Rules (issue 7 §3): an application sees the processes of its source systems; support
(`'*'`) sees all; a person without source systems sees the processes they take part in
(`DocflowParticipants` holds the case-folded approvers and escalation approvers). List,
batch and per-object checks all use `visibility_clause` / `may_see`, and every value put
into a query goes through `literal`, so no filter can change a query's meaning.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from docflow import search_attributes as sa
from starter.api.auth import Principal


def literal(value: str) -> str:
    """A visibility-query string literal: quotes and backslashes escaped, control chars refused."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("query values cannot contain control characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def time_literal(moment: datetime) -> str:
    """An RFC 3339 UTC literal for Datetime attributes."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return literal(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def visibility_clause(principal: Principal) -> str:
    """The condition every process the caller may see fulfils ('' = no restriction)."""
    if principal.sees_every_source:
        return ""
    if principal.source_systems:
        systems = ", ".join(literal(s) for s in sorted(principal.source_systems))
        return f"{sa.SOURCE_SYSTEM.name} IN ({systems})"
    return f"{sa.PARTICIPANTS.name} = {literal(principal.identity)}"


def may_see(principal: Principal, source_system: str | None, participants: Iterable[str]) -> bool:
    """`visibility_clause` for one process whose attributes are known."""
    if principal.sees_every_source:
        return True
    if principal.source_systems:
        return source_system is not None and principal.acts_for(source_system)
    return principal.identity in {p.casefold() for p in participants}


def all_of(*clauses: str) -> str:
    """AND the non-empty clauses, each in parentheses."""
    return " AND ".join(f"({c})" for c in clauses if c)
