"""Case-source activities against the mail-archive and forms-portal simulators over HTTP, and
the ERP client against a tiny stand-in of the ERP's contract (`/api/transactions`).

The activities read endpoints and keys from a copy of the suite's bundle whose
`case-sources.json` points at the served ports, as an environment's bundle would.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, Field
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.case_sources import CaseSourceActivities
from activities.case_sources.activities import MAX_PAGE_ITEMS
from docflow.docstore import LocalDocumentStore
from docflow.models.workspaces import CaseItem, CaseRequest, FetchCaseItems, ListCaseItems
from docflow.names import clean_name, node_name
from docflow.settings import Settings
from simulators.kit.server import ServedApp
from tests.activities.case_sources.conftest import ErpStandIn, activities_for, bundle_copy
from tests.activities.simulated import Sim


async def list_all(
    env: ActivityEnvironment, cases: CaseSourceActivities, source: str, ref: str
) -> list[list[CaseItem]]:
    pages, cursor = [], None
    while True:
        page = await env.run(
            cases.list_case_items, ListCaseItems(source=source, case_reference=ref, cursor=cursor)
        )
        pages.append(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return pages


# ------------------------------------------------------------------ mail archive
async def test_mail_is_listed_with_each_attachment_an_item_of_its_own(
    cases: CaseSourceActivities, mail_sim: Sim, activity_env: ActivityEnvironment
) -> None:
    await mail_sim.control(
        "POST",
        "/seed",
        json={"case_reference": "CLM-1", "count": 2, "attachments_per_message": 2},
    )
    [items] = await list_all(activity_env, cases, "mail_archive", "CLM-1")

    assert [i.kind for i in items] == ["e-mail", "attachment", "attachment"] * 2
    message, attachment = items[0], items[1]
    assert message.source_id == "mail_archive:CLM1-M00001"
    assert message.name == "E-mail CLM1-M00001 - Case CLM-1_ message 1.eml"
    assert attachment.source_id == "mail_archive:CLM1-A00001-1"
    assert attachment.name == "Attachment CLM1-A00001-1 - evidence-1-1.pdf"
    assert message.metadata["document_type"] == "e-mail"
    assert message.metadata["source_record"] == "CLM-1"
    assert message.metadata["source_id"] == "mail_archive:CLM1-M00001"
    assert attachment.metadata["message_id"] == "mail_archive:CLM1-M00001"
    listed = mail_sim.state.messages["CLM1-M00001"]
    assert message.sha256 == hashlib.sha256(listed.raw).hexdigest()
    assert len({i.name for i in items}) == len(items)  # unique per item
    assert all(i.document is None for i in items)  # listing carries no content


async def test_a_page_never_exceeds_100_items_whatever_the_attachments(
    cases: CaseSourceActivities, mail_sim: Sim, activity_env: ActivityEnvironment
) -> None:
    await mail_sim.control(
        "POST",
        "/seed",
        json={"case_reference": "BIG", "count": 130, "attachments_per_message": 2},
    )
    pages = await list_all(activity_env, cases, "mail_archive", "BIG")

    assert all(len(page) <= MAX_PAGE_ITEMS for page in pages)
    items = [i for page in pages for i in page]
    assert len(items) == 390
    assert len({i.source_id for i in items}) == 390
    # In the source's order, an e-mail always before its own attachments.
    assert items[0].source_id == "mail_archive:BIG-M00001"
    assert items[-1].source_id == "mail_archive:BIG-A00130-2"


async def test_fetch_stores_the_bytes_checks_them_and_heartbeats_per_item(
    cases: CaseSourceActivities,
    mail_sim: Sim,
    store: LocalDocumentStore,
) -> None:
    await mail_sim.control("POST", "/seed", json={"case_reference": "F-1", "count": 2})
    env = ActivityEnvironment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    [items] = await list_all(env, cases, "mail_archive", "F-1")
    fetched = await env.run(
        cases.fetch_case_items,
        FetchCaseItems(source="mail_archive", case_reference="F-1", items=items),
    )

    assert [i.source_id for i in fetched] == [i.source_id for i in items]
    email, attachment = fetched[0], fetched[1]
    assert email.document is not None and attachment.document is not None
    assert email.document.content_type == "message/rfc822"
    assert attachment.document.content_type == "application/pdf"
    assert email.document.sha256 == items[0].sha256
    assert await store.get(email.document) == mail_sim.state.messages["F1-M00001"].raw
    assert (await store.get(attachment.document)).startswith(b"%PDF-")
    assert beats == [f"{n}/4: {i.source_id}" for n, i in enumerate(items, start=1)]


# ------------------------------------------------------------------ forms portal
async def test_forms_are_listed_and_fetched_duplicates_sharing_their_hash(
    cases: CaseSourceActivities,
    forms_sim: Sim,
    store: LocalDocumentStore,
    activity_env: ActivityEnvironment,
) -> None:
    await forms_sim.control(
        "POST", "/seed", json={"case_reference": "SVC-9", "count": 2, "duplicates": 1}
    )
    [items] = await list_all(activity_env, cases, "forms_portal", "SVC-9")
    assert [i.kind for i in items] == ["form"] * 3
    assert items[0].name == "Form SVC9-F00001 - claim-notification.pdf"
    assert items[2].sha256 == items[0].sha256 and items[2].source_id != items[0].source_id
    assert items[0].metadata["submitted_by"] == "customer1@example.com"
    fetched = await activity_env.run(
        cases.fetch_case_items,
        FetchCaseItems(source="forms_portal", case_reference="SVC-9", items=items),
    )
    assert fetched[0].document == fetched[2].document.model_copy(
        update={"filename": fetched[0].document.filename}
    )


# ------------------------------------------------------------------ ERP history
async def test_erp_transactions_are_listed_and_their_statements_fetched(
    cases: CaseSourceActivities,
    erp: ErpStandIn,
    store: LocalDocumentStore,
    activity_env: ActivityEnvironment,
) -> None:
    erp.seed("AUD-1", 130)
    pages = await list_all(activity_env, cases, "erp_history", "AUD-1")
    assert [len(p) for p in pages] == [100, 30]
    first = pages[0][0]
    assert first.source_id == "erp_history:TX/1"
    assert first.kind == "transactions"
    assert first.name == "Transaction TX_1 - INV_1.pdf"  # no ':' or '/' in a node name
    assert first.metadata["document_no"] == "INV:1"
    assert first.metadata["amount"] == "10.0" and first.metadata["currency"] == "EUR"
    [fetched] = await activity_env.run(
        cases.fetch_case_items,
        FetchCaseItems(source="erp_history", case_reference="AUD-1", items=[first]),
    )
    assert fetched.document is not None
    assert await store.get(fetched.document) == erp.documents["TX/1"]


async def test_bytes_that_do_not_match_the_listing_are_retried(
    cases: CaseSourceActivities, erp: ErpStandIn, activity_env: ActivityEnvironment
) -> None:
    erp.seed("AUD-2", 1)
    erp.lie_about.add("TX/1")
    [[listed]] = await list_all(activity_env, cases, "erp_history", "AUD-2")
    with pytest.raises(ApplicationError) as mismatch:
        await activity_env.run(
            cases.fetch_case_items,
            FetchCaseItems(source="erp_history", case_reference="AUD-2", items=[listed]),
        )
    assert mismatch.value.type == "IntegrityMismatch" and not mismatch.value.non_retryable


async def test_a_missing_statement_is_not_retried(
    cases: CaseSourceActivities, erp: ErpStandIn, activity_env: ActivityEnvironment
) -> None:
    erp.seed("AUD-3", 1)
    [[listed]] = await list_all(activity_env, cases, "erp_history", "AUD-3")
    erp.documents.clear()
    with pytest.raises(ApplicationError) as gone:
        await activity_env.run(
            cases.fetch_case_items,
            FetchCaseItems(source="erp_history", case_reference="AUD-3", items=[listed]),
        )
    assert gone.value.type == "NotFoundError" and gone.value.non_retryable
    assert "no such transaction" in gone.value.message


# ------------------------------------------------------------------ errors
async def test_server_errors_are_retried_honouring_retry_after(
    cases: CaseSourceActivities, mail_sim: Sim, activity_env: ActivityEnvironment
) -> None:
    request = ListCaseItems(source="mail_archive", case_reference="CLM-2026-001")
    await mail_sim.fail_next(503, retry_after_s=7)
    with pytest.raises(ApplicationError) as unavailable:
        await activity_env.run(cases.list_case_items, request)
    assert not unavailable.value.non_retryable
    assert unavailable.value.next_retry_delay == timedelta(seconds=7)
    await mail_sim.control("PUT", "/faults", json={"rate_limit_every": 1})
    with pytest.raises(ApplicationError) as limited:
        await activity_env.run(cases.list_case_items, request)
    assert not limited.value.non_retryable and "HTTP 429" in limited.value.message
    await mail_sim.control("PUT", "/faults", json={})
    await mail_sim.control("PUT", "/outage", json={"seconds": 30})
    with pytest.raises(ApplicationError) as down:
        await activity_env.run(cases.list_case_items, request)
    assert not down.value.non_retryable
    await mail_sim.control("PUT", "/outage", json={"seconds": 0})  # recovered
    page = await activity_env.run(cases.list_case_items, request)
    assert len(page.items) == 8


async def test_a_refused_key_is_not_retried(
    tmp_path: Path,
    _mail_served: ServedApp,
    http: httpx.AsyncClient,
    store: LocalDocumentStore,
    activity_env: ActivityEnvironment,
) -> None:
    config_dir = bundle_copy(
        tmp_path,
        {"mail_archive": _mail_served.base_url},
        mail_archive={"api_key": "value:rotated-away"},
    )
    cases = activities_for(config_dir, http, store)
    with pytest.raises(ApplicationError) as refused:
        await activity_env.run(
            cases.list_case_items,
            ListCaseItems(source="mail_archive", case_reference="CLM-2026-001"),
        )
    assert refused.value.type == "AuthenticationError" and refused.value.non_retryable


async def test_sources_come_from_the_bundle_never_the_request(
    cases: CaseSourceActivities, activity_env: ActivityEnvironment
) -> None:
    for source, kind in (("crm", "UnknownCaseSource"), ("attachments", "NotListable")):
        with pytest.raises(ApplicationError) as refused:
            await activity_env.run(
                cases.list_case_items, ListCaseItems(source=source, case_reference="C")
            )
        assert (refused.value.type, refused.value.non_retryable) == (kind, True)


class _CaseSourcesSettings(BaseModel):
    endpoints: dict[str, str] = Field(default_factory=dict)


class _SettingsWithOverrides(Settings):
    """Settings as they will be once `case_sources.endpoints` exists (another change)."""

    case_sources: _CaseSourcesSettings = Field(default_factory=_CaseSourcesSettings)


async def test_an_endpoint_override_stays_within_the_allowed_hosts(
    tmp_path: Path,
    _mail_served: ServedApp,
    http: httpx.AsyncClient,
    store: LocalDocumentStore,
    activity_env: ActivityEnvironment,
) -> None:
    config_dir = bundle_copy(tmp_path, {})  # the bundle's own (dev) ports
    request = ListCaseItems(source="mail_archive", case_reference="CLM-2026-001")

    moved = _SettingsWithOverrides(
        profile="local",
        config_dir=config_dir,
        case_sources={"endpoints": {"mail_archive": _mail_served.base_url}},
    )
    page = await activity_env.run(CaseSourceActivities(moved, http, store).list_case_items, request)
    assert len(page.items) == 8

    elsewhere = _SettingsWithOverrides(
        profile="local",
        config_dir=config_dir,
        case_sources={"endpoints": {"mail_archive": "https://collector.example.net"}},
    )
    with pytest.raises(ApplicationError) as refused:
        await activity_env.run(
            CaseSourceActivities(elsewhere, http, store).list_case_items, request
        )
    assert refused.value.type == "EndpointNotAllowed" and refused.value.non_retryable


async def test_plan_case_applies_the_bundle_and_names_its_version(
    cases: CaseSourceActivities, activity_env: ActivityEnvironment
) -> None:
    plan = await activity_env.run(
        cases.plan_case, CaseRequest(case_type="audit", case_id="AUD-7", title="Q3")
    )
    assert plan.accepted and plan.object is not None
    assert plan.object.key == "CASES/Audit/AUD-7"
    assert [(s.source, s.folder) for s in plan.sources] == [
        ("mail_archive", "E-mails"),
        ("erp_history", "Transactions"),
        ("attachments", "Attachments"),
    ]
    assert plan.document_attributes == {"document_type": 1, "source_record": 2, "source_id": 3}
    assert plan.config_version
    refused = await activity_env.run(
        cases.plan_case, CaseRequest(case_type="fraud", case_id="F-1", sources=["fax", "fax"])
    )
    assert not refused.accepted
    assert refused.reasons == [
        "unknown case type 'fraud' in local (known: audit, claims, service)",
        "sources named more than once: fax",
        "unknown case source 'fax' in local (known: attachments, erp_history, forms_portal, "
        "mail_archive)",
    ]


def test_node_names_are_safe_for_content_server_and_keep_the_id() -> None:
    assert clean_name(' a:b/c\\d*e?f"g<h>i|j \x00k  ') == "a_b_c_d_e_f_g_h_i_j k"
    long = node_name("E-mail", "MSG-1", "x" * 500, ".eml")
    assert long.startswith("E-mail MSG-1 - x") and long.endswith(".eml")
    assert len(long) <= 200
    assert node_name("Form", "F1") == "Form F1"
