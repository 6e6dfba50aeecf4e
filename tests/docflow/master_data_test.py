"""Master data mapping (`master-data.json`): a valid record becomes its Amplience item; an
invalid one is refused with every reason; the schema refuses mappings that break the ledger."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from devstack.samples import master_data_batch
from docflow.config.bundle import load_bundle
from docflow.config.master_data import MasterData, RecordTypeMapping, validate_record
from docflow.models.master_data import MasterDataRecord

PRODUCT = {
    "sku": "SKU-1001",
    "name": "Trail shoe",
    "price": 129.5,
    "currency": "EUR",
    "stock": 12,
    "categories": ["shoes", "outdoor"],
}


@pytest.fixture(scope="module")
def config() -> MasterData:
    return load_bundle(check_secrets=False).get(MasterData)


def record(fields: dict[str, Any], **overrides: Any) -> MasterDataRecord:
    values: dict[str, Any] = {
        "source": "PIM",
        "record_type": "product",
        "record_id": "SKU-1001",
        "version": 1,
        "fields": fields,
    }
    return MasterDataRecord.model_validate(values | overrides)


def test_a_valid_product_becomes_its_item(config: MasterData) -> None:
    verdict = validate_record(config, record(PRODUCT), config_version="v1")
    assert verdict.accepted and not verdict.reasons and verdict.config_version == "v1"
    draft = verdict.draft
    assert draft is not None
    assert draft.label == "Trail shoe (SKU-1001)"
    assert draft.delivery_key == "md/PIM/product/SKU-1001"
    assert draft.schema_uri == "https://schema.docflow.example/product.json"
    assert draft.repository_id == "5b32377b4cedfd01c4503691"
    assert draft.publish is True
    assert draft.body == {
        "_meta": {
            "schema": "https://schema.docflow.example/product.json",
            "name": "Trail shoe (SKU-1001)",
            "deliveryKey": "md/PIM/product/SKU-1001",
        },
        **PRODUCT,
    }


def test_body_fields_are_renamed_by_the_mapping(config: MasterData) -> None:
    fields = {"title": "Kilogram", "code": "KG", "kind": "unit", "text": "SI unit of mass"}
    verdict = validate_record(
        config, record(fields, source="ERP", record_type="reference", record_id="KG")
    )
    assert verdict.draft is not None
    body = verdict.draft.body
    assert body["description"] == "SI unit of mass" and "text" not in body
    assert verdict.draft.delivery_key == "md/ERP/reference/KG" and not verdict.draft.publish


def test_an_invalid_record_is_refused_with_every_reason(config: MasterData) -> None:
    bad = {
        "sku": "sku 1",  # pattern
        "price": -3,  # min
        "currency": "JPY",  # enum
        "stock": 1.5,  # integer
        "active": "yes",  # boolean
        "categories": ["a", 2] + ["x"] * 20,  # item type, too many
        "colour": "red",  # unknown
    }  # and name missing
    verdict = validate_record(config, record(bad, record_id="bad id!"))
    assert not verdict.accepted and verdict.draft is None
    assert verdict.reasons == [
        "record_id 'bad id!' must be 1-100 characters of A-Za-z0-9_-",
        "sku does not match ^[A-Z0-9-]+$",
        "name is required",
        "price is -3, less than 0",
        "currency is 'JPY', not one of: EUR, USD, GBP",
        "stock must be an integer",
        "active must be a boolean",
        "categories has 22 items, at most 20 allowed",
        "categories[1] must be a string",
        "unknown fields: colour",
        "delivery key 'md/PIM/product/bad id!' is not 1-150 characters of A-Za-z0-9-_/",
    ]


def test_unknown_sources_and_types_are_refused(config: MasterData) -> None:
    assert validate_record(config, record(PRODUCT, source="CRM")).reasons == [
        "source 'CRM' sends no master data here (known: ERP, PIM)"
    ]
    assert validate_record(config, record(PRODUCT, record_type="price")).reasons == [
        "record type 'price' is not mapped for PIM (known: product)"
    ]


def test_too_long_strings_and_records_are_refused(config: MasterData) -> None:
    verdict = validate_record(config, record({**PRODUCT, "description": "x" * 4001}))
    assert verdict.reasons == ["description is longer than 4000 characters"]
    huge = validate_record(config, record({**PRODUCT, "description": "x" * 70_000}))
    assert huge.reasons[0].startswith("the fields are 70")
    assert huge.reasons[0].endswith("bytes as JSON, at most 65536")


def test_a_delivery_key_must_be_stable_per_record() -> None:
    base: dict[str, Any] = {
        "schema_uri": "https://schema.docflow.example/product.json",
        "repository_id": "r",
        "label": "{name}",
        "fields": {"name": {"type": "string"}},
    }
    with pytest.raises(ValidationError, match="delivery_key may use"):
        RecordTypeMapping.model_validate(base | {"delivery_key": "md/{name}/{record_id}"})
    with pytest.raises(ValidationError, match="must contain"):
        RecordTypeMapping.model_validate(base | {"delivery_key": "md/{source}"})
    with pytest.raises(ValidationError, match="label names fields"):
        RecordTypeMapping.model_validate(base | {"label": "{title}"})
    with pytest.raises(ValidationError, match="docflow's"):
        RecordTypeMapping.model_validate(
            base | {"fields": {"name": {"type": "string", "body_field": "_meta"}}}
        )


def test_the_demo_batch_has_exactly_one_refused_record(config: MasterData) -> None:
    batch = master_data_batch()["records"]
    assert isinstance(batch, list)
    verdicts = [validate_record(config, MasterDataRecord(source="PIM", **r)) for r in batch]
    assert [v.accepted for v in verdicts] == [True, True, False]
    assert len(verdicts[2].reasons) == 4
