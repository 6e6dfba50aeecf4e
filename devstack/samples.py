"""Sample requests, PDFs and dev API keys shared by the demo, the benchmarks and the tests.

The keys are the dev profile's (`docflow.settings.DEV_API_KEYS`); nothing here is valid
outside the embedded stack.
"""

from __future__ import annotations

from docflow.models import (
    ApprovalStageSpec,
    Quorum,
    Signer,
    SigningRequest,
    SourceRecord,
    WorkspaceTarget,
)
from simulators.kit.pdf import make_pdf

# Approver principals and their dev API keys (config: docflow.settings.DEV_API_KEYS).
APPROVER_KEYS = {
    "alice@example.com": "dev-alice-key",
    "bob@example.com": "dev-bob-key",
    "carol@example.com": "dev-carol-key",
    "dave@example.com": "dev-dave-key",
}
CRM_KEY = "dev-crm-key"
OPS_KEY = "dev-ops-key"
PIM_KEY = "dev-pim-key"  # masterdata:write for PIM and ERP


def contract_pdf(key: str, version: int = 1) -> bytes:
    return make_pdf(
        f"Master Services Agreement {key}",
        [f"Version {version}", "Between Example Corp and Acme Industries.", "Term: 24 months."],
    )


def sample_request(
    key: str,
    *,
    stages: list[ApprovalStageSpec],
    document_type: str = "sales_contract",
    signer: str = "jane.doe@acme.example.com",
) -> SigningRequest:
    return SigningRequest(
        business_key=key,
        document_type=document_type,
        title=f"Please sign the MSA {key}",
        source=SourceRecord(
            system="SFDC",
            record_type="Opportunity",
            record_id=f"006-{key}",
            account_id="0015g00000ACME",
            account_name="Acme Industries",
        ),
        approval_stages=stages,
        signers=[Signer(email=signer, first_name="Jane", last_name="Doe")],
        workspace=WorkspaceTarget(
            ext_system_id="SFDC", bo_type="Account", bo_id="0015g00000ACME", name="Acme Industries"
        ),
        metadata={"deal_id": f"D-{key}"},
    )


def legal(quorum: Quorum = Quorum.ANY, **extra: object) -> ApprovalStageSpec:
    approvers = ["alice@example.com", "bob@example.com"]
    return ApprovalStageSpec(name="legal", approvers=approvers, quorum=quorum, **extra)  # type: ignore[arg-type]


def master_data_batch(prefix: str = "SKU", version: int = 1) -> dict[str, object]:
    """A PIM batch for `POST /v1/master-data/PIM/records` (or `docflow content master-data
    push`): two valid products and one the mapping refuses with every reason."""

    def product(number: int, **fields: object) -> dict[str, object]:
        return {
            "record_type": "product",
            "record_id": f"{prefix}-{number}",
            "version": version,
            "fields": {
                "sku": f"{prefix}-{number}",
                "name": f"Trail shoe {number}",
                "price": 99.0 + number,
                "currency": "EUR",
                "stock": 10 * number,
                "categories": ["shoes", "outdoor"],
                **fields,
            },
        }

    invalid = product(3, sku="sku 3", price=-5, currency="JPY")
    invalid_fields = invalid["fields"]
    assert isinstance(invalid_fields, dict)
    del invalid_fields["name"]
    return {"records": [product(1), product(2), invalid]}
