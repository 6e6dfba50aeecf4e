"""Webhook target over real HTTP: verification, dedupe, scripted answers, 410, knobs, reset."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.simulators.conftest import PORTAL_SECRET, Served, signed

ERP_SECRET = "whsec_ZXJwLWNhdGFsb2d1ZS1zZWNyZXQtMTIzNDU2"


async def deliver(
    client: httpx.AsyncClient,
    endpoint: str,
    payload: dict[str, Any],
    secret: str = PORTAL_SECRET,
    msg_id: str | None = None,
) -> httpx.Response:
    body, headers = signed(payload, secret, msg_id)
    return await client.post(f"/{endpoint}", content=body, headers=headers)


async def deliveries(client: httpx.AsyncClient, endpoint: str | None = None) -> dict[str, Any]:
    params = {"endpoint": endpoint} if endpoint else {}
    response = await client.get("/_control/deliveries", params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_a_verified_delivery_is_recorded(target: Served) -> None:
    answer = await deliver(target.client, "portal", {"item": "A-1"}, msg_id="msg_1")
    assert answer.status_code == 200
    assert answer.json() == {"status": "accepted", "webhook_id": "msg_1"}

    seen = await deliveries(target.client, "portal")
    assert seen["count"] == 1
    [record] = seen["results"]
    assert record["endpoint"] == "portal"
    assert record["webhook_id"] == "msg_1"
    assert record["payload"] == {"item": "A-1"}
    assert record["body"] == '{"item": "A-1"}'
    assert record["headers"]["webhook-id"] == "msg_1"
    assert record["received_at"]


async def test_a_poll_reads_only_what_arrived_since_without_the_raw_message(
    target: Served,
) -> None:
    client = target.client
    await deliver(client, "portal", {"item": "A-1"}, msg_id="msg_old")
    [old] = (await deliveries(client, "portal"))["results"]
    await deliver(client, "portal", {"item": "A-2"}, msg_id="msg_new")
    [new] = (await deliveries(client, "portal"))["results"][1:]
    params = {"raw": False, "since": new["received_at"]}
    polled = (await client.get("/_control/deliveries", params=params)).json()
    assert [r["webhook_id"] for r in polled["results"]] == ["msg_new"]
    assert "body" not in polled["results"][0] and "headers" not in polled["results"][0]
    params = {"raw": False, "since": old["received_at"]}
    both = (await client.get("/_control/deliveries", params=params)).json()
    assert both["count"] == 2


async def test_a_bad_signature_is_rejected_with_401(target: Served) -> None:
    client = target.client
    assert (await deliver(client, "portal", {"item": "A-1"}, secret=ERP_SECRET)).status_code == 401
    body, headers = signed({"item": "A-1"}, PORTAL_SECRET)
    tampered = await client.post("/portal", content=body + b" ", headers=headers)
    assert tampered.status_code == 401
    assert (await client.post("/portal", json={"item": "A-1"})).status_code == 401

    seen = await deliveries(client, "portal")
    assert (seen["count"], seen["rejected"]) == (0, 3)


async def test_a_duplicate_is_acknowledged_once(target: Served) -> None:
    client = target.client
    body, headers = signed({"item": "A-1"}, PORTAL_SECRET, "msg_dup")
    first = await client.post("/portal", content=body, headers=headers)
    again = await client.post("/portal", content=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["status"] == "duplicate"

    seen = await deliveries(client, "portal")
    assert (seen["count"], seen["duplicates"]) == (1, 1)
    assert seen["results"][0]["deliveries"] == 2


async def test_scripted_statuses_and_retry_after_in_order(target: Served) -> None:
    client = target.client
    knobs = {
        "script": [
            {"status": 503, "retry_after_s": 5},
            {"status": 429, "retry_after_s": 1},
            502,
            200,
        ]
    }
    assert (await client.put("/_control/endpoints/portal", json=knobs)).status_code == 200

    answers = [await deliver(client, "portal", {"item": "A-1"}, msg_id="msg_r") for _ in range(5)]
    assert [a.status_code for a in answers] == [503, 429, 502, 200, 200]
    assert [a.headers.get("retry-after") for a in answers[:3]] == ["5", "1", None]
    assert answers[3].json()["status"] == "accepted"
    assert answers[4].json()["status"] == "duplicate"

    [portal] = (await client.get("/_control/endpoints")).json()["results"]
    assert [a["status"] for a in portal["attempts"]] == [503, 429, 502, 200, 200]
    assert portal["script_left"] == []
    assert (await deliveries(client, "portal"))["count"] == 1


async def test_abort_message_stops_the_sender(target: Served) -> None:
    client = target.client
    knobs = {"script": [{"status": 400, "abort": True}]}
    await client.put("/_control/endpoints/portal", json=knobs)
    answer = await deliver(client, "portal", {"item": "A-1"})
    assert answer.status_code == 400
    assert answer.headers["webhook-delivery"] == "abort-message"


async def test_a_gone_endpoint_answers_410(target: Served) -> None:
    client = target.client
    await client.put("/_control/endpoints/portal", json={"gone": True})
    assert (await deliver(client, "portal", {"item": "A-1"})).status_code == 410
    assert (await deliveries(client, "portal"))["count"] == 0
    assert (await deliver(client, "nowhere", {"item": "A-1"})).status_code == 404


async def test_endpoints_are_added_at_run_time_with_their_own_secret(target: Served) -> None:
    client = target.client
    assert (await client.put("/_control/endpoints/erp", json={})).status_code == 422
    created = await client.put(
        "/_control/endpoints/erp", json={"secret": ERP_SECRET, "latency_ms": 50}
    )
    assert created.status_code == 200
    assert "secret" not in created.json()["settings"]

    started = time.monotonic()
    assert (await deliver(client, "erp", {"sku": "1"}, secret=ERP_SECRET)).status_code == 200
    assert time.monotonic() - started >= 0.05
    assert (await deliver(client, "erp", {"sku": "2"}, secret=PORTAL_SECRET)).status_code == 401
    await deliver(client, "portal", {"item": "A-1"})

    assert (await deliveries(client, "erp"))["count"] == 1
    assert (await deliveries(client))["count"] == 2
    assert (await client.get("/_control/deliveries", params={"endpoint": "x"})).status_code == 404


async def test_reset_forgets_deliveries_knobs_and_added_endpoints(target: Served) -> None:
    client = target.client
    await client.put("/_control/endpoints/erp", json={"secret": ERP_SECRET})
    await client.put("/_control/endpoints/portal", json={"script": [503]})
    await deliver(client, "portal", {"item": "A-1"})
    await deliver(client, "portal", {"item": "A-2"})
    assert (await deliveries(client))["count"] == 1

    assert (await client.post("/_control/reset")).json() == {"reset": True}
    assert (await deliveries(client))["count"] == 0
    [portal] = (await client.get("/_control/endpoints")).json()["results"]
    assert (portal["endpoint"], portal["attempts"], portal["script_left"]) == ("portal", [], [])
    assert (await deliver(client, "portal", {"item": "A-3"})).status_code == 200


async def test_api_faults_apply_to_every_endpoint(target: Served) -> None:
    client = target.client
    await client.put("/_control/faults", json={"fail_next": {"count": 1, "retry_after_s": 3}})
    failed = await deliver(client, "portal", {"item": "A-1"})
    assert (failed.status_code, failed.headers["retry-after"]) == (503, "3")
    assert (await deliver(client, "portal", {"item": "A-1"})).status_code == 200


async def test_a_down_endpoint_answers_503_without_retry_after(target: Served) -> None:
    client = target.client
    await client.put("/_control/endpoints/portal", json={"down": True})
    answer = await deliver(client, "portal", {"data": {"title": "A"}})
    assert answer.status_code == 503 and "retry-after" not in answer.headers
    await client.put("/_control/endpoints/portal", json={"down": False})
    assert (await deliver(client, "portal", {"data": {"title": "A"}})).status_code == 200


async def test_missing_required_fields_are_refused_with_a_validation_body(target: Served) -> None:
    client = target.client
    knobs = {"required_fields": ["title", "price"]}
    await client.put("/_control/endpoints/portal", json=knobs)
    refused = await deliver(client, "portal", {"type": "x", "data": {"title": "A", "price": ""}})
    assert refused.status_code == 422
    assert refused.json() == {"errors": [{"field": "price", "message": "is required"}]}
    fixed = await deliver(client, "portal", {"type": "x", "data": {"title": "A", "price": 9}})
    assert fixed.status_code == 200
    seen = await deliveries(client, "portal")
    assert seen["count"] == 1 and seen["results"][0]["payload"]["data"]["price"] == 9


async def test_over_the_rate_limit_answers_429_retry_after_1(target: Served) -> None:
    client = target.client
    await client.put("/_control/endpoints/portal", json={"rate_limit_per_s": 2})
    answers = [await deliver(client, "portal", {"n": n}) for n in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].headers["retry-after"] == "1"


async def test_a_scripted_answer_may_carry_its_own_body(target: Served) -> None:
    client = target.client
    body = {"errors": [{"field": "sku", "message": "unknown"}]}
    await client.put("/_control/endpoints/portal", json={"script": [{"status": 400, "body": body}]})
    answer = await deliver(client, "portal", {"item": "A-1"})
    assert (answer.status_code, answer.json()) == (400, body)


async def test_a_ping_is_answered_but_not_recorded_nor_scripted(target: Served) -> None:
    await target.client.patch("/_control/endpoints/portal", json={"script": [500]})
    ping = await deliver(target.client, "portal", {"type": "docflow.ping", "data": {}})
    assert ping.status_code == 200
    assert ping.json()["status"] == "pong"
    assert (await deliveries(target.client, "portal"))["count"] == 0
    # The script is kept for the business messages.
    assert (await deliver(target.client, "portal", {"item": "A-1"})).status_code == 500
    forged = await deliver(target.client, "portal", {"type": "docflow.ping"}, secret=ERP_SECRET)
    assert forged.status_code == 401
    await target.client.patch("/_control/endpoints/portal", json={"down": True})
    down = await deliver(target.client, "portal", {"type": "docflow.ping", "data": {}})
    assert down.status_code == 503
