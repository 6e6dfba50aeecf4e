"""Operators on the dev server (real visibility): list with filters and caller visibility,
the status's repair hints, and a batch repair by filter with an Idempotency-Key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from docflow import search_attributes as sa
from docflow.models import SigningState, SourceRecord
from docflow.settings import ApiKeyConfig
from starter.api.access import literal, may_see, visibility_clause
from starter.api.auth import Principal
from tests.api.conftest import make_settings
from tests.api.real_workflow_test import Systems, serve_real_workflow
from tests.api.support import callback, new_key, signing_request, wait_until, workflow

KEYS = {
    "sfdc": ("app:crm", ["processes:start", "processes:read", "processes:cancel"], ["SFDC"]),
    "sap": ("app:erp", ["processes:start", "processes:read"], ["SAP"]),
    "support": ("ops@example.com", ["processes:read", "processes:correct"], ["*"]),
    "alice": ("alice@example.com", ["processes:read", "approvals:decide"], []),
    "carol": ("carol@example.com", ["processes:read", "approvals:decide"], []),
}


def key(name: str) -> dict[str, str]:
    return {"X-API-Key": f"ops-test-{name}"}


@pytest.fixture
async def ops_api(
    dev_server_env: WorkflowEnvironment, tmp_path: Path, task_queue: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Systems, Any]]:
    settings = make_settings(tmp_path, task_queue)
    settings = settings.with_overrides(
        api={
            **settings.api.model_dump(),
            "approvers": ["bob@example.com", "dave@example.com"],  # OIDC people, no API key
            "api_keys": [
                ApiKeyConfig(
                    name=n, key=f"value:ops-test-{n}", subject=s, scopes=sc, source_systems=ss
                )
                for n, (s, sc, ss) in KEYS.items()
            ],
        }
    )
    async with serve_real_workflow(dev_server_env.client, settings) as served:
        yield served


async def listed(api: httpx.AsyncClient, who: str, expect: int, **params: Any) -> list[str]:
    """Business keys the caller lists (visibility is eventually consistent: wait for `expect`)."""
    async with asyncio.timeout(15):
        while True:
            response = await api.get("/v1/signing-processes", params=params, headers=key(who))
            assert response.status_code == 200, response.text
            keys = [item["business_key"] for item in response.json()["items"]]
            if len(keys) >= expect:
                return sorted(keys)
            await asyncio.sleep(0.2)


async def test_operators_find_understand_and_repair_stuck_processes(
    ops_api: tuple[httpx.AsyncClient, Systems, Any], dev_server_env: WorkflowEnvironment
) -> None:
    api, systems, document = ops_api
    tag = new_key("T").lower()  # this test's own document type isolates its processes
    starts = {
        "sfdc-stuck": ("SFDC", ["alice@example.com"]),
        "sfdc-waiting": ("SFDC", ["bob@example.com"]),
        "sap-waiting": ("SAP", ["alice@example.com"]),
    }
    keys = {}
    for name, (system, approvers) in starts.items():
        request = signing_request(new_key(name.upper()), approvers=approvers)
        request.document_type = tag
        request.source = SourceRecord(system=system, record_type="Deal", record_id="1")
        keys[name] = request.business_key
        body = {"request": request.model_dump(mode="json"), "document": document.model_dump()}
        who = "sfdc" if system == "SFDC" else "sap"
        started = await api.post("/v1/signing-processes", json=body, headers=key(who))
        assert started.status_code == 201, started.text
    stuck = keys["sfdc-stuck"]
    handle = workflow(dev_server_env.client, stuck)
    await wait_until(handle, lambda s: s.state is SigningState.AWAITING_APPROVAL)
    systems.archive_down = True
    await api.post(
        f"/v1/signing-processes/{stuck}/decisions",
        json={"decision": "approve"},
        headers=key("alice"),
    )
    await wait_until(handle, lambda s: s.state is SigningState.AWAITING_SIGNATURE)
    await api.post("/webhooks/core-signature", json=callback(stuck, "signed"))
    await wait_until(handle, lambda s: s.state is SigningState.ARCHIVE_EXCEPTION)

    # Who sees what: an application its source systems, support all, a person their own.
    mine = {"document_type": tag}
    assert await listed(api, "support", 3, **mine) == sorted(keys.values())
    assert await listed(api, "sfdc", 2, **mine) == sorted([stuck, keys["sfdc-waiting"]])
    assert await listed(api, "sap", 1, **mine) == [keys["sap-waiting"]]
    assert await listed(api, "alice", 2, **mine) == sorted([stuck, keys["sap-waiting"]])
    assert await listed(api, "carol", 0, **mine) == []

    # "Needs attention" and "stuck longer than" are one filter each.
    attention = {**mine, "attention": "any"}
    assert await listed(api, "support", 1, **attention) == [stuck]
    exception = await api.get(
        "/v1/signing-processes",
        params={**attention, "state": "archive_exception"},
        headers=key("support"),
    )
    item = exception.json()["items"][0]
    assert item["attention"] == sa.EXCEPTION_OPEN and item["since"] and item["deadline"]
    assert await listed(api, "support", 0, **mine, stuck_longer_than="P2D") == []
    # Cursor paging: one per page, every process exactly once.
    first = await api.get(
        "/v1/signing-processes", params={**mine, "limit": 1}, headers=key("support")
    )
    page = first.json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    second = await api.get(
        "/v1/signing-processes",
        params={**mine, "limit": 1, "cursor": page["next_cursor"]},
        headers=key("support"),
    )
    assert second.json()["items"][0]["business_key"] != page["items"][0]["business_key"]
    # A filter value cannot change the query (pattern-checked, and quoted anyway).
    injected = await api.get(
        "/v1/signing-processes",
        params={"source_system": 'SFDC" OR DocflowSourceSystem = "SAP'},
        headers=key("sap"),
    )
    assert injected.status_code == 422

    # The status says what repairs it: the exact CLI command and API call.
    status = (await api.get(f"/v1/signing-processes/{stuck}", headers=key("support"))).json()
    assert status["attention_reason"] == sa.EXCEPTION_OPEN
    assert {r["action"] for r in status["repairs"]} == {"retry", "abandon"}
    retry = next(r for r in status["repairs"] if r["action"] == "retry")
    assert retry["cli"] == f"docflow repair {stuck}"
    assert retry["api"] == f'POST /v1/signing-processes/{stuck}/repairs {{"action":"retry"}}'

    # A batch retry by filter: only support may, each process answers, applied once per key.
    body = {"action": "retry", "filters": mine, "comment": "category restored", "limit": 10}
    refused = await api.post("/v1/signing-processes/batch", json=body, headers=key("sfdc"))
    assert refused.status_code == 403
    assert (
        await api.post(
            "/v1/signing-processes/batch", json={"action": "retry"}, headers=key("support")
        )
    ).status_code == 422  # never "everything"
    systems.archive_down = False
    headers = {**key("support"), "Idempotency-Key": "batch-1"}
    answer = await api.post("/v1/signing-processes/batch", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert [(r["business_key"], r["outcome"]) for r in answer.json()["results"]] == [
        (stuck, "applied")
    ]
    result = await handle.result()
    assert result.state is SigningState.COMPLETED
    assert sum(e.kind == "repair_retry" for e in result.audit) == 1


def test_visibility_clause_per_kind_of_caller() -> None:
    app = Principal("app:crm", "crm", frozenset(), frozenset({"SFDC", "SAP"}))
    person = Principal("Alice@Example.com", "alice", frozenset())
    support = Principal("ops", "ops", frozenset(), frozenset({"*"}))
    assert visibility_clause(app) == 'DocflowSourceSystem IN ("SAP", "SFDC")'
    assert visibility_clause(person) == 'DocflowParticipants = "alice@example.com"'
    assert visibility_clause(support) == ""
    assert may_see(app, "SFDC", []) and not may_see(app, "WORKDAY", ["app:crm"])
    assert may_see(person, "SFDC", ["alice@example.com"]) and not may_see(person, "SFDC", [])
    assert may_see(support, None, [])


def test_literals_cannot_break_out_of_the_query() -> None:
    assert literal('a" OR "b') == '"a\\" OR \\"b"'
    assert literal("back\\slash") == '"back\\\\slash"'
    with pytest.raises(ValueError):
        literal("line\nbreak")
