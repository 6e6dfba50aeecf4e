"""Schema: signing routing rules (`signing-routing.json`) — template, sender and workspace.

Rules are data in each environment's bundle, validated with pydantic before use. The first
rule whose document types and source systems match wins.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from docflow.config.concern import ConcernFile, Concerns
from docflow.config.source_systems import SourceSystems
from docflow.models.integration import RoutingDecision, ValidationResult
from docflow.models.signing import SigningProcessInput

ALLOWED_CONTENT_TYPES = frozenset(
    {
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/msword",
    }
)


class RoutingRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    document_types: list[str] = Field(description="Document types matched; '*' for any.")
    source_systems: list[str] = Field(default_factory=lambda: ["*"])
    signature_template: str
    sender_email: str
    workspace_parent_id: int
    workspace_type_id: int
    workspace_template_id: int
    category_id: int
    category_attributes: dict[str, int] = Field(
        description="Semantic name -> category attribute id, e.g. {'deal_id': 2}."
    )
    rm_classification_id: int
    require_internal_approval: bool = True
    archive_folder: str | None = Field(
        default=None,
        description="Workspace sub-folder for the signed PDF and audit trail (the template's, "
        "e.g. 'Contracts'); None: the workspace itself.",
    )
    allowed_signer_domains: list[str] | None = None
    max_signers: int = 10

    def matches(self, document_type: str, source_system: str) -> bool:
        return ("*" in self.document_types or document_type in self.document_types) and (
            "*" in self.source_systems or source_system in self.source_systems
        )


class RoutingRules(ConcernFile):
    rules: list[RoutingRule] = Field(min_length=1)

    def references(self, others: Concerns) -> Iterator[tuple[str, str]]:
        registry = others.get(SourceSystems)
        if registry is None:
            return  # its own errors are reported; nothing to compare against
        for i, rule in enumerate(self.rules):
            for j, system in enumerate(rule.source_systems):
                if system != "*" and system not in registry.systems:
                    yield (
                        f"rules[{i}].source_systems[{j}]",
                        f"source system {system!r} is not registered in source-systems.json",
                    )

    def route(self, document_type: str, source_system: str) -> RoutingRule | None:
        return next((r for r in self.rules if r.matches(document_type, source_system)), None)


def decide_route(rules: RoutingRules, process: SigningProcessInput) -> ValidationResult:
    """Check a request against the rules; every failed check becomes one reason."""
    request = process.request
    rule = rules.route(request.document_type, request.source.system)
    if rule is None:
        return ValidationResult(
            accepted=False,
            reasons=[
                f"no routing rule for document type {request.document_type!r} "
                f"from {request.source.system!r} in {rules.environment} (rules {rules.version})"
            ],
        )
    reasons: list[str] = []
    if rule.require_internal_approval and not request.approval_stages:
        reasons.append(
            f"document type {request.document_type!r} needs internal approval before "
            "signature, but the request has no approval stage"
        )
    if process.document.content_type not in ALLOWED_CONTENT_TYPES:
        reasons.append(f"content type {process.document.content_type!r} cannot be signed")
    if len(request.signers) > rule.max_signers:
        reasons.append(f"{len(request.signers)} signers exceed the limit of {rule.max_signers}")
    if rule.allowed_signer_domains is not None:
        allowed = {d.lower() for d in rule.allowed_signer_domains}
        for signer in request.signers:
            domain = str(signer.email).rsplit("@", 1)[-1].lower()
            if domain not in allowed:
                reasons.append(f"signer {signer.email} is outside the allowed domains")
    if reasons:
        return ValidationResult(accepted=False, reasons=reasons)
    return ValidationResult(
        accepted=True,
        route=RoutingDecision(
            rules_version=rules.version,
            rule=rule.name,
            signature_template=rule.signature_template,
            sender_email=rule.sender_email,
            workspace_parent_id=rule.workspace_parent_id,
            workspace_type_id=rule.workspace_type_id,
            workspace_template_id=rule.workspace_template_id,
            category_id=rule.category_id,
            category_attributes=rule.category_attributes,
            rm_classification_id=rule.rm_classification_id,
            require_internal_approval=rule.require_internal_approval,
            archive_folder=rule.archive_folder,
        ),
    )
