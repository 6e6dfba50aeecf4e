"""In-memory state of the Content Server simulator: nodes, versions, workspace bindings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

FOLDER, DOCUMENT, BUSINESS_WORKSPACE = 0, 144, 848
CONTAINER_TYPES = frozenset({FOLDER, BUSINESS_WORKSPACE})
# Definitions that are nodes on a real server, in their own volumes (here: configuration).
CATEGORY, RM_CLASSIFICATION = 131, 551
TYPE_NAMES = {
    FOLDER: "Folder",
    DOCUMENT: "Document",
    BUSINESS_WORKSPACE: "Business Workspace",
    CATEGORY: "Category",
    RM_CLASSIFICATION: "RM Classification",
}


@dataclass
class Version:
    number: int
    file_name: str
    mime_type: str
    content: bytes
    description: str
    created: datetime


@dataclass(frozen=True)
class BusinessObject:
    ext_system_id: str
    bo_type: str
    bo_id: str

    def __str__(self) -> str:
        return f"{self.ext_system_id}/{self.bo_type}/{self.bo_id}"


@dataclass
class Role:
    """A workspace role: copied from the template at creation, members added later."""

    id: int
    name: str
    permissions: list[str]
    leader: bool = False
    apply_to: int = 2
    members: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AuditEntry:
    """One line of a node's audit trail (`GET /v2/nodes/{id}/audit`)."""

    node_id: int
    event_type: int
    audit_name: str
    audit_date: datetime
    user_id: int


@dataclass
class Node:
    id: int
    name: str
    parent_id: int
    type: int
    description: str
    created: datetime
    modified: datetime
    versions: list[Version] = field(default_factory=list)
    categories: dict[int, dict[str, Any]] = field(default_factory=dict)
    rm_classifications: list[int] = field(default_factory=list)
    holds: list[int] = field(default_factory=list)
    wksp_type_id: int | None = None
    template_id: int | None = None
    references: list[BusinessObject] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    # Related workspace id -> "child" or "parent": what the other workspace is to this one.
    related: dict[int, str] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)


@dataclass
class UploadCount:
    parent_id: int
    name: str
    attempts: int = 0
    created: int = 0
    rejected_duplicates: int = 0
    versions_added: int = 0


class OtcsError(Exception):
    """An error answer: `{"error": message}`, plus `errorDetail` when the server adds one."""

    def __init__(self, status: int, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, str]:
        body = {"error": self.message}
        if self.detail:
            body["errorDetail"] = self.detail
        return body


def otcs_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OtcsError(400, f"Invalid value for '{name}': {value!r}.") from None


@dataclass(frozen=True)
class CategoryChange:
    """One category write (`POST`/`PUT .../categories`): the values it set, and when."""

    seq: int
    node_id: int
    category_id: int
    values: dict[str, Any]
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "node_id": self.node_id,
            "category_id": self.category_id,
            "values": self.values,
            "at": self.at.isoformat(),
        }
