"""Metadata mappings: business values by semantic name → the category attribute ids a route
configures (`category_attributes` of a routing rule). Pure; workflows may call it.

Signing archives with it today; workspace sync will map CRM/ERP fields the same way.
"""

from __future__ import annotations

from docflow.models.integration import RoutingDecision, SignedArtifacts
from docflow.models.signing import SigningRequest


def signing_category_values(
    request: SigningRequest, route: RoutingDecision, signed: SignedArtifacts
) -> dict[str, str]:
    """Category attribute id → value for a signed document, for the attributes the route maps."""
    source = request.source
    semantic = {
        "deal_id": request.metadata.get("deal_id", source.record_id),
        "account": source.account_name or source.account_id or "",
        "signers": ", ".join(s.email for s in signed.signers),
        "completed_at": signed.completed_at.isoformat() if signed.completed_at else "",
        "business_key": request.business_key,
        "source_record": f"{source.system}/{source.record_type}/{source.record_id}",
        "document_type": request.document_type,
    }
    attrs = route.category_attributes
    return {str(attr): semantic[name] for name, attr in attrs.items() if name in semantic}
