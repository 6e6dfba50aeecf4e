"""The simulated Content Server: node tree, categories, records management, workspaces."""

from __future__ import annotations

import itertools
import json
import mimetypes
import re
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from standardwebhooks import Webhook
from starlette.datastructures import UploadFile

from simulators.content_server.config import CategoryDef, ContentServerConfig, WorkspaceTypeDef
from simulators.content_server.models import (
    BUSINESS_WORKSPACE,
    CONTAINER_TYPES,
    DOCUMENT,
    FOLDER,
    TYPE_NAMES,
    BusinessObject,
    Node,
    OtcsError,
    UploadCount,
    Version,
    as_int,
    otcs_date,
)
from simulators.kit.delivery import CallbackDispatcher
from simulators.kit.faults import FaultInjector

# `<cat>_<attr>`, or `<cat>_<set>_<row>_<attr>` for an attribute in a set.
_ATTRIBUTE_KEY = re.compile(r"^(?P<cat>\d+)_(?:(?P<set>\d+)_(?P<row>\d+)_)?(?P<attr>\d+)$")
FIRST_NODE_ID = 100_001
# How many workspaces the "recently accessed" list holds (a lookup without expanded_view=true
# searches only those, as on the real server).
RECENTLY_ACCESSED = 20


class ContentServerSim:
    """All state of one simulated Content Server; reachable as `app.state.sim`."""

    def __init__(self, config: ContentServerConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.events = CallbackDispatcher(config.events_retry, config.events_faults, config.seed)
        self._signer = Webhook(config.events_secret)
        self.tickets: dict[str, datetime] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the seeded structure; tickets stay valid."""
        self._ids = itertools.count(FIRST_NODE_ID)
        self.nodes: dict[int, Node] = {}
        self.uploads: dict[tuple[int, str], UploadCount] = {}
        self.recently_accessed: list[int] = []
        self.faults.configure(self.config.faults)
        self.events.clear()
        self.events.configure(self.config.events_faults)
        now = datetime.now(UTC)
        for folder in self.config.folders:
            self.nodes[folder.id] = Node(
                folder.id, folder.name, folder.parent_id, FOLDER, "", now, now
            )

    async def aclose(self) -> None:
        await self.events.aclose()

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
        return [n for n in self.nodes.values() if n.parent_id == parent_id]

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
        node = Node(next(self._ids), name, parent_id, node_type, description, now, now)
        self.nodes[node.id] = node
        return node

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
        node.categories.setdefault(cat_id, {}).update(parsed.get(cat_id, {}))
        node.modified = datetime.now(UTC)
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
        for node in self.nodes.values():
            if ref in node.references:
                return node
        return None

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
        if ref is not None and self.workspace_for(ref) is not None:
            raise OtcsError(
                400, f"A business workspace for business object '{ref}' already exists."
            )
        self._container(parent_id)
        self._check_free_name(parent_id, name)
        workspace = self._new_node(
            parent_id, name, BUSINESS_WORKSPACE, str(payload.get("description") or "")
        )
        workspace.wksp_type_id, workspace.template_id = wtype.id, template.id
        if ref is not None:
            workspace.references.append(ref)
        workspace.categories = categories
        for folder_name in template.sub_folders:
            self._new_node(workspace.id, folder_name, FOLDER)
        self.notify("workspace.created", workspace)
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
            workspace.references.append(ref)
            self.notify("workspace.reference_added", workspace)

    # events (our design)

    def notify(self, event_type: str, node: Node, **data: Any) -> None:
        url = self.config.events_url
        if not url:
            return
        msg_id = f"msg_{uuid.uuid4().hex}"
        body = json.dumps(
            {
                "type": event_type,
                "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "data": {"node": self.properties(node), **data},
            }
        )

        def headers() -> dict[str, str]:
            now = datetime.now(UTC)
            return {
                "Content-Type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self._signer.sign(msg_id, now, body),
                "Idempotency-Key": msg_id,
            }

        self.events.submit(
            url,
            body.encode(),
            event_id=msg_id,
            event_type=event_type,
            headers=headers,
            meta={"node_id": node.id},
        )

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
