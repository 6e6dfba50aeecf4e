"""Typed views of Content Server REST answers: nodes, workspaces, search pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FOLDER = 0
DOCUMENT = 144
BUSINESS_WORKSPACE = 848


class NodeProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int
    name: str = ""
    parent_id: int | None = None
    type: int | None = None
    type_name: str | None = None
    create_date: datetime | None = None
    modify_date: datetime | None = None
    mime_type: str | None = None
    size: int | None = None
    description: str | None = None


class Node(BaseModel):
    """A node with whatever optional parts the call returned (categories, versions)."""

    properties: NodeProperties
    categories: list[dict[str, Any]] = Field(default_factory=list)
    versions: list[dict[str, Any]] = Field(default_factory=list)


class SearchPage(BaseModel):
    total: int = 0
    page: int = 1
    limit: int = 0
    results: list[NodeProperties] = Field(default_factory=list)


def node_from_item(item: Any) -> Node:
    """Parse one `results` entry: `{data:{properties, categories?, versions?}}` (v2 style)
    or a bare properties object."""
    if not isinstance(item, dict):
        raise ValueError(f"unexpected Content Server item: {item!r}")
    data = item.get("data", item)
    if isinstance(data, dict) and "properties" in data:
        return Node(
            properties=NodeProperties.model_validate(data["properties"]),
            categories=_as_list(data.get("categories")),
            versions=_as_list(data.get("versions")),
        )
    return Node(properties=NodeProperties.model_validate(data))


def nodes_from_results(body: Any) -> list[Node]:
    results = body.get("results", []) if isinstance(body, dict) else []
    if isinstance(results, dict):
        results = [results]
    return [node_from_item(item) for item in results]


def _as_list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        return [value]
    return []


# ------------------------------------------------------------ workspaces (issue 8)
USER = 0
GROUP = 1


class Member(BaseModel):
    """A user (type 0) or group (type 1) of Content Server's directory (`/v2/members`)."""

    model_config = ConfigDict(extra="ignore")

    id: int
    name: str
    type: int = USER
    name_formatted: str | None = None


class Role(BaseModel):
    """A business workspace role (`/v2/businessworkspaces/{id}/roles`)."""

    model_config = ConfigDict(extra="ignore")

    id: int
    name: str
    leader: bool | None = None


class WorkspaceReference(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ext_system_id: str
    bo_type: str
    bo_id: str


class BusinessProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")

    workspace_type_id: int | None = None
    workspace_type_name: str | None = None
    external_system_id: str | None = None
    business_object_type: str | None = None
    business_object_id: str | None = None


class Workspace(BaseModel):
    """A business workspace with its business properties and every bound business object."""

    properties: NodeProperties
    business_properties: BusinessProperties = Field(default_factory=BusinessProperties)
    references: list[WorkspaceReference] = Field(default_factory=list)
    type_id: int | None = Field(default=None, description="`wnf_wksp_type_id`, when answered.")

    @property
    def bound(self) -> bool:
        return bool(self.references or self.business_properties.business_object_id)

    def is_bound_to(self, ext_system_id: str, bo_type: str, bo_id: str) -> bool:
        wanted = (ext_system_id, bo_type, bo_id)
        if any((r.ext_system_id, r.bo_type, r.bo_id) == wanted for r in self.references):
            return True
        bp = self.business_properties
        return (bp.external_system_id, bp.business_object_type, bp.business_object_id) == wanted


class WorkspaceType(BaseModel):
    id: int
    name: str
    location_id: int | None = None
    template_ids: list[int] = Field(default_factory=list)


class DocumentVersion(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version_number: int
    file_name: str | None = None
    file_size: int | None = None
    mime_type: str | None = None
    description: str | None = None
    create_date: datetime | None = None


class CategoryAttribute(BaseModel):
    key: str = Field(description="`<cat>_<attr>`")
    title: str
    type: str | None = None


class CreateFormCategory(BaseModel):
    id: int
    title: str
    attributes: list[CategoryAttribute] = Field(default_factory=list)


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int = Field(description="The node audited.")
    event_type: int
    audit_date: datetime
    user_id: int | None = None
    audit_name: str = ""


class AuditPage(BaseModel):
    entries: list[AuditEntry] = Field(default_factory=list)
    event_types: dict[int, str] = Field(default_factory=dict)
    page: int = 1
    page_total: int = 1
    total: int = 0
