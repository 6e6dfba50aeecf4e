"""Webhook target playing several event subscribers at once: each its own secret and knobs
(down, slow, 429 + Retry-After, 410, abort), knobs changed one at a time, and the inspection
tests use for per-document order and exactly-once."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.simulators.conftest import PORTAL_SECRET, Served
from tests.simulators.webhook_target_test import deliver

CRM_SECRET = "whsec_Y3JtLXN1YnNjcmliZXItc2VjcmV0LTEyMzQ1"
AUDIT_SECRET = "whsec_YXVkaXQtc3Vic2NyaWJlci1zZWNyZXQtOTg3"


def event(event_type: str, node_id: int | None, version: int | None = None) -> dict[str, Any]:
    node = {"id": node_id, "version": version, "name": f"{node_id}.pdf"}
    return {"type": event_type, "data": {"node": node} if node_id is not None else {"x": 1}}


async def subscribers(client: httpx.AsyncClient) -> None:
    for name, secret in (("crm-sub", CRM_SECRET), ("audit-sub", AUDIT_SECRET)):
        answer = await client.put(f"/_control/endpoints/{name}", json={"secret": secret})
        assert answer.status_code == 200, answer.text


async def received(client: httpx.AsyncClient, name: str, after: int = 0) -> dict[str, Any]:
    answer = await client.get(f"/_control/endpoints/{name}/received", params={"after": after})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_each_subscriber_has_its_own_secret_and_knobs(target: Served) -> None:
    client = target.client
    await subscribers(client)
    await client.patch("/_control/endpoints/crm-sub", json={"down": True})
    await client.patch(
        "/_control/endpoints/audit-sub",
        json={"latency_ms": 40, "script": [{"status": 429, "retry_after_s": 7}]},
    )
    message = event("node.approved", 100_001, 1)

    down = await deliver(client, "crm-sub", message, CRM_SECRET, "msg_a")
    assert (down.status_code, down.headers.get("retry-after")) == (503, None)
    started = time.monotonic()
    limited = await deliver(client, "audit-sub", message, AUDIT_SECRET, "msg_a")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    assert time.monotonic() - started >= 0.04
    wrong_secret = await deliver(client, "audit-sub", message, CRM_SECRET, "msg_a")
    assert wrong_secret.status_code == 401
    accepted = await deliver(client, "audit-sub", message, AUDIT_SECRET, "msg_a")
    assert accepted.status_code == 200
    assert (await deliver(client, "portal", message, PORTAL_SECRET, "msg_a")).status_code == 200

    # Back up: only `down` changes, the other knobs stay.
    await client.patch("/_control/endpoints/crm-sub", json={"rate_limit_per_s": 5})
    back = await client.patch("/_control/endpoints/crm-sub", json={"down": False})
    assert back.json()["settings"]["rate_limit_per_s"] == 5
    assert back.json()["settings"]["down"] is False
    assert (await deliver(client, "crm-sub", message, CRM_SECRET, "msg_a")).status_code == 200
    lifted = await client.patch("/_control/endpoints/crm-sub", json={"rate_limit_per_s": None})
    assert lifted.json()["settings"]["rate_limit_per_s"] is None

    crm = (await client.get("/_control/endpoints/crm-sub")).json()
    assert [a["status"] for a in crm["attempts"]] == [503, 200]
    audit = (await client.get("/_control/endpoints/audit-sub")).json()
    assert [a["status"] for a in audit["attempts"]] == [429, 401, 200]
    assert audit["settings"]["latency_ms"] == 40 and audit["rejected"] == 1
    for name in ("crm-sub", "audit-sub", "portal"):
        assert (await received(client, name))["count"] == 1
    assert (await client.get("/_control/endpoints/nobody")).status_code == 404
    assert (await client.patch("/_control/endpoints/nobody", json={})).status_code == 404


async def test_gone_and_abort_are_per_subscriber(target: Served) -> None:
    client = target.client
    await subscribers(client)
    await client.patch("/_control/endpoints/crm-sub", json={"gone": True})
    await client.patch(
        "/_control/endpoints/audit-sub", json={"script": [{"status": 422, "abort": True}]}
    )
    message = event("node.created", 7)
    assert (await deliver(client, "crm-sub", message, CRM_SECRET)).status_code == 410
    aborted = await deliver(client, "audit-sub", message, AUDIT_SECRET)
    assert aborted.status_code == 422
    assert aborted.headers["webhook-delivery"] == "abort-message"
    assert (await deliver(client, "portal", message)).status_code == 200


async def test_received_lists_arrival_order_per_document_and_duplicates(target: Served) -> None:
    client = target.client
    await subscribers(client)
    await client.patch("/_control/endpoints/crm-sub", json={"script": [503]})
    sent = [
        ("m1", event("node.created", 11, 1)),
        ("m2", event("node.created", 12, 1)),
        ("m3", event("node.version_added", 11, 2)),
        ("m1", event("node.created", 11, 1)),  # the retry after the 503
        ("m4", event("workspace.created", None)),
        ("m5", event("node.approved", 11, 2)),
        ("m5", event("node.approved", 11, 2)),
    ]
    answers = [await deliver(client, "crm-sub", p, CRM_SECRET, i) for i, p in sent]
    assert [a.status_code for a in answers] == [503, 200, 200, 200, 200, 200, 200]

    seen = await received(client, "crm-sub")
    assert [(r["seq"], r["webhook_id"]) for r in seen["results"]] == [
        (1, "m2"),
        (2, "m3"),
        (3, "m1"),
        (4, "m4"),
        (5, "m5"),
    ]
    m1 = seen["results"][2]
    assert (m1["type"], m1["node_id"], m1["node_version"]) == ("node.created", 11, 1)
    assert (m1["deliveries"], m1["attempts"]) == (1, 2)  # the first attempt got the 503
    assert seen["results"][3]["node_id"] is None
    assert seen["by_node"]["11"] == [
        {"seq": 2, "type": "node.version_added", "node_version": 2, "webhook_id": "m3"},
        {"seq": 3, "type": "node.created", "node_version": 1, "webhook_id": "m1"},
        {"seq": 5, "type": "node.approved", "node_version": 2, "webhook_id": "m5"},
    ]
    assert seen["by_node"]["12"][0]["webhook_id"] == "m2"
    assert (seen["count"], seen["next"], seen["duplicates"]) == (5, 5, 1)
    assert seen["duplicate_ids"] == {"m5": 2}

    polled = await received(client, "crm-sub", after=3)
    assert [r["webhook_id"] for r in polled["results"]] == ["m4", "m5"]
    assert (await received(client, "audit-sub"))["results"] == []
    missing = await client.get("/_control/endpoints/nobody/received")
    assert missing.status_code == 404
