"""End to end on the Temporal dev server: HTTP in, simulators acting as people, ECM and CRM out."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from devstack.embedded import EmbeddedStack
from devstack.samples import contract_pdf, legal, sample_request
from docflow import search_attributes as sa
from docflow.models import SigningState, SigningStatus
from docflow.models.status import TERMINAL_STATES
from docflow.records.store import RecordStore
from starter.api_client import DocflowApiClient, DocflowApiError
from starter.records_backfill import backfill
from tests.stacks import get_json


async def wait_status(
    api: DocflowApiClient,
    key: str,
    predicate: Callable[[SigningStatus], bool],
    within: float = 60,
) -> SigningStatus:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            status = await api.status(key)
        except DocflowApiError as error:
            # 503 is the documented "retry later", e.g. while a stopped worker's workflow
            # task times out on its sticky queue and moves to the new worker.
            assert error.status == 503 and loop.time() < deadline, error
            await asyncio.sleep(0.2)
            continue
        if predicate(status):
            return status
        assert status.state not in TERMINAL_STATES, f"ended early: {status.outcome_reason}"
        assert loop.time() < deadline, f"stuck in {status.state}: {status.waiting_for}"
        await asyncio.sleep(0.1)


async def control(http: httpx.AsyncClient, base: str, path: str, **body: Any) -> Any:
    response = await http.post(f"{base}/_control/{path}", json=body or None)
    response.raise_for_status()
    return response.json()


async def test_contract_is_approved_signed_archived_and_reported(
    stack: EmbeddedStack, http: httpx.AsyncClient, crm_app: DocflowApiClient
) -> None:
    key = f"E2E-{uuid.uuid4().hex[:8]}"
    started = await crm_app.start(sample_request(key, stages=[legal()]), contract_pdf(key))
    assert started["created"] is True
    again = await crm_app.start(sample_request(key, stages=[legal()]), contract_pdf(key))
    assert again["created"] is False and again["run_id"] == started["run_id"]

    await wait_status(crm_app, key, lambda s: s.state is SigningState.AWAITING_APPROVAL)
    alice = crm_app.as_principal("dev-alice-key")
    await alice.decide(key, "approve", comment="looks right")
    status = await wait_status(crm_app, key, lambda s: s.state is SigningState.AWAITING_SIGNATURE)
    doc = status.signature.document_uuid
    await control(http, stack.core_signature_url, f"documents/{doc}/view")
    await control(http, stack.core_signature_url, f"documents/{doc}/sign")

    final = await wait_status(crm_app, key, lambda s: s.state in TERMINAL_STATES)

    assert final.state is SigningState.COMPLETED, final.outcome_reason
    decision = next(a for a in final.audit if a.kind == "decision")
    assert decision.actor == "alice@example.com"
    via = {a.data.get("via") for a in final.audit if a.kind == "event"}
    assert "callback" in via  # the receiver delivered the events
    # The signed document and its audit trail are in the customer's workspace.
    nodes = await get_json(http, f"{stack.content_server_url}/_control/nodes")
    flat = _flatten(nodes)
    signed = next(n for n in flat if n.get("id") == final.archive.document_node_id)
    assert signed["name"] == f"{key} - contract (signed).pdf"
    folder = next(n for n in flat if n.get("id") == signed["parent_id"])
    assert (folder["name"], folder["parent_id"]) == ("Contracts", final.archive.workspace_id)
    metadata = signed["categories"]["9001"]
    assert metadata["9001_6"] == key and metadata["9001_4"] == "jane.doe@acme.example.com"
    assert metadata["9001_5"]  # completion time
    assert signed["rm_classifications"] == [5001]
    workspace = next(n for n in flat if n.get("id") == final.archive.workspace_id)
    assert workspace["type"] == 848
    assert any(n.get("id") == final.archive.audit_trail_node_id for n in flat)
    # Findable in the Web UI by its search attributes.
    assert stack.client is not None
    query = f'DocflowBusinessKey = "{key}" AND DocflowStatus = "completed"'
    found = [wf async for wf in stack.client.list_workflows(query)]
    for _ in range(50):  # visibility is eventually consistent
        if found:
            break
        await asyncio.sleep(0.1)
        found = [wf async for wf in stack.client.list_workflows(query)]
    assert [wf.id for wf in found] == [f"signing-{key}"]
    attributes = found[0].typed_search_attributes
    assert attributes.get(sa.SOURCE_RECORD) == f"SFDC/Opportunity/006-{key}"
    assert attributes.get(sa.DOCUMENT_TYPE) == "sales_contract"
    assert attributes.get(sa.ENVIRONMENT) == "local"  # the suite's own profile (tests/conftest.py)
    # Every activity and timer carries a summary for the Web UI.
    history = await stack.client.get_workflow_handle(f"signing-{key}").fetch_history()
    scheduled = [
        e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
    ]
    timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
    assert len(scheduled) >= 7 and timers
    for event in scheduled + timers:
        assert event.user_metadata.summary.data, f"event {event.event_id} has no summary"
    # The CRM received exactly one verified report for this process.
    reports = await get_json(http, f"{stack.crm_url}/_control/reports")
    mine = [r for r in _items(reports) if _body(r).get("business_key") == key]
    assert len(mine) == 1
    body = _body(mine[0])
    assert body["outcome"] == "completed"
    assert body["archived_node_id"] == final.archive.document_node_id
    assert [s["email"] for s in body["signers"]] == ["jane.doe@acme.example.com"]
    await _in_the_read_model(stack, http, key, final)


async def _in_the_read_model(
    stack: EmbeddedStack, http: httpx.AsyncClient, key: str, final: SigningStatus
) -> None:
    """The process's record outlives Temporal: state, approval, retention and the signed
    version for portals, from the read model; a backfill from the history rebuilds it."""
    auditor = {"X-API-Key": "dev-auditor-key"}
    params = {"business_key": key, "process_type": "signing"}
    for _ in range(100):  # the closing write follows the run's last state by an activity
        page = (
            await http.get(f"{stack.api_url}/v1/records/processes", params=params, headers=auditor)
        ).json()
        if page["items"] and page["items"][0]["closed"]:
            break
        await asyncio.sleep(0.1)
    [row] = page["items"]
    assert (row["state"], row["closed"], row["source_system"]) == ("completed", True, "SFDC")
    assert row["document_node_id"] == final.archive.document_node_id
    assert row["retention_class"] == 5001 and row["disposition_at"] is not None
    assert row["disposition_at"][:4] == str(int(row["closed_at"][:4]) + 10)  # 10 years
    record = (
        await http.get(
            f"{stack.api_url}/v1/records/processes/{row['process_key']}", headers=auditor
        )
    ).json()
    [approval] = record["approvals"]
    assert (approval["actor"], approval["decision"], approval["comment"]) == (
        "alice@example.com",
        "approve",
        "looks right",
    )
    assert record["audit"][0]["kind"] == "started"
    # A portal reads the signed PDF: the approved version, its hash as the ETag.
    portal = {"X-API-Key": "dev-portal-key"}
    url = f"{stack.api_url}/v1/portal/documents/{final.archive.document_node_id}"
    served = await http.get(url, headers=portal)
    assert served.status_code == 200, served.text
    digest = hashlib.sha256(served.content).hexdigest()
    assert served.headers["etag"] == f'"{digest}"'
    again = await http.get(url, headers={**portal, "If-None-Match": served.headers["etag"]})
    assert again.status_code == 304
    # Rebuilt from the history alone into an empty database: the same record.
    assert stack.client is not None
    with RecordStore(f"sqlite:///{stack.data_dir / f'backfill-{key}.db'}") as store:
        store.migrate()
        report = await backfill(stack.client, store, query=f"WorkflowId = 'signing-{key}'")
        assert report.runs == 1 and report.changes_applied >= 3, report
        rebuilt = store.process(row["process_key"])
    assert rebuilt is not None
    assert (rebuilt.state, rebuilt.closed, rebuilt.version) == ("completed", True, row["version"])


async def test_new_worker_finishes_after_a_stop_right_after_the_signature_request(
    stack: EmbeddedStack, http: httpx.AsyncClient, crm_app: DocflowApiClient
) -> None:
    key = f"E2E-{uuid.uuid4().hex[:8]}"
    await crm_app.start(sample_request(key, stages=[], document_type="nda"), contract_pdf(key))
    # Stop the worker the moment Core Signature holds the request (the activity may not
    # even have reported back yet); a fresh worker must finish without a second request.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while not await _requests_for(http, stack, key):
        if loop.time() > deadline:
            status = await crm_app.status(key)
            raise AssertionError(f"no signature request; {status.state}: {status.waiting_for}")
        await asyncio.sleep(0.01)
    await stack.stop_worker()
    await stack.restart_worker()

    status = await wait_status(crm_app, key, lambda s: s.state is SigningState.AWAITING_SIGNATURE)
    await control(
        http, stack.core_signature_url, f"documents/{status.signature.document_uuid}/sign"
    )
    final = await wait_status(crm_app, key, lambda s: s.state in TERMINAL_STATES)

    assert final.state is SigningState.COMPLETED, final.outcome_reason
    assert await _requests_for(http, stack, key) == 1
    nodes = _flatten(await get_json(http, f"{stack.content_server_url}/_control/nodes"))
    assert sum(1 for n in nodes if str(n.get("name", "")).startswith(f"{key} - ")) == 2


async def _requests_for(http: httpx.AsyncClient, stack: EmbeddedStack, key: str) -> int:
    body = await get_json(http, f"{stack.core_signature_url}/_control/signature-requests")
    counts: dict[str, int] = body["count_by_external_id"]
    return sum(n for external_id, n in counts.items() if external_id.startswith(f"{key}#"))


def _flatten(tree: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "id" in node and "name" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return found


def _items(body: Any) -> list[Any]:
    if isinstance(body, list):
        return body
    return body.get("reports") or body.get("results") or []


def _body(report: Any) -> dict[str, Any]:
    return report.get("payload") or report.get("body") or report
