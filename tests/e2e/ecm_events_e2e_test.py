"""ECM event relay end to end on the dev server: the Content Server simulator's own signed
webhooks and audit trail, the receiver, EcmDocumentWorkflow, the subscribers (the webhook
target simulator playing erp-finance, project-portal and ops-events), their health and
recovery, and the audit poller."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from devstack.embedded import EmbeddedStack
from starter.api_client import DocflowApiClient, DocflowApiError
from tests.e2e.workspaces_e2e_test import eventually, read_status
from tests.stacks import fast_polling_stack

SUPPLIERS = 2001  # the Supplier workspaces' location in the simulator
SUPPLIER_TYPE = 8


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedStack]:
    """The e2e stack with Content Server's events sent to the ECM receiver."""
    async with fast_polling_stack(tmp_path_factory.mktemp("docflow-ecm"), ecm_events=True) as up:
        yield up


@pytest.fixture
async def ecm(stack: EmbeddedStack, http: httpx.AsyncClient) -> AsyncIterator[ContentServerClient]:
    base = stack.settings.content_server.base_url
    auth = OtcsTicketAuth(http, base, "docflow", "dev-otcs-password", timeout_s=10)
    yield ContentServerClient(http, base, auth, timeout_s=10)


@pytest.fixture
def ops(stack: EmbeddedStack, http: httpx.AsyncClient) -> DocflowApiClient:
    return DocflowApiClient(stack.api_url, "dev-ops-key", http=http)


async def cs_control(
    http: httpx.AsyncClient, stack: EmbeddedStack, method: str, path: str, body: Any = None
) -> Any:
    base = stack.settings.content_server.base_url.split("/otcs/")[0]
    response = await http.request(method, f"{base}/_control{path}", json=body)
    response.raise_for_status()
    return response.json()


async def target(
    http: httpx.AsyncClient, stack: EmbeddedStack, method: str, path: str, body: Any = None
) -> Any:
    response = await http.request(method, f"{stack.webhook_target_url}/_control{path}", json=body)
    response.raise_for_status()
    return response.json()


async def workspace(http: httpx.AsyncClient, stack: EmbeddedStack) -> int:
    bo_id = f"V-{uuid.uuid4().hex[:8]}"
    found = await cs_control(
        http,
        stack,
        "POST",
        "/workspaces",
        {
            "wksp_type_id": SUPPLIER_TYPE,
            "name": f"Supplier {bo_id}",
            "ext_system_id": "SAP",
            "bo_type": "Supplier",
            "bo_id": bo_id,
        },
    )
    return int(found["id"])


async def received(
    http: httpx.AsyncClient, stack: EmbeddedStack, endpoint: str, node_id: int
) -> list[dict[str, Any]]:
    """What the subscriber accepted about the node, in arrival order."""
    found = await target(http, stack, "GET", f"/endpoints/{endpoint}/received")
    return [m for m in found["results"] if m.get("node_id") == node_id]


async def relayed(
    http: httpx.AsyncClient, stack: EmbeddedStack, endpoint: str, node_id: int, count: int
) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        return await received(http, stack, endpoint, node_id)

    found: list[dict[str, Any]] = await eventually(read, lambda r: len(r) >= count, within=60)
    return found


async def test_a_document_s_events_reach_every_subscriber_once_in_order(
    stack: EmbeddedStack, http: httpx.AsyncClient, ecm: ContentServerClient, ops: DocflowApiClient
) -> None:
    folder = await workspace(http, stack)
    doc = await ecm.upload_document(parent_id=folder, name="Delivery note.pdf", content=b"%PDF-1")
    await ecm.add_version(doc.id, content=b"%PDF-2", filename="Delivery note.pdf")
    await cs_control(http, stack, "POST", f"/nodes/{doc.id}/approve", {})

    portal = await relayed(http, stack, "project-portal", doc.id, 3)
    assert [m["type"] for m in portal] == ["node.created", "node.version_added", "node.approved"]
    finance = await relayed(http, stack, "erp-finance", doc.id, 3)
    assert [m["type"] for m in finance] == ["node.created", "node.version_added", "node.approved"]
    assert all(m["deliveries"] == 1 for m in portal + finance)

    status = await read_status(ops, f"/v1/ecm/documents/{doc.id}")
    assert [e["type"] for e in status["events"]] == [
        "node.created",
        "node.version_added",
        "node.approved",
    ]
    delivered = [m for m in status["messages"] if m["status"] == "delivered"]
    assert len(delivered) == 6
    assert all(m["attempts"][0]["status_code"] == 200 for m in delivered)


async def test_a_subscriber_down_loses_nothing_and_holds_back_no_other(
    stack: EmbeddedStack, http: httpx.AsyncClient, ecm: ContentServerClient, ops: DocflowApiClient
) -> None:
    folder = await workspace(http, stack)
    await target(http, stack, "PATCH", "/endpoints/project-portal", {"down": True})
    try:
        doc = await ecm.upload_document(parent_id=folder, name="Order 7.pdf", content=b"%PDF-1")
        for n in range(2, 5):
            await ecm.add_version(doc.id, content=f"%PDF-{n}".encode(), filename="Order 7.pdf")
        # The other subscriber is not held back.
        await relayed(http, stack, "erp-finance", doc.id, 4)
        assert await received(http, stack, "project-portal", doc.id) == []
    finally:
        await target(http, stack, "PATCH", "/endpoints/project-portal", {"down": False})
    portal = await relayed(http, stack, "project-portal", doc.id, 4)
    versions = [m["node_version"] for m in portal if m["type"] == "node.version_added"]
    assert portal[0]["type"] == "node.created"
    assert versions == sorted(versions) and len(versions) == 3
    status = await read_status(ops, f"/v1/ecm/documents/{doc.id}")
    retried = [m for m in status["messages"] if m["subscription"] == "project-portal"]
    assert retried[0]["attempts"][0]["outcome"] == "failed"


async def test_the_poller_finds_dropped_webhooks_and_duplicates_are_relayed_once(
    stack: EmbeddedStack, http: httpx.AsyncClient, ecm: ContentServerClient, ops: DocflowApiClient
) -> None:
    folder = await workspace(http, stack)
    await cs_control(http, stack, "PUT", "/webhooks/faults", {"drop_next": 2})
    doc = await ecm.upload_document(parent_id=folder, name="Lost.pdf", content=b"%PDF-1")
    await ecm.add_version(doc.id, content=b"%PDF-2", filename="Lost.pdf")
    await cs_control(http, stack, "POST", f"/nodes/{doc.id}/approve", {})
    # Only the approval's webhook came; the document's earlier events are read from its audit
    # trail before it is relayed, so the creation still comes first.
    portal = await relayed(http, stack, "project-portal", doc.id, 3)
    assert [m["type"] for m in portal] == ["node.created", "node.version_added", "node.approved"]

    answer = await ops.call("POST", "/v1/ecm/poller/polls", json={})
    assert answer["polls"] >= 0

    async def poller() -> dict[str, Any]:
        return await read_status(ops, "/v1/ecm/poller")

    await eventually(poller, lambda p: p["polls"] >= 1 and p["submitted"] >= 3, within=60)
    status = await eventually(
        lambda: read_status(ops, f"/v1/ecm/documents/{doc.id}"),
        lambda s: s.get("counts", {}).get("audit_duplicate", 0) >= 1,
        within=60,
    )
    assert status["counts"]["relayed"] == 3
    again = await received(http, stack, "project-portal", doc.id)
    assert len(again) == 3 and all(m["deliveries"] == 1 for m in again)


async def test_dead_letter_disable_enable_and_recover(
    stack: EmbeddedStack, http: httpx.AsyncClient, ecm: ContentServerClient, ops: DocflowApiClient
) -> None:
    folder = await workspace(http, stack)
    started = datetime.now(UTC) - timedelta(seconds=1)
    await target(http, stack, "PATCH", "/endpoints/erp-finance", {"gone": True})
    try:
        doc = await ecm.upload_document(parent_id=folder, name="Gone.pdf", content=b"%PDF-1")
        failed = await eventually(
            lambda: read_status(ops, f"/v1/ecm/documents/{doc.id}"),
            lambda s: any(
                m["subscription"] == "erp-finance" and m["status"] == "failed"
                for m in s.get("messages", [])
            ),
            within=60,
        )
        assert failed["summary"]["state"] == "relay_failed"
        health = await eventually(
            lambda: read_status(ops, "/v1/ecm/subscriptions/erp-finance"),
            lambda s: s.get("health", {}).get("state") == "disabled",
            within=30,
        )
        assert "410" in health["health"]["disabled_reason"]
        # Disabled: recovery waits for the endpoint to be enabled.
        with pytest.raises(DocflowApiError) as refused:
            await ops.call(
                "POST",
                "/v1/ecm/subscriptions/erp-finance/recover",
                json={"since": started.isoformat()},
            )
        assert refused.value.status == 409
    finally:
        await target(http, stack, "PATCH", "/endpoints/erp-finance", {"gone": False})
    enabled = await ops.call(
        "POST", "/v1/ecm/subscriptions/erp-finance/enable", json={"comment": "fixed"}
    )
    assert enabled["state"] == "healthy"
    result = await ops.call(
        "POST", "/v1/ecm/subscriptions/erp-finance/recover", json={"since": started.isoformat()}
    )
    assert result["messages"] >= 1
    finance = await relayed(http, stack, "erp-finance", doc.id, 1)
    assert finance[0]["type"] == "node.created"
    ops_events = await target(http, stack, "GET", "/endpoints/ops-events/received")
    assert {"endpoint.disabled", "endpoint.enabled"} <= {m["type"] for m in ops_events["results"]}


async def test_receiver_refuses_bad_input(stack: EmbeddedStack, http: httpx.AsyncClient) -> None:
    url = f"{stack.api_url}/webhooks/ecm"
    forged = await http.post(
        url,
        content=b'{"type":"node.approved"}',
        headers={
            "webhook-id": "msg_x",
            "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
            "webhook-signature": "v1,Zm9yZ2Vk",
            "content-type": "application/json",
        },
    )
    assert forged.status_code == 401
    huge = await http.post(url, content=b"x" * (300 * 1024))
    assert huge.status_code == 413
    secret = "whsec_ZGV2LWVjbS1ldmVudHMtc2VjcmV0LTEyMzQ="  # the local bundle's

    def signed(body: str) -> dict[str, str]:
        msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body),
            "content-type": "application/json",
        }

    malformed = '{"type":"node.approved","timestamp":"2026-12-07T10:00:00Z","data":{}}'
    answer = await http.post(url, content=malformed, headers=signed(malformed))
    assert answer.status_code == 422
    assert "node" in answer.text
    stale = signed(malformed)
    stale["webhook-timestamp"] = str(int(datetime.now(UTC).timestamp()) - 600)
    assert (await http.post(url, content=malformed, headers=stale)).status_code == 401
    other = (
        '{"type":"node.moved","timestamp":"2026-12-07T10:00:00Z","data":{"node":{"id":5},'
        '"audit":{"event_type":1,"audit_date":"2026-12-07T10:00:00Z"}}}'
    )
    ignored = await http.post(url, content=other, headers=signed(other))
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"


async def test_an_approved_contract_activates_it_in_erp_and_the_result_comes_back(
    stack: EmbeddedStack, http: httpx.AsyncClient, ecm: ContentServerClient
) -> None:
    folder = await workspace(http, stack)
    doc = await ecm.upload_document(parent_id=folder, name="Supply contract.pdf", content=b"%PDF")
    await cs_control(http, stack, "POST", f"/nodes/{doc.id}/approve", {})
    await cs_control(http, stack, "POST", f"/nodes/{doc.id}/approve", {})  # approved again

    async def status_on_document() -> dict[str, Any]:
        node = await cs_control(http, stack, "GET", f"/nodes/{doc.id}")
        return dict(node["detail"]["categories"].get("9400") or {})

    written = await eventually(
        status_on_document, lambda c: c.get("9400_1") == "Completed", within=60
    )
    assert "contract_no" in str(written.get("9400_2"))
    found = (await http.get(f"{stack.erp_url}/_control/processes")).json()
    mine = [p for p in found["results"] if p["document"]["node_id"] == doc.id]
    assert [p["process"] for p in mine] == ["contract_activation"]  # once, however approved


async def test_legal_review_done_starts_a_commercial_review_whose_decision_lands_on_the_document(
    stack: EmbeddedStack, http: httpx.AsyncClient, ecm: ContentServerClient
) -> None:
    folder = await workspace(http, stack)
    doc = await ecm.upload_document(parent_id=folder, name="Draft agreement.docx", content=b"PK")
    await ecm.set_categories(doc.id, 9400, {"9400_1": "Legal review done"})
    carol = DocflowApiClient(stack.api_url, "dev-carol-key", http=http)

    async def the_review() -> dict[str, Any]:
        relay = await read_status(
            DocflowApiClient(stack.api_url, "dev-ops-key", http=http), f"/v1/ecm/documents/{doc.id}"
        )
        review = next(
            (e for e in relay.get("events", []) if "commercial-approval" in e["actions"]), None
        )
        return review or {}

    event = await eventually(the_review, lambda e: bool(e), within=60)
    key = f"{doc.id}:node.categories_updated:{event['audit_date']}"
    request_id = f"commercial-approval.{hashlib.sha256(key.encode()).hexdigest()[:24]}"
    path = f"/v1/ecm/review-tasks/ECM/{request_id}"
    task = await eventually(lambda: read_status(carol, path), lambda t: bool(t.get("stage")))
    assert task["title"] == "Commercial approval" and "carol@example.com" in task["participants"]
    await carol.call("POST", f"{path}/decision", json={"decision": "approve", "comment": "ok"})

    async def status_on_document() -> dict[str, Any]:
        node = await cs_control(http, stack, "GET", f"/nodes/{doc.id}")
        return dict(node["detail"]["categories"].get("9400") or {})

    written = await eventually(status_on_document, lambda c: c.get("9400_1") == "Approved")
    assert written["9400_3"] == "carol@example.com"
