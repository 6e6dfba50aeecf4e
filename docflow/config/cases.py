"""Case assembly's configuration decision: what a case request becomes in this environment.

`plan_case` reads the case type (`workspaces.json` `case_types`) and the case sources
(`case-sources.json`) and returns a `CasePlan`: the business object the case workspace is
bound to, each source with its kind and folder, how filed items are categorised — or every
reason the case cannot be assembled. The `plan_case` activity and the API's start check both
use it, so a case refused over HTTP is refused for the same reasons the workflow would give.
"""

from __future__ import annotations

from docflow.config.workspaces import CaseSources, WorkspaceMappings
from docflow.models.workspaces import (
    BusinessObjectRef,
    CasePlan,
    CaseRequest,
    CaseSourceKind,
    CaseSourcePlan,
    FieldValue,
)


def plan_case(
    mappings: WorkspaceMappings,
    sources: CaseSources,
    request: CaseRequest,
    *,
    config_version: str = "",
) -> CasePlan:
    """The case's plan, or every reason it cannot be assembled (unknown type or sources...)."""
    reasons: list[str] = []
    case = mappings.case_types.get(request.case_type)
    if case is None:
        known = ", ".join(sorted(mappings.case_types)) or "none"
        reasons.append(
            f"unknown case type {request.case_type!r} in {mappings.environment} (known: {known})"
        )
    wanted = list(request.sources) or (list(case.sources) if case else [])
    repeated = sorted({s for s in wanted if wanted.count(s) > 1})
    if repeated:
        reasons.append(f"sources named more than once: {', '.join(repeated)}")
    unknown = [s for s in dict.fromkeys(wanted) if s not in sources.sources]
    if unknown:
        known = ", ".join(sorted(sources.sources)) or "none"
        reasons.extend(
            f"unknown case source {s!r} in {sources.environment} (known: {known})" for s in unknown
        )
    planned = [
        CaseSourcePlan(source=s, kind=sources.sources[s].kind, folder=sources.sources[s].folder)
        for s in dict.fromkeys(wanted)
        if s in sources.sources
    ]
    if request.attachments and not any(p.kind is CaseSourceKind.ATTACHMENTS for p in planned):
        reasons.append(
            "attachments were sent, but no source of kind 'attachments' is gathered for this case"
        )
    if not wanted and case is not None:
        reasons.append("the case names no sources")
    mapping = None
    if case is not None:
        mapping = mappings.types.get(case.workspace)
        if mapping is None:  # the bundle's cross-checks refuse this; kept for safety
            reasons.append(f"case type {request.case_type!r} names no workspace type")
    if reasons or case is None or mapping is None:
        return CasePlan(accepted=False, reasons=reasons, config_version=config_version)
    ext_system_id, bo_type = case.workspace.split("/", 1)
    data: dict[str, FieldValue] = {
        **request.fields,
        "case_id": request.case_id,
        "case_type": request.case_type,
        "title": request.title,
    }
    return CasePlan(
        accepted=True,
        object=BusinessObjectRef(
            ext_system_id=ext_system_id, bo_type=bo_type, bo_id=request.case_id
        ),
        sources=planned,
        document_category_id=mapping.document_category_id or mapping.category_id,
        document_attributes=dict(mapping.document_attributes),
        rm_classification_id=mapping.rm_classification_id,
        data=data,
        config_version=config_version,
    )
