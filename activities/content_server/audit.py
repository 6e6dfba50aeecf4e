"""Content Server's audit trail read as docflow's ECM events: the poller's safety net for
webhooks that never came, and the check that a document's earlier events are known.

Audit event type ids differ between installations; the names are what an audit reader can rely
on (`audit_event_types` lists them). "Create" is `workspace.created` on a business workspace
(node type 848) and `node.created` on anything else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from activities.content_server.client import ContentServerClient
from activities.content_server.models import AuditEntry, NodeProperties
from docflow.models.ecm_events import (
    VERSION_TYPES,
    EcmEvent,
    EcmNode,
    EcmWorkspace,
    audit_instant,
)

BUSINESS_WORKSPACE = 848
FOLDER = 0
CONTAINERS = frozenset({FOLDER, BUSINESS_WORKSPACE})
AUDIT_PAGE = 100
MAX_AUDIT_PAGES = 50

# Audit names -> docflow's event types (external-apis.md §2).
AUDIT_NAMES: dict[str, str] = {
    "create": "node.created",
    "add version": "node.version_added",
    "attribute value changed": "node.categories_updated",
    "approved": "node.approved",
    "classification applied": "node.rm_classified",
    "hold applied": "node.hold_applied",
    "business object reference added": "workspace.reference_added",
}


def event_type_of(entry: AuditEntry, node: NodeProperties) -> str | None:
    """The contract event an audit entry is, or None (not one docflow relays)."""
    kind = AUDIT_NAMES.get(entry.audit_name.strip().casefold())
    if kind == "node.created" and node.type == BUSINESS_WORKSPACE:
        return "workspace.created"
    return kind


def _event(
    kind: str,
    entry: AuditEntry,
    node: NodeProperties,
    workspace: EcmWorkspace | None,
    version: int | None,
    received_at: datetime,
) -> EcmEvent:
    return EcmEvent(
        type=kind,
        node=EcmNode(
            id=node.id,
            parent_id=node.parent_id,
            name=node.name[:255],
            type=node.type or 144,
            version=version,
        ),
        workspace=workspace,
        audit_date=audit_instant(entry.audit_date),
        audit_event_type=entry.event_type,
        source="audit",
        received_at=received_at,
    )


async def node_events(
    client: ContentServerClient,
    node: NodeProperties,
    workspace: EcmWorkspace | None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    received_at: datetime,
) -> list[EcmEvent]:
    """The node's events in its audit trail with `since <= audit date <= until`.

    The whole trail is read (oldest first) so each version event names its version: a
    document is version 1 at its creation and one more at every "Add Version"; an approval is
    of the version current then. A node with no entry since `since` costs one small read."""
    if since is not None:
        recent = await client.audit_page(node.id, since=since.date(), page=1, limit=1)
        if not recent.entries:
            return []
    found: list[EcmEvent] = []
    version = 0
    for page in range(1, MAX_AUDIT_PAGES + 1):
        trail = await client.audit_page(node.id, page=page, limit=AUDIT_PAGE)
        for entry in trail.entries:
            kind = event_type_of(entry, node)
            if kind == "node.created" or kind == "workspace.created":
                version = 1
            elif kind == "node.version_added":
                version += 1
            if kind is None:
                continue
            moment = _utc(entry.audit_date)
            if (since is not None and moment < since) or (until is not None and moment > until):
                continue
            versioned = version if kind in VERSION_TYPES or kind == "node.created" else None
            found.append(_event(kind, entry, node, workspace, versioned, received_at))
        if page >= trail.page_total:
            break
    return found


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def watched_nodes(
    client: ContentServerClient, workspace_id: int, *, depth: int, limit: int
) -> AsyncIterator[NodeProperties]:
    """The workspace and its content down to `depth` folder levels (breadth first)."""
    workspace = (await client.get_node(workspace_id, fields=("properties",))).properties
    yield workspace
    seen, level, frontier = 1, 0, [workspace_id]
    while frontier and level <= depth and seen < limit:
        below: list[int] = []
        for parent in frontier:
            async for child in client.children(parent):
                yield child
                seen += 1
                if child.type in CONTAINERS:
                    below.append(child.id)
                if seen >= limit:
                    return
        frontier, level = below, level + 1


def overlap(cursor: datetime | None, *, lookback: timedelta) -> datetime:
    """Where a poll starts reading: a little before the last entry seen (entries written in
    the same second may arrive after it; duplicates are dropped by the document's workflow)."""
    now = datetime.now(UTC)
    return (cursor - timedelta(seconds=2)) if cursor is not None else now - lookback
