"""The simulated Content Server: node tree, categories, records management, workspaces.

Every change is audited (`GET /v2/nodes/{id}/audit`); the changes of docflow's event contract
(external-apis.md §2) are also sent, when an events URL is set, as Standard Webhooks:

    {"type": "node.version_added", "timestamp": "...Z",
     "data": {"node": {"id", "parent_id", "name", "type", "version" (latest or null), ...the
                       other node properties},
              "workspace": {"id", "ext_system_id", "bo_type", "bo_id"} | null,
              "audit": {"event_type": 28, "audit_date": "2026-12-07T18:00:00Z"},
              ...extras: "version" (version_added, approved), "category_id", "class_id",
              "hold_id"}}

`workspace` is the node's nearest enclosing business workspace (the node itself for
`workspace.*`) with its first bound business object (nulls when unbound); `audit` names the
entry the change wrote, its `audit_date` the very string the audit API shows for it, so the
webhook and the audit feed of one change can be matched. Audit dates are second-granular, as on
the real server: two changes of one type to one node in the same second share a date.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import mimetypes
import re
import secrets
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from standardwebhooks import Webhook
from starlette.datastructures import UploadFile

from simulators.content_server.config import (
    PERMISSIONS,
    CategoryDef,
    ContentServerConfig,
    MemberDef,
    WorkspaceTemplateDef,
    WorkspaceTypeDef,
)
from simulators.content_server.models import (
    BUSINESS_WORKSPACE,
    CATEGORY,
    CONTAINER_TYPES,
    DOCUMENT,
    FOLDER,
    RM_CLASSIFICATION,
    TYPE_NAMES,
    AuditEntry,
    BusinessObject,
    CategoryChange,
    Node,
    OtcsError,
    Role,
    UploadCount,
    Version,
    as_int,
    otcs_date,
)
from simulators.kit.delivery import CallbackDispatcher, Delivery
from simulators.kit.faults import FaultInjector
from simulators.kit.pdf import make_pdf

# `<cat>_<attr>`, or `<cat>_<set>_<row>_<attr>` for an attribute in a set.
_ATTRIBUTE_KEY = re.compile(r"^(?P<cat>\d+)_(?:(?P<set>\d+)_(?P<row>\d+)_)?(?P<attr>\d+)$")
FIRST_NODE_ID = 100_001
# How many workspaces the "recently accessed" list holds (a lookup without expanded_view=true
# searches only those, as on the real server).
RECENTLY_ACCESSED = 20
# Who did it, in the audit trail: docflow's service account, or xECM's own connectors.
SERVICE_USER_ID = 1000
CONNECTOR_USER_ID = 999
# Audit event types (id, name) per event. 9, 10 and 264 are Content Server's own ids; the
# others are this simulator's choice (no public list): readers match on audit_event_types.
#
# Every event type of docflow's contract can be told apart from the audit feed alone
# (`GET /v2/nodes/{id}/audit`, the poller's path): each audit event type maps to one contract
# type, except "Create" (1), shared by `node.created` and `workspace.created` — a reader tells
# them apart by the audited node's type (848 is a business workspace, as on the real server;
# `contract_event_type` below is that rule). "Business Object Reference Removed" and
# "Permission Changed" are audited but are no events of the contract.
AUDIT_EVENTS: dict[str, tuple[int, str]] = {
    "node.created": (1, "Create"),
    "workspace.created": (1, "Create"),
    "node.version_added": (28, "Add Version"),
    "node.categories_updated": (10, "Attribute Value Changed"),
    "node.approved": (9003, "Approved"),
    "node.rm_classified": (264, "Classification Applied"),
    "node.hold_applied": (266, "Hold Applied"),
    "workspace.reference_added": (9001, "Business Object Reference Added"),
    "workspace.reference_removed": (9002, "Business Object Reference Removed"),
    "permissions.changed": (9, "Permission Changed"),
}
RELATION_TYPES = ("child", "parent")
# Category writes kept for `/_control/categories/changes` (oldest dropped first).
CATEGORY_CHANGES_KEPT = 200_000
# The event types of docflow's contract (external-apis.md §2).
EVENT_TYPES = frozenset(
    {
        "node.created",
        "node.version_added",
        "node.categories_updated",
        "node.approved",
        "node.rm_classified",
        "node.hold_applied",
        "workspace.created",
        "workspace.reference_added",
    }
)


def contract_event_type(audit_event_type: int, node_type: int) -> str | None:
    """The contract event type an audit entry of a node of `node_type` stands for (None: not
    an event of the contract). "Create" is `workspace.created` on a workspace (848)."""
    if audit_event_type == AUDIT_EVENTS["node.created"][0]:
        return "workspace.created" if node_type == BUSINESS_WORKSPACE else "node.created"
    found = [
        event
        for event, (event_id, _) in AUDIT_EVENTS.items()
        if event_id == audit_event_type and event in EVENT_TYPES
    ]
    return found[0] if found else None


@dataclass(frozen=True)
class Emitted:
    """What one audited change produced: its audit entry, the contract event (None when the
    change is no event of the contract), its webhook-id and deliveries (None / [] when events
    are off)."""

    audit: AuditEntry
    event: dict[str, Any] | None
    webhook_id: str | None
    deliveries: list[Delivery]


class ContentServerSim:
    """All state of one simulated Content Server; reachable as `app.state.sim`."""

    def __init__(self, config: ContentServerConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.events = CallbackDispatcher(config.events_retry, config.events_faults, config.seed)
        self.tickets: dict[str, datetime] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the seeded structure; tickets stay valid."""
        self._ids = itertools.count(self.config.first_node_id)
        self.nodes: dict[int, Node] = {}
        # Indexes, so lookups cost the same with 50,000 nodes as with 50 (nodes are never
        # deleted nor moved): children in creation order, and the workspace of each object.
        self._children: dict[int, list[int]] = {}
        self._bound: dict[BusinessObject, int] = {}
        # Every category write with its time, for `/_control/categories/changes`.
        self.category_changes: deque[CategoryChange] = deque(maxlen=CATEGORY_CHANGES_KEPT)
        self._category_seq = itertools.count(1)
        self.uploads: dict[tuple[int, str], UploadCount] = {}
        self.recently_accessed: list[int] = []
        self.members: dict[int, MemberDef] = {m.id: m for m in self.config.members}
        # "Concurrent creation by ECM's own connectors": the next N creates for a business
        # object are preceded by a workspace the connector makes for that object.
        self.connector_preempts = 0
        self._acting_user = SERVICE_USER_ID
        self.faults.configure(self.config.faults)
        self.events.clear()
        self.events.configure(self.config.events_faults)
        self.events_url = self.config.events_url
        self.events_secret = self.config.events_secret
        self._signer = Webhook(self.events_secret)
        now = datetime.now(UTC)
        for folder in self.config.folders:
            self._add(Node(folder.id, folder.name, folder.parent_id, FOLDER, "", now, now))

    async def aclose(self) -> None:
        await self.events.aclose()

    def point_events(self, url: str | None, secret: str | None = None) -> None:
        """Send node events to `url` from now on (None: off), signed with `secret` when given
        (a retry of an earlier event is signed with it too)."""
        self.events_url = url
        if secret is not None:
            self._signer = Webhook(secret)  # raises on a malformed secret, before the change
            self.events_secret = secret

    # tickets

    def authenticate(self, username: str, password: str) -> str:
        good_user = secrets.compare_digest(username, self.config.username)
        good_password = secrets.compare_digest(password, self.config.password)
        if not (good_user and good_password):
            raise OtcsError(401, "Invalid username or password.")
        ticket = secrets.token_urlsafe(48)
        self.tickets[ticket] = datetime.now(UTC) + timedelta(seconds=self.config.ticket_ttl_s)
        return ticket

    def refresh_ticket(self, ticket: str) -> None:
        """Validate and slide the ticket's expiry, as Content Server does on each call."""
        expires = self.tickets.get(ticket)
        now = datetime.now(UTC)
        if expires is None or expires <= now:
            self.tickets.pop(ticket, None)
            raise OtcsError(401, "Session has expired - please log in again.")
        self.tickets[ticket] = now + timedelta(seconds=self.config.ticket_ttl_s)

    # nodes

    def node(self, node_id: int) -> Node:
        node = self.nodes.get(node_id)
        if node is None:
            raise OtcsError(404, f"Could not find object with ID {node_id}.")
        return node

    def opened(self, node: Node) -> Node:
        """Record that the user opened a workspace: it joins the "recently accessed" list."""
        if node.type == BUSINESS_WORKSPACE:
            if node.id in self.recently_accessed:
                self.recently_accessed.remove(node.id)
            self.recently_accessed.insert(0, node.id)
            del self.recently_accessed[RECENTLY_ACCESSED:]
        return node

    def children(self, parent_id: int) -> list[Node]:
        return [self.nodes[i] for i in self._children.get(parent_id, ())]

    def _add(self, node: Node) -> Node:
        self.nodes[node.id] = node
        self._children.setdefault(node.parent_id, []).append(node.id)
        return node

    def _container(self, parent_id: int) -> Node:
        parent = self.nodes.get(parent_id)
        if parent is None:
            raise OtcsError(400, f"Could not find the parent container with ID {parent_id}.")
        if parent.type not in CONTAINER_TYPES:
            raise OtcsError(400, f"Node {parent_id} is not a container.")
        return parent

    def _check_free_name(self, parent_id: int, name: str) -> None:
        # The real server answers a duplicate name with a 500, not a 4xx.
        if any(n.name.casefold() == name.casefold() for n in self.children(parent_id)):
            raise OtcsError(
                500,
                f"An item with the name '{name}' already exists.",
                detail=f"Parent {parent_id} already has a child named '{name}'.",
            )

    def _new_node(self, parent_id: int, name: str, node_type: int, description: str = "") -> Node:
        now = datetime.now(UTC)
        return self._add(Node(next(self._ids), name, parent_id, node_type, description, now, now))

    def create_node(
        self, payload: dict[str, Any], upload: UploadFile | None, content: bytes | None
    ) -> Node:
        node_type = as_int(payload.get("type", DOCUMENT), "type")
        if node_type not in (FOLDER, DOCUMENT):
            raise OtcsError(400, f"Creating nodes of type {node_type} is not supported here.")
        name = str(payload.get("name") or "").strip()
        if not name:
            raise OtcsError(400, "The name parameter is required.")
        parent_id = as_int(payload.get("parent_id"), "parent_id")
        categories = self._flat_categories(_roles(payload).get("categories"))
        count = None
        if node_type == DOCUMENT:
            count = self.uploads.setdefault(
                (parent_id, name.casefold()), UploadCount(parent_id, name)
            )
            count.attempts += 1
        self._container(parent_id)
        try:
            self._check_free_name(parent_id, name)
        except OtcsError:
            if count is not None:
                count.rejected_duplicates += 1
            raise
        if node_type == DOCUMENT and (upload is None or content is None):
            raise OtcsError(400, "A document needs a file part.")
        node = self._new_node(parent_id, name, node_type, str(payload.get("description") or ""))
        if node_type == DOCUMENT and upload is not None and content is not None:
            node.versions.append(self._version(1, upload, content, ""))
            assert count is not None
            count.created += 1
        for cat_id, values in categories.items():
            node.categories.setdefault(cat_id, {}).update(values)
        self.notify("node.created", node)
        return node

    def _version(
        self, number: int, upload: UploadFile, content: bytes, description: str
    ) -> Version:
        file_name = upload.filename or "content.bin"
        mime = upload.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        return Version(number, file_name, mime, content, description, datetime.now(UTC))

    def add_version(
        self, node: Node, upload: UploadFile, content: bytes, description: str
    ) -> Version:
        if node.type != DOCUMENT:
            raise OtcsError(400, f"Node {node.id} is not a document.")
        version = self._version(len(node.versions) + 1, upload, content, description)
        node.versions.append(version)
        node.modified = version.created
        count = self.uploads.setdefault(
            (node.parent_id, node.name.casefold()), UploadCount(node.parent_id, node.name)
        )
        count.versions_added += 1
        self.notify("node.version_added", node, version=version.number)
        return version

    # categories, records management, holds

    def _flat_categories(self, raw: Any) -> dict[int, dict[str, Any]]:
        """`POST /v2/nodes` takes the flat map {"9001_2": v} (v2 nodes need a flat list)."""
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise OtcsError(400, "roles.categories must be an object.")
        result: dict[int, dict[str, Any]] = {}
        for key, value in raw.items():
            if not _ATTRIBUTE_KEY.match(str(key)):
                raise OtcsError(
                    400, f"Invalid category attribute key '{key}' (expected <cat>_<attr>)."
                )
            self._put_attribute(result, str(key), value)
        return result

    def _nested_categories(self, raw: Any) -> dict[int, dict[str, Any]]:
        """`POST /v2/businessworkspaces` takes the create form's nested map
        {"9001": {"9001_2": v}}."""
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise OtcsError(400, "roles.categories must be an object.")
        result: dict[int, dict[str, Any]] = {}
        for key, value in raw.items():
            if not (str(key).isdigit() and isinstance(value, Mapping)):
                raise OtcsError(
                    400,
                    f"Invalid category '{key}': workspace categories are nested, "
                    '{"<cat>": {"<cat>_<attr>": value}}.',
                )
            cat_id = int(key)
            self._category(cat_id)
            result.setdefault(cat_id, {})
            self._put_values(result, cat_id, value)
        return result

    def _put_values(
        self, result: dict[int, dict[str, Any]], cat_id: int, values: Mapping[str, Any]
    ) -> None:
        for attr_key, attr_value in values.items():
            match = _ATTRIBUTE_KEY.match(str(attr_key))
            if match is None or int(match["cat"]) != cat_id:
                raise OtcsError(400, f"Attribute {attr_key} is not in category {cat_id}.")
            self._put_attribute(result, str(attr_key), attr_value)

    def _put_attribute(self, result: dict[int, dict[str, Any]], key: str, value: Any) -> None:
        match = _ATTRIBUTE_KEY.match(key)
        assert match is not None
        cat_id, attr_id = int(match["cat"]), int(match["attr"])
        category = self._category(cat_id)
        if match["set"] is None:
            known = attr_id in category.attributes
        else:
            set_attributes = category.sets.get(int(match["set"]))
            known = set_attributes is not None and attr_id in set_attributes
            if known and int(match["row"]) < 1:
                raise OtcsError(400, f"Row {match['row']} of set attribute {key} is invalid.")
        if not known:
            raise OtcsError(400, f"Attribute {key} does not exist in category {cat_id}.")
        result.setdefault(cat_id, {})[key] = value

    def _category(self, cat_id: int) -> CategoryDef:
        category = self.config.categories.get(cat_id)
        if category is None:
            raise OtcsError(400, f"Category {cat_id} does not exist.")
        return category

    def apply_category(self, node: Node, cat_id: int, values: Mapping[str, Any]) -> None:
        """`POST /v2/nodes/{id}/categories`: put the category on the node, with values."""
        self._category(cat_id)
        parsed: dict[int, dict[str, Any]] = {}
        self._put_values(parsed, cat_id, values)
        written = parsed.get(cat_id, {})
        node.categories.setdefault(cat_id, {}).update(written)
        node.modified = datetime.now(UTC)
        self.category_changes.append(
            CategoryChange(next(self._category_seq), node.id, cat_id, dict(written), node.modified)
        )
        self.notify("node.categories_updated", node, category_id=cat_id)

    def update_category(self, node: Node, cat_id: int, values: Mapping[str, Any]) -> None:
        """`PUT /v2/nodes/{id}/categories/{cat}`: fails, as the real server does, when the
        category is not on the node yet (POST it first)."""
        self._category(cat_id)
        if cat_id not in node.categories:
            raise OtcsError(
                400,
                f"Category {cat_id} is not assigned to node {node.id}.",
                detail="Apply the category with POST /v2/nodes/{id}/categories first.",
            )
        self.apply_category(node, cat_id, values)

    def classify(self, node: Node, class_id: int, apply_to_sub_items: bool) -> None:
        if class_id not in self.config.rm_classifications:
            raise OtcsError(400, f"RM classification {class_id} does not exist.")
        targets = [node, *self._descendants(node.id)] if apply_to_sub_items else [node]
        for target in targets:
            if class_id not in target.rm_classifications:
                target.rm_classifications.append(class_id)
        self.notify("node.rm_classified", node, class_id=class_id)

    def hold(self, node: Node, hold_id: int) -> None:
        if hold_id not in node.holds:
            node.holds.append(hold_id)
        self.notify("node.hold_applied", node, hold_id=hold_id)

    def _descendants(self, node_id: int) -> list[Node]:
        found = []
        for child in self.children(node_id):
            found.append(child)
            found.extend(self._descendants(child.id))
        return found

    # business workspaces

    def workspace_type(self, type_id: int) -> WorkspaceTypeDef:
        for wtype in self.config.workspace_types:
            if wtype.id == type_id:
                return wtype
        raise OtcsError(400, f"Business workspace type {type_id} does not exist.")

    def workspace_for(self, ref: BusinessObject) -> Node | None:
        node_id = self._bound.get(ref)
        return self.nodes[node_id] if node_id is not None else None

    def bound_objects(self) -> list[tuple[BusinessObject, int]]:
        """Every business object bound to a workspace, with the workspace's id."""
        return list(self._bound.items())

    def _bind(self, workspace: Node, ref: BusinessObject) -> None:
        workspace.references.append(ref)
        self._bound.setdefault(ref, workspace.id)

    def create_workspace(self, payload: dict[str, Any]) -> Node:
        wtype = self.workspace_type(as_int(payload.get("wksp_type_id"), "wksp_type_id"))
        template_id = as_int(payload.get("template_id"), "template_id")
        template = next((t for t in wtype.templates if t.id == template_id), None)
        if template is None:
            raise OtcsError(
                400, f"Template {template_id} does not belong to workspace type {wtype.id}."
            )
        if as_int(payload.get("type", BUSINESS_WORKSPACE), "type") != BUSINESS_WORKSPACE:
            raise OtcsError(400, "Business workspaces have type 848.")
        ref = business_object(payload, required=False)
        # The name is optional: the type's naming rule derives one.
        name = str(payload.get("name") or "").strip() or _derived_name(wtype, ref)
        if payload.get("parent_id") is not None:
            parent_id = as_int(payload.get("parent_id"), "parent_id")
        elif wtype.location_id is not None:
            parent_id = wtype.location_id
        else:
            raise OtcsError(400, f"Workspace type {wtype.id} has no location: send parent_id.")
        roles = _roles(payload)
        if "rmclassifications" in roles:
            # No public shape exists for classifying inside the create call; classify after
            # creation with POST /v1/nodes/{id}/rmclassifications.
            raise OtcsError(400, "roles.rmclassifications is not supported here.")
        categories = self._nested_categories(roles.get("categories"))
        if ref is not None and self.connector_preempts > 0 and self.workspace_for(ref) is None:
            # xECM's own connector got there first, with the same naming rule.
            self.connector_preempts -= 1
            self._acting_user = CONNECTOR_USER_ID
            try:
                self.make_workspace(wtype, template, name, parent_id, ref, categories)
            finally:
                self._acting_user = SERVICE_USER_ID
        if ref is not None and self.workspace_for(ref) is not None:
            raise OtcsError(
                400, f"A business workspace for business object '{ref}' already exists."
            )
        return self.make_workspace(
            wtype,
            template,
            name,
            parent_id,
            ref,
            categories,
            description=str(payload.get("description") or ""),
        )

    def make_workspace(
        self,
        wtype: WorkspaceTypeDef,
        template: WorkspaceTemplateDef,
        name: str,
        parent_id: int,
        ref: BusinessObject | None,
        categories: dict[int, dict[str, Any]],
        *,
        description: str = "",
    ) -> Node:
        """A workspace from its template: sub-folders, roles, document templates; bound to
        `ref` when given (unbound otherwise, as one made by hand in the UI)."""
        self._container(parent_id)
        self._check_free_name(parent_id, name)
        workspace = self._new_node(parent_id, name, BUSINESS_WORKSPACE, description)
        workspace.wksp_type_id, workspace.template_id = wtype.id, template.id
        if ref is not None:
            self._bind(workspace, ref)
        workspace.categories = categories
        folders = {f: self._new_node(workspace.id, f, FOLDER) for f in template.sub_folders}
        workspace.roles = [
            Role(next(self._ids), r.name, list(r.permissions), leader=r.leader)
            for r in template.roles
        ]
        self.notify("workspace.created", workspace)
        for document in template.documents:
            parent = folders.get(document.folder or "", workspace)
            content = make_pdf(
                document.name.removesuffix(".pdf"),
                [f"{wtype.name} workspace '{name}'", f"From template {template.name}."],
            )
            node = self._new_node(parent.id, document.name, DOCUMENT)
            node.versions.append(
                Version(1, document.name, "application/pdf", content, "", datetime.now(UTC))
            )
            self.notify("node.created", node)
        return workspace

    def add_reference(self, workspace: Node, ref: BusinessObject) -> None:
        if workspace.type != BUSINESS_WORKSPACE:
            raise OtcsError(400, f"Node {workspace.id} is not a business workspace.")
        owner = self.workspace_for(ref)
        if owner is not None and owner.id != workspace.id:
            raise OtcsError(
                400, f"Business object '{ref}' is already bound to workspace {owner.id}."
            )
        if owner is None:
            self._bind(workspace, ref)
            self.notify("workspace.reference_added", workspace)

    def remove_reference(self, workspace: Node, ref: BusinessObject) -> None:
        self.require_workspace(workspace)
        if ref not in workspace.references:
            raise OtcsError(
                400, f"Business object '{ref}' is not bound to workspace {workspace.id}."
            )
        workspace.references.remove(ref)
        if self._bound.get(ref) == workspace.id:  # another may hold it (seeded by control)
            del self._bound[ref]
            other = next((n for n in self.nodes.values() if ref in n.references), None)
            if other is not None:
                self._bound[ref] = other.id
        self.notify("workspace.reference_removed", workspace)

    def require_workspace(self, node: Node) -> Node:
        if node.type != BUSINESS_WORKSPACE:
            raise OtcsError(400, f"Node {node.id} is not a business workspace.")
        return node

    def workspace(self, workspace_id: int) -> Node:
        return self.require_workspace(self.node(workspace_id))

    # members and workspace roles

    def find_members(self, name: str | None, member_type: int | None) -> list[MemberDef]:
        """`where_name` matches parts of names, case-insensitively (as for nodes)."""
        return [
            m
            for m in self.members.values()
            if (name is None or name.casefold() in m.name.casefold())
            and member_type in (None, m.type)
        ]

    def member(self, member_id: int) -> MemberDef:
        member = self.members.get(member_id)
        if member is None:
            raise OtcsError(404, f"Could not find member with ID {member_id}.")
        return member

    @staticmethod
    def member_json(member: MemberDef) -> dict[str, Any]:
        props: dict[str, Any] = {
            "id": member.id,
            "name": member.name,
            "name_formatted": member.display_name or member.name,
            "type": member.type,
            "type_name": "Group" if member.type == 1 else "User",
            "deleted": False,
            "initials": "".join(w[0] for w in (member.display_name or member.name).split()).upper(),
        }
        if member.type == 0:
            first, _, last = (member.display_name or member.name).partition(" ")
            props |= {
                "business_email": member.email,
                "display_name": member.display_name or member.name,
                "first_name": first,
                "last_name": last or None,
                "group_id": None,
            }
        else:
            props["leader_id"] = None
        return props

    def role(self, workspace: Node, role_id: int) -> Role:
        self.require_workspace(workspace)
        for role in workspace.roles:
            if role.id == role_id:
                return role
        raise OtcsError(404, f"Role {role_id} does not exist in workspace {workspace.id}.")

    @staticmethod
    def role_json(workspace: Node, role: Role) -> dict[str, Any]:
        return {
            "id": role.id,
            "name": role.name,
            "description": "",
            "leader": role.leader,
            "workspace_id": workspace.id,
            "permissions": list(role.permissions),
            "apply_to": role.apply_to,
        }

    def add_role_member(self, workspace: Node, role_id: int, member_id: int) -> MemberDef:
        role = self.role(workspace, role_id)
        member = self.members.get(member_id)
        if member is None:
            raise OtcsError(400, f"Invalid user or group ID {member_id}.")
        if member_id in role.members:
            raise OtcsError(
                400, f"User or group {member_id} is already a member of role '{role.name}'."
            )
        role.members.append(member_id)
        self.notify("permissions.changed", workspace, role_id=role.id, member_id=member_id)
        return member

    def remove_role_member(self, workspace: Node, role_id: int, member_id: int) -> None:
        role = self.role(workspace, role_id)
        if member_id not in role.members:
            raise OtcsError(
                400, f"User or group {member_id} is not a member of role '{role.name}'."
            )
        role.members.remove(member_id)
        self.notify("permissions.changed", workspace, role_id=role.id, member_id=member_id)

    def set_role_permissions(
        self, workspace: Node, role_id: int, permissions: Any, apply_to: Any
    ) -> Role:
        role = self.role(workspace, role_id)
        if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
            raise OtcsError(400, "permissions must be a list of permission names.")
        unknown = [p for p in permissions if p not in PERMISSIONS]
        if unknown:
            raise OtcsError(400, f"Invalid permission(s): {', '.join(unknown)}.")
        scope = as_int(2 if apply_to is None else apply_to, "apply_to")
        if scope not in (0, 1, 2, 3):
            raise OtcsError(400, f"Invalid value for 'apply_to': {scope}.")
        role.permissions, role.apply_to = list(permissions), scope
        self.notify("permissions.changed", workspace, role_id=role.id)
        return role

    # related workspaces

    def relate(self, workspace: Node, other_id: int, rel_type: str) -> None:
        """`rel_type` is what the other workspace is to this one; one direction suffices."""
        self.require_workspace(workspace)
        if rel_type not in RELATION_TYPES:
            raise OtcsError(400, f"Invalid value for 'rel_type': {rel_type!r}.")
        other = self.nodes.get(other_id)
        if other is None or other.type != BUSINESS_WORKSPACE:
            raise OtcsError(400, f"Node {other_id} is not a business workspace.")
        if other_id == workspace.id:
            raise OtcsError(400, "A workspace cannot be related to itself.")
        if other_id in workspace.related:
            raise OtcsError(
                400, f"The relationship between {workspace.id} and {other_id} already exists."
            )
        workspace.related[other_id] = rel_type
        other.related[workspace.id] = "parent" if rel_type == "child" else "child"

    def related(self, workspace: Node, rel_type: str | None) -> list[Node]:
        self.require_workspace(workspace)
        return [
            self.nodes[other]
            for other, kind in workspace.related.items()
            if other in self.nodes and rel_type in (None, kind)
        ]

    # create form

    def definition_properties(self, node_id: int) -> dict[str, Any] | None:
        """A category (131) or RM classification (551) as `GET /v2/nodes/{id}` shows it; they
        are nodes of the Categories and Classifications volumes on a real server, kept in the
        configuration here. None: no such definition."""
        category = self.config.categories.get(node_id)
        if category is not None:
            name, node_type = category.name, CATEGORY
        elif node_id in self.config.rm_classifications:
            name, node_type = self.config.rm_classifications[node_id], RM_CLASSIFICATION
        else:
            return None
        return {
            "id": node_id,
            "parent_id": -1,
            "name": name,
            "type": node_type,
            "type_name": TYPE_NAMES[node_type],
            "description": "",
            "container": False,
        }

    def category_form(self, node_id: int, cat_id: int) -> dict[str, Any]:
        """`GET /v1/forms/nodes/categories/create?id=&category_id=`: the Alpaca form for
        applying a category to a node, one schema property per attribute (`<cat>_<attr>`; a
        set is an array whose items hold its attributes)."""
        self.node(node_id)
        category = self._category(cat_id)
        properties: dict[str, Any] = {
            f"{cat_id}_{a}": {"title": title, "type": "string"}
            for a, title in category.attributes.items()
        }
        for set_id, attributes in category.sets.items():
            properties[f"{cat_id}_{set_id}"] = {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        f"{cat_id}_{set_id}_x_{a}": {"title": title, "type": "string"}
                        for a, title in attributes.items()
                    },
                },
            }
        data = {key: ([] if spec["type"] == "array" else None) for key, spec in properties.items()}
        return {
            "forms": [
                {
                    "data": data,
                    "options": {"fields": {}},
                    "schema": {"title": category.name, "type": "object", "properties": properties},
                }
            ]
        }

    def create_form(self, template_id: int) -> dict[str, Any]:
        """`GET /v2/forms/businessworkspaces/create`: the system attributes, and the
        `categories` role listing the type's category attributes with titles and types."""
        wtype = self._type_of_template(template_id)
        data: dict[str, Any] = {}
        schema: dict[str, Any] = {}
        for cat_id in wtype.category_ids:
            category = self._category(cat_id)
            data[str(cat_id)] = {f"{cat_id}_{a}": None for a in category.attributes}
            schema[str(cat_id)] = {
                "title": category.name,
                "type": "object",
                "properties": {
                    f"{cat_id}_{a}": {"title": title, "type": "string"}
                    for a, title in category.attributes.items()
                },
            }
        return {
            "forms": [
                {
                    "data": {"name": "", "description": "", "type": BUSINESS_WORKSPACE},
                    "schema": {
                        "properties": {
                            "name": {"title": "Name", "type": "string"},
                            "description": {"title": "Description", "type": "string"},
                        }
                    },
                },
                {"role_name": "categories", "data": data, "schema": {"properties": schema}},
                {"role_name": "rmclassifications", "data": {}, "schema": {"properties": {}}},
            ]
        }

    def _type_of_template(self, template_id: int) -> WorkspaceTypeDef:
        for wtype in self.config.workspace_types:
            if any(t.id == template_id for t in wtype.templates):
                return wtype
        raise OtcsError(400, f"Template {template_id} is not a business workspace template.")

    # audit

    def audit(self, node: Node, event: str) -> AuditEntry:
        """Write the audit entry of a change; returns it (an event references it)."""
        event_type, name = AUDIT_EVENTS[event]
        entry = AuditEntry(node.id, event_type, name, datetime.now(UTC), self._acting_user)
        node.audit.append(entry)
        return entry

    @staticmethod
    def audit_json(entry: AuditEntry) -> dict[str, Any]:
        return {
            "id": entry.node_id,
            "event_type": entry.event_type,
            "audit_date": otcs_date(entry.audit_date),
            "user_id": entry.user_id,
            "agent_id": None,
            "audit_language_code": None,
            "target_user_id": None,
            "audit_name": entry.audit_name,
        }

    # approvals (a workflow step in Content Server; `POST /_control/nodes/{id}/approve`)

    def approve(self, node: Node, version: int | None, user_id: int | None) -> Emitted:
        """Record an approval of a document version (default: the latest) by `user_id`
        (default: the service account): one audit entry and one `node.approved` event.

        Not idempotent on purpose: each call is another approval (a re-approval is a real
        event of its own, with its own audit entry and webhook-id)."""
        if node.type != DOCUMENT or not node.versions:
            raise OtcsError(400, f"Node {node.id} is not a document with versions.")
        number = node.versions[-1].number if version is None else version
        if not 1 <= number <= len(node.versions):
            raise OtcsError(400, f"Node {node.id} has no version {number}.")
        self._acting_user = SERVICE_USER_ID if user_id is None else user_id
        try:
            return self.notify("node.approved", node, version=number)
        finally:
            self._acting_user = SERVICE_USER_ID

    # events (our design)

    def enclosing_workspace(self, node: Node) -> Node | None:
        """The nearest business workspace holding the node (the node itself if it is one)."""
        current: Node | None = node
        while current is not None:
            if current.type == BUSINESS_WORKSPACE:
                return current
            current = self.nodes.get(current.parent_id)
        return None

    def event_data(self, node: Node, entry: AuditEntry, **extra: Any) -> dict[str, Any]:
        """`data` of a contract event: the node (with its latest version number), its
        nearest workspace and that workspace's first business object, the audit entry (its
        `audit_date` is the string the audit API returns), then the event's extras."""
        workspace = self.enclosing_workspace(node)
        ref = workspace.references[0] if workspace is not None and workspace.references else None
        return {
            "node": {
                **self.properties(node),
                "version": node.versions[-1].number if node.versions else None,
            },
            "workspace": None
            if workspace is None
            else {
                "id": workspace.id,
                "ext_system_id": ref.ext_system_id if ref else None,
                "bo_type": ref.bo_type if ref else None,
                "bo_id": ref.bo_id if ref else None,
            },
            "audit": {
                "event_type": entry.event_type,
                "audit_date": otcs_date(entry.audit_date),
            },
            **extra,
        }

    def notify(self, event_type: str, node: Node, **data: Any) -> Emitted:
        """Audit the change; send it as a webhook when events are on (not every audited
        change is an event of our contract)."""
        entry = self.audit(node, event_type)
        if event_type not in EVENT_TYPES:
            return Emitted(entry, None, None, [])
        event = {
            "type": event_type,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "data": self.event_data(node, entry, **data),
        }
        url = self.events_url
        if not url:
            return Emitted(entry, event, None, [])
        msg_id = f"msg_{uuid.uuid4().hex}"
        body = json.dumps(event)

        def headers() -> dict[str, str]:
            now = datetime.now(UTC)
            return {
                "Content-Type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self._signer.sign(msg_id, now, body),
                "Idempotency-Key": msg_id,
            }

        deliveries = self.events.submit(
            url,
            body.encode(),
            event_id=msg_id,
            event_type=event_type,
            headers=headers,
            meta={"node_id": node.id},
        )
        return Emitted(entry, event, msg_id, deliveries)

    # representations

    def properties(self, node: Node) -> dict[str, Any]:
        latest = node.versions[-1] if node.versions else None
        props: dict[str, Any] = {
            "id": node.id,
            "parent_id": node.parent_id,
            "name": node.name,
            "type": node.type,
            "type_name": TYPE_NAMES.get(node.type, "Unknown"),
            "description": node.description,
            "create_date": otcs_date(node.created),
            "modify_date": otcs_date(node.modified),
            "container": node.type in CONTAINER_TYPES,
            "container_size": len(self.children(node.id)),
            "mime_type": latest.mime_type if latest else None,
            "size": len(latest.content) if latest else len(self.children(node.id)),
            "size_formatted": f"{len(latest.content)} bytes" if latest else "",
        }
        if node.type == BUSINESS_WORKSPACE:
            props["wnf_wksp_type_id"] = node.wksp_type_id
            props["wnf_wksp_template_id"] = node.template_id
        return props

    def node_data(self, node: Node, fields: set[str] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if fields is None or "properties" in fields:
            data["properties"] = self.properties(node)
        if fields is None or "categories" in fields:
            data["categories"] = [dict(values) for _, values in sorted(node.categories.items())]
        if fields is None or "versions" in fields:
            data["versions"] = [self.version_json(node, v) for v in node.versions]
        if node.type == BUSINESS_WORKSPACE and (fields is None or "business_properties" in fields):
            data["business_properties"] = self.business_properties(node)
        if node.type == BUSINESS_WORKSPACE and (fields is None or "workspace_references" in fields):
            data["workspace_references"] = self.workspace_references(node)
        return data

    @staticmethod
    def version_json(node: Node, version: Version) -> dict[str, Any]:
        return {
            "id": node.id,
            "version_number": version.number,
            "file_name": version.file_name,
            "file_size": len(version.content),
            "mime_type": version.mime_type,
            "description": version.description,
            "create_date": otcs_date(version.created),
        }

    def business_properties(self, node: Node) -> dict[str, Any]:
        """The real `business_properties`: the main business object and the workspace type."""
        ref = node.references[0] if node.references else None
        wtype = next((t for t in self.config.workspace_types if t.id == node.wksp_type_id), None)
        return {
            "business_object_id": ref.bo_id if ref else None,
            "business_object_type": ref.bo_type if ref else None,
            "business_object_type_id": None,
            "business_object_type_name": ref.bo_type if ref else None,
            "display_url": None,
            "external_system_id": ref.ext_system_id if ref else None,
            "external_system_name": ref.ext_system_id if ref else None,
            "has_default_display": False,
            "has_default_search": False,
            "isEarly": False,
            "workspace_type_id": node.wksp_type_id,
            "workspace_type_name": wtype.name if wtype else None,
        }

    @staticmethod
    def workspace_references(node: Node) -> list[dict[str, Any]]:
        """`workspace_references[]` (`fields=workspace_references`): every bound object."""
        return [
            {
                "ext_system_id": r.ext_system_id,
                "ext_system_name": r.ext_system_id,
                "bo_type": r.bo_type,
                "bo_id": r.bo_id,
                "is_default_display": n == 0,
                "is_default_search": n == 0,
            }
            for n, r in enumerate(node.references)
        ]

    def dump(self, node: Node) -> dict[str, Any]:
        return {
            "id": node.id,
            "parent_id": node.parent_id,
            "name": node.name,
            "type": node.type,
            "type_name": TYPE_NAMES.get(node.type, "Unknown"),
            "categories": {str(k): v for k, v in node.categories.items()},
            "rm_classifications": list(node.rm_classifications),
            "holds": list(node.holds),
            "versions": len(node.versions),
            "references": [vars(r) for r in node.references],
            "children": [self.dump(child) for child in self.children(node.id)],
        }

    def detail(self, node: Node) -> dict[str, Any]:
        """Everything about one node, for tests and the demo (`/_control/nodes/{id}`)."""
        return {
            "id": node.id,
            "name": node.name,
            "parent_id": node.parent_id,
            "type": node.type,
            "description": node.description,
            "categories": {str(k): v for k, v in node.categories.items()},
            "versions": [
                {
                    "version_number": v.number,
                    "file_name": v.file_name,
                    "file_size": len(v.content),
                    "mime_type": v.mime_type,
                    "description": v.description,
                    "sha256": hashlib.sha256(v.content).hexdigest(),
                }
                for v in node.versions
            ],
            "rm_classifications": list(node.rm_classifications),
            "holds": list(node.holds),
            "wksp_type_id": node.wksp_type_id,
            "template_id": node.template_id,
            "references": [vars(r) for r in node.references],
            "roles": [
                {
                    "id": r.id,
                    "name": r.name,
                    "permissions": list(r.permissions),
                    "apply_to": r.apply_to,
                    "members": [
                        self.members[m].name if m in self.members else str(m) for m in r.members
                    ],
                }
                for r in node.roles
            ],
            "related": {str(k): v for k, v in node.related.items()},
            "audit": [self.audit_json(a) for a in node.audit],
            "children": [
                {"id": c.id, "name": c.name, "type": c.type} for c in self.children(node.id)
            ],
        }


def _roles(payload: dict[str, Any]) -> dict[str, Any]:
    roles = payload.get("roles") or {}
    if not isinstance(roles, Mapping):
        raise OtcsError(400, "roles must be an object.")
    return dict(roles)


def _derived_name(wtype: WorkspaceTypeDef, ref: BusinessObject | None) -> str:
    if ref is None:
        raise OtcsError(400, "The name parameter is required without a business object.")
    return f"{wtype.name} {ref.bo_id}"


def business_object(payload: Mapping[str, Any], *, required: bool) -> BusinessObject | None:
    values = [payload.get(k) for k in ("ext_system_id", "bo_type", "bo_id")]
    if all(values):
        return BusinessObject(*(str(v) for v in values))
    if required or any(values):
        raise OtcsError(400, "ext_system_id, bo_type and bo_id are required together.")
    return None


def current_sim(request: Request) -> ContentServerSim:
    sim: ContentServerSim = request.app.state.sim
    return sim
