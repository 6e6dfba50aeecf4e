"""Configuration of the Content Server simulator, including its seeded structure."""

from __future__ import annotations

from pydantic import BaseModel, Field

from simulators.kit.delivery import DeliveryFaults, RetryPolicy
from simulators.kit.faults import FaultSettings


class CategoryDef(BaseModel):
    name: str
    attributes: dict[int, str] = Field(description="Attribute id -> name.")
    sets: dict[int, dict[int, str]] = Field(
        default_factory=dict,
        description="Set id -> its attributes (id -> name), keyed `<cat>_<set>_<row>_<attr>`.",
    )


# Content Server's permission names (roles, custom permissions).
PERMISSIONS = (
    "see",
    "see_contents",
    "modify",
    "edit_attributes",
    "add_items",
    "reserve",
    "add_major_version",
    "delete_versions",
    "delete",
    "edit_permissions",
)
READ = ["see", "see_contents"]
WRITE = [*READ, "modify", "edit_attributes", "add_items", "reserve", "add_major_version"]


class RoleDef(BaseModel):
    """A workspace role of a template, with its default permissions on the workspace."""

    name: str
    permissions: list[str] = Field(default_factory=lambda: list(READ))
    leader: bool = False


class DocumentTemplateDef(BaseModel):
    """A document the template puts into each new workspace (a small PDF)."""

    folder: str | None = Field(default=None, description="Sub-folder name; None: the root.")
    name: str


class WorkspaceTemplateDef(BaseModel):
    id: int
    name: str
    sub_folders: list[str] = Field(default_factory=list)
    roles: list[RoleDef] = Field(default_factory=list)
    documents: list[DocumentTemplateDef] = Field(default_factory=list)


class WorkspaceTypeDef(BaseModel):
    id: int
    name: str
    location_id: int | None = Field(
        description="Where new workspaces of this type go (shown as `wksp_creation`); None: "
        "the creator names a parent_id."
    )
    templates: list[WorkspaceTemplateDef]
    rm_enabled: bool = True
    category_ids: list[int] = Field(
        default_factory=list, description="Categories the create form asks for."
    )


class MemberDef(BaseModel):
    """A user (type 0) or group (type 1) of the members directory (`GET /v2/members`)."""

    id: int
    name: str
    type: int = Field(default=0, description="0 user, 1 group.")
    display_name: str = ""
    email: str | None = None


class FolderDef(BaseModel):
    id: int
    name: str
    parent_id: int = -1


def _default_categories() -> dict[int, CategoryDef]:
    return {
        9001: CategoryDef(
            name="Signed Contract",
            attributes={
                2: "deal_id",
                3: "account",
                4: "signers",
                5: "completed_at",
                6: "business_key",
                7: "source_record",
                8: "document_type",
            },
            sets={10: {11: "signer_email", 12: "signed_on"}},
        ),
        9100: CategoryDef(
            name="Business Object",
            attributes={
                1: "account_number",
                2: "name",
                3: "owner",
                4: "region",
                5: "status",
                6: "project_id",
            },
        ),
        9200: CategoryDef(
            name="Case",
            attributes={1: "case_id", 2: "case_type", 3: "title", 4: "status", 5: "customer"},
        ),
        9300: CategoryDef(
            name="Filed Document",
            attributes={1: "document_type", 2: "source_record", 3: "source_id"},
        ),
        9400: CategoryDef(
            name="Document Status",
            attributes={1: "status", 2: "detail", 3: "decided_by", 4: "decided_at", 5: "comment"},
        ),
    }


def _type(
    type_id: int,
    name: str,
    location_id: int,
    template_id: int,
    folders: list[str],
    roles: list[RoleDef],
    *,
    category_id: int = 9100,
    documents: list[DocumentTemplateDef] | None = None,
) -> WorkspaceTypeDef:
    template = WorkspaceTemplateDef(
        id=template_id,
        name=f"{name} Workspace",
        sub_folders=folders,
        roles=roles,
        documents=documents or [],
    )
    return WorkspaceTypeDef(
        id=type_id,
        name=name,
        location_id=location_id,
        templates=[template],
        category_ids=[category_id],
    )


def _default_workspace_types() -> list[WorkspaceTypeDef]:
    """The types, templates and locations `config/dev/workspaces.json` names."""
    legal = RoleDef(name="Legal", permissions=list(READ))
    return [
        _type(
            7,
            "Customer",
            2000,
            20001,
            ["Contracts", "Correspondence", "Drawings", "Documents"],
            [RoleDef(name="Account Team", permissions=list(WRITE), leader=True), legal],
        ),
        _type(
            8,
            "Supplier",
            2001,
            20002,
            ["Agreements", "Qualification", "Invoices", "Documents"],
            [RoleDef(name="Procurement", permissions=list(WRITE), leader=True)],
        ),
        _type(
            9,
            "Project",
            2002,
            20003,
            ["Drawings", "Contracts", "Issues", "Documents"],
            [RoleDef(name="Project Team", permissions=list(WRITE), leader=True)],
        ),
        _type(
            10,
            "Case",
            2003,
            20004,
            ["E-mails", "Forms", "Attachments", "Transactions"],
            [RoleDef(name="Case Team", permissions=list(WRITE), leader=True)],
            category_id=9200,
        ),
        _type(
            11,
            "Onboarding",
            2004,
            20005,
            ["Forms", "Contracts"],
            [RoleDef(name="Onboarding Team", permissions=list(WRITE), leader=True)],
            documents=[
                DocumentTemplateDef(folder="Forms", name="Welcome pack.pdf"),
                DocumentTemplateDef(folder="Forms", name="Onboarding checklist.pdf"),
            ],
        ),
        _type(
            12,
            "Legal Matter",
            2004,
            20006,
            ["Pleadings", "Correspondence", "Evidence"],
            [RoleDef(name="Legal", permissions=list(WRITE), leader=True)],
        ),
    ]


def _default_folders() -> list[FolderDef]:
    return [
        FolderDef(id=2000, name="Customers"),
        FolderDef(id=2001, name="Suppliers"),
        FolderDef(id=2002, name="Projects"),
        FolderDef(id=2003, name="Cases"),
        FolderDef(id=2004, name="Requests"),
    ]


def _default_members() -> list[MemberDef]:
    users = ["alice", "bob", "carol", "dave", "jane.doe", "ops"]
    groups = ["account-team", "legal", "procurement", "case-team", "project-team"]
    return [
        *(
            MemberDef(
                id=1001 + n,
                name=f"{user}@example.com",
                type=0,
                display_name=user.replace(".", " ").title(),
                email=f"{user}@example.com",
            )
            for n, user in enumerate(users)
        ),
        *(
            MemberDef(id=2001 + n, name=group, type=1, display_name=group)
            for n, group in enumerate(groups)
        ),
    ]


class ContentServerConfig(BaseModel):
    seed: int = 0
    username: str = "docflow"
    password: str = "dev-otcs-password"
    ticket_ttl_s: int = Field(default=1800, ge=1)
    page_size: int = Field(default=25, ge=1)
    folders: list[FolderDef] = Field(default_factory=_default_folders)
    categories: dict[int, CategoryDef] = Field(default_factory=_default_categories)
    workspace_types: list[WorkspaceTypeDef] = Field(default_factory=_default_workspace_types)
    rm_classifications: dict[int, str] = Field(
        default_factory=lambda: {
            5001: "Contracts - 10 years",
            5002: "HR - 7 years",
            5003: "Closed business objects - 10 years",
            5004: "Cases - 7 years",
        }
    )
    members: list[MemberDef] = Field(
        default_factory=_default_members, description="Users and groups (`GET /v2/members`)."
    )
    faults: FaultSettings = Field(default_factory=FaultSettings)
    first_node_id: int = Field(
        default=100_001,
        ge=1,
        description="Ids of new nodes count from here (a stack that keeps its Temporal "
        "history across runs starts elsewhere each run: a real server never reuses an id).",
    )
    events_url: str | None = Field(
        default=None, description="Receiver of node events (Standard Webhooks); None = off."
    )
    # "whsec_" + base64("dev-ecm-events-secret-1234"): the `secret` of config/dev/ecm-events.json.
    events_secret: str = "whsec_ZGV2LWVjbS1ldmVudHMtc2VjcmV0LTEyMzQ="
    events_retry: RetryPolicy = Field(default_factory=RetryPolicy)
    events_faults: DeliveryFaults = Field(default_factory=DeliveryFaults)
