"""`ecm-events.json`: who is subscribed to what, which rules act on which events, the checks a
bundle must pass (event types, hosts, rules naming known systems), and the production guard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from docflow.config.bundle import BundleError, load_bundle
from docflow.config.ecm_events import EcmEvents, EventSubject
from docflow.models.ecm_events import EcmEvent, EcmNode, audit_instant

ROOT = Path(__file__).resolve().parents[2]
DEV = EcmEvents.load(ROOT / "config/dev/ecm-events.json")


def subject(event_type: str, name: str = "Delivery note.pdf", **where: Any) -> EventSubject:
    return EventSubject(event_type=event_type, node_id=1, name=name, **where)


def test_subscribers_get_the_event_types_they_asked_for() -> None:
    assert DEV.subscribers_for(subject("node.approved")) == ["erp-finance", "project-portal"]
    assert DEV.subscribers_for(subject("node.hold_applied")) == ["project-portal"]
    assert DEV.subscribers_for(subject("workspace.created")) == ["project-portal"]
    assert DEV.operational_subscribers("endpoint.disabled") == ["ops-events"]


def test_filters_narrow_a_subscription_by_workspace_and_folder() -> None:
    data = json.loads((ROOT / "config/dev/ecm-events.json").read_text())
    data["subscriptions"]["erp-finance"]["filter"] = {"bo_types": ["Supplier"], "folders": [7]}
    config = EcmEvents.model_validate(data)
    supplier = {"bo_type": "Supplier", "parent_id": 7}
    assert "erp-finance" in config.subscribers_for(subject("node.approved", **supplier))
    other = {"bo_type": "Account", "parent_id": 7}
    assert "erp-finance" not in config.subscribers_for(subject("node.approved", **other))
    assert "erp-finance" not in config.subscribers_for(subject("node.approved"))


def test_lifecycle_rules_match_by_event_and_name() -> None:
    def rules(event_type: str, name: str) -> list[str]:
        return [r.id for r in DEV.triggers_for(subject(event_type, name))]

    assert rules("node.approved", "INV-2026-0042.pdf") == ["invoice-final-approval"]
    assert rules("node.approved", "Supply contract V-1.pdf") == ["contract-activation"]
    assert rules("node.approved", "PR-77.pdf") == ["procurement-release"]
    assert rules("node.version_added", "INV-2026-0042.pdf") == []
    # The legal-review rule also needs the document's status: the planning reads it.
    [rule] = DEV.triggers_for(subject("node.categories_updated", "Draft.docx"))
    assert rule.id == "commercial-approval" and rule.when.category is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"accept": ["node.moved"]}, "unknown event types"),
        (
            {
                "subscriptions": {
                    "x": {
                        "endpoint": "https://evil.example/x",
                        "secret": "env:S",
                        "allowed_hosts": ["hooks.example.com"],
                        "event_types": ["node.approved"],
                    }
                }
            },
            "not in allowed_hosts",
        ),
        (
            {
                "subscriptions": {
                    "x": {
                        "endpoint": "https://hooks.example.com/x",
                        "secret": "env:S",
                        "allowed_hosts": ["hooks.example.com"],
                        "event_types": ["node.deleted"],
                    }
                }
            },
            "unknown ['node.deleted']",
        ),
        ({"ordering": {"hold_s": -1}}, "greater than or equal to 0"),
    ],
)
def test_invalid_files_are_refused_with_the_field(change: dict[str, Any], message: str) -> None:
    data = json.loads((ROOT / "config/dev/ecm-events.json").read_text())
    data.update(change)
    with pytest.raises(ValidationError) as refused:
        EcmEvents.model_validate(data)
    assert message in str(refused.value)


def test_a_rule_naming_an_unknown_system_is_a_cross_reference_error(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "config" / "dev", tmp_path / "dev")
    data = json.loads((tmp_path / "dev/ecm-events.json").read_text())
    data["triggers"][0]["action"]["system"] = "ORACLE"
    data["triggers"].append(data["triggers"][1])
    (tmp_path / "dev/ecm-events.json").write_text(json.dumps(data))
    with pytest.raises(BundleError) as refused:
        load_bundle("dev", tmp_path, check_secrets=False)
    problems = {(p.file, p.path) for p in refused.value.problems}
    assert problems == {
        ("ecm-events.json", "triggers[0].action.system"),
        ("ecm-events.json", "triggers[4].id"),
    }


def test_a_non_production_bundle_naming_a_production_subscriber_is_refused(
    tmp_path: Path,
) -> None:
    for profile in ("dev", "prod"):
        shutil.copytree(ROOT / "config" / profile, tmp_path / profile)
    load_bundle("dev", tmp_path, check_secrets=False)  # as shipped: clean
    data = json.loads((tmp_path / "dev/ecm-events.json").read_text())
    data["subscriptions"]["erp-finance"]["endpoint"] = "https://hooks.example.com/docflow/erp"
    data["subscriptions"]["erp-finance"]["allowed_hosts"].append("hooks.example.com")
    (tmp_path / "dev/ecm-events.json").write_text(json.dumps(data))
    with pytest.raises(BundleError) as refused:
        load_bundle("dev", tmp_path, check_secrets=False)
    problems = {(p.file, p.path) for p in refused.value.problems}
    assert problems == {("ecm-events.json", "subscriptions.erp-finance.endpoint")}
    assert "must never deliver to production" in str(refused.value)


def test_an_event_is_the_same_whichever_path_brought_it() -> None:
    """(node, type, version) for versions and approvals, (node, type) for a creation, the
    audit date to the second otherwise — as the webhook and the audit trail both carry it."""

    def event(kind: str, date: str, version: int | None) -> EcmEvent:
        return EcmEvent(
            type=kind,
            node=EcmNode(id=9, version=version),
            audit_date=audit_instant(date),
            received_at="2026-12-07T10:00:00Z",  # type: ignore[arg-type]
        )

    webhook = event("node.version_added", "2026-12-07T10:00:01Z", 3)
    poller = event("node.version_added", "2026-12-07T10:00:01", 3)  # the API's naive UTC
    assert webhook.key == poller.key == "9:node.version_added:v3"
    assert event("node.version_added", "2026-12-07T10:00:01Z", 4).key != webhook.key
    assert event("node.created", "2026-12-07T10:00:00Z", 1).key == "9:node.created"
    held = event("node.hold_applied", "2026-12-07T10:00:01.734+00:00", None)
    assert held.key == "9:node.hold_applied:2026-12-07T10:00:01Z"
