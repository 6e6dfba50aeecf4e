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


class WorkspaceTemplateDef(BaseModel):
    id: int
    name: str
    sub_folders: list[str] = Field(default_factory=list)


class WorkspaceTypeDef(BaseModel):
    id: int
    name: str
    location_id: int | None = Field(
        description="Where new workspaces of this type go (shown as `wksp_creation`); None: "
        "the creator names a parent_id."
    )
    templates: list[WorkspaceTemplateDef]
    rm_enabled: bool = True


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
        )
    }


def _default_workspace_types() -> list[WorkspaceTypeDef]:
    template = WorkspaceTemplateDef(
        id=20001, name="Customer Workspace", sub_folders=["Contracts", "Correspondence"]
    )
    return [WorkspaceTypeDef(id=7, name="Customer", location_id=2000, templates=[template])]


class ContentServerConfig(BaseModel):
    seed: int = 0
    username: str = "docflow"
    password: str = "dev-otcs-password"
    ticket_ttl_s: int = Field(default=1800, ge=1)
    page_size: int = Field(default=25, ge=1)
    folders: list[FolderDef] = Field(default_factory=lambda: [FolderDef(id=2000, name="Customers")])
    categories: dict[int, CategoryDef] = Field(default_factory=_default_categories)
    workspace_types: list[WorkspaceTypeDef] = Field(default_factory=_default_workspace_types)
    rm_classifications: dict[int, str] = Field(
        default_factory=lambda: {5001: "Contracts - 10 years", 5002: "HR - 7 years"}
    )
    faults: FaultSettings = Field(default_factory=FaultSettings)
    events_url: str | None = Field(
        default=None, description="Receiver of node events (Standard Webhooks); None = off."
    )
    events_secret: str = "whsec_ZGV2LW90Y3MtZXZlbnRzLXNlY3JldC0xMjM0"
    events_retry: RetryPolicy = Field(default_factory=RetryPolicy)
    events_faults: DeliveryFaults = Field(default_factory=DeliveryFaults)
