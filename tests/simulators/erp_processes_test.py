"""ERP simulator, business processes docflow's lifecycle triggers start: idempotent starts,
validation, results per kind, failures on demand, the signed finish events, control, reset."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import httpx
from standardwebhooks import Webhook

from simulators.erp import ErpConfig
from tests.simulators.conftest import CallbackReceiver, Served

KEY = {"Authorization": "Bearer dev-erp-key"}
EVENTS_SECRET = ErpConfig().events_secret


def start_body(process: str = "invoice_processing", reference: str = "act-1") -> dict[str, Any]:
    return {
        "process": process,
        "reference": reference,
        "document": {"node_id": 100_123, "version": 2, "name": "Invoice 4711.pdf"},
        "business_object": {"ext_system_id": "SAP", "bo_type": "Supplier", "bo_id": "300000001"},
        "data": {"amount": "1200.00", "currency": "EUR"},
    }


async def start(
    client: httpx.AsyncClient, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    headers = {**KEY, "Idempotency-Key": key or f"key-{uuid.uuid4().hex}"}
    return await client.post("/api/processes", json=body, headers=headers)


async def quick(client: httpx.AsyncClient, **faults: Any) -> None:
    answer = await client.post("/_control/processes/faults", json={"duration_ms": 30, **faults})
    assert answer.status_code == 200, answer.text


async def events_to(client: httpx.AsyncClient, receiver: CallbackReceiver) -> None:
    receiver.reset()
    await client.put("/_control/events/url", json={"url": receiver.url})


async def settled(client: httpx.AsyncClient) -> None:
    assert (await client.post("/_control/events/flush")).json() == {"idle": True}


async def test_a_process_runs_then_completes_with_its_result_and_a_signed_event(
    erp_sim: Served, receiver: CallbackReceiver
) -> None:
    client = erp_sim.client
    await events_to(client, receiver)
    await quick(client)
    started = await start(client, start_body())
    assert started.status_code == 201, started.text
    process = started.json()
    assert started.headers["location"] == f"/api/processes/{process['id']}"
    assert {k: process[k] for k in ("process", "reference", "status", "result", "reason")} == {
        "process": "invoice_processing",
        "reference": "act-1",
        "status": "running",
        "result": None,
        "reason": None,
    }
    assert process["created_at"].endswith("Z") and process["finished_at"] is None
    assert process["document"]["node_id"] == 100_123

    await settled(client)
    done = (await client.get(f"/api/processes/{process['id']}", headers=KEY)).json()
    assert done["status"] == "completed" and done["finished_at"].endswith("Z")
    assert re.fullmatch(r"51000\d{5}", done["result"]["erp_document_no"])
    assert done["result"]["posting_status"] == "posted" and done["reason"] is None

    [message] = receiver.received
    event = Webhook(EVENTS_SECRET).verify(message["raw"], message["headers"])
    assert event["type"] == "process.completed"
    assert event["data"] == {
        "id": process["id"],
        "process": "invoice_processing",
        "reference": "act-1",
        "status": "completed",
        "result": done["result"],
        "reason": None,
        "finished_at": done["finished_at"],
    }
    assert message["headers"]["idempotency-key"] == message["headers"]["webhook-id"]
    sent = (await client.get("/_control/events", params={"process_id": process["id"]})).json()
    assert sent["count"] == 1 and sent["results"][0]["event_type"] == "process.completed"


async def test_each_kind_has_its_result(erp_sim: Served) -> None:
    client = erp_sim.client
    await quick(client)
    ids = {}
    for kind in ("invoice_processing", "contract_activation", "procurement_release"):
        answer = await start(client, start_body(kind, f"act-{kind}"))
        ids[kind] = answer.json()["id"]
    await settled(client)
    results = {
        kind: (await client.get(f"/api/processes/{pid}", headers=KEY)).json()["result"]
        for kind, pid in ids.items()
    }
    assert re.fullmatch(r"40\d{8}", results["contract_activation"].pop("contract_no"))
    assert re.fullmatch(r"45\d{8}", results["procurement_release"].pop("po_number"))
    assert results["contract_activation"] == {"status": "active"}
    assert results["procurement_release"] == {"status": "released"}


async def test_the_same_idempotency_key_answers_the_same_process(erp_sim: Served) -> None:
    client = erp_sim.client
    first = await start(client, start_body(), key="act-1:rule-7")
    again = await start(client, start_body(), key="act-1:rule-7")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    conflict = await start(client, start_body(reference="act-2"), key="act-1:rule-7")
    assert conflict.status_code == 409 and "act-1:rule-7" in conflict.json()["error"]
    other_key = await start(client, start_body(), key="act-1:rule-8")
    assert other_key.status_code == 201 and other_key.json()["id"] != first.json()["id"]

    control = (await client.get("/_control/processes")).json()
    assert control["count"] == 2 and control["replays"] == 1
    assert control["started"] == {
        "invoice_processing": 2,
        "contract_activation": 0,
        "procurement_release": 0,
    }
    assert control["references_started_twice"] == {"act-1": 2}
    [mine] = [p for p in control["results"] if p["id"] == first.json()["id"]]
    assert (mine["idempotency_key"], mine["replays"]) == ("act-1:rule-7", 1)
    assert mine["data"] == {"amount": "1200.00", "currency": "EUR"}
    listed = (await client.get("/api/processes", params={"reference": "act-1"}, headers=KEY)).json()
    assert len(listed["items"]) == 2
    none = (await client.get("/api/processes", params={"reference": "x"}, headers=KEY)).json()
    assert none == {"items": []}


async def test_bad_starts_are_refused_with_a_clear_error(erp_sim: Served) -> None:
    client = erp_sim.client
    body = start_body()
    no_key = await client.post("/api/processes", json=body, headers=KEY)
    assert no_key.status_code == 400 and "Idempotency-Key" in no_key.json()["error"]
    assert (await start(client, body, key="k" * 201)).status_code == 400
    unknown = await start(client, start_body("payroll_run"))
    assert unknown.status_code == 422
    assert "unknown process 'payroll_run'" in unknown.json()["detail"]
    for broken in (
        {**body, "reference": ""},
        {**body, "reference": "r" * 201},
        {**body, "document": {"version": 1, "name": "x"}},
        {**body, "business_object": {"ext_system_id": "SAP"}},
        {**body, "data": {"blob": "x" * (16 * 1024)}},
        [body],
    ):
        answer = await client.post(
            "/api/processes",
            content=json.dumps(broken),
            headers={**KEY, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert answer.status_code == 422, broken
        assert answer.json()["error"] == "invalid process start"
    garbled = await client.post(
        "/api/processes", content=b"{", headers={**KEY, "Idempotency-Key": "k"}
    )
    assert garbled.status_code == 400
    anonymous = await client.post("/api/processes", json=body, headers={"Idempotency-Key": "k"})
    assert anonymous.status_code == 401
    assert (await client.get("/api/processes/PRC-0", headers=KEY)).status_code == 404
    assert (await client.get("/_control/processes")).json()["count"] == 0


async def test_failures_on_demand_and_their_event(
    erp_sim: Served, receiver: CallbackReceiver
) -> None:
    client = erp_sim.client
    await events_to(client, receiver)
    faults = {"fail_next": 1, "reason": "Contract not found", "fail_process": "contract_activation"}
    await quick(client, **faults)
    invoice = (await start(client, start_body(), key="i")).json()
    failing = (await start(client, start_body("contract_activation", "act-c1"), key="c1")).json()
    working = (await start(client, start_body("contract_activation", "act-c2"), key="c2")).json()
    await settled(client)

    async def state(pid: str) -> dict[str, Any]:
        found: dict[str, Any] = (await client.get(f"/api/processes/{pid}", headers=KEY)).json()
        return found

    assert (await state(invoice["id"]))["status"] == "completed"
    failed = await state(failing["id"])
    assert (failed["status"], failed["reason"], failed["result"]) == (
        "failed",
        "Contract not found",
        None,
    )
    assert (await state(working["id"]))["status"] == "completed"
    events = {m["body"]["data"]["id"]: m["body"] for m in receiver.received}
    assert events[failing["id"]]["type"] == "process.failed"
    assert events[failing["id"]]["data"]["reason"] == "Contract not found"
    assert events[working["id"]]["type"] == "process.completed"
    # A replay of the failed start answers the failed process (no new attempt).
    replay = await start(client, start_body("contract_activation", "act-c1"), key="c1")
    assert (replay.status_code, replay.json()["status"]) == (200, "failed")
    control = (await client.get("/_control/processes")).json()
    assert control["by_status"] == {"completed": 2, "failed": 1}
    assert control["faults"]["fail_left"] == 0
    refused = await client.post("/_control/processes/faults", json={"fail_process": "x"})
    assert refused.status_code == 422


async def test_with_events_off_nothing_is_sent_but_the_status_is_read(
    erp_sim: Served, receiver: CallbackReceiver
) -> None:
    client = erp_sim.client
    receiver.reset()
    process = (await start(client, start_body())).json()  # the config's 300 ms
    assert (await client.get(f"/api/processes/{process['id']}", headers=KEY)).json()[
        "status"
    ] == "running"
    await asyncio.sleep(0.35)
    done = (await client.get(f"/api/processes/{process['id']}", headers=KEY)).json()
    assert done["status"] == "completed"
    await settled(client)
    assert receiver.received == []
    assert (await client.get("/_control/events")).json()["count"] == 0


async def test_reset_forgets_processes_and_their_faults(erp_sim: Served) -> None:
    client = erp_sim.client
    await quick(client, fail_next=3, duration_ms=60_000)
    process = (await start(client, start_body(), key="kept?")).json()
    assert (await client.post("/_control/reset")).status_code == 200
    control = (await client.get("/_control/processes")).json()
    assert (control["count"], control["replays"], control["faults"]["fail_next"]) == (0, 0, 0)
    assert (await client.get(f"/api/processes/{process['id']}", headers=KEY)).status_code == 404
    again = await start(client, start_body(), key="kept?")
    assert again.status_code == 201 and again.json()["id"] != process["id"]
    await settled(client)
    assert (await client.get(f"/api/processes/{again.json()['id']}", headers=KEY)).json()[
        "status"
    ] == "completed"


async def test_finish_events_may_go_apart_from_the_business_object_events(
    erp_sim: Served, receiver: CallbackReceiver
) -> None:
    client = erp_sim.client
    receiver.reset()
    await client.put("/_control/events/url", json={"url": "http://127.0.0.1:9/nowhere"})
    routed = await client.put("/_control/processes/events-url", json={"url": receiver.url})
    assert routed.json() == {
        "process_events_url": receiver.url,
        "events_url": "http://127.0.0.1:9/nowhere",
    }
    await quick(client)
    process = (await start(client, start_body("procurement_release", "act-p"))).json()
    await settled(client)
    [message] = receiver.received
    assert message["body"]["data"]["id"] == process["id"]
    await client.post("/_control/reset")
    assert (await client.get("/_control/processes")).json()["count"] == 0


async def test_a_lost_answer_is_recovered_by_retrying_with_the_same_key(erp_sim: Served) -> None:
    client = erp_sim.client
    await quick(client, lose_answer_next=1)
    lost = await start(client, start_body("contract_activation", "act-lost"), key="lost-1")
    assert lost.status_code == 504
    retried = await start(client, start_body("contract_activation", "act-lost"), key="lost-1")
    assert retried.status_code == 200
    control = (await client.get("/_control/processes")).json()
    assert (control["count"], control["replays"]) == (1, 1)
    assert control["faults"]["lose_answer_left"] == 0
    assert control["results"][0]["id"] == retried.json()["id"]
