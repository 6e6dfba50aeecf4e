"""Business systems (the kit's business objects, via the CRM and ERP simulators): one signed
event per change, replays and held events for out-of-order tests, docflow's messages applied
once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from docflow.models.workspaces import BusinessObjectEvent, BusinessObjectEventKind
from simulators.crm import CrmConfig
from simulators.erp import ErpConfig
from tests.simulators.conftest import CallbackReceiver, Served, signed

ROOT = Path(__file__).resolve().parents[2]
CRM_SECRET = "whsec_ZGV2LWNybS13ZWJob29rLXNlY3JldC0xMjM0"
ERP_SECRET = "whsec_ZGV2LWVycC13ZWJob29rLXNlY3JldC0xMjM0"
ERP_KEY = {"Authorization": "Bearer dev-erp-key"}


def registry_secret(path: Path, system: str, key: str) -> str:
    ref: str = json.loads(path.read_text())["systems"][system][key]
    assert ref.startswith("value:")
    return ref.removeprefix("value:")


def standard_signature_ok(secret: str, headers: dict[str, str], raw: bytes) -> bool:
    """The Standard Webhooks algorithm by hand: v1,base64(HMAC-SHA256(id.timestamp.body))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed_content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + raw
    expected = base64.b64encode(hmac.new(key, signed_content, hashlib.sha256).digest()).decode()
    return any(
        sig.removeprefix("v1,") == expected
        for sig in headers["webhook-signature"].split()
        if sig.startswith("v1,")
    )


def as_docflow_event(message: dict[str, Any]) -> BusinessObjectEvent:
    """The event as docflow's receiver will read it (its model is the contract)."""
    body, data = message["body"], message["body"]["data"]
    return BusinessObjectEvent(
        event_id=message["headers"]["webhook-id"],
        kind=BusinessObjectEventKind(body["type"].removeprefix("business_object.")),
        object={k: data[k] for k in ("ext_system_id", "bo_type", "bo_id")},
        version=data["version"],
        occurred_at=data["occurred_at"],
        data=data["data"],
    )


async def send_events_to(sim: Served, receiver: CallbackReceiver) -> None:
    receiver.reset()
    answer = await sim.client.put("/_control/events/url", json={"url": receiver.url})
    assert answer.json() == {"events_url": receiver.url}


async def flush(sim: Served) -> None:
    assert (await sim.client.post("/_control/events/flush")).json() == {"idle": True}


async def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.is_success, response.text
    body: dict[str, Any] = response.json()
    return body


# ------------------------------------------------------------------ events out
async def test_each_change_emits_one_signed_snapshot_event(
    crm_sim: Served, receiver: CallbackReceiver
) -> None:
    client = crm_sim.client
    await send_events_to(crm_sim, receiver)
    created = await ok(
        await client.post(
            "/_control/objects/Account",
            json={"fields": {"name": "Acme", "account_number": "A-1", "status": "Prospect"}},
        )
    )
    bo_id = created["record"]["bo_id"]
    assert len(bo_id) == 18 and bo_id.startswith("001")  # a Salesforce Account id
    assert created["event"]["version"] == 1 and created["event"]["sent"]
    await flush(crm_sim)
    path = f"/_control/objects/Account/{bo_id}"
    await ok(await client.patch(path, json={"fields": {"region": "EMEA"}}))
    await flush(crm_sim)
    await ok(await client.post(f"{path}/status", json={"status": "Active"}))
    await flush(crm_sim)
    await ok(await client.delete(path))
    await flush(crm_sim)

    secret = registry_secret(ROOT / "config/dev/source-systems.json", "SFDC", "event_secret")
    assert secret == CrmConfig().events_secret
    assert len(receiver.received) == 4  # one event per change, no more
    events = []
    for message in receiver.received:
        headers = message["headers"]
        assert standard_signature_ok(secret, headers, message["raw"])
        assert Webhook(secret).verify(message["raw"], headers) == message["body"]
        assert headers["idempotency-key"] == headers["webhook-id"]
        events.append(as_docflow_event(message))
    assert [(e.kind, e.version) for e in events] == [
        ("created", 1),
        ("updated", 2),
        ("status_changed", 3),
        ("deleted", 4),
    ]
    assert len({e.event_id for e in events}) == 4
    assert all(e.object.key == f"SFDC/Account/{bo_id}" for e in events)
    # Each event carries every current field (a snapshot, not a delta).
    assert events[1].data == {
        "name": "Acme",
        "account_number": "A-1",
        "status": "Prospect",
        "region": "EMEA",
    }
    assert events[2].data["status"] == "Active" and events[2].data["region"] == "EMEA"
    assert receiver.received[0]["body"]["timestamp"].endswith("Z")

    listed = (await client.get("/_control/events", params={"bo_id": bo_id})).json()
    assert listed["count"] == 4 and listed["by_state"] == {"delivered": 4}
    assert (await client.get(f"/api/records/Account/{bo_id}")).status_code == 404  # deleted
    detail = await ok(await client.get(path))
    assert detail["deleted"] and [e["version"] for e in detail["events"]] == [1, 2, 3, 4]


async def test_events_are_kept_when_no_url_is_set(crm_sim: Served) -> None:
    client = crm_sim.client
    created = await ok(
        await client.post("/_control/objects/Opportunity", json={"fields": {"name": "Deal"}})
    )
    assert created["record"]["bo_id"].startswith("006")
    assert not created["event"]["sent"]
    assert (await client.get("/_control/events")).json()["count"] == 0
    replay = await client.post(f"/_control/objects/Opportunity/{created['record']['bo_id']}/replay")
    assert replay.status_code == 409


async def test_replay_resends_an_old_version_with_a_new_or_the_same_id(
    crm_sim: Served, receiver: CallbackReceiver
) -> None:
    client = crm_sim.client
    await send_events_to(crm_sim, receiver)
    path = "/_control/objects/Account/001REPLAY"
    await ok(await client.post("/_control/objects/Account", json={"bo_id": "001REPLAY"}))
    await ok(await client.patch(path, json={"fields": {"name": "v2"}}))
    await flush(crm_sim)
    by_version = {m["body"]["data"]["version"]: m for m in receiver.received}
    first_id = by_version[1]["headers"]["webhook-id"]

    fresh = await ok(await client.post(f"{path}/replay", params={"version": 1}))
    await flush(crm_sim)
    same = await ok(await client.post(f"{path}/replay", params={"version": 1, "same_id": True}))
    await flush(crm_sim)
    assert fresh["replay_of"] == first_id and fresh["webhook_id"] != first_id
    assert same["webhook_id"] == first_id and fresh["version"] == same["version"] == 1
    replays = receiver.received[2:]
    assert [m["headers"]["webhook-id"] for m in replays] == [fresh["webhook_id"], first_id]
    assert all(m["raw"] == by_version[1]["raw"] for m in replays)  # the body first emitted
    assert all(
        standard_signature_ok(CrmConfig().events_secret, m["headers"], m["raw"]) for m in replays
    )

    newest = await ok(await client.post(f"{path}/replay"))
    assert newest["version"] == 2
    assert (await client.post(f"{path}/replay", params={"version": 9})).status_code == 404
    listed = (await client.get("/_control/events", params={"replay_of": first_id})).json()
    assert listed["count"] == 2


async def test_a_held_event_is_delivered_after_a_newer_one(
    crm_sim: Served, receiver: CallbackReceiver
) -> None:
    client = crm_sim.client
    await send_events_to(crm_sim, receiver)
    path = "/_control/objects/Account/001ORDER"
    await ok(await client.post("/_control/objects/Account", json={"bo_id": "001ORDER"}))
    await flush(crm_sim)
    held = await ok(
        await client.patch(path, json={"fields": {"name": "v2"}}, params={"deliver": False})
    )
    assert not held["event"]["sent"]
    await ok(await client.patch(path, json={"fields": {"name": "v3"}}))
    await flush(crm_sim)
    late = await ok(await client.post(f"{path}/replay", params={"version": 2, "same_id": True}))
    await flush(crm_sim)
    assert late["webhook_id"] == held["event"]["webhook_id"]
    versions = [m["body"]["data"]["version"] for m in receiver.received]
    assert versions == [1, 3, 2]
    assert receiver.received[2]["body"]["data"]["data"]["name"] == "v2"


async def test_delivery_faults_and_retries_apply_to_events(
    crm_sim: Served, receiver: CallbackReceiver
) -> None:
    client = crm_sim.client
    await send_events_to(crm_sim, receiver)
    await client.put("/_control/events/faults", json={"duplicate_min": 2, "duplicate_max": 2})
    receiver.fail_next = 1
    await ok(await client.post("/_control/objects/Account", json={"bo_id": "001DUP"}))
    await flush(crm_sim)
    ids = [m["headers"]["webhook-id"] for m in receiver.received]
    assert len(ids) == 2 and len(set(ids)) == 1  # a duplicate: the same webhook-id twice
    listed = (await client.get("/_control/events")).json()
    assert listed["by_state"] == {"delivered": 2}
    assert sum(len(d["attempts"]) for d in listed["results"]) == 3  # one retried after a 500
    counted = (await client.get("/_control/events", params={"summary": True})).json()
    assert counted == {
        "count": 2,
        "by_state": {"delivered": 2},
        "by_attempts": {"1": 1, "2": 1},
        "answers": {"500": 1, "200": 2},
    }


async def test_control_refuses_what_cannot_be(crm_sim: Served) -> None:
    client = crm_sim.client
    assert (await client.post("/_control/objects/Invoice", json={})).status_code == 404
    await ok(await client.post("/_control/objects/Account", json={"bo_id": "001X"}))
    assert (
        await client.post("/_control/objects/Account", json={"bo_id": "001X"})
    ).status_code == 409
    assert (
        await client.patch("/_control/objects/Account/none", json={"fields": {}})
    ).status_code == 404
    assert (
        await client.post("/_control/objects/Account", json={"bo_id": "no spaces"})
    ).status_code == 422
    assert (
        await client.post("/_control/objects/Account", json={"fields": {"nested": {"a": 1}}})
    ).status_code == 422
    # A deleted object can be created again; its version keeps growing.
    await ok(await client.delete("/_control/objects/Account/001X"))
    again = await ok(await client.post("/_control/objects/Account", json={"bo_id": "001X"}))
    assert again["event"]["type"] == "business_object.created"
    assert again["event"]["version"] == 3


async def test_the_records_api_is_a_business_change(
    crm_sim: Served, receiver: CallbackReceiver
) -> None:
    client = crm_sim.client
    await send_events_to(crm_sim, receiver)
    await ok(await client.put("/api/records/Account/001API", json={"name": "Via API"}))
    updated = await ok(await client.put("/api/records/Account/001API", json={"region": "US"}))
    assert updated["version"] == 2 and updated["name"] == "Via API"
    await flush(crm_sim)
    assert [m["body"]["type"] for m in receiver.received] == [
        "business_object.created",
        "business_object.updated",
    ]


# ------------------------------------------------------------------ docflow's messages in
def ref(bo_id: str, system: str = "SFDC", bo_type: str = "Account") -> dict[str, str]:
    return {"ext_system_id": system, "bo_type": bo_type, "bo_id": bo_id}


def document(node_id: int, version: int, name: str = "contract.pdf") -> dict[str, Any]:
    return {
        "node_id": node_id,
        "version": version,
        "name": name,
        "folder_id": 300,
        "link": f"http://otcs/app/nodes/{node_id}",
        "sha256": f"{version:064x}",
        "outcome": "created" if version == 1 else "new_version",
    }


def message(
    kind: str, data: dict[str, Any], timestamp: str = "2026-12-01T10:00:00Z"
) -> dict[str, Any]:
    return {"type": kind, "timestamp": timestamp, "data": data}


async def deliver(
    sim: Served, payload: dict[str, Any], secret: str = CRM_SECRET, msg_id: str | None = None
) -> httpx.Response:
    body, headers = signed(payload, secret, msg_id=msg_id)
    return await sim.client.post("/webhooks/docflow", content=body, headers=headers)


async def test_workspace_messages_are_applied_once(crm_sim: Served) -> None:
    client = crm_sim.client
    await ok(
        await client.post(
            "/_control/objects/Account",
            json={
                "bo_id": "001WS",
                "fields": {"name": "Acme", "status": "Active"},
                "attachments": [{"name": "contract.pdf", "size": 10}, {"name": "other.pdf"}],
            },
        )
    )
    provisioned = message(
        "workspace.provisioned",
        {
            "object": ref("001WS"),
            "workspace": {
                "workspace_id": 4711,
                "name": "Acme",
                "link": "http://ws/4711",
                "how": "created",
            },
        },
    )
    first = await deliver(crm_sim, provisioned, msg_id="msg_ws_1")
    again = await deliver(crm_sim, provisioned, msg_id="msg_ws_1")
    assert first.json() == {"status": "accepted", "webhook_id": "msg_ws_1"}
    assert again.json() == {"status": "duplicate", "webhook_id": "msg_ws_1"}

    milestone = {
        "kind": "signed",
        "status": "Contract signed",
        "detail": "signed by ann",
        "business_key": "SFDC-Q-1",
        "document": document(900, 2),
    }
    assert (
        await deliver(
            crm_sim,
            message("workspace.milestone", {"object": ref("001WS"), "milestone": milestone}),
        )
    ).is_success
    # An older version of the same node, then a filing of the attachment.
    stale = dict(milestone, document=document(900, 1), status=None)
    await deliver(
        crm_sim, message("workspace.milestone", {"object": ref("001WS"), "milestone": stale})
    )
    filed = {"object": ref("001WS"), "source_record": None, "document": document(901, 1)}
    assert (await deliver(crm_sim, message("document.filed", filed))).is_success
    closed = {"object": ref("001WS"), "workspace_id": 4711, "reason": "status Closed"}
    assert (await deliver(crm_sim, message("workspace.closed", closed))).is_success

    record = await ok(await client.get("/api/records/Account/001WS"))
    assert record["version"] == 1  # docflow's writes are no business change: no event either
    assert record["workspace_id"] == 4711 and record["workspace_link"] == "http://ws/4711"
    assert record["status"] == "Contract signed"
    assert [(r["node_id"], r["version"]) for r in record["content_references"]] == [
        (900, 2),
        (901, 1),
    ]
    by_name = {a["name"]: a for a in record["attachments"]}
    assert by_name["contract.pdf"]["source_copy_deleted"] is True
    assert "source_copy_deleted" not in by_name["other.pdf"]
    assert record["workspace_closed"] is True

    log = await ok(await client.get("/_control/messages"))
    assert log["count"] == 6 and log["duplicates"] == 1
    assert [m["type"] for m in log["results"]] == [
        "workspace.provisioned",
        "workspace.provisioned",
        "workspace.milestone",
        "workspace.milestone",
        "document.filed",
        "workspace.closed",
    ]
    assert log["results"][1]["outcome"] == "duplicate"
    assert "content reference kept" in log["results"][3]["outcome"]
    assert "source copy deleted" in log["results"][4]["outcome"]
    only = await ok(await client.get("/_control/messages", params={"type": "workspace.closed"}))
    assert only["count"] == 1 and only["results"][0]["object"] == "SFDC/Account/001WS"
    assert (await ok(await client.get("/_control/reports")))["count"] == 0  # not reports
    assert (await ok(await client.get("/_control/events")))["count"] == 0


async def test_an_older_milestone_does_not_overwrite_a_newer_status(crm_sim: Served) -> None:
    newer = {"kind": "workspace_status", "status": "Closed", "occurred_at": "2026-12-01T12:00:00Z"}
    older = {
        "kind": "approved",
        "status": "Document approved",
        "occurred_at": "2026-12-01T11:00:00Z",
    }
    for milestone in (newer, older):
        payload = message("workspace.milestone", {"object": ref("001LATE"), "milestone": milestone})
        assert (await deliver(crm_sim, payload)).is_success
    record = await ok(await crm_sim.client.get("/api/records/Account/001LATE"))
    assert record["status"] == "Closed"


async def test_a_message_about_an_unknown_record_creates_it(crm_sim: Served) -> None:
    client = crm_sim.client
    payload = message(
        "workspace.provisioned",
        {"object": ref("001NEW"), "workspace": {"workspace_id": 1, "link": "l", "how": "adopted"}},
    )
    assert (await deliver(crm_sim, payload)).is_success
    signed_milestone = {"kind": "signed", "status": "Contract signed", "document": document(5, 1)}
    payload = message(
        "workspace.milestone", {"object": ref("001NEW"), "milestone": signed_milestone}
    )
    assert (await deliver(crm_sim, payload)).is_success
    detail = await ok(await client.get("/_control/objects/Account/001NEW"))
    assert detail["origin"] == "docflow" and detail["version"] == 0
    assert detail["writeback"]["workspace_id"] == 1
    assert detail["fields"] == {"status": "Contract signed"}
    assert detail["events"] == []  # docflow's writes emit nothing
    # The system's own create then takes the record over (its first version is 1).
    created = await ok(
        await client.post(
            "/_control/objects/Account", json={"bo_id": "001NEW", "fields": {"name": "N"}}
        )
    )
    assert created["event"]["version"] == 1
    assert created["record"]["writeback"]["workspace_id"] == 1
    assert created["record"]["fields"] == {"status": "Contract signed", "name": "N"}
    assert len(created["record"]["content_references"]) == 1


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (message("workspace.provisioned", {"object": ref("001")}), "workspace"),
        (message("workspace.milestone", {"milestone": {"kind": "signed"}}), "object"),
        (message("document.filed", {"object": ref("001"), "document": {"name": "x"}}), "node_id"),
        (message("workspace.closed", {"object": ref("001", system="SAP")}), "is not SFDC"),
    ],
)
async def test_a_malformed_workspace_message_is_refused_and_not_kept(
    crm_sim: Served, payload: dict[str, Any], problem: str
) -> None:
    answer = await deliver(crm_sim, payload, msg_id="msg_bad")
    assert answer.status_code == 422 and problem in answer.json()["detail"]
    log = await ok(await crm_sim.client.get("/_control/messages"))
    assert log["results"][-1]["outcome"].startswith("invalid")
    # Not kept: the same id, corrected, is then applied.
    closed = message("workspace.closed", {"object": ref("001"), "reason": "r"})
    assert (await deliver(crm_sim, closed, msg_id="msg_bad")).json()["status"] == "accepted"


async def test_signing_reports_are_applied_as_before(crm_sim: Served) -> None:
    report = {
        "business_key": "SFDC-Q-7",
        "source": {"system": "SFDC", "record_type": "Opportunity", "record_id": "006R"},
        "outcome": "completed",
        "occurred_at": "2026-12-01T10:00:00+00:00",
        "archived_node_id": 77,
    }
    assert (await deliver(crm_sim, report)).json()["status"] == "accepted"
    record = await ok(await crm_sim.client.get("/api/records/Opportunity/006R"))
    assert record["signature_status"] == "completed" and record["archived_node_id"] == 77
    log = await ok(await crm_sim.client.get("/_control/messages"))
    assert log["results"][0]["outcome"] == "applied"
    assert log["results"][0]["object"] == "SFDC/Opportunity/006R"


# ------------------------------------------------------------------ the ERP as a business system
async def test_the_erp_signs_events_with_the_sap_secret_and_takes_its_own_messages(
    erp_sim: Served, receiver: CallbackReceiver
) -> None:
    client = erp_sim.client
    await send_events_to(erp_sim, receiver)
    ids = {}
    for bo_type in ("Customer", "Supplier", "Project"):
        created = await ok(
            await client.post(f"/_control/objects/{bo_type}", json={"fields": {"name": bo_type}})
        )
        ids[bo_type] = created["record"]["bo_id"]
    assert ids["Customer"].startswith("1") and len(ids["Customer"]) == 10
    assert ids["Supplier"].startswith("3") and ids["Project"].startswith("P-")
    await flush(erp_sim)

    secret = registry_secret(ROOT / "config/dev/source-systems.json", "SAP", "event_secret")
    assert secret == ErpConfig().events_secret
    assert len(receiver.received) == 3
    for received in receiver.received:
        assert standard_signature_ok(secret, received["headers"], received["raw"])
        assert as_docflow_event(received).object.ext_system_id == "SAP"

    for path in ("config/dev/source-systems.json", "tests/config/local/source-systems.json"):
        assert registry_secret(ROOT / path, "SAP", "webhook_secret") == ERP_SECRET
    payload = message(
        "workspace.provisioned",
        {"object": ref(ids["Customer"], "SAP", "Customer"), "workspace": {"workspace_id": 5}},
    )
    assert (await deliver(erp_sim, payload, secret=CRM_SECRET)).status_code == 401
    assert (await deliver(erp_sim, payload, secret=ERP_SECRET)).json()["status"] == "accepted"
    record = await ok(await client.get(f"/api/records/Customer/{ids['Customer']}", headers=ERP_KEY))
    assert record["workspace_id"] == 5
    assert (await client.get(f"/api/records/Customer/{ids['Customer']}")).status_code == 401


async def test_writebacks_count_the_records_docflow_wrote_into(crm_sim: Served) -> None:
    client = crm_sim.client
    for bo_id in ("001BWy1", "001BWy2", "001OTHER"):
        await ok(await client.post("/_control/objects/Account", json={"bo_id": bo_id}))
    for bo_id, workspace_id in (("001BWy1", 11), ("001OTHER", 12)):
        provisioned = message(
            "workspace.provisioned",
            {"object": ref(bo_id), "workspace": {"workspace_id": workspace_id}},
        )
        assert (await deliver(crm_sim, provisioned)).is_success
    counted = await client.get("/_control/writebacks", params={"prefix": "001BWy"})
    assert counted.json() == {"field": "workspace_id", "count": 1}
    listed = await client.get("/_control/writebacks", params={"bo_type": "Account", "detail": True})
    results = listed.json()["results"]
    assert {k: v["value"] for k, v in results.items()} == {"001BWy1": 11, "001OTHER": 12}
    assert all(v["updated_at"] for v in results.values())
