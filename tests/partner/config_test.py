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


_BO_INBOX: dict[str, Any] = {
    "name": "in",
    "business_object": {"ext_system_id": "SAP", "bo_type": "Supplier", "bo_id": "V-1"},
    "folder": "Inbox/From supplier",
}


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
        (
            {
                "parties": [
                    {
                        "id": "a",
                        "kind": "supplier",
                        "name": "A",
                        "inboxes": [_BO_INBOX | {"workspace_id": 1}],
                    }
                ]
            },
            "either workspace_id and folder_id",
        ),
        (
            {
                "parties": [
                    {
                        "id": "a",
                        "kind": "supplier",
                        "name": "A",
                        "inboxes": [{k: v for k, v in _BO_INBOX.items() if k != "folder"}],
                    }
                ]
            },
            "needs business_object and folder",
        ),
        (
            {
                "parties": [
                    {
                        "id": "a",
                        "kind": "supplier",
                        "name": "A",
                        "inboxes": [_BO_INBOX | {"folder": " / "}],
                    }
                ]
            },
            "a path of folder names",
        ),
        (
            {
                "parties": [
                    {
                        "id": "a",
                        "kind": "supplier",
                        "name": "A",
                        "inboxes": [_BO_INBOX, {"name": "in", "workspace_id": 1, "folder_id": 2}],
                    }
                ]
            },
            "inbox names must be unique",
        ),
        (
            {
                "parties": [
                    {
                        "id": "a",
                        "kind": "supplier",
                        "name": "A",
                        "entitlements": {
                            "business_objects": [{"ext_system_id": "SAP", "bo_type": "Supplier"}]
                        },
                    }
                ]
            },
            "bo_id",
        ),
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


def test_entitlements_by_business_object_match_the_approved_versions_key() -> None:
    rules = Entitlements.model_validate(
        {"business_objects": [{"ext_system_id": "SAP", "bo_type": "Supplier", "bo_id": "V-1001"}]}
    )

    def version(**fields: Any) -> ApprovedVersion:
        return ApprovedVersion.model_validate(
            {"source": "ecm", "object_id": "1", "version": 1, "approved_at": "2026-01-01T00:00Z"}
            | fields
        )

    assert rules.allows(version(business_object="SAP/Supplier/V-1001", workspace_id=77))
    assert not rules.allows(version(business_object="SAP/Supplier/V-1002"))
    assert not rules.allows(version(workspace_id=77))
    assert not rules.allows(version())  # an unknown business object is no match


def test_an_inbox_by_business_object_splits_its_folder_path() -> None:
    access = ReadAccess.model_validate(
        _file(
            parties=[
                {
                    "id": "a",
                    "kind": "supplier",
                    "name": "A",
                    "inboxes": [_BO_INBOX | {"folder": "Inbox/ From supplier /"}],
                }
            ]
        )
    )
    party = access.parties[0]
    inbox = party.inbox_named("in")
    assert inbox is not None and inbox.folder_path == ["Inbox", "From supplier"]
    assert inbox.business_object is not None
    assert inbox.business_object.key == "SAP/Supplier/V-1"
    assert party.inbox(1) is None and party.inbox_named("other") is None


def test_the_dev_bundle_names_the_demos_business_objects_not_node_ids() -> None:
    from docflow.settings import DEFAULT_CONFIG_DIR

    access = load_bundle("dev", DEFAULT_CONFIG_DIR, check_secrets=False).get(ReadAccess)
    acme, auditor = access.party("acme-supplies"), access.party("kpmg-audit")
    assert acme is not None and auditor is not None
    assert [b.key for b in acme.entitlements.business_objects] == ["SAP/Supplier/V-1001"]
    assert not acme.entitlements.workspace_ids and not acme.entitlements.folder_ids
    inbox = acme.inbox_named("supplier-inbox")
    assert inbox is not None and inbox.folder_path == ["Inbox", "From supplier"]
    assert [b.key for b in auditor.entitlements.business_objects] == ["SFDC/Account/0015g00000ACME"]
    assert auditor.entitlements.document_types == ["sales_contract"]
