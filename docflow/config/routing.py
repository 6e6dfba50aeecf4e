"""Schema: signing routing rules (`signing-routing.json`) — template, sender and workspace.

Rules are data in each environment's bundle, validated with pydantic before use. The first
rule whose document types and source systems match wins.

A new version of the rules can be rolled out gradually with an optional `rollout` section::

    "rollout": {
      "version": "2026-12-01.1",          # its own label, not the file's `version`
      "share_percent": 10,                # 0..100 of new processes, by business key
      "source_systems": ["SAP"],          # and every new process from these systems
      "rules": [ ...RoutingRule, the complete rule set that would become the default... ]
    }

A new process is routed by the rollout's rules when its source system is listed, or when
its business key falls into the share (a bucket 0..99 from sha256 of the rollout's version
and the business key: the same key always lands in the same bucket, so a retried validation
gives the same answer, and raising the share only adds processes). Otherwise, and when there
is no rollout, the file's `rules` route it. The rollout's rules replace the default ones for
the processes they serve (no fallback to `rules`): what they route is what they would route
as the default. The decision records its track (`default` | `rollout`) and the rule set's
label.

Promote: the rollout's rules become `rules` (and its label the file's `version`), the section
goes (`RoutingRules.promote_rollout()`). Roll back: the section goes, or `share_percent` 0 and
no source systems (`RoutingRules.without_rollout()`). Either is a new bundle version; a
process past routing keeps the decision its validation recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from docflow.config.concern import ConcernFile, Concerns
from docflow.config.source_systems import SourceSystems
from docflow.models.integration import RoutingDecision, RoutingTrack, ValidationResult
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


def rollout_bucket(version: str, business_key: str) -> int:
    """The business key's bucket 0..99 for a rollout: stable across runs, hosts and retries."""
    digest = hashlib.sha256(f"{version}\n{business_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


class RoutingRollout(BaseModel):
    """A new version of the rules serving a share of new processes, or named source
    systems, before it becomes the default."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, description="The rollout rules' own label.")
    share_percent: int = Field(
        default=0, ge=0, le=100, description="Share of new processes (by business key)."
    )
    source_systems: list[str] = Field(
        default_factory=list, description="Source systems whose new processes all take it."
    )
    rules: list[RoutingRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_wildcard(self) -> Self:
        if "*" in self.source_systems:
            raise ValueError("source_systems cannot be '*'; use share_percent 100")
        return self

    def serves(self, business_key: str, source_system: str) -> bool:
        return (
            source_system in self.source_systems
            or rollout_bucket(self.version, business_key) < self.share_percent
        )


class RoutingRules(ConcernFile):
    rules: list[RoutingRule] = Field(min_length=1)
    rollout: RoutingRollout | None = None

    @field_validator("rollout")
    @classmethod
    def _rollout_label_differs(
        cls, rollout: RoutingRollout | None, info: ValidationInfo
    ) -> RoutingRollout | None:
        if rollout is not None and rollout.version == info.data.get("version"):
            raise ValueError(
                f"version {rollout.version!r} must differ from the rules' version (a decision "
                "names the rule set it came from)"
            )
        return rollout

    def references(self, others: Concerns) -> Iterator[tuple[str, str]]:
        registry = others.get(SourceSystems)
        if registry is None:
            return  # its own errors are reported; nothing to compare against
        rule_sets = [("rules", self.rules)]
        if self.rollout is not None:
            rule_sets.append(("rollout.rules", self.rollout.rules))
            for j, system in enumerate(self.rollout.source_systems):
                if system not in registry.systems:
                    yield (
                        f"rollout.source_systems[{j}]",
                        f"source system {system!r} is not registered in source-systems.json",
                    )
        for where, rules in rule_sets:
            for i, rule in enumerate(rules):
                for j, system in enumerate(rule.source_systems):
                    if system != "*" and system not in registry.systems:
                        yield (
                            f"{where}[{i}].source_systems[{j}]",
                            f"source system {system!r} is not registered in source-systems.json",
                        )

    def route(self, document_type: str, source_system: str) -> RoutingRule | None:
        """The default rules' choice (ignoring a rollout)."""
        return next((r for r in self.rules if r.matches(document_type, source_system)), None)

    def track(self, business_key: str, source_system: str) -> RoutingTrack:
        """Which rule set routes a new process: the rollout's if it serves it."""
        if self.rollout is not None and self.rollout.serves(business_key, source_system):
            return "rollout"
        return "default"

    def rule_set(self, track: RoutingTrack) -> tuple[str, list[RoutingRule]]:
        """A track's label and rules (the default's when there is no rollout)."""
        if track == "rollout" and self.rollout is not None:
            return self.rollout.version, self.rollout.rules
        return self.version, self.rules

    def labelled(self, version: str) -> RoutingTrack | None:
        """The track whose rule set has this label now (None: neither has it any more)."""
        if self.version == version:
            return "default"
        if self.rollout is not None and self.rollout.version == version:
            return "rollout"
        return None

    def promote_rollout(self) -> RoutingRules:
        """The file with the rollout's rules as the default (and its label as the version)."""
        if self.rollout is None:
            raise ValueError(f"rules {self.version} have no rollout to promote")
        return self.model_copy(
            update={"version": self.rollout.version, "rules": self.rollout.rules, "rollout": None}
        )

    def without_rollout(self) -> RoutingRules:
        """The file rolled back to its default rules (unchanged, with the same label)."""
        return self.model_copy(update={"rollout": None})


def decide_route(
    rules: RoutingRules, process: SigningProcessInput, *, rules_version: str | None = None
) -> ValidationResult:
    """Check a request against the rules; every failed check becomes one reason.

    `rules_version`: the rule set a process was routed with (a correction's check), applied
    while the file still has it under that label (after a promotion, as the default);
    otherwise the track the process falls on now."""
    request = process.request
    track = (rules.labelled(rules_version) if rules_version else None) or rules.track(
        request.business_key, request.source.system
    )
    version, rule_set = rules.rule_set(track)
    rule = next(
        (r for r in rule_set if r.matches(request.document_type, request.source.system)), None
    )
    if rule is None:
        named = "rollout rules" if track == "rollout" else "rules"
        return ValidationResult(
            accepted=False,
            reasons=[
                f"no routing rule for document type {request.document_type!r} "
                f"from {request.source.system!r} in {rules.environment} ({named} {version})"
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
            rules_version=version,
            track=track,
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
