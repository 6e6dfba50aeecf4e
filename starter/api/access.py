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
from enum import StrEnum

from docflow import search_attributes as sa
from docflow.models import SigningStatus
from starter.api.auth import Principal
from starter.api.errors import NotPermitted, domain_error
from starter.processes.base import ProcessNotFound
from starter.processes.signing import SigningProcesses


class Act(StrEnum):
    """What a caller does to one process (the scope is checked first, by the route)."""

    READ = "read"
    DECIDE = "decide"
    MANAGE = "manage"  # submit a version, correct, repair, redeliver, cancel


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


def refusal(principal: Principal, status: SigningStatus, act: Act) -> Exception | None:
    """Why `principal` may not `act` on this process, or None.

    A process the caller may not see is answered like one that does not exist (404): its
    existence is none of their business. Deciding needs to be assigned to it; managing it
    (new versions, corrections, repairs, redelivery, cancel) needs to act for its source
    system — the application itself or support ('*'), never an approver as such.
    """
    if not may_see(principal, status.source_system, status.participants):
        return domain_error(ProcessNotFound(f"no signing process for {status.business_key}"))
    if act is Act.DECIDE and principal.identity not in status.participants:
        return NotPermitted(f"{principal.subject} is not assigned to {status.business_key}")
    if act is Act.MANAGE and not principal.acts_for(status.source_system):
        return NotPermitted(
            f"{principal.subject} does not act for source system "
            f"'{status.source_system}' of {status.business_key}"
        )
    return None


async def authorized(
    processes: SigningProcesses, business_key: str, principal: Principal, act: Act
) -> SigningStatus:
    """The process's status, once `principal` may `act` on it (else 404 / 403)."""
    status = await processes.status(business_key)
    if (error := refusal(principal, status, act)) is not None:
        raise error
    return status
