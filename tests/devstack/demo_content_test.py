"""The content demo's pure parts: reading the webhook target's deliveries and Amplience's
states into the evidence its steps print, and the products route from the dev bundle."""

from __future__ import annotations

from typing import Any

from devstack.demo_content import (
    PRODUCT_SCHEMA,
    REFUSING_TARGET,
    accepted_versions,
    refusals_text,
    state_label,
    versions_text,
)
from devstack.distribution import distribution, endpoint_name
from docflow.settings import Settings


def message(endpoint: str, item_id: str, version: int) -> dict[str, Any]:
    return {"endpoint": endpoint, "payload": {"data": {"item_id": item_id, "version": version}}}


def test_accepted_versions_are_the_items_own_per_endpoint_in_order() -> None:
    deliveries = [
        message("erp-catalogue", "item-1", 6),
        message("partner-portal", "item-1", 6),
        message("partner-portal", "item-1", 2),
        message("partner-portal", "item-2", 3),  # another item
        {"endpoint": "b2b-network", "payload": {"data": {}}},  # not an item message
    ]
    accepted = accepted_versions(deliveries, "item-1")
    assert accepted == {"erp-catalogue": [6], "partner-portal": [2, 6]}
    text = versions_text(accepted, ["partner-portal", "erp-catalogue", "b2b-network"])
    assert text == "partner-portal v2+v6, erp-catalogue v6, b2b-network —"


def test_a_state_is_shown_by_its_label() -> None:
    states = [{"id": "a1", "label": "Approved"}, {"id": "f4", "label": "Integration failed"}]
    assert state_label(states, "f4") == "Integration failed"
    assert state_label(states, "zz") == "zz"
    assert state_label(states, None) == "none"


def test_only_refused_records_are_listed_with_every_reason() -> None:
    results = [
        {"record_id": "SKU-1", "outcome": "accepted", "reasons": []},
        {"record_id": "SKU-3", "outcome": "refused", "reasons": ["name is required", "price"]},
    ]
    assert refusals_text(results) == "SKU-3: name is required; price"


def test_the_dev_bundle_routes_products_to_three_targets_one_of_them_the_refusing_one() -> None:
    config = distribution(Settings())
    route = next(r for r in config.routes if PRODUCT_SCHEMA in r.match.schemas)
    assert len(route.targets) == 3 and REFUSING_TARGET in route.targets
    assert endpoint_name(config.targets[REFUSING_TARGET].endpoint) == "erp-catalogue"
