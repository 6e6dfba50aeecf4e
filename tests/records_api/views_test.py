"""Records views: one process, one document, workspace or business object, the dashboard's
figures and the access log, each limited to what the caller may see."""

from __future__ import annotations

import csv
import io

import httpx

from tests.records_api.conftest import (
    DOCUMENT,
    HOLD,
    SAP_HOLD,
    SFDC_PROCESSES,
    WORKSPACE,
    auth,
    sfdc_key,
)


async def test_a_process_with_its_audit_trail_and_approvals(api: httpx.AsyncClient) -> None:
    found = await api.get("/v1/records/processes/p-sfdc-doc", headers=auth("crm"))

    assert found.status_code == 200
    record = found.json()
    assert record["process"]["state"] == "archived" and record["process"]["closed"] is True
    assert [a["kind"] for a in record["audit"]] == ["started", "decision", "hold_applied"]
    assert [a["decision"] for a in record["approvals"]] == ["approve"]
    assert record["truncated"] is False


async def test_another_systems_record_is_404_and_absent_everywhere(
    api: httpx.AsyncClient,
) -> None:
    theirs = await api.get("/v1/records/processes/p-sap-0", headers=auth("crm"))
    unknown = await api.get("/v1/records/processes/p-nowhere", headers=auth("crm"))
    own = await api.get("/v1/records/processes/p-sap-0", headers=auth("erp"))
    support = await api.get("/v1/records/processes/p-sap-0", headers=auth("auditor"))
    figures = (await api.get("/v1/records/figures", headers=auth("crm"))).json()
    export = await api.get("/v1/records/approvals", params={"format": "csv"}, headers=auth("crm"))

    # Answered like a record that does not exist: its existence is none of crm's business.
    assert theirs.status_code == 404
    assert theirs.json() == {"error": {"code": "not_found", "message": "no process record p-sap-0"}}
    assert unknown.status_code == 404
    assert own.status_code == support.status_code == 200
    assert not any(c["key"].startswith("invoice/") for c in figures["by_state"])
    assert "p-sap" not in export.text and "bob@example.com" not in export.text


async def test_everything_about_one_document(api: httpx.AsyncClient) -> None:
    crm = (await api.get(f"/v1/records/documents/{DOCUMENT}", headers=auth("crm"))).json()
    auditor = (await api.get(f"/v1/records/documents/{DOCUMENT}", headers=auth("auditor"))).json()
    erp = (await api.get(f"/v1/records/documents/{DOCUMENT}", headers=auth("erp"))).json()
    nothing = await api.get("/v1/records/documents/4000", headers=auth("auditor"))
    not_a_node = await api.get("/v1/records/documents/abc", headers=auth("auditor"))

    assert crm["node_id"] == DOCUMENT
    assert [p["process_key"] for p in crm["processes"]] == ["p-sfdc-doc"]
    assert [a["actor"] for a in crm["approvals"]] == ["alice@example.com"]
    assert [(h["hold"], h["released_at"]) for h in crm["holds"]] == [(HOLD, None)]
    assert crm["retention"] == [
        {
            "document_node_id": DOCUMENT,
            "retention_class": 42,
            "disposition_at": None,
            "on_hold": True,
            "process_key": "p-sfdc-doc",
        }
    ]
    assert {a["process_key"] for a in crm["audit"]} == {"p-sfdc-doc"}
    assert {p["process_key"] for p in auditor["processes"]} == {"p-sfdc-doc", "p-sap-0"}
    assert len(auditor["approvals"]) == 2
    # The SAP process sees the document, but not SFDC's approval (the hold is the document's).
    assert [p["process_key"] for p in erp["processes"]] == ["p-sap-0"]
    assert [a["actor"] for a in erp["approvals"]] == ["bob@example.com"]
    assert nothing.status_code == 404
    assert not_a_node.status_code == 422


async def test_a_workspace_with_its_compliance_figures(api: httpx.AsyncClient) -> None:
    crm = (await api.get(f"/v1/records/workspaces/{WORKSPACE}", headers=auth("crm"))).json()
    auditor = await api.get(f"/v1/records/workspaces/{WORKSPACE}", headers=auth("auditor"))
    empty = await api.get("/v1/records/workspaces/1", headers=auth("auditor"))

    sfdc_in_workspace = {sfdc_key(n) for n in range(5)} | {"p-sfdc-doc"}
    assert {p["process_key"] for p in crm["processes"]} == sfdc_in_workspace
    assert crm["compliance"]["workspace_id"] == WORKSPACE
    assert crm["compliance"]["processes"] == len(sfdc_in_workspace)
    assert crm["compliance"]["active_holds"] == 1
    assert [h["hold"] for h in crm["holds"]] == [HOLD]
    all_of_it = auditor.json()
    assert all_of_it["compliance"]["processes"] == len(sfdc_in_workspace) + 3
    assert all_of_it["compliance"]["active_holds"] == 2
    # Another system's document's hold is theirs: support and auditors see both.
    assert [h["hold"] for h in all_of_it["holds"]] == [HOLD, SAP_HOLD]
    assert empty.status_code == 404


async def test_a_business_object(api: httpx.AsyncClient) -> None:
    crm = await api.get("/v1/records/business-objects/Account/0015X01", headers=auth("crm"))
    erp = await api.get("/v1/records/business-objects/Account/0015X01", headers=auth("erp"))
    unknown = await api.get("/v1/records/business-objects/Account/nope", headers=auth("crm"))

    assert [p["process_key"] for p in crm.json()["processes"]] == ["p-sfdc-doc"]
    assert [h["hold"] for h in crm.json()["holds"]] == [HOLD]
    assert {p["process_key"] for p in erp.json()["processes"]} == {"p-sap-0", "p-sap-1", "p-sap-2"}
    assert [h["hold"] for h in erp.json()["holds"]] == [HOLD, SAP_HOLD]  # both of its documents
    assert unknown.status_code == 404


async def test_figures_count_only_what_the_caller_sees(api: httpx.AsyncClient) -> None:
    crm = await api.get("/v1/records/figures", headers=auth("crm"))
    reviews = await api.get(
        "/v1/records/figures", params={"process_type": "review"}, headers=auth("crm")
    )
    auditor = await api.get("/v1/records/figures", headers=auth("auditor"))
    bad = await api.get("/v1/records/figures", params={"closed_to": "soon"}, headers=auth("crm"))

    def total(figures: httpx.Response) -> int:
        return sum(c["count"] for c in figures.json()["by_state"])

    assert crm.status_code == 200
    assert total(crm) == SFDC_PROCESSES + 1
    assert total(reviews) == SFDC_PROCESSES // 2
    assert total(auditor) == SFDC_PROCESSES + 4
    # Another system's hold in a shared workspace is not counted for crm.
    assert crm.json()["active_holds"] == 1 and auditor.json()["active_holds"] == 2
    (shared,) = [c for c in crm.json()["compliance"] if c["workspace_id"] == WORKSPACE]
    assert shared["active_holds"] == 1
    assert bad.status_code == 422 and "closed_to" in bad.json()["error"]["message"]


async def test_the_access_log_is_for_support_and_auditors(api: httpx.AsyncClient) -> None:
    everyone = await api.get("/v1/records/access-log", headers=auth("auditor"))
    acme = await api.get(
        "/v1/records/access-log", params={"party": "partner:acme"}, headers=auth("auditor")
    )
    paged = await api.get("/v1/records/access-log", params={"limit": 2}, headers=auth("auditor"))
    rest = await api.get(
        "/v1/records/access-log",
        params={"limit": 2, "cursor": paged.json()["next_cursor"]},
        headers=auth("auditor"),
    )
    export = await api.get(
        "/v1/records/access-log", params={"format": "csv"}, headers=auth("auditor")
    )
    application = await api.get("/v1/records/access-log", headers=auth("crm"))
    no_scope = await api.get("/v1/records/access-log", headers=auth("ops"))

    assert [e["party"] for e in everyone.json()["items"]] == [
        "partner:globex",
        "partner:acme",
        "partner:acme",
    ]
    assert len(acme.json()["items"]) == 2
    assert len(paged.json()["items"]) + len(rest.json()["items"]) == 3
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [row["object_id"] for row in rows] == [str(DOCUMENT)] * 3
    assert application.status_code == 403
    assert application.json()["error"] == {
        "code": "not_permitted",
        "message": "app:crm may not read the access log",
    }
    assert no_scope.status_code == 403
    assert no_scope.json()["error"]["code"] == "insufficient_scope"


async def test_reads_of_records_are_in_the_access_log(api: httpx.AsyncClient) -> None:
    await api.get("/v1/records/processes/p-sfdc-doc", headers=auth("crm"))
    await api.get("/v1/records/processes/p-sap-0", headers=auth("crm"))
    await api.get(f"/v1/records/documents/{DOCUMENT}", headers=auth("erp"))
    await api.get(
        "/v1/records/audit",
        params={"format": "csv", "business_key": "BK-p-sfdc-doc"},
        headers={**auth("crm"), "User-Agent": "auditor-tool/1.0"},
    )

    log = await api.get(
        "/v1/records/access-log", params={"since": "2026-12-02"}, headers=auth("auditor")
    )

    events = [
        (e["party"], e["action"], e["source"], e["object_id"], e["outcome"])
        for e in reversed(log.json()["items"])
    ]
    assert events == [
        ("app:crm", "read", "records", "process:p-sfdc-doc", "ok"),
        ("app:crm", "denied", "records", "process:p-sap-0", "not_found"),
        ("app:erp", "read", "records", f"document:{DOCUMENT}", "ok"),
        ("app:crm", "download", "records", "export:audit", "ok"),
    ]
    export = log.json()["items"][0]
    assert export["user_agent"] == "auditor-tool/1.0"
    assert export["detail"] == "format=csv&business_key=BK-p-sfdc-doc"
