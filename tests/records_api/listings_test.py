"""Records listings: filters, cursor paging, CSV export, scope and per-object authorization."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from docflow.models.records import AuditRecord, ProcessRow
from docflow.records.store import RecordStore
from starter.api.routes import records as records_routes
from tests.records_api.conftest import SFDC_PROCESSES, auth, sfdc_key

PROCESSES = "/v1/records/processes"
SFDC_KEYS = {sfdc_key(n) for n in range(SFDC_PROCESSES)} | {"p-sfdc-doc"}
SAP_KEYS = {f"p-sap-{n}" for n in range(3)}


async def keys_of(api: httpx.AsyncClient, who: str, **params: Any) -> list[str]:
    response = await api.get(PROCESSES, params={"limit": 500, **params}, headers=auth(who))
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return [item["process_key"] for item in response.json()["items"]]


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_credentials_and_the_records_scope_are_required(api: httpx.AsyncClient) -> None:
    anonymous = await api.get(PROCESSES)
    no_scope = await api.get(PROCESSES, headers=auth("ops"))

    assert anonymous.status_code == 401
    assert no_scope.status_code == 403
    assert no_scope.json()["error"] == {
        "code": "insufficient_scope",
        "message": "ops@example.com lacks scope records:read",
    }


async def test_each_caller_sees_its_source_systems_only(api: httpx.AsyncClient) -> None:
    assert set(await keys_of(api, "crm")) == SFDC_KEYS
    assert set(await keys_of(api, "erp")) == SAP_KEYS
    assert set(await keys_of(api, "auditor")) == SFDC_KEYS | SAP_KEYS
    assert await keys_of(api, "alice") == []  # a person without source systems: nothing
    # Asking for another system's records does not widen the scope.
    assert await keys_of(api, "crm", source_system="SAP") == []


async def test_filters_combine(api: httpx.AsyncClient) -> None:
    closed = await keys_of(api, "crm", outcome="closed")
    reviews = await keys_of(api, "crm", process_type="review", outcome="open")
    both_types = await keys_of(api, "auditor", process_type=["invoice", "review"])
    states = await keys_of(api, "crm", state=["archived", "completed"])
    by_key = await keys_of(api, "crm", business_key="BK-p-sfdc-03")
    recent = await keys_of(
        api, "crm", started_from="2026-11-12T12:00:00", started_to="2026-11-14T12:00:00Z"
    )

    assert set(closed) == {sfdc_key(n) for n in range(0, SFDC_PROCESSES, 3)} | {"p-sfdc-doc"}
    assert set(reviews) == {sfdc_key(n) for n in range(1, SFDC_PROCESSES, 2) if n % 3}
    assert set(both_types) == SAP_KEYS | {sfdc_key(n) for n in range(1, SFDC_PROCESSES, 2)}
    assert set(states) == set(closed)
    assert by_key == [sfdc_key(3)]
    # Started NOW - (40 - n) days: from inclusive, to exclusive (no zone is UTC).
    assert set(recent) == {sfdc_key(21), sfdc_key(22)}


@pytest.mark.parametrize("order", ["updated", "started"])
async def test_the_cursor_pages_through_everything_once(api: httpx.AsyncClient, order: str) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5, "order": order}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get(PROCESSES, params=params, headers=auth("crm"))).json()
        seen += [item["process_key"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 5
    assert len(seen) == len(set(seen)) and set(seen) == SFDC_KEYS
    rows = [await api.get(f"{PROCESSES}/{key}", headers=auth("crm")) for key in seen[:2]]
    field = "updated_at" if order == "updated" else "started_at"
    assert rows[0].json()["process"][field] >= rows[1].json()["process"][field]


async def test_csv_export_streams_every_page(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records_routes, "EXPORT_PAGE", 4)

    by_format = await api.get(PROCESSES, params={"format": "csv"}, headers=auth("crm"))
    by_accept = await api.get(PROCESSES, headers={**auth("crm"), "Accept": "text/csv"})

    assert by_format.status_code == 200
    assert by_format.headers["content-type"].startswith("text/csv")
    disposition = by_format.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="docflow-processes-')
    header = by_format.text.splitlines()[0].split(",")
    assert header == list(ProcessRow.model_fields)
    rows = csv_rows(by_format)
    assert {row["process_key"] for row in rows} == SFDC_KEYS  # every page, no SAP row
    assert len(rows) == len(SFDC_KEYS)
    assert csv_rows(by_accept) == rows
    seven = next(row for row in rows if row["process_key"] == sfdc_key(7))
    assert seven["document_name"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert seven["closed"] == "false" and seven["started_at"].startswith("2026-")
    # An explicit format=json wins over the Accept header.
    as_json = await api.get(
        PROCESSES, params={"format": "json"}, headers={**auth("crm"), "Accept": "text/csv"}
    )
    assert as_json.json()["items"]


async def test_csv_export_is_bounded(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records_routes, "EXPORT_PAGE", 4)
    monkeypatch.setattr(records_routes, "MAX_EXPORT_ROWS", 10)

    export = await api.get(PROCESSES, params={"format": "csv"}, headers=auth("auditor"))

    assert len(csv_rows(export)) == 10


async def test_audit_and_approvals_listings_and_exports(api: httpx.AsyncClient) -> None:
    crm_approvals = (await api.get("/v1/records/approvals", headers=auth("crm"))).json()
    all_approvals = (await api.get("/v1/records/approvals", headers=auth("auditor"))).json()
    audit_page = await api.get(
        "/v1/records/audit", params={"limit": 3, "source_system": "SFDC"}, headers=auth("auditor")
    )
    audit_csv = await api.get(
        "/v1/records/audit",
        params={"format": "csv", "business_key": "BK-p-sfdc-doc"},
        headers=auth("crm"),
    )
    sap_audit = await api.get("/v1/records/audit", params={"format": "csv"}, headers=auth("erp"))

    assert [(a["actor"], a["decision"]) for a in crm_approvals["items"]] == [
        ("alice@example.com", "approve")
    ]
    assert len(all_approvals["items"]) == 4
    assert len(audit_page.json()["items"]) == 3 and audit_page.json()["next_cursor"]
    rows = csv_rows(audit_csv)
    assert list(rows[0]) == list(AuditRecord.model_fields)
    assert [row["kind"] for row in rows] == ["started", "decision", "hold_applied"]
    assert rows[2]["data"] == '{"hold": "litigation-2026-7"}'
    assert {row["process_key"] for row in csv_rows(sap_audit)} == SAP_KEYS


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyJ4Il0"}, "cursor"),  # base64 JSON of the wrong shape
        ({"started_from": "yesterday"}, "started_from"),
        ({"updated_from": "2026-12-02", "updated_to": "2026-12-01"}, "updated_from is after"),
        ({"outcome": "maybe"}, "outcome"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"order": "name"}, "order"),
        ({"state": ["s"] * 31}, "state"),
        ({"document_node_id": "x"}, "document_node_id"),
        ({"sort": "name"}, "sort"),  # unknown parameters are refused, not ignored
    ],
)
async def test_malformed_parameters_are_422(
    api: httpx.AsyncClient, params: dict[str, Any], complaint: str
) -> None:
    response = await api.get(PROCESSES, params=params, headers=auth("crm"))
    export = await api.get(PROCESSES, params={**params, "format": "csv"}, headers=auth("crm"))

    for refused in (response, export):
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "invalid_request"
        assert complaint in refused.json()["error"]["message"]


async def test_an_empty_export_still_has_its_header(api: httpx.AsyncClient) -> None:
    export = await api.get(PROCESSES, params={"format": "csv"}, headers=auth("alice"))

    assert export.status_code == 200
    assert export.text == ",".join(ProcessRow.model_fields) + "\r\n"


async def test_an_unreachable_records_database_is_503(
    app: FastAPI, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    app.state.records_store = RecordStore(f"sqlite:///{tmp_path / 'missing' / 'records.db'}")

    down = await api.get(PROCESSES, headers=auth("crm"))

    assert down.status_code == 503
    assert down.headers["Retry-After"].isdigit()
    assert down.json()["error"]["code"] == "records_unavailable"


async def test_a_cursor_of_another_listing_is_422(api: httpx.AsyncClient) -> None:
    page = await api.get(PROCESSES, params={"limit": 2}, headers=auth("crm"))
    cursor = page.json()["next_cursor"]

    other_order = await api.get(
        PROCESSES, params={"cursor": cursor, "order": "started"}, headers=auth("crm")
    )
    other_listing = await api.get(
        "/v1/records/audit", params={"cursor": cursor}, headers=auth("crm")
    )

    for refused in (other_order, other_listing):
        assert refused.status_code == 422
        assert refused.json()["error"]["message"].startswith("cursor: not one this API returned")
