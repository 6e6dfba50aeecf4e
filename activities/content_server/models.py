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
