"""Content distribution end to end on the dev server: the Amplience simulator's own signed
webhooks, the receiver, ContentDistributionWorkflow, the downstream targets (the webhook
target simulator) and the failure loop back into Amplience."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx

from devstack.embedded import EmbeddedStack
from starter.api_client import DocflowApiClient
from tests.e2e.signing_e2e_test import control
from tests.e2e.workspaces_e2e_test import eventually, read_status
from tests.stacks import get_json, put_json

PRODUCT = "https://schema.docflow.example/product.json"
TARGETS = {"partner-portal", "erp-catalogue", "b2b-network"}
CHANNELS = {"supplier-portal", "order-management"}
DISTRIBUTED = "5f1a0c1e2b3c4d5e6f700003"
FAILED = "5f1a0c1e2b3c4d5e6f700004"


def product(**fields: Any) -> dict[str, Any]:
    return {
        "_meta": {"schema": PRODUCT},
        "sku": f"SKU-{uuid.uuid4().hex[:6]}",
        "title": "Trail shoe",
        "price": 99.5,
        "currency": "EUR",
        **fields,
    }


async def deliveries(
    http: httpx.AsyncClient, stack: EmbeddedStack, item_id: str
) -> dict[str, list[int]]:
    """Endpoint → the item versions it accepted."""
    found = await get_json(http, f"{stack.webhook_target_url}/_control/deliveries")
    accepted: dict[str, list[int]] = {}
    for message in found["results"]:
        data = message["payload"]["data"]
        if data.get("item_id") == item_id:
            accepted.setdefault(message["endpoint"], []).append(data["version"])
    return accepted


async def distribution_in(ops: DocflowApiClient, item_id: str, state: str) -> dict[str, Any]:
    """The item's distribution status once it is in `state`."""
    found: dict[str, Any] = await eventually(
        lambda: read_status(ops, f"/v1/content/items/{item_id}"),
        lambda s: s.get("state") == state,
    )
    return found


async def item(http: httpx.AsyncClient, stack: EmbeddedStack, item_id: str) -> dict[str, Any]:
    items = await get_json(http, f"{stack.amplience_url}/_control/items")
    return next(i for i in items["results"] if i["id"] == item_id)


async def test_an_approved_product_reaches_every_target_and_a_refusal_is_fixed(
    stack: EmbeddedStack, http: httpx.AsyncClient
) -> None:
    amp = stack.amplience_url
    ops = DocflowApiClient(stack.api_url, "dev-ops-key", http=http)
    # The ERP catalogue insists on a currency the mapping does not require.
    await put_json(
        http,
        f"{stack.webhook_target_url}/_control/endpoints/erp-catalogue",
        {"required_fields": ["content.currency"]},
    )
    seeded = await control(
        http, amp, "items", label="Trail shoe", body=product(currency=None), workflow_state="Draft"
    )
    item_id = seeded["id"]
    approved = await control(http, amp, f"items/{item_id}/workflow", state="Approved")

    # 1. Approved without a currency: two targets and both channels take it, the ERP refuses.
    status = await distribution_in(ops, item_id, "integration_failed")
    got = await deliveries(http, stack, item_id)
    assert set(got) == (TARGETS | CHANNELS) - {"erp-catalogue"}
    assert got["partner-portal"] == [approved["version"]]
    erp = next(d for d in status["deliveries"] if d["target"] == "ERP_CATALOGUE")
    assert erp["status"] == "failed" and erp["http_status"] == 422 and "currency" in erp["reason"]
    # The state moves first, then the reasons are written (two calls): wait for both.
    moved = await eventually(
        lambda: item(http, stack, item_id),
        lambda i: i["workflow"]["state"] == FAILED and "integrationStatus" in i["body"],
    )
    [reported] = moved["body"]["integrationStatus"]
    assert reported["target"] == "ERP_CATALOGUE" and "currency" in reported["reason"]

    # 2. The content team adds the currency and approves again: everything is delivered.
    await control(http, amp, f"items/{item_id}/edit", body={**moved["body"], "currency": "EUR"})
    fixed = await control(http, amp, f"items/{item_id}/workflow", state="Approved")
    done = await distribution_in(ops, item_id, "distributed")
    assert done["distributed_version"] == fixed["version"]
    got = await deliveries(http, stack, item_id)
    assert got["erp-catalogue"] == [fixed["version"]] and set(got) == TARGETS | CHANNELS
    final = await eventually(  # moved, then the stale reasons emptied
        lambda: item(http, stack, item_id),
        lambda i: i["workflow"]["state"] == DISTRIBUTED and i["body"]["integrationStatus"] == [],
    )
    assert final["version"] > fixed["version"]
    by_target = await ops.call("GET", "/v1/content/targets/ERP_CATALOGUE/deliveries")
    mine = [d for d in by_target["results"] if d["idempotency_key"].startswith(item_id)]
    assert [d["status"] for d in mine] == ["delivered", "failed"]  # newest first


async def test_a_target_down_for_a_while_is_delivered_on_its_schedule(
    stack: EmbeddedStack, http: httpx.AsyncClient
) -> None:
    amp = stack.amplience_url
    ops = DocflowApiClient(stack.api_url, "dev-ops-key", http=http)
    await put_json(
        http,
        f"{stack.webhook_target_url}/_control/endpoints/b2b-network",
        {"script": [503, {"status": 429, "retry_after_s": 1}]},
    )
    seeded = await control(http, amp, "items", label="Boot", body=product(), workflow_state="Draft")
    item_id = seeded["id"]
    await control(http, amp, f"items/{item_id}/workflow", state="Approved")
    done = await distribution_in(ops, item_id, "distributed")
    b2b = next(d for d in done["deliveries"] if d["target"] == "B2B_NETWORK")
    assert b2b["attempts"] == 3 and b2b["status"] == "delivered"
    others = [d for d in done["deliveries"] if d["target"] != "B2B_NETWORK"]
    assert {d["attempts"] for d in others} == {1}  # the others were not held back


def amplience_signed(body: dict[str, Any], secret: str = "dev-amplience-webhook-secret"):  # type: ignore[no-untyped-def]
    raw = json.dumps(body).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest())
    return raw, {
        "X-Amplience-Webhook-Signature": signature.decode(),
        "content-type": "application/json",
    }


async def test_the_receiver_refuses_bad_input_and_ignores_what_approves_nothing(
    stack: EmbeddedStack, http: httpx.AsyncClient
) -> None:
    url = f"{stack.api_url}/webhooks/amplience"
    item_id = f"never-{uuid.uuid4().hex[:8]}"
    approval = {
        "id": str(uuid.uuid4()),
        "name": "dynamic-content.content-item.workflow.updated",
        "payload": {"id": item_id, "version": 2, "workflow": {"state": "5f1a0c1e2b3c4d5e6f700002"}},
    }
    raw, headers = amplience_signed(approval, secret="forged")
    forged = await http.post(url, content=raw, headers=headers)
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_signature"
    raw, headers = amplience_signed({"name": "x"})
    assert (await http.post(url, content=raw, headers=headers)).status_code == 422
    too_long = {**approval, "payload": {**approval["payload"], "id": "x" * 65}}
    raw, headers = amplience_signed(too_long)
    assert (await http.post(url, content=raw, headers=headers)).status_code == 422
    raw, headers = amplience_signed({**approval, "payload": {"x": "y" * 300_000}})
    assert (await http.post(url, content=raw, headers=headers)).status_code == 413
    draft = {**approval, "payload": {**approval["payload"], "workflow": {"state": "draft"}}}
    raw, headers = amplience_signed(draft)
    ignored = await http.post(url, content=raw, headers=headers)
    assert ignored.status_code == 200 and ignored.json() == {"status": "ignored"}
    raw, headers = amplience_signed({**approval, "name": "dynamic-content.edition.scheduled"})
    assert (await http.post(url, content=raw, headers=headers)).json() == {"status": "ignored"}
    ops = DocflowApiClient(stack.api_url, "dev-ops-key", http=http)
    assert await read_status(ops, f"/v1/content/items/{item_id}") == {}  # nothing started


async def test_an_operator_retries_only_the_failed_target_over_http(
    stack: EmbeddedStack, http: httpx.AsyncClient
) -> None:
    amp = stack.amplience_url
    ops = DocflowApiClient(stack.api_url, "dev-ops-key", http=http)
    # The partner portal stops this message's retries (webhook-delivery: abort-message).
    await put_json(
        http,
        f"{stack.webhook_target_url}/_control/endpoints/partner-portal",
        {"script": [{"status": 500, "abort": True}]},
    )
    seeded = await control(http, amp, "items", label="Sock", body=product(), workflow_state="Draft")
    item_id = seeded["id"]
    await control(http, amp, f"items/{item_id}/workflow", state="Approved")
    path = f"/v1/content/items/{item_id}"
    failed = await distribution_in(ops, item_id, "integration_failed")
    portal = next(d for d in failed["deliveries"] if d["target"] == "PARTNER_PORTAL")
    assert "abort" in portal["reason"].lower()
    hidden = await http.get(f"{stack.api_url}{path}", headers={"X-API-Key": "dev-crm-key"})
    assert hidden.status_code == 404  # the CRM application does not act for Amplience
    refused = await http.post(
        f"{stack.api_url}{path}/retries", json={}, headers={"X-API-Key": "dev-crm-key"}
    )
    assert refused.status_code in (403, 404)
    answer = await ops.call("POST", f"{path}/retries", json={"comment": "portal fixed"})
    assert answer == {"status": "retrying"}
    done = await distribution_in(ops, item_id, "distributed")
    got = await deliveries(http, stack, item_id)
    assert set(got) == TARGETS | CHANNELS and all(len(v) == 1 for v in got.values())
    assert [d["round"] for d in done["deliveries"] if d["target"] == "PARTNER_PORTAL"] == [1, 2]
    again = await http.post(
        f"{stack.api_url}{path}/retries", json={}, headers={"X-API-Key": "dev-ops-key"}
    )
    assert again.status_code == 409 and "nothing to retry" in again.json()["error"]["message"]


async def test_an_approval_whose_webhook_never_came_is_distributed_on_request(
    stack: EmbeddedStack, http: httpx.AsyncClient
) -> None:
    amp = stack.amplience_url
    ops = DocflowApiClient(stack.api_url, "dev-ops-key", http=http)
    # Created already approved: Amplience sends `content-item.created`, never an approval.
    seeded = await control(
        http, amp, "items", label="Cap", body=product(), workflow_state="Approved"
    )
    item_id = seeded["id"]
    path = f"/v1/content/items/{item_id}"
    assert await read_status(ops, path) == {}  # nothing started
    answer = await ops.call("POST", f"{path}/distributions")
    assert answer == {"status": "accepted"}
    done = await distribution_in(ops, item_id, "distributed")
    assert done["distributed_version"] == seeded["version"]
    assert set(await deliveries(http, stack, item_id)) == TARGETS | CHANNELS
    # Asked again: the version went out already, nothing is sent twice.
    await ops.call("POST", f"{path}/distributions")
    again = await eventually(
        lambda: read_status(ops, path),
        lambda s: (
            s.get("ignored", 0)
            + len([e for e in s.get("audit", []) if e["kind"] == "not_distributed"])
            >= 1
        ),
    )
    assert again["distributed_version"] == seeded["version"]
    assert all(len(v) == 1 for v in (await deliveries(http, stack, item_id)).values())
