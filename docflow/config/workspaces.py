"""Schema: business workspaces (`workspaces.json`) — per business-object type, the workspace
type and template, how source fields map to category attributes, the roles and their
members, retention, folders by document type, who hears of milestones, and what closes the
workspace; plus the portal request types and case types that provision workspaces, and the
case sources (`case-sources.json`) cases are gathered from.

`plan_workspace` turns one business object's fields into a `WorkspacePlan` (or every reason it
cannot); the `plan_workspace` activity and the API's portal check both use it, so a portal
request refused over HTTP is refused for the same reasons the workflow would give.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from docflow.config.concern import ConcernFile, Concerns
from docflow.config.source_systems import SourceSystems, endpoint_problem
from docflow.models.workspaces import (
    CaseSourceKind,
    FieldValue,
    MilestoneKind,
    PlanRequest,
    PlanResult,
    RoleMembers,
    WorkspacePlan,
)
from docflow.secrets import SecretRef

MAX_NAME = 248  # Content Server node names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoleSpec(_Strict):
    members: list[str] = Field(default_factory=list, description="Always members (users/groups).")
    member_fields: list[str] = Field(
        default_factory=list, description="Source fields whose value is a member, e.g. owner."
    )
    permissions: list[str] = Field(
        default_factory=list, description="Role permissions to set; empty: the template's."
    )
    requestable: bool = Field(default=False, description="A portal request may add members.")


class ClosingPolicy(_Strict):
    """What closes the workspace, and how; governed content is never deleted."""

    statuses: list[str] = Field(description="Source statuses that close it (and `deleted`).")
    closed_value: str = "Closed"
    rm_classification_id: int | None = Field(
        default=None, description="Applied to the workspace and its content at closure."
    )


class WorkspaceTypeMapping(_Strict):
    description: str = ""
    workspace_type_id: int
    template_id: int
    parent_id: int | None = Field(default=None, description="None: the type's location.")
    name: str = Field(
        description="Workspace name from fields, e.g. '{name} ({bo_id})'; also bo_type, "
        "ext_system_id."
    )
    category_id: int
    attributes: dict[str, int] = Field(description="Source field -> category attribute id.")
    status_field: str = Field(default="status", description="The source field of the status.")
    required: list[str] = Field(default_factory=list, description="Fields a source must send.")
    roles: dict[str, RoleSpec] = Field(default_factory=dict)
    rm_classification_id: int | None = None
    folders: dict[str, str] = Field(
        default_factory=dict,
        description="Document type -> sub-folder ('*' for any other type; none: the root).",
    )
    document_category_id: int | None = Field(
        default=None, description="Category of filed documents (default: the workspace's)."
    )
    document_attributes: dict[str, int] = Field(
        default_factory=dict, description="Document metadata key -> attribute id."
    )
    team: list[str] = Field(default_factory=list, description="Notified of milestones.")
    milestone_statuses: dict[MilestoneKind, str] = Field(
        default_factory=dict, description="Source record status to write per milestone."
    )
    report_to: str | None = Field(
        default=None,
        description="Source system (registry id) told of milestones and references; "
        "default: the object's ext_system_id; 'none' for systems that take no messages.",
    )
    closing: ClosingPolicy | None = None

    def folder_for(self, document_type: str) -> str | None:
        return self.folders.get(document_type, self.folders.get("*"))


class PortalRequestType(_Strict):
    description: str = ""
    workspace: str = Field(description="Key in `types`, e.g. 'PORTAL/Onboarding'.")
    required: list[str] = Field(default_factory=list)
    allowed_fields: list[str] | None = Field(
        default=None, description="Only these fields may be sent (None: any mapped field)."
    )


class CaseType(_Strict):
    description: str = ""
    workspace: str = Field(description="Key in `types`, e.g. 'CASES/Claim'.")
    sources: list[str] = Field(min_length=1, description="Case-source ids gathered by default.")


class WorkspaceMappings(ConcernFile):
    types: dict[str, WorkspaceTypeMapping] = Field(
        min_length=1, description="'<ext_system_id>/<bo_type>' -> mapping."
    )
    portal_requests: dict[str, PortalRequestType] = Field(default_factory=dict)
    case_types: dict[str, CaseType] = Field(default_factory=dict)

    def references(self, others: Concerns) -> Iterator[tuple[str, str]]:
        registry = others.get(SourceSystems)
        sources = others.get(CaseSources)
        for key, mapping in self.types.items():
            if key.count("/") != 1:
                yield f"types.{key}", "a type key is '<ext_system_id>/<bo_type>'"
            report_to = mapping.report_to or key.split("/", 1)[0]
            if registry is not None and report_to != "none" and report_to not in registry.systems:
                yield (
                    f"types.{key}.report_to",
                    f"source system {report_to!r} is not registered in source-systems.json "
                    "(set report_to: 'none' for a system that takes no messages)",
                )
            for field in mapping.required:
                if field not in mapping.attributes and field not in _name_fields(mapping.name):
                    yield f"types.{key}.required", f"field {field!r} is neither mapped nor named"
            if problem := _template_problem(mapping.name):
                yield f"types.{key}.name", problem
        for name, request in self.portal_requests.items():
            if request.workspace not in self.types:
                yield f"portal_requests.{name}.workspace", f"no type {request.workspace!r}"
        for name, case in self.case_types.items():
            if case.workspace not in self.types:
                yield f"case_types.{name}.workspace", f"no type {case.workspace!r}"
            for i, source in enumerate(case.sources):
                if sources is not None and source not in sources.sources:
                    yield (
                        f"case_types.{name}.sources[{i}]",
                        f"case source {source!r} is not in case-sources.json",
                    )


class CaseSource(_Strict):
    kind: CaseSourceKind
    description: str = ""
    endpoint: str | None = Field(default=None, description="Base URL (none for attachments).")
    api_key: SecretRef | None = Field(default=None, description="Sent as a bearer token.")
    allowed_hosts: list[str] = Field(default_factory=list)
    folder: str = Field(description="Workspace sub-folder its items are filed into.")
    timeout_s: float = Field(default=30.0, gt=0)
    page_size: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _endpoint_is_allowed(self) -> CaseSource:
        if self.kind is CaseSourceKind.ATTACHMENTS:
            return self
        if not self.endpoint:
            raise ValueError(f"a {self.kind.value} source needs an endpoint")
        problem = endpoint_problem(self.endpoint, self.allowed_hosts)
        if problem:
            raise ValueError(problem)
        return self


class CaseSources(ConcernFile):
    sources: dict[str, CaseSource] = Field(default_factory=dict)


# ------------------------------------------------------------------ planning
def plan_workspace(
    mappings: WorkspaceMappings,
    request: PlanRequest,
    *,
    config_version: str = "",
    portal_type: str | None = None,
) -> PlanResult:
    """The workspace a business object gets, or every reason it cannot get one."""
    obj, data = request.object, request.data
    portal_type = portal_type or request.portal_type
    mapping = mappings.types.get(obj.type_key)
    if mapping is None:
        return PlanResult(
            accepted=False,
            reasons=[
                f"no workspace mapping for {obj.type_key!r} in {mappings.environment} "
                f"(workspaces {mappings.version})"
            ],
        )
    reasons: list[str] = []
    required = list(mapping.required)
    if portal_type is not None:
        spec = mappings.portal_requests.get(portal_type)
        if spec is None:
            known = ", ".join(sorted(mappings.portal_requests)) or "none"
            return PlanResult(
                accepted=False,
                reasons=[f"unknown request type {portal_type!r} (known: {known})"],
            )
        required += [f for f in spec.required if f not in required]
        if spec.allowed_fields is not None:
            extra = sorted(set(data) - set(spec.allowed_fields))
            if extra:
                reasons.append(f"fields not accepted for {portal_type!r}: {', '.join(extra)}")
    for field in required:
        if _blank(data.get(field)):
            reasons.append(f"field {field!r} is required for {obj.type_key}")
    for field, value in data.items():
        if isinstance(value, str) and len(value) > 2000:
            reasons.append(f"field {field!r} is longer than 2000 characters")
    roles: list[RoleMembers] = []
    asked = {r.role: r for r in request.members}
    for role in asked:
        spec_role = mapping.roles.get(role)
        if spec_role is None:
            reasons.append(f"role {role!r} does not exist for {obj.type_key}")
        elif not spec_role.requestable:
            reasons.append(f"members of role {role!r} cannot be requested")
    for role, spec_role in mapping.roles.items():
        members = list(spec_role.members)
        members += [str(data[f]) for f in spec_role.member_fields if not _blank(data.get(f))]
        if role in asked and spec_role.requestable:
            members += asked[role].members
        unique = list(dict.fromkeys(m for m in members if m))
        if unique or spec_role.permissions:
            roles.append(RoleMembers(role=role, members=unique, permissions=spec_role.permissions))
    name = ""
    try:
        name = _render(mapping.name, data, obj.model_dump()).strip()
    except KeyError as missing:
        if missing.args[0] not in required:  # else already said
            reasons.append(f"the workspace name needs field {missing.args[0]!r}")
    if not reasons and not name:
        reasons.append("the workspace name would be empty")
    if len(name) > MAX_NAME:
        name = name[:MAX_NAME].rstrip()
    if reasons:
        return PlanResult(accepted=False, reasons=reasons)
    status = data.get(mapping.status_field)
    closing = mapping.closing
    report_to = mapping.report_to or obj.ext_system_id
    return PlanResult(
        accepted=True,
        plan=WorkspacePlan(
            object=obj,
            name=name,
            workspace_type_id=mapping.workspace_type_id,
            template_id=mapping.template_id,
            parent_id=mapping.parent_id,
            category_id=mapping.category_id,
            category_values=category_values(mapping.attributes, data),
            roles=roles,
            rm_classification_id=mapping.rm_classification_id,
            team=list(mapping.team),
            closing=bool(closing and status is not None and str(status) in closing.statuses),
            closed_value=closing.closed_value if closing else "Closed",
            status_attribute=(
                str(mapping.attributes[mapping.status_field])
                if mapping.status_field in mapping.attributes
                else None
            ),
            config_version=config_version,
            attributes=dict(mapping.attributes),
            status_field=mapping.status_field,
            closing_statuses=list(closing.statuses) if closing else [],
            closing_rm_classification_id=closing.rm_classification_id if closing else None,
            folders=dict(mapping.folders),
            document_category_id=mapping.document_category_id or mapping.category_id,
            document_attributes=dict(mapping.document_attributes),
            milestone_statuses={k.value: v for k, v in mapping.milestone_statuses.items()},
            report_to=None if report_to == "none" else report_to,
        ),
    )


def category_values(
    attributes: Mapping[str, int], data: Mapping[str, FieldValue]
) -> dict[str, str]:
    """Category attribute id -> value for the mapped fields the source sent (pure: workflows
    call it for every change)."""
    return {
        str(attr): "" if data[field] is None else str(data[field])
        for field, attr in attributes.items()
        if field in data
    }


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _name_fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def _template_problem(template: str) -> str | None:
    try:
        fields = _name_fields(template)
    except ValueError as exc:
        return f"not a name template: {exc}"
    if any(not f.isidentifier() for f in fields):
        return "name fields are plain names, e.g. '{name} ({bo_id})'"
    return None


def _render(template: str, data: Mapping[str, FieldValue], obj: Mapping[str, Any]) -> str:
    values = {**obj, **{k: "" if v is None else str(v) for k, v in data.items()}}
    for field in _name_fields(template):
        if field not in values or _blank(values[field]):
            raise KeyError(field)
    return template.format_map(values)
