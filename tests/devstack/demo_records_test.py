"""The records demo's pure parts, and that its fixed names agree with the dev bundle and the
signing samples."""

from __future__ import annotations

import httpx

from devstack.demo_records import (
    INBOX,
    INBOX_PATH,
    SUPPLIER,
    counts_by_type,
    error_code,
    etag_sha,
)
from devstack.samples import sample_request
from docflow.config.bundle import load_bundle
from docflow.config.read_access import ReadAccess
from docflow.models.records import business_object_key
from docflow.settings import DEFAULT_CONFIG_DIR


def test_figures_are_summed_per_process_type() -> None:
    by_state = [
        {"key": "signing/completed", "count": 9},
        {"key": "signing/rejected", "count": 1},
        {"key": "ecm_events/relaying", "count": 2},
    ]
    assert counts_by_type(by_state) == {"signing": 10, "ecm_events": 2}


def test_the_etag_is_read_as_the_bare_hash() -> None:
    assert etag_sha(httpx.Headers({"ETag": '"abc"'})) == "abc"
    assert etag_sha(httpx.Headers({"ETag": 'W/"abc"'})) == "abc"
    assert etag_sha(httpx.Headers()) == ""


def test_the_error_code_is_read_from_the_apis_error_shape() -> None:
    refused = httpx.Response(403, json={"error": {"code": "wrong_party", "message": "no"}})
    assert error_code(refused) == "wrong_party"
    assert error_code(httpx.Response(403, text="nope")) == ""
    assert error_code(httpx.Response(403, json=["x"])) == ""


def test_the_demos_supplier_inbox_and_customer_are_the_dev_bundles() -> None:
    access = load_bundle("dev", DEFAULT_CONFIG_DIR, check_secrets=False).get(ReadAccess)
    acme, auditor = access.party("acme-supplies"), access.party("kpmg-audit")
    assert acme is not None and auditor is not None
    inbox = acme.inbox_named(INBOX)
    assert inbox is not None and inbox.business_object is not None
    assert inbox.business_object.key == business_object_key(*SUPPLIER)
    assert inbox.folder_path == INBOX_PATH
    assert business_object_key(*SUPPLIER) in acme.entitlements.business_object_keys
    sample = sample_request("K", stages=[])
    target = sample.workspace
    customer = business_object_key(target.ext_system_id, target.bo_type, target.bo_id)
    assert customer in auditor.entitlements.business_object_keys
    assert sample.document_type in auditor.entitlements.document_types
