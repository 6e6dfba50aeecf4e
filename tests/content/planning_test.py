"""Content distribution without Temporal: the bundle's rules, the production guard, the
receiver's classification of Amplience webhooks and the plan of one item version."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from activities.amplience.distribution import delivery_key, payload_digest, plan_for
from activities.amplience.models import ContentItem
from docflow.config.bundle import BundleError, load_bundle
from docflow.config.distribution import ContentDistribution, RoutedItem, map_fields
from docflow.models.content import PlanDistributionInput
from starter.processes.content import approval_of

ROOT = Path(__file__).resolve().parents[2]
APPROVED = "5f1a0c1e2b3c4d5e6f700002"
DRAFT = "5f1a0c1e2b3c4d5e6f700001"
PRODUCT = "https://schema.docflow.example/product.json"
WORKFLOW_UPDATED = "dynamic-content.content-item.workflow.updated"
NOW = datetime(2026, 12, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def config() -> ContentDistribution:
    return ContentDistribution.load(ROOT / "tests/config/local/content-distribution.json")


def item(body: dict[str, Any], *, state: str = APPROVED, version: int = 3) -> ContentItem:
    return ContentItem.model_validate(
        {
            "id": "item-1",
            "version": version,
            "label": "Trail shoe",
            "locale": "en-GB",
            "body": {"_meta": {"schema": PRODUCT}, **body},
            "workflow": {"state": state},
        }
    )


FULL = {"sku": "TS-1", "title": "Trail shoe", "price": 99.5, "currency": "EUR"}


def plan(config: ContentDistribution, content: ContentItem, event: str = WORKFLOW_UPDATED):
    request = PlanDistributionInput(item_id=content.id, version=content.version, event_name=event)
    return plan_for(config, content, request, config_version="v1")


def test_a_product_goes_to_three_targets_and_two_channels(config: ContentDistribution) -> None:
    result = plan(config, item(FULL))
    assert result.confirmed and result.route == "products"
    assert [m.target for m in result.messages] == [
        "PARTNER_PORTAL",
        "ERP_CATALOGUE",
        "B2B_NETWORK",
        "SUPPLIER_PORTAL",
        "ORDER_MANAGEMENT",
    ]
    erp = next(m for m in result.messages if m.target == "ERP_CATALOGUE")
    assert (
        erp.idempotency_key
        == "item-1:3:ERP_CATALOGUE"
        == delivery_key("item-1", 3, "ERP_CATALOGUE")
    )
    assert erp.payload["content"] == {
        "catalog": "B2B-EU",
        "material": "TS-1",
        "name": "Trail shoe",
        "price": 99.5,
        "currency": "EUR",
        "contentVersion": 3,
    }
    assert erp.payload_sha256 == payload_digest(erp.payload)
    channel = next(m for m in result.messages if m.target == "SUPPLIER_PORTAL")
    assert channel.kind == "channel" and channel.payload["targets"][0] == "PARTNER_PORTAL"
    assert not result.refused


def test_a_target_whose_mapping_lacks_a_field_is_refused_with_the_reason(
    config: ContentDistribution,
) -> None:
    result = plan(config, item({"sku": "TS-1", "title": "Trail shoe"}))  # no price
    assert [r.target for r in result.refused] == ["ERP_CATALOGUE"]
    assert result.refused[0].reasons == ["price is required (from body.price)"]
    assert "ERP_CATALOGUE" not in {m.target for m in result.messages}
    assert {"PARTNER_PORTAL", "B2B_NETWORK"} <= {m.target for m in result.messages}


def test_a_version_not_in_the_approval_state_is_not_distributed(
    config: ContentDistribution,
) -> None:
    result = plan(config, item(FULL, state=DRAFT))
    assert not result.confirmed and not result.messages
    assert "Approved" in result.why_not


def test_an_unrouted_type_is_confirmed_but_goes_nowhere(config: ContentDistribution) -> None:
    other = item(FULL)
    other.body["_meta"]["schema"] = "https://schema.docflow.example/recipe.json"
    result = plan(config, other)
    assert result.confirmed and result.route is None and not result.messages
    assert "recipe.json" in result.why_not


def test_an_oversized_item_is_refused_for_every_target(config: ContentDistribution) -> None:
    result = plan(config, item({**FULL, "description": "x" * (config.max_item_bytes + 1)}))
    assert {r.target for r in result.refused} == {"PARTNER_PORTAL", "ERP_CATALOGUE", "B2B_NETWORK"}
    assert "over the" in result.refused[0].reasons[0]


def test_routes_match_on_label_locale_and_folder(config: ContentDistribution) -> None:
    narrowed = config.model_copy(deep=True)
    narrowed.routes[0].match.labels = ["PROMO-*"]
    narrowed.routes[0].match.locales = ["de-DE"]
    routed = RoutedItem(item_id="i", version=1, label="PROMO-shoe", schema_uri=PRODUCT)
    assert narrowed.route(routed.model_copy(update={"locale": "de-DE"})) is not None
    assert narrowed.route(routed.model_copy(update={"locale": "en-GB"})) is None
    assert narrowed.route(routed.model_copy(update={"label": "shoe", "locale": "de-DE"})) is None


def test_map_fields_lists_every_missing_field(config: ContentDistribution) -> None:
    payload, problems = map_fields(config.mappings["erp-catalogue"], {"body": {}, "version": 2})
    assert payload == {"catalog": "B2B-EU", "contentVersion": 2}
    assert len(problems) == 3


# ------------------------------------------------------------------ the receiver's view
def envelope(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"id": "evt-1", "name": name, "payload": payload}


def test_workflow_update_into_the_approval_state_is_an_approval(
    config: ContentDistribution,
) -> None:
    approvals, why = approval_of(
        config,
        envelope(WORKFLOW_UPDATED, {"id": "item-1", "version": 4, "workflow": {"state": APPROVED}}),
        NOW,
    )
    assert why == "" and [(a.item_id, a.version, a.event_id) for a in approvals] == [
        ("item-1", 4, "evt-1")
    ]


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        (
            WORKFLOW_UPDATED,
            {"id": "i", "version": 4, "workflow": {"state": DRAFT}},
            "not 'Approved'",
        ),
        ("dynamic-content.content-item.updated", {"id": "i", "version": 4}, "not an approval"),
        ("dynamic-content.snapshot.published", {"rootContentItem": {"id": "i"}}, "not an approval"),
        (WORKFLOW_UPDATED, [], "no payload"),
    ],
)
def test_other_events_are_ignored_with_the_reason(
    config: ContentDistribution, name: str, payload: Any, reason: str
) -> None:
    approvals, why = approval_of(config, envelope(name, payload), NOW)
    assert approvals == [] and reason in why


def test_a_published_snapshot_approves_its_root_item_where_configured(
    config: ContentDistribution,
) -> None:
    publishing = config.model_copy(deep=True)
    publishing.approval.snapshot_published = True
    approvals, _ = approval_of(
        publishing,
        envelope("dynamic-content.snapshot.published", {"rootContentItem": {"id": "item-9"}}),
        NOW,
    )
    assert [(a.item_id, a.version) for a in approvals] == [("item-9", None)]


# ------------------------------------------------------------------ the production guard
def test_a_test_bundle_naming_a_production_target_or_hub_is_refused(tmp_path: Path) -> None:
    for profile in ("dev", "prod"):
        shutil.copytree(ROOT / "config" / profile, tmp_path / profile)
    load_bundle("dev", tmp_path, check_secrets=False)  # as shipped: clean
    leaky = json.loads((tmp_path / "dev/content-distribution.json").read_text())
    leaky["targets"]["ERP_CATALOGUE"]["endpoint"] = "https://partners.example.com/docflow/erp"
    leaky["targets"]["ERP_CATALOGUE"]["allowed_hosts"].append("partners.example.com")
    (tmp_path / "dev/content-distribution.json").write_text(json.dumps(leaky))
    settings = (tmp_path / "dev/settings.toml").read_text()
    settings = settings.replace(
        'hub_id = "5b32377e4cedfd01c45036d8"', 'hub_id = "REPLACE-PROD-HUB-ID"'
    )
    (tmp_path / "dev/settings.toml").write_text(settings)
    with pytest.raises(BundleError) as refused:
        load_bundle("dev", tmp_path, check_secrets=False)
    problems = {(p.file, p.path) for p in refused.value.problems}
    assert problems == {
        ("content-distribution.json", "targets.ERP_CATALOGUE.endpoint"),
        ("settings.toml", "amplience.hub_id"),
    }
    assert "must never deliver to production" in str(refused.value)


def test_the_bundle_checks_routes_name_known_targets_of_the_right_kind(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "config" / "dev", tmp_path / "dev")
    broken = json.loads((tmp_path / "dev/content-distribution.json").read_text())
    broken["routes"][0]["targets"].append("NOWHERE")
    broken["routes"][0]["notify"].append("PARTNER_PORTAL")
    (tmp_path / "dev/content-distribution.json").write_text(json.dumps(broken))
    with pytest.raises(BundleError) as refused:
        load_bundle("dev", tmp_path, check_secrets=False)
    messages = [p.message for p in refused.value.problems]
    assert "no target 'NOWHERE'" in messages
    assert "'PARTNER_PORTAL' is a target, not a channel" in messages
