"""read-access.json: every environment's file validates; mistakes are refused by name."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from docflow.config.bundle import load_bundle
from docflow.config.read_access import Entitlements, ReadAccess
from docflow.models.records import ApprovedVersion


@pytest.mark.parametrize("profile", ["dev", "test", "prod"])
def test_every_environment_has_a_valid_read_access_file(profile: str) -> None:
    from docflow.settings import DEFAULT_CONFIG_DIR

    bundle = load_bundle(profile, DEFAULT_CONFIG_DIR, check_secrets=False)
    access = bundle.get(ReadAccess)
    assert access.links.default_ttl.days == 7 and access.links.max_ttl.days == 30
    assert access.party_of("party:acme-supplies") is not None


def _file(**changes: Any) -> dict[str, Any]:
    party = {
        "id": "acme",
        "kind": "supplier",
        "name": "ACME",
        "inboxes": [{"workspace_id": 1, "folder_id": 2}],
    }
    return {"version": "1", "environment": "local", "parties": [party], **changes}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"links": {"default_ttl": "P31D", "max_ttl": "P30D"}}, "longer than max_ttl"),
        (
            {
                "parties": [
                    {"id": "a", "kind": "supplier", "name": "A"},
                    {"id": "a", "kind": "auditor", "name": "B"},
                ]
            },
            "unique",
        ),
        (
            {
                "parties": [
                    {"id": "a", "kind": "supplier", "name": "A", "subject": "x"},
                    {"id": "b", "kind": "auditor", "name": "B", "subject": "X"},
                ]
            },
            "own subject",
        ),
        (
            {
                "parties": [
                    {
                        "id": "a",
                        "kind": "supplier",
                        "name": "A",
                        "inboxes": [
                            {"workspace_id": 1, "folder_id": 2, "required_metadata": {"x": 1}}
                        ],
                    }
                ]
            },
            "need a category_id",
        ),
        ({"parties": [{"id": "A B", "kind": "supplier", "name": "A"}]}, "pattern"),
        (
            {
                "parties": [
                    {
                        "id": "a",
                        "kind": "supplier",
                        "name": "A",
                        "inboxes": [
                            {
                                "workspace_id": 1,
                                "folder_id": 2,
                                "category_id": 9,
                                "required_metadata": {"Bad Field": 1},
                            }
                        ],
                    }
                ]
            },
            "pattern",
        ),
        ({"parties": [{"id": "a", "kind": "vendor", "name": "A"}]}, "supplier"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_mistakes_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ReadAccess.model_validate(_file(**changes))


def test_entitlements_need_place_and_type() -> None:
    rules = Entitlements(workspace_ids=[1], folder_ids=[9], document_types=["contract"])

    def version(**fields: Any) -> ApprovedVersion:
        return ApprovedVersion.model_validate(
            {"source": "ecm", "object_id": "1", "version": 1, "approved_at": "2026-01-01T00:00Z"}
            | fields
        )

    assert rules.allows(version(workspace_id=1, document_type="contract"))
    assert rules.allows(version(workspace_id=5, folder_id=9, document_type="contract"))
    assert not rules.allows(version(workspace_id=1, document_type="invoice"))
    assert not rules.allows(version(workspace_id=2, document_type="contract"))
    assert not rules.allows(version(source="amplience", document_type="contract"))
    assert Entitlements(everything=True).allows(version())
