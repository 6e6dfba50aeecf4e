"""HTTP calls to OpenText Content Server (Extended ECM): nodes, workspaces, metadata, records.

Bodies are form or multipart, never JSON; structured payloads travel as the form field
`body=<json>`. A 401 means the ticket expired: authenticate again once and retry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from activities.content_server.auth import TICKET_HEADER, OtcsTicketAuth
from activities.content_server.models import (
    BUSINESS_WORKSPACE,
    DOCUMENT,
    Node,
    NodeProperties,
    SearchPage,
    node_from_item,
    nodes_from_results,
)
from activities.http.errors import AlreadyExistsError, error_message, raise_for_response
from activities.http.transport import AuthenticatedTransport, Credential

SYSTEM = "content-server"
CategoryValues = Mapping[str, str | int | float | bool | None]


class ContentServerClient:
    """One Content Server REST API (`.../otcs/cs.exe/api`) under one service account."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        auth: OtcsTicketAuth,
        *,
        timeout_s: float = 60.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._auth = auth
        self._transport = AuthenticatedTransport(
            http,
            Credential(auth.ticket, auth.invalidate, header=TICKET_HEADER),
            system=SYSTEM,
            timeout_s=timeout_s,
        )

    # ------------------------------------------------------------ workspaces
    async def find_workspace(self, ext_system_id: str, bo_type: str, bo_id: str) -> Node | None:
        """The workspace bound to a business object, or None."""
        response = await self._request(
            "GET",
            "/v2/businessworkspaces",
            params={
                "where_ext_system_id": ext_system_id,
                "where_bo_type": bo_type,
                "where_bo_id": bo_id,
            },
        )
        found = nodes_from_results(response.json())
        return found[0] if found else None

    async def create_workspace(
        self,
        *,
        name: str,
        template_id: int,
        wksp_type_id: int,
        parent_id: int,
        ext_system_id: str,
        bo_type: str,
        bo_id: str,
        categories: CategoryValues | None = None,
        rm_classifications: list[int] | None = None,
    ) -> int:
        """Create a business workspace from a template, bound to the business object."""
        body: dict[str, Any] = {
            "template_id": template_id,
            "wksp_type_id": wksp_type_id,
            "type": BUSINESS_WORKSPACE,
            "name": name,
            "parent_id": parent_id,
            "ext_system_id": ext_system_id,
            "bo_type": bo_type,
            "bo_id": bo_id,
        }
        roles: dict[str, Any] = {}
        if categories:
            roles["categories"] = dict(categories)
        if rm_classifications:
            roles["rmclassifications"] = rm_classifications
        if roles:
            body["roles"] = roles
        response = await self._request(
            "POST", "/v2/businessworkspaces", data={"body": json.dumps(body)}
        )
        results = response.json().get("results", {})
        return int(results["id"])

    # ----------------------------------------------------------------- nodes
    async def get_node(
        self, node_id: int, fields: Sequence[str] = ("properties", "categories", "versions")
    ) -> Node:
        response = await self._request(
            "GET", f"/v2/nodes/{node_id}", params=[("fields", f) for f in fields]
        )
        return node_from_item(response.json().get("results", {}))

    async def find_child_by_name(self, parent_id: int, name: str) -> NodeProperties | None:
        """The child with exactly this name (`where_name` also matches parts of names)."""
        response = await self._request(
            "GET", f"/v2/nodes/{parent_id}/nodes", params={"where_name": name}
        )
        for node in nodes_from_results(response.json()):
            if node.properties.name == name:
                return node.properties
        return None

    async def upload_document(
        self,
        *,
        parent_id: int,
        name: str,
        content: bytes,
        content_type: str = "application/pdf",
        categories: CategoryValues | None = None,
        description: str = "",
    ) -> NodeProperties:
        """Add a document node; categories are `{"<catId>_<attrId>": value}`."""
        body: dict[str, Any] = {
            "type": DOCUMENT,
            "name": name,
            "parent_id": parent_id,
            "description": description,
        }
        if categories:
            body["roles"] = {"categories": dict(categories)}
        response = await self._request(
            "POST",
            "/v2/nodes",
            data={"body": json.dumps(body)},
            files={"file": (name, content, content_type)},
        )
        return node_from_item(response.json().get("results", {})).properties

    async def add_version(
        self,
        node_id: int,
        *,
        filename: str,
        content: bytes,
        content_type: str = "application/pdf",
        description: str = "",
    ) -> dict[str, Any]:
        response = await self._request(
            "POST",
            f"/v2/nodes/{node_id}/versions",
            data={"description": description},
            files={"file": (filename, content, content_type)},
        )
        body = response.json()
        return body if isinstance(body, dict) else {}

    async def set_categories(self, node_id: int, category_id: int, values: CategoryValues) -> None:
        form = {key: "" if value is None else str(value) for key, value in values.items()}
        await self._request("PUT", f"/v2/nodes/{node_id}/categories/{category_id}", data=form)

    async def apply_rm_classification(
        self, node_id: int, class_id: int, *, apply_to_sub_items: bool = False
    ) -> None:
        """Put the node under a records-management classification (its retention schedule)."""
        body = {"class_id": class_id, "apply_to_sub_items": apply_to_sub_items}
        await self._request(
            "POST", f"/v1/nodes/{node_id}/rmclassifications", data={"body": json.dumps(body)}
        )

    async def search(
        self, where: str, *, lookfor: str | None = None, page: int = 1, limit: int = 25
    ) -> SearchPage:
        form: dict[str, str | int] = {"where": where, "page": page, "limit": limit}
        if lookfor:
            form["lookfor"] = lookfor
        response = await self._request("POST", "/v2/search", data=form)
        body = response.json()
        paging = (body.get("collection") or {}).get("paging") or {}
        return SearchPage(
            total=int(paging.get("total_count", 0) or 0),
            page=int(paging.get("page", page) or page),
            limit=int(paging.get("limit", limit) or limit),
            results=[n.properties for n in nodes_from_results(body)],
        )

    # ------------------------------------------------------------- transport
    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self._transport.send(method, self._base_url + path, **kwargs)
        self._auth.observe(response)
        # Content Server reports some duplicates as a plain 400 with this message.
        if response.status_code >= 400 and "already exist" in error_message(response).lower():
            raise AlreadyExistsError(
                SYSTEM, f"{method} {path}: {error_message(response)}", status=response.status_code
            )
        raise_for_response(SYSTEM, response)
        return response
