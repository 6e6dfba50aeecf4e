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
from activities.content_server.workspaces_client import WorkspaceCalls
from activities.http.errors import (
    AlreadyExistsError,
    AuthenticationError,
    NotFoundError,
    PermanentServiceError,
    error_message,
    raise_for_response,
)
from activities.http.transport import AuthenticatedTransport, Credential

SYSTEM = "content-server"
CategoryValues = Mapping[str, str | int | float | bool | None]
# `where_name` matches parts of names: ask for this many per page and match exactly ourselves.
CHILDREN_PAGE = 100
MAX_CHILD_PAGES = 50


class ContentServerClient(WorkspaceCalls):
    """One Content Server REST API (`.../otcs/cs.exe/api`) under one service account
    (workspace roles, references and the rest: `WorkspaceCalls`)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        auth: OtcsTicketAuth,
        *,
        timeout_s: float = 60.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self.base_url = self._base_url
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
                # Without it the server searches only recently accessed workspaces, and
                # provisioning would create a duplicate.
                "expanded_view": "true",
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
        parent_id: int | None,
        ext_system_id: str,
        bo_type: str,
        bo_id: str,
        categories: CategoryValues | None = None,
        rm_classifications: Sequence[int] = (),
    ) -> int:
        """Create a business workspace from a template, bound to the business object.

        `categories` are `{"<catId>_<attrId>": value}`; the create call takes them nested by
        category (`{"<catId>": {...}}`). Records-management classes are applied after creation
        (no public shape exists for classifying inside the create call). `parent_id` None: the
        workspace type's location decides.
        """
        body: dict[str, Any] = {
            "template_id": template_id,
            "wksp_type_id": wksp_type_id,
            "type": BUSINESS_WORKSPACE,
            "name": name,
            "ext_system_id": ext_system_id,
            "bo_type": bo_type,
            "bo_id": bo_id,
        }
        if parent_id is not None:
            body["parent_id"] = parent_id
        if categories:
            body["roles"] = {"categories": nested_categories(categories)}
        response = await self._request(
            "POST", "/v2/businessworkspaces", data={"body": json.dumps(body)}
        )
        results = response.json().get("results", {})
        workspace_id = int(results["id"])
        for class_id in rm_classifications:
            await self.apply_rm_classification(workspace_id, class_id)
        return workspace_id

    # ----------------------------------------------------------------- nodes
    async def get_node(
        self, node_id: int, fields: Sequence[str] = ("properties", "categories", "versions")
    ) -> Node:
        response = await self._request(
            "GET", f"/v2/nodes/{node_id}", params=[("fields", f) for f in fields]
        )
        return node_from_item(response.json().get("results", {}))

    async def find_child_by_name(self, parent_id: int, name: str) -> NodeProperties | None:
        """The child with exactly this name. `where_name` also matches parts of names, so the
        exact one may sit on a later page: page through the matches."""
        for page in range(1, MAX_CHILD_PAGES + 1):
            response = await self._request(
                "GET",
                f"/v2/nodes/{parent_id}/nodes",
                params={"where_name": name, "limit": CHILDREN_PAGE, "page": page},
            )
            body = response.json()
            for node in nodes_from_results(body):
                if node.properties.name == name:
                    return node.properties
            paging = ((body.get("collection") or {}).get("paging") or {}) if body else {}
            if page >= int(paging.get("page_total", 1) or 1):
                return None
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
        """Set category values (`<cat>_<attr>`, sets `<cat>_<set>_<row>_<attr>`). A PUT fails
        while the category is not on the node: then it is applied with its values (POST)."""
        form = {"category_id": str(category_id)}
        form |= {key: "" if value is None else str(value) for key, value in values.items()}
        try:
            await self._request("PUT", f"/v2/nodes/{node_id}/categories/{category_id}", data=form)
        except PermanentServiceError as exc:
            if isinstance(exc, NotFoundError | AuthenticationError | AlreadyExistsError):
                raise
            await self._request("POST", f"/v2/nodes/{node_id}/categories", data=form)

    async def apply_rm_classification(
        self, node_id: int, class_id: int, *, apply_to_sub_items: bool = False
    ) -> None:
        """Put the node under a records-management classification (its retention schedule)."""
        body = {"class_id": class_id, "apply_to_sub_items": apply_to_sub_items}
        await self._request(
            "POST", f"/v1/nodes/{node_id}/rmclassifications", data={"body": json.dumps(body)}
        )

    async def search(
        self, where: str, *, lookfor: str = "complexquery", page: int = 1, limit: int = 25
    ) -> SearchPage:
        """`where` in Content Server's query language (`OTName: ...`) unless `lookfor` says
        allwords, anywords or exactphrase."""
        form: dict[str, str | int] = {
            "where": where,
            "lookfor": lookfor,
            "page": page,
            "limit": limit,
        }
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
        # Content Server answers a duplicate name with a 500 (sometimes a 400) saying "already
        # exists": a conflict to look up, never a server error worth retrying.
        if response.status_code >= 400 and "already exist" in response.text.lower():
            raise AlreadyExistsError(
                SYSTEM, f"{method} {path}: {error_message(response)}", status=response.status_code
            )
        raise_for_response(SYSTEM, response)
        return response


def nested_categories(values: CategoryValues) -> dict[str, dict[str, Any]]:
    """`{"9001_2": v}` → `{"9001": {"9001_2": v}}`, the shape the workspace create form takes."""
    nested: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        category, sep, _ = key.partition("_")
        if not (sep and category.isdigit()):
            raise ValueError(f"category attribute key {key!r} is not '<catId>_<attrId>'")
        nested.setdefault(category, {})[key] = value
    return nested
