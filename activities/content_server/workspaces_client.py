"""Content Server calls for business workspaces beyond create and look-up: members and roles,
references, related workspaces, the create form, versions, categories and the audit trail.

A mixin of `ContentServerClient` (same transport, same ticket): bodies are form fields, with
`body=<json>` only where the API takes it (role permissions). Shapes: external-apis.md §2.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any, Literal

import httpx

from activities.content_server.models import (
    FOLDER,
    AuditEntry,
    AuditPage,
    BusinessProperties,
    CategoryAttribute,
    CreateFormCategory,
    DocumentVersion,
    Member,
    NodeProperties,
    Role,
    Workspace,
    WorkspaceReference,
    WorkspaceType,
    node_from_item,
    nodes_from_results,
)

# Member and child look-ups match parts of names: ask for this many and match exactly.
LOOKUP_PAGE = 100
MAX_LOOKUP_PAGES = 50
RelationType = Literal["child", "parent"]


class WorkspaceCalls:
    """Typed calls on business workspaces; needs `_request` from the client."""

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError

    # ------------------------------------------------------------- members
    async def find_member(self, name: str, member_type: int | None = None) -> Member | None:
        """The user or group with exactly this (login) name, case-insensitively; None when
        Content Server knows none. `where_name` also matches parts of names: page through."""
        wanted = name.casefold()
        params: dict[str, str | int] = {"where_name": name, "limit": LOOKUP_PAGE}
        if member_type is not None:
            params["where_type"] = member_type
        for page in range(1, MAX_LOOKUP_PAGES + 1):
            response = await self._request("GET", "/v2/members", params={**params, "page": page})
            body = response.json()
            for item in _results(body):
                member = Member.model_validate(_properties(item))
                if member.name.casefold() == wanted:
                    return member
            if page >= _page_total(body):
                return None
        return None

    # --------------------------------------------------------------- roles
    async def list_roles(self, workspace_id: int) -> list[Role]:
        response = await self._request("GET", f"/v2/businessworkspaces/{workspace_id}/roles")
        return [Role.model_validate(_properties(item)) for item in _results(response.json())]

    async def role_members(self, workspace_id: int, role_id: int) -> list[Member]:
        response = await self._request(
            "GET", f"/v2/businessworkspaces/{workspace_id}/roles/{role_id}/members"
        )
        return [Member.model_validate(_properties(item)) for item in _results(response.json())]

    async def add_role_member(self, workspace_id: int, role_id: int, member_id: int) -> None:
        """Add a user or group to a role. Not idempotent on the server: check membership
        first (`role_members`)."""
        await self._request(
            "POST",
            f"/v2/businessworkspaces/{workspace_id}/roles/{role_id}/members",
            data={"id": str(member_id)},
        )

    async def remove_role_member(self, workspace_id: int, role_id: int, member_id: int) -> None:
        await self._request(
            "DELETE", f"/v2/businessworkspaces/{workspace_id}/roles/{role_id}/members/{member_id}"
        )

    async def set_role_permissions(
        self, workspace_id: int, role_id: int, permissions: Sequence[str], *, apply_to: int = 2
    ) -> None:
        """The role's permissions (`see`, `see_contents`, ...); `apply_to` 0 the workspace,
        1 its sub-items, 2 both, 3 it and its immediate sub-items."""
        body = {"permissions": list(permissions), "apply_to": apply_to}
        await self._request(
            "PUT",
            f"/v2/businessworkspaces/{workspace_id}/roles/{role_id}",
            data={"body": json.dumps(body)},
        )

    # ---------------------------------------------------------- references
    async def bind_reference(
        self, workspace_id: int, ext_system_id: str, bo_type: str, bo_id: str
    ) -> None:
        """Bind a business object to the workspace (plain form fields)."""
        await self._request(
            "PUT",
            f"/v2/businessworkspaces/{workspace_id}/workspacereferences",
            data={"ext_system_id": ext_system_id, "bo_type": bo_type, "bo_id": bo_id},
        )

    async def unbind_reference(
        self, workspace_id: int, ext_system_id: str, bo_type: str, bo_id: str
    ) -> None:
        await self._request(
            "DELETE",
            f"/v2/businessworkspaces/{workspace_id}/workspacereferences",
            data={"ext_system_id": ext_system_id, "bo_type": bo_type, "bo_id": bo_id},
        )

    async def workspaces_of_business_object(
        self, ext_system_id: str, bo_type: str, bo_id: str
    ) -> list[NodeProperties]:
        """`GET /v2/externalsystems/{ext}/botypes/{type}/boids/{id}`: the bound workspace(s)."""
        response = await self._request(
            "GET", f"/v2/externalsystems/{ext_system_id}/botypes/{bo_type}/boids/{bo_id}"
        )
        return [n.properties for n in nodes_from_results(response.json())]

    async def get_workspace(self, workspace_id: int) -> Workspace:
        """The workspace with `business_properties` and every `workspace_references` entry."""
        response = await self._request(
            "GET",
            f"/v2/businessworkspaces/{workspace_id}",
            params=[
                ("fields", "properties"),
                ("fields", "business_properties"),
                ("fields", "workspace_references"),
            ],
        )
        results = response.json().get("results", {})
        if isinstance(results, list):
            results = results[0] if results else {}
        return _workspace(results)

    async def find_workspaces_by_name(self, workspace_type_id: int, name: str) -> list[Workspace]:
        """Workspaces of a type with exactly this name (any location, bound or not).
        `where_name` matches parts of names; `expanded_view` searches beyond recent ones."""
        found: list[Workspace] = []
        for page in range(1, MAX_LOOKUP_PAGES + 1):
            response = await self._request(
                "GET",
                "/v2/businessworkspaces",
                params={
                    "expanded_view": "true",
                    "where_workspace_type_id": workspace_type_id,
                    "where_name": name,
                    "limit": LOOKUP_PAGE,
                    "page": page,
                },
            )
            body = response.json()
            found += [
                ws
                for ws in (_workspace(item) for item in _results(body))
                if ws.properties.name == name
            ]
            if page >= _page_total(body):
                break
        return found

    async def workspaces_of_type(self, ext_system_id: str, bo_type: str) -> list[Workspace]:
        """Every workspace bound to a business object of this type (the audit poller's
        watch list), page by page, with `expanded_view` (beyond recently accessed ones)."""
        found: list[Workspace] = []
        for page in range(1, MAX_LOOKUP_PAGES + 1):
            response = await self._request(
                "GET",
                "/v2/businessworkspaces",
                params={
                    "expanded_view": "true",
                    "where_ext_system_id": ext_system_id,
                    "where_bo_type": bo_type,
                    "limit": LOOKUP_PAGE,
                    "page": page,
                },
            )
            body = response.json()
            found += [_workspace(item) for item in _results(body)]
            if page >= _page_total(body):
                break
        return found

    async def workspace_types(self) -> list[WorkspaceType]:
        response = await self._request(
            "GET",
            "/v2/businessworkspacetypes",
            params={"expand_templates": "true", "expand_wksp_info": "true"},
        )
        types = []
        for item in _results(response.json()):
            props = _properties(item)
            creation = props.get("wksp_creation") or {}
            location = creation.get("location_value")
            types.append(
                WorkspaceType(
                    id=int(props["wksp_type_id"]),
                    name=str(props.get("wksp_type_name") or ""),
                    location_id=int(location) if str(location or "").isdigit() else None,
                    template_ids=[int(t["id"]) for t in props.get("templates") or []],
                )
            )
        return types

    async def create_form_categories(
        self,
        template_id: int,
        *,
        ext_system_id: str | None = None,
        bo_type: str | None = None,
        bo_id: str | None = None,
    ) -> list[CreateFormCategory]:
        """The category attributes the template's create form asks for (role `categories`)."""
        params: dict[str, str | int] = {"template_id": template_id}
        if ext_system_id and bo_type and bo_id:
            params |= {"ext_system_id": ext_system_id, "bo_type": bo_type, "bo_id": bo_id}
        response = await self._request("GET", "/v2/forms/businessworkspaces/create", params=params)
        categories: list[CreateFormCategory] = []
        for form in response.json().get("forms") or []:
            if form.get("role_name") != "categories":
                continue
            schema = (form.get("schema") or {}).get("properties") or {}
            for cat_key, cat_schema in schema.items():
                if not str(cat_key).isdigit():
                    continue
                attributes = [
                    CategoryAttribute(
                        key=key, title=str(spec.get("title") or key), type=spec.get("type")
                    )
                    for key, spec in (cat_schema.get("properties") or {}).items()
                ]
                categories.append(
                    CreateFormCategory(
                        id=int(cat_key),
                        title=str(cat_schema.get("title") or cat_key),
                        attributes=attributes,
                    )
                )
        return categories

    async def category_attribute_ids(self, category_id: int, node_id: int) -> set[int]:
        """The attribute ids of a category, from the form for applying it to `node_id`
        (`GET /v1/forms/nodes/categories/create?id=&category_id=`, an Alpaca form whose schema
        properties are `<cat>_<attr>`; a set's items hold its attributes, the last number of
        each key being the attribute id)."""
        response = await self._request(
            "GET",
            "/v1/forms/nodes/categories/create",
            params={"id": node_id, "category_id": category_id},
        )
        ids: set[int] = set()
        prefix = f"{category_id}_"
        for form in response.json().get("forms") or []:
            properties = (form.get("schema") or {}).get("properties") or {}
            for key, spec in properties.items():
                if not str(key).startswith(prefix):
                    continue
                attr = str(key)[len(prefix) :]
                if attr.isdigit():
                    ids.add(int(attr))
                items = (spec.get("items") or {}).get("properties") or {}
                ids.update(
                    int(k.rsplit("_", 1)[-1]) for k in items if k.rsplit("_", 1)[-1].isdigit()
                )
        return ids

    # ----------------------------------------------------- related workspaces
    async def relate_workspaces(
        self, workspace_id: int, other_id: int, rel_type: RelationType = "child"
    ) -> None:
        """`other_id` becomes this workspace's child (or parent); one direction suffices."""
        await self._request(
            "POST",
            f"/v2/businessworkspaces/{workspace_id}/relateditems",
            data={"rel_bw_id": str(other_id), "rel_type": rel_type},
        )

    async def related_workspaces(
        self, workspace_id: int, rel_type: RelationType | None = None
    ) -> list[NodeProperties]:
        params: dict[str, str | int] = {"limit": LOOKUP_PAGE}
        if rel_type is not None:
            params["where_relationtype"] = rel_type
        related: list[NodeProperties] = []
        for page in range(1, MAX_LOOKUP_PAGES + 1):
            response = await self._request(
                "GET",
                f"/v2/businessworkspaces/{workspace_id}/relateditems",
                params={**params, "page": page},
            )
            body = response.json()
            related += [n.properties for n in nodes_from_results(body)]
            if page >= _page_total(body):
                break
        return related

    # ------------------------------------------------- folders, versions, metadata
    async def children(
        self, parent_id: int, *, where_type: int | None = None
    ) -> AsyncIterator[NodeProperties]:
        """Every child of a container, page by page."""
        params: dict[str, str | int] = {"limit": LOOKUP_PAGE}
        if where_type is not None:
            params["where_type"] = where_type
        for page in range(1, MAX_LOOKUP_PAGES + 1):
            response = await self._request(
                "GET", f"/v2/nodes/{parent_id}/nodes", params={**params, "page": page}
            )
            body = response.json()
            for node in nodes_from_results(body):
                yield node.properties
            if page >= _page_total(body):
                return

    async def create_folder(self, parent_id: int, name: str) -> NodeProperties:
        """A folder (form `body={type:0, name, parent_id}`); a duplicate name raises
        AlreadyExistsError."""
        body = {"type": FOLDER, "name": name, "parent_id": parent_id}
        response = await self._request("POST", "/v2/nodes", data={"body": json.dumps(body)})
        return node_from_item(response.json().get("results", {})).properties

    async def list_versions(self, node_id: int) -> list[DocumentVersion]:
        """The document's versions, oldest first."""
        response = await self._request("GET", f"/v2/nodes/{node_id}/versions")
        versions = []
        for item in _results(response.json()):
            data = item.get("data", item) if isinstance(item, dict) else {}
            version = data.get("versions", data) if isinstance(data, dict) else {}
            if isinstance(version, dict) and "version_number" in version:
                versions.append(DocumentVersion.model_validate(version))
        return sorted(versions, key=lambda v: v.version_number)

    async def version_content(self, node_id: int, version_number: int) -> bytes:
        response = await self._request(
            "GET", f"/v2/nodes/{node_id}/versions/{version_number}/content"
        )
        return response.content

    async def get_categories(self, node_id: int) -> dict[int, dict[str, Any]]:
        """Category id -> its values (`<cat>_<attr>` -> value) on the node."""
        response = await self._request("GET", f"/v2/nodes/{node_id}/categories")
        applied: dict[int, dict[str, Any]] = {}
        for item in _results(response.json()):
            values = ((item.get("data") or {}).get("categories") or {}) if item else {}
            for key, value in values.items():
                category, sep, _ = str(key).partition("_")
                if sep and category.isdigit():
                    applied.setdefault(int(category), {})[key] = value
        return applied

    async def audit_page(
        self,
        node_id: int,
        *,
        since: date | None = None,
        page: int = 1,
        limit: int = 100,
        ascending: bool = True,
    ) -> AuditPage:
        """One page of the node's audit trail; `since` is day-granular (time not considered)."""
        params: dict[str, str | int] = {
            "sort": "asc_audit_date" if ascending else "desc_audit_date",
            "limit": limit,
            "page": page,
        }
        if since is not None:
            params["where_audit_date_start"] = since.isoformat()
        response = await self._request("GET", f"/v2/nodes/{node_id}/audit", params=params)
        body = response.json()
        data = ((body.get("results") or {}).get("data") or {}) if isinstance(body, dict) else {}
        paging = (body.get("collection") or {}).get("paging") or {}
        return AuditPage(
            entries=[AuditEntry.model_validate(a) for a in data.get("audit") or []],
            event_types={
                int(t["id"]): str(t.get("name") or "") for t in data.get("audit_event_types") or []
            },
            page=int(paging.get("page", page) or page),
            page_total=int(paging.get("page_total", 1) or 1),
            total=int(paging.get("total_count", 0) or 0),
        )


def _results(body: Any) -> list[dict[str, Any]]:
    results = body.get("results", []) if isinstance(body, dict) else []
    if isinstance(results, dict):
        results = [results]
    return [r for r in results if isinstance(r, dict)]


def _properties(item: dict[str, Any]) -> dict[str, Any]:
    data = item.get("data", item)
    props = data.get("properties", data) if isinstance(data, dict) else {}
    return props if isinstance(props, dict) else {}


def _page_total(body: Any) -> int:
    """`collection.paging` (nodes, members, audit) or top-level `paging` (workspaces)."""
    if not isinstance(body, dict):
        return 1
    paging = (body.get("collection") or {}).get("paging") or body.get("paging") or {}
    return int(paging.get("page_total", 1) or 1)


def _workspace(item: dict[str, Any]) -> Workspace:
    data = item.get("data", item)
    props = data.get("properties") or {}
    type_id = props.get("wnf_wksp_type_id")
    return Workspace(
        properties=NodeProperties.model_validate(props),
        business_properties=BusinessProperties.model_validate(
            data.get("business_properties") or {}
        ),
        references=[
            WorkspaceReference.model_validate(r) for r in data.get("workspace_references") or []
        ],
        type_id=int(type_id) if type_id is not None else None,
    )
