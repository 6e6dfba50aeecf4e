"""Content Server simulator, events of docflow's contract (external-apis.md §2): the body of
every type, the audit entry it names, approvals, the audit feed telling every type apart, the
events URL set at run time, and the delivery faults (drop, duplicate, reorder, delay)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from standardwebhooks import Webhook

from simulators.content_server import ContentServerConfig
from simulators.content_server.sim import EVENT_TYPES, contract_event_type
from tests.simulators.conftest import CallbackReceiver, Served
from tests.simulators.content_server_test import API, login, upload
from tests.simulators.content_server_workspaces_test import created_id, detail

SECRET = ContentServerConfig().events_secret


async def events_to(client: httpx.AsyncClient, receiver: CallbackReceiver) -> None:
    receiver.reset()
    answer = await client.put("/_control/webhooks/url", json={"url": receiver.url})
    assert answer.json() == {"events_url": receiver.url}


async def flushed(client: httpx.AsyncClient, receiver: CallbackReceiver) -> list[dict[str, Any]]:
    """Every message received so far (signature checked), in arrival order."""
    assert (await client.post("/_control/webhooks/flush")).json() == {"idle": True}
    for message in receiver.received:
        Webhook(SECRET).verify(message["raw"], message["headers"])
    return list(receiver.received)


async def audit_feed(
    client: httpx.AsyncClient, ticket: dict[str, str], node_id: int
) -> dict[str, Any]:
    answer = await client.get(
        f"{API}/v2/nodes/{node_id}/audit",
        headers=ticket,
        params={"sort": "asc_audit_date", "limit": 100},
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["results"]["data"]
    return data


async def folder_of(client: httpx.AsyncClient, workspace_id: int, name: str) -> int:
    children = (await detail(client, workspace_id))["children"]
    return int(next(c["id"] for c in children if c["name"] == name))


async def approve(client: httpx.AsyncClient, node_id: int, **body: Any) -> httpx.Response:
    return await client.post(f"/_control/nodes/{node_id}/approve", json=body)


async def test_every_contract_event_names_node_workspace_and_audit_entry(
    otcs: Served, receiver: CallbackReceiver
) -> None:
    client = otcs.client
    await events_to(client, receiver)
    ticket = await login(client)
    workspace_id = await created_id(client, ticket, bo_id="0015g00000EVT")
    contracts = await folder_of(client, workspace_id, "Contracts")
    doc = await upload(client, ticket, contracts, "MSA.pdf", {"9300_1": "contract"})
    doc_id = doc.json()["id"]
    await client.post(
        f"{API}/v2/nodes/{doc_id}/versions",
        headers=ticket,
        files={"file": ("MSA.pdf", b"%PDF-1.4 v2", "application/pdf")},
    )
    await client.post(
        f"{API}/v2/nodes/{doc_id}/categories",
        headers=ticket,
        data={"category_id": "9001", "9001_8": "MSA"},
    )
    approved = await approve(client, doc_id, user_id=1003)
    assert approved.status_code == 200, approved.text
    await client.post(
        f"{API}/v1/nodes/{doc_id}/rmclassifications",
        headers=ticket,
        data={"body": json.dumps({"class_id": 5001})},
    )
    await client.post(
        f"{API}/v1/nodes/{doc_id}/holds", headers=ticket, data={"body": json.dumps({"hold_id": 7})}
    )
    await client.put(
        f"{API}/v2/businessworkspaces/{workspace_id}/workspacereferences",
        headers=ticket,
        data={"ext_system_id": "SAP", "bo_type": "KNA1", "bo_id": "42"},
    )

    messages = await flushed(client, receiver)
    by_type = {m["body"]["type"]: m for m in messages}
    assert set(by_type) == EVENT_TYPES
    assert len(messages) == len(EVENT_TYPES)
    for message in messages:
        assert message["headers"]["idempotency-key"] == message["headers"]["webhook-id"]

    workspace_ref = {
        "id": workspace_id,
        "ext_system_id": "SFDC",
        "bo_type": "Account",
        "bo_id": "0015g00000EVT",
    }
    created = by_type["workspace.created"]["body"]["data"]
    assert created["node"]["id"] == workspace_id and created["node"]["type"] == 848
    assert created["node"]["version"] is None
    assert created["workspace"] == workspace_ref
    # The first bound object stays the workspace's, after another one is added.
    assert by_type["workspace.reference_added"]["body"]["data"]["workspace"] == workspace_ref

    node = by_type["node.created"]["body"]["data"]["node"]
    assert {k: node[k] for k in ("id", "parent_id", "name", "type", "version")} == {
        "id": doc_id,
        "parent_id": contracts,
        "name": "MSA.pdf",
        "type": 144,
        "version": 1,
    }
    assert node["mime_type"] == "application/pdf"  # the other properties stay
    extras = {
        t: {k: v for k, v in by_type[t]["body"]["data"].items() if k not in ("node", "workspace")}
        for t in by_type
    }
    assert by_type["node.version_added"]["body"]["data"]["node"]["version"] == 2
    assert extras["node.version_added"]["version"] == 2
    assert extras["node.categories_updated"]["category_id"] == 9001
    assert extras["node.approved"]["version"] == 2
    assert extras["node.rm_classified"]["class_id"] == 5001
    assert extras["node.hold_applied"]["hold_id"] == 7
    for event_type in EVENT_TYPES - {"workspace.created", "workspace.reference_added"}:
        assert by_type[event_type]["body"]["data"]["workspace"] == workspace_ref, event_type

    # Each event names its own audit entry, with the very audit_date the audit API shows.
    for node_id in (doc_id, workspace_id):
        feed = await audit_feed(client, ticket, node_id)
        entries = {(a["event_type"], a["audit_date"]) for a in feed["audit"]}
        for message in messages:
            data = message["body"]["data"]
            if data["node"]["id"] == node_id:
                audit = data["audit"]
                assert set(audit) == {"event_type", "audit_date"}
                assert (audit["event_type"], audit["audit_date"]) in entries
    approvals = [a for a in (await audit_feed(client, ticket, doc_id))["audit"] if a["event_type"]]
    assert [a["user_id"] for a in approvals if a["audit_name"] == "Approved"] == [1003]
    assert approved.json()["webhook_id"] == by_type["node.approved"]["headers"]["webhook-id"]
    assert approved.json()["audit"]["audit_date"] == extras["node.approved"]["audit"]["audit_date"]


async def test_the_audit_feed_alone_tells_every_contract_type_apart(
    otcs: Served, receiver: CallbackReceiver
) -> None:
    client = otcs.client
    await events_to(client, receiver)
    ticket = await login(client)
    workspace_id = await created_id(client, ticket, bo_id="0015g00000AUD")
    doc_id = (await upload(client, ticket, workspace_id, "A.pdf")).json()["id"]
    await client.post(
        f"{API}/v2/nodes/{doc_id}/versions",
        headers=ticket,
        files={"file": ("A.pdf", b"%PDF-1.4 v2", "application/pdf")},
    )
    await client.post(
        f"{API}/v2/nodes/{doc_id}/categories",
        headers=ticket,
        data={"category_id": "9300", "9300_1": "x"},
    )
    await approve(client, doc_id)
    await client.post(
        f"{API}/v1/nodes/{doc_id}/rmclassifications",
        headers=ticket,
        data={"body": json.dumps({"class_id": 5003})},
    )
    await client.post(
        f"{API}/v1/nodes/{doc_id}/holds", headers=ticket, data={"body": json.dumps({"hold_id": 3})}
    )
    await client.put(
        f"{API}/v2/businessworkspaces/{workspace_id}/workspacereferences",
        headers=ticket,
        data={"ext_system_id": "SAP", "bo_type": "KNA1", "bo_id": "43"},
    )
    messages = await flushed(client, receiver)

    from_feed: set[tuple[int, str | None]] = set()
    for node_id, node_type in ((workspace_id, 848), (doc_id, 144)):
        feed = await audit_feed(client, ticket, node_id)
        names = {t["id"]: t["name"] for t in feed["audit_event_types"]}
        assert names[9003] == "Approved"
        from_feed |= {
            (node_id, contract_event_type(a["event_type"], node_type)) for a in feed["audit"]
        }
    from_webhooks = {(m["body"]["data"]["node"]["id"], m["body"]["type"]) for m in messages}
    assert from_feed == from_webhooks
    assert {t for _, t in from_feed} == EVENT_TYPES
    # Audited changes outside the contract map to no type.
    assert contract_event_type(9002, 848) is None and contract_event_type(9, 848) is None


async def test_approvals_default_to_the_latest_version_and_each_is_an_event(
    otcs: Served, receiver: CallbackReceiver
) -> None:
    client = otcs.client
    await events_to(client, receiver)
    ticket = await login(client)
    doc_id = (await upload(client, ticket, 2000, "Loose.pdf")).json()["id"]
    await client.post(
        f"{API}/v2/nodes/{doc_id}/versions",
        headers=ticket,
        files={"file": ("Loose.pdf", b"%PDF-1.4 v2", "application/pdf")},
    )
    latest = await approve(client, doc_id)
    again = await approve(client, doc_id)
    first = await approve(client, doc_id, version=1, user_id=1001)
    assert [a.status_code for a in (latest, again, first)] == [200, 200, 200]
    assert [a.json()["event"]["data"]["version"] for a in (latest, again, first)] == [2, 2, 1]
    assert latest.json()["webhook_id"] != again.json()["webhook_id"]
    assert latest.json()["event"]["data"]["workspace"] is None  # not in a workspace

    assert (await approve(client, doc_id, version=3)).status_code == 400
    assert (await approve(client, 2000)).status_code == 400  # a folder
    assert (await approve(client, 999_999)).status_code == 404
    assert (await approve(client, doc_id, version=0)).status_code == 400  # the server's shape

    approvals = [m for m in await flushed(client, receiver) if m["body"]["type"] == "node.approved"]
    assert len(approvals) == 3
    feed = (await audit_feed(client, ticket, doc_id))["audit"]
    assert [(a["audit_name"], a["user_id"]) for a in feed if a["event_type"] == 9003] == [
        ("Approved", 1000),
        ("Approved", 1000),
        ("Approved", 1001),
    ]


async def test_an_unbound_workspace_names_itself_with_null_object(
    otcs: Served, receiver: CallbackReceiver
) -> None:
    client = otcs.client
    await events_to(client, receiver)
    seeded = await client.post("/_control/workspaces", json={"wksp_type_id": 9, "name": "Loose"})
    workspace_id = seeded.json()["id"]
    [message] = await flushed(client, receiver)
    assert message["body"]["type"] == "workspace.created"
    assert message["body"]["data"]["workspace"] == {
        "id": workspace_id,
        "ext_system_id": None,
        "bo_type": None,
        "bo_id": None,
    }


async def test_the_events_url_is_set_at_run_time_and_reset(
    otcs: Served, receiver: CallbackReceiver
) -> None:
    client = otcs.client
    assert (await client.get("/_control/webhooks/url")).json() == {"events_url": None}
    ticket = await login(client)
    receiver.reset()
    await upload(client, ticket, 2000, "Unsent.pdf")
    assert await flushed(client, receiver) == []
    assert (await client.get("/_control/webhooks")).json()["count"] == 0

    await events_to(client, receiver)
    await upload(client, ticket, 2000, "Sent.pdf")
    assert [m["body"]["data"]["node"]["name"] for m in await flushed(client, receiver)] == [
        "Sent.pdf"
    ]
    # Another secret signs from now on.
    other = "whsec_b3RoZXItZWNtLWV2ZW50cy1zZWNyZXQtNTY3OA=="
    receiver.reset()
    await client.put("/_control/webhooks/url", json={"url": receiver.url, "secret": other})
    await upload(client, ticket, 2000, "Resigned.pdf")
    await client.post("/_control/webhooks/flush")
    [message] = receiver.received
    assert Webhook(other).verify(message["raw"], message["headers"])["type"] == "node.created"
    bad = await client.put("/_control/webhooks/url", json={"url": None, "secret": "whsec_@@"})
    assert bad.status_code == 400

    await client.post("/_control/reset")
    assert (await client.get("/_control/webhooks/url")).json() == {"events_url": None}
    await events_to(client, receiver)
    await upload(client, ticket, 2000, "Default.pdf")
    assert len(await flushed(client, receiver)) == 1  # signed with the config's secret again
    off = await client.put("/_control/webhooks/url", json={"url": None})
    assert off.json() == {"events_url": None}


async def test_dropped_events_still_appear_in_the_audit_feed(
    otcs: Served, receiver: CallbackReceiver
) -> None:
    client = otcs.client
    await events_to(client, receiver)
    await client.put("/_control/webhooks/faults", json={"drop_next": 2})
    ticket = await login(client)
    doc_id = (await upload(client, ticket, 2000, "Dropped.pdf")).json()["id"]
    await approve(client, doc_id)
    await approve(client, doc_id)

    [message] = await flushed(client, receiver)
    assert message["body"]["type"] == "node.approved"
    listing = (await client.get("/_control/webhooks", params={"node_id": doc_id})).json()
    assert listing["by_state"] == {"dropped": 2, "delivered": 1}
    feed = (await audit_feed(client, ticket, doc_id))["audit"]
    assert [a["audit_name"] for a in feed] == ["Create", "Approved", "Approved"]


async def test_duplicates_carry_the_same_webhook_id(
    otcs: Served, receiver: CallbackReceiver
) -> None:
    client = otcs.client
    await events_to(client, receiver)
    await client.put("/_control/webhooks/faults", json={"duplicate_min": 2, "duplicate_max": 2})
    ticket = await login(client)
    doc_id = (await upload(client, ticket, 2000, "Twice.pdf")).json()["id"]
    await approve(client, doc_id)

    messages = await flushed(client, receiver)
    assert len(messages) == 4
    ids = [m["headers"]["webhook-id"] for m in messages]
    assert len(set(ids)) == 2 and all(ids.count(i) == 2 for i in ids)
    for webhook_id in set(ids):
        bodies = {m["raw"] for m in messages if m["headers"]["webhook-id"] == webhook_id}
        assert len(bodies) == 1


async def test_reordered_events_are_shuffled_and_delayed_ones_arrive_late(
    otcs: Served, receiver: CallbackReceiver
) -> None:
    client = otcs.client
    await events_to(client, receiver)
    await client.put("/_control/webhooks/faults", json={"reorder_window": 6, "seed": 3})
    ticket = await login(client)
    doc_id = (await upload(client, ticket, 2000, "Shuffled.pdf")).json()["id"]
    for n in range(5):
        await client.post(
            f"{API}/v2/nodes/{doc_id}/categories",
            headers=ticket,
            data={"category_id": "9300", "9300_3": f"v{n}"},
        )
    emitted = [d["event_id"] for d in (await client.get("/_control/webhooks")).json()["results"]]
    arrived = [m["headers"]["webhook-id"] for m in await flushed(client, receiver)]
    assert sorted(arrived) == sorted(emitted) and len(arrived) == 6
    assert arrived != emitted

    await events_to(client, receiver)
    await client.put("/_control/webhooks/faults", json={"delay_ms": 300})
    await approve(client, doc_id)
    assert receiver.received == []
    assert len(await flushed(client, receiver)) == 1
