"""Schema: who may read approved content and who may exchange documents (`read-access.json`).

Portals are API callers (`[[api.api_keys]]` or OIDC subjects) with scope `content:read`: they
read the latest approved version of any content, or of what `portals` narrows them to.
Parties are external organisations (suppliers, auditors, customers, distributors) that
authenticate like every caller — an API key in `settings.toml` (`[[api.api_keys]]`, its key a
secret reference: `env:`/`file:` in test and prod) or an OIDC token — with scope `partner` and
the subject a party here names (`party:<id>` unless set). A party sees only the approved
documents its entitlements name, mints expiring links to one version, and uploads into its
inbox folders — never anywhere else in a workspace. A `partner` principal no party names is
entitled to nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from docflow.config.concern import ConcernFile
from docflow.models.records import ApprovedVersion

PARTY_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
FIELD_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_CONTENT_BYTES = 1024 * 1024 * 1024
# Upload kinds by short name → docflow.filetypes' kinds (checked by the bytes).
UploadKind = Literal["pdf", "docx", "doc"]
PartyKind = Literal["supplier", "auditor", "customer", "distributor"]
FieldName = Annotated[str, StringConstraints(pattern=FIELD_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Entitlements(_Strict):
    """What a reader may see. ECM: a version in one of the workspaces or folders, of one of
    the document types (none listed: any type). Amplience: an item of one of the content
    types (schemas). `everything`: all approved content (internal portals only)."""

    everything: bool = False
    workspace_ids: list[int] = Field(default_factory=list, max_length=1000)
    folder_ids: list[int] = Field(default_factory=list, max_length=1000)
    document_types: list[str] = Field(default_factory=list, max_length=200)
    content_types: list[str] = Field(default_factory=list, max_length=200)

    def allows(self, version: ApprovedVersion) -> bool:
        if self.everything:
            return True
        if version.source == "amplience":
            return version.document_type in self.content_types
        located = (
            version.workspace_id is not None and version.workspace_id in self.workspace_ids
        ) or (version.folder_id is not None and version.folder_id in self.folder_ids)
        typed = not self.document_types or version.document_type in self.document_types
        return located and typed


class Portal(_Strict):
    """Narrows what one `content:read` principal (its subject) may read."""

    subject: str = Field(min_length=1, max_length=255)
    entitlements: Entitlements = Field(default_factory=lambda: Entitlements(everything=True))


class Inbox(_Strict):
    """Where a party's uploads for one workspace land: one folder, with its limits and the
    metadata every upload must carry (field → attribute of `category_id`)."""

    workspace_id: int = Field(ge=1)
    folder_id: int = Field(ge=1)
    allowed_types: list[UploadKind] = Field(default_factory=lambda: ["pdf"], min_length=1)
    max_bytes: int = Field(default=25 * 1024 * 1024, ge=1, le=MAX_CONTENT_BYTES)
    category_id: int | None = Field(default=None, ge=1)
    required_metadata: dict[FieldName, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict, description="Field name → attribute id; each must be given."
    )
    optional_metadata: dict[FieldName, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _category_for_fields(self) -> Inbox:
        if (self.required_metadata or self.optional_metadata) and self.category_id is None:
            raise ValueError("metadata fields need a category_id")
        both = set(self.required_metadata) & set(self.optional_metadata)
        if both:
            raise ValueError(f"fields both required and optional: {', '.join(sorted(both))}")
        return self


class Party(_Strict):
    id: str = Field(pattern=PARTY_ID_PATTERN)
    kind: PartyKind
    name: str = Field(min_length=1, max_length=255)
    subject: str | None = Field(
        default=None,
        max_length=255,
        description="The API principal that is this party; None: 'party:<id>'.",
    )
    entitlements: Entitlements = Field(default_factory=Entitlements)
    inboxes: list[Inbox] = Field(default_factory=list, max_length=100)

    @property
    def principal(self) -> str:
        return (self.subject or f"party:{self.id}").casefold()

    def inbox(self, workspace_id: int) -> Inbox | None:
        return next((i for i in self.inboxes if i.workspace_id == workspace_id), None)


class LinkPolicy(_Strict):
    default_ttl: timedelta = Field(default=timedelta(days=7), gt=timedelta(0))
    max_ttl: timedelta = Field(default=timedelta(days=30), gt=timedelta(0))

    @model_validator(mode="after")
    def _consistent(self) -> LinkPolicy:
        if self.default_ttl > self.max_ttl:
            raise ValueError("default_ttl is longer than max_ttl")
        return self


class ReadAccess(ConcernFile):
    portals: list[Portal] = Field(default_factory=list, max_length=100)
    parties: list[Party] = Field(default_factory=list, max_length=1000)
    links: LinkPolicy = Field(default_factory=LinkPolicy)
    max_content_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1, le=MAX_CONTENT_BYTES, description="Largest served."
    )

    @model_validator(mode="after")
    def _unique(self) -> ReadAccess:
        ids = [p.id for p in self.parties]
        if len(ids) != len(set(ids)):
            raise ValueError("party ids must be unique")
        subjects = [p.principal for p in self.parties]
        if len(subjects) != len(set(subjects)):
            raise ValueError("each party needs its own subject")
        for party in self.parties:
            workspaces = [i.workspace_id for i in party.inboxes]
            if len(workspaces) != len(set(workspaces)):
                raise ValueError(f"party {party.id}: one inbox per workspace")
        return self

    def party(self, party_id: str) -> Party | None:
        return next((p for p in self.parties if p.id == party_id), None)

    def party_of(self, subject: str) -> Party | None:
        """The party an authenticated principal is, if any."""
        folded = subject.casefold()
        return next((p for p in self.parties if p.principal == folded), None)

    def portal(self, subject: str) -> Portal | None:
        folded = subject.casefold()
        return next((p for p in self.portals if p.subject.casefold() == folded), None)
