"""Content Server simulator over real HTTP: tickets, nodes, categories, workspaces, RM."""

from __future__ import annotations

import json
from typing import Any

import httpx
from standardwebhooks import Webhook

from simulators.content_server import ContentServerConfig, create_app
from simulators.kit.server import ServedApp
from tests.simulators.conftest import CallbackReceiver, Served

API = "/otcs/cs.exe/api"


async def login(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        f"{API}/v1/auth", data={"username": "docflow", "password": "dev-otcs-password"}
    )
    assert response.status_code == 200, response.text
    return {"OTCSTicket": response.json()["ticket"]}


async def upload(
    client: httpx.AsyncClient,
    ticket: dict[str, str],
    parent_id: int,
    name: str,
    categories: dict[str, Any] | None = None,
) -> httpx.Response:
    body = {"type": 144, "name": name, "parent_id": parent_id, "description": "signed"}
    if categories is not None:
        body["roles"] = {"categories": categories}
    return await client.post(
        f"{API}/v2/nodes",
        headers=ticket,
        data={"body": json.dumps(body)},
        files={"file": (name, b"%PDF-1.4 signed", "application/pdf")},
    )


async def create_workspace(
    client: httpx.AsyncClient,
    ticket: dict[str, str],
    bo_id: str,
    name: str,
    roles: dict[str, Any] | None = None,
) -> httpx.Response:
    body = {
        "template_id": 20001,
        "wksp_type_id": 7,
        "type": 848,
        "name": name,
        "parent_id": 2000,
        "roles": roles if roles is not None else {"categories": {"9001": {"9001_3": "ACME Corp"}}},
        "ext_system_id": "SFDC",
        "bo_type": "Account",
        "bo_id": bo_id,
    }
    return await client.post(
        f"{API}/v2/businessworkspaces", headers=ticket, data={"body": json.dumps(body)}
    )


async def test_auth_and_ticket_expiry(otcs: Served) -> None:
    client = otcs.client
    bad = await client.post(f"{API}/v1/auth", data={"username": "docflow", "password": "x"})
    assert bad.status_code == 401
    assert "error" in bad.json()
    missing = await client.get(f"{API}/v2/nodes/2000")
    assert missing.status_code == 401
    assert "error" in missing.json()

    ticket = await login(client)
    node = await client.get(f"{API}/v2/nodes/2000", headers=ticket)
    assert node.status_code == 200
    assert node.headers["OTCSTicket"] == ticket["OTCSTicket"]
    props = node.json()["results"]["data"]["properties"]
    assert (props["id"], props["name"], props["type"]) == (2000, "Customers", 0)

    expired = await client.post("/_control/tickets/expire")
    assert expired.json()["expired"] >= 1
    again = await client.get(f"{API}/v2/nodes/2000", headers=ticket)
    assert again.status_code == 401
    assert again.json() == {"error": "Session has expired - please log in again."}
    assert (await client.get(f"{API}/v2/nodes/2000", headers=await login(client))).is_success


async def test_json_bodies_are_refused(otcs: Served) -> None:
    response = await otcs.client.post(
        f"{API}/v1/auth", json={"username": "docflow", "password": "dev-otcs-password"}
    )
    assert response.status_code == 400
    assert "form" in response.json()["error"]


async def test_document_create_categories_versions_and_duplicates(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    # v2 nodes take the flat attribute map; the nested one is the workspace create form's.
    nested = await upload(client, ticket, 2000, "Nested.pdf", {"9001": {"9001_2": "Q-1"}})
    assert nested.status_code == 400
    created = await upload(
        client, ticket, 2000, "Contract Q-1.pdf", {"9001_2": "Q-1", "9001_6": "BK-1"}
    )
    assert created.status_code == 200, created.text
    props = created.json()["results"]["data"]["properties"]
    assert props["type"] == 144 and props["parent_id"] == 2000
    assert props["mime_type"] == "application/pdf"
    assert props["size"] == len(b"%PDF-1.4 signed")
    node_id = props["id"]

    # The real server answers a duplicate name with a 500 whose text says "already exists".
    duplicate = await upload(client, ticket, 2000, "Contract Q-1.pdf")
    assert duplicate.status_code == 500
    assert duplicate.json() == {
        "error": "An item with the name 'Contract Q-1.pdf' already exists.",
        "errorDetail": "Parent 2000 already has a child named 'Contract Q-1.pdf'.",
    }

    flat = await upload(client, ticket, 2000, "Audit trail.pdf", {"9001_5": "2026-01-01"})
    assert flat.status_code == 200
    bad_attr = await upload(client, ticket, 2000, "Other.pdf", {"9001_99": "x"})
    assert bad_attr.status_code == 400

    update = await client.put(
        f"{API}/v2/nodes/{node_id}/categories/9001",
        headers=ticket,
        data={"9001_3": "ACME Corp", "9001_4": "alice@example.com"},
    )
    assert update.status_code == 200, update.text
    version = await client.post(
        f"{API}/v2/nodes/{node_id}/versions",
        headers=ticket,
        data={"description": "re-signed"},
        files={"file": ("contract.pdf", b"%PDF-1.4 v2", "application/pdf")},
    )
    assert version.json()["results"]["data"]["properties"]["version_number"] == 2

    node = (
        await client.get(
            f"{API}/v2/nodes/{node_id}",
            headers=ticket,
            params={"fields": ["properties", "categories", "versions"]},
        )
    ).json()
    data = node["results"]["data"]
    assert data["categories"] == [
        {"9001_2": "Q-1", "9001_6": "BK-1", "9001_3": "ACME Corp", "9001_4": "alice@example.com"}
    ]
    assert [v["version_number"] for v in data["versions"]] == [1, 2]
    latest = await client.get(f"{API}/v1/nodes/{node_id}/content", headers=ticket)
    assert latest.content == b"%PDF-1.4 v2"
    first = await client.get(f"{API}/v2/nodes/{node_id}/versions/1/content", headers=ticket)
    assert first.content == b"%PDF-1.4 signed"

    children = await client.get(
        f"{API}/v2/nodes/2000/nodes", headers=ticket, params={"where_name": "contract q-1"}
    )
    body = children.json()
    assert [r["data"]["properties"]["id"] for r in body["results"]] == [node_id]
    assert body["collection"]["paging"]["total_count"] == 1

    uploads = {
        (u["parent_id"], u["name"]): u
        for u in (await client.get("/_control/uploads")).json()["results"]
    }
    contract = uploads[(2000, "Contract Q-1.pdf")]
    assert (contract["created"], contract["rejected_duplicates"], contract["versions_added"]) == (
        1,
        1,
        1,
    )


async def test_category_put_needs_the_category_applied_first(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    plain = await upload(client, ticket, 2000, "Plain.pdf")
    node_id = plain.json()["results"]["data"]["properties"]["id"]
    values = {"category_id": "9001", "9001_2": "Q-9", "9001_10_1_11": "alice@example.com"}

    put_first = await client.put(
        f"{API}/v2/nodes/{node_id}/categories/9001", headers=ticket, data=values
    )
    assert put_first.status_code == 400
    assert "not assigned" in put_first.json()["error"]

    applied = await client.post(f"{API}/v2/nodes/{node_id}/categories", headers=ticket, data=values)
    assert applied.status_code == 200, applied.text
    update = await client.put(
        f"{API}/v2/nodes/{node_id}/categories/9001",
        headers=ticket,
        data={"category_id": "9001", "9001_10_2_11": "bob@example.com"},
    )
    assert update.status_code == 200, update.text
    unknown_set = await client.put(
        f"{API}/v2/nodes/{node_id}/categories/9001",
        headers=ticket,
        data={"category_id": "9001", "9001_99_1_11": "x"},
    )
    assert unknown_set.status_code == 400
    node = await client.get(f"{API}/v2/nodes/{node_id}", headers=ticket)
    assert node.json()["results"]["data"]["categories"] == [
        {"9001_2": "Q-9", "9001_10_1_11": "alice@example.com", "9001_10_2_11": "bob@example.com"}
    ]


async def test_business_workspace_lifecycle(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    types = await client.get(
        f"{API}/v2/businessworkspacetypes", headers=ticket, params={"expand_templates": "true"}
    )
    wtypes = types.json()["results"]
    assert [t["data"]["properties"]["wksp_type_id"] for t in wtypes] == [7, 8, 9, 10, 11, 12]
    type_props = wtypes[0]["data"]["properties"]
    assert type_props["wksp_type_id"] == 7
    assert type_props["wksp_type_name"] == "Customer"
    assert type_props["templates"][0]["id"] == 20001
    assert type_props["wksp_creation"] == {"location": "StaticNodeId", "location_value": "2000"}
    assert "location_id" not in type_props

    flat = await create_workspace(
        client, ticket, "0015g00000FLAT", "Flat", {"categories": {"9001_3": "ACME Corp"}}
    )
    assert flat.status_code == 400
    assert "nested" in flat.json()["error"]
    in_roles = await create_workspace(
        client, ticket, "0015g00000RM", "In roles", {"rmclassifications": {"class_id": 5001}}
    )
    assert in_roles.status_code == 400

    created = await create_workspace(client, ticket, "0015g00000ABC", "ACME Corp")
    assert created.status_code == 200, created.text
    workspace_id = created.json()["results"]["id"]
    again = await create_workspace(client, ticket, "0015g00000ABC", "ACME Corp (2)")
    assert again.status_code == 400
    assert "already exists" in again.json()["error"]

    by_bo = {"where_ext_system_id": "SFDC", "where_bo_type": "Account"}
    # Without expanded_view=true only recently accessed workspaces are searched.
    recent_only = await client.get(
        f"{API}/v2/businessworkspaces",
        headers=ticket,
        params={**by_bo, "where_bo_id": "0015g00000ABC"},
    )
    assert recent_only.json()["results"] == []
    found = await client.get(
        f"{API}/v2/businessworkspaces",
        headers=ticket,
        params={**by_bo, "where_bo_id": "0015g00000ABC", "expanded_view": "true"},
    )
    [hit] = found.json()["results"]
    assert hit["data"]["properties"]["id"] == workspace_id
    assert hit["data"]["properties"]["wnf_wksp_type_id"] == 7
    assert hit["data"]["properties"]["wnf_wksp_template_id"] == 20001
    none = await client.get(
        f"{API}/v2/businessworkspaces",
        headers=ticket,
        params={**by_bo, "where_bo_id": "nope", "expanded_view": "true"},
    )
    assert none.json()["results"] == []

    opened = await client.get(
        f"{API}/v2/businessworkspaces/{workspace_id}",
        headers=ticket,
        params={"fields": ["properties", "business_properties", "workspace_references"]},
    )
    data = opened.json()["results"]["data"]
    assert data["business_properties"]["business_object_id"] == "0015g00000ABC"
    assert data["business_properties"]["workspace_type_name"] == "Customer"
    assert "references" not in data["business_properties"]
    assert [(r["ext_system_id"], r["bo_id"]) for r in data["workspace_references"]] == [
        ("SFDC", "0015g00000ABC")
    ]
    recent = await client.get(
        f"{API}/v2/businessworkspaces",
        headers=ticket,
        params={**by_bo, "where_bo_id": "0015g00000ABC"},
    )
    assert [r["data"]["properties"]["id"] for r in recent.json()["results"]] == [workspace_id]

    # Retention is classified after creation.
    classified = await client.post(
        f"{API}/v1/nodes/{workspace_id}/rmclassifications",
        headers=ticket,
        data={"body": json.dumps({"class_id": 5001, "apply_to_sub_items": False})},
    )
    assert classified.status_code == 200, classified.text

    folders = await client.get(f"{API}/v2/nodes/{workspace_id}/nodes", headers=ticket)
    names = {
        r["data"]["properties"]["name"]: r["data"]["properties"]["id"]
        for r in folders.json()["results"]
    }
    assert set(names) == {"Contracts", "Correspondence", "Drawings", "Documents"}

    doc = await upload(client, ticket, names["Contracts"], "Signed.pdf")
    doc_id = doc.json()["results"]["data"]["properties"]["id"]
    classify = await client.post(
        f"{API}/v1/nodes/{doc_id}/rmclassifications",
        headers=ticket,
        data={"body": json.dumps({"class_id": 5002, "apply_to_sub_items": False})},
    )
    assert classify.status_code == 200, classify.text
    unknown = await client.post(
        f"{API}/v1/nodes/{doc_id}/rmclassifications",
        headers=ticket,
        data={"body": json.dumps({"class_id": 1})},
    )
    assert unknown.status_code == 400
    hold = await client.post(
        f"{API}/v1/nodes/{doc_id}/holds", headers=ticket, data={"body": json.dumps({"hold_id": 7})}
    )
    assert hold.json()["results"]["holds"] == [7]

    reference = await client.put(
        f"{API}/v2/businessworkspaces/{workspace_id}/workspacereferences",
        headers=ticket,
        data={"ext_system_id": "SAP", "bo_type": "KNA1", "bo_id": "42"},
    )
    assert reference.status_code == 200, reference.text
    by_sap = await client.get(
        f"{API}/v2/businessworkspaces",
        headers=ticket,
        params={
            "where_ext_system_id": "SAP",
            "where_bo_type": "KNA1",
            "where_bo_id": "42",
            "expanded_view": "true",
        },
    )
    assert by_sap.json()["results"][0]["data"]["properties"]["id"] == workspace_id

    search = await client.post(
        f"{API}/v2/search", headers=ticket, data={"where": "OTName:Signed*", "limit": "10"}
    )
    assert [r["data"]["properties"]["id"] for r in search.json()["results"]] == [doc_id]
    # The default lookfor is complexquery: quoted phrases and words, all required.
    phrase = await client.post(
        f"{API}/v2/search", headers=ticket, data={"where": 'OTName:"signed.pdf"', "limit": "10"}
    )
    assert [r["data"]["properties"]["id"] for r in phrase.json()["results"]] == [doc_id]
    bad = await client.post(f"{API}/v2/search", headers=ticket, data={"where": "x", "lookfor": "y"})
    assert bad.status_code == 400

    [dumped] = (await client.get("/_control/workspaces")).json()["results"]
    assert dumped["categories"] == {"9001": {"9001_3": "ACME Corp"}}
    assert dumped["rm_classifications"] == [5001]
    assert dumped["external_system_id"] == "SFDC"
    tree = (await client.get("/_control/nodes")).json()["tree"]
    [contracts] = [c for c in tree[0]["children"][0]["children"] if c["name"] == "Contracts"]
    assert contracts["children"][0]["rm_classifications"] == [5002]
    assert contracts["children"][0]["holds"] == [7]


async def test_faults_use_the_otcs_error_shape(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    await client.put("/_control/faults", json={"fail_next": {"count": 1, "status": 500}})
    failed = await client.get(f"{API}/v2/nodes/2000", headers=ticket)
    assert failed.status_code == 500
    assert "error" in failed.json()
    assert (await client.get(f"{API}/v2/nodes/2000", headers=ticket)).status_code == 200


async def test_node_events_are_standard_webhooks(receiver: CallbackReceiver) -> None:
    receiver.reset()
    config = ContentServerConfig(events_url=receiver.url)
    app = create_app(config)
    async with (
        ServedApp(app, name="otcs-events") as served,
        httpx.AsyncClient(base_url=served.base_url) as client,
    ):
        ticket = await login(client)
        assert (await create_workspace(client, ticket, "0015g00000XYZ", "Globex")).is_success
        await client.post("/_control/webhooks/flush")
    [message] = receiver.received
    verified = Webhook(config.events_secret).verify(message["raw"], message["headers"])
    assert verified["type"] == "workspace.created"
    assert verified["data"]["node"]["name"] == "Globex"
    assert message["headers"]["idempotency-key"] == message["headers"]["webhook-id"]


async def test_categories_and_classifications_are_nodes_with_a_category_form(
    otcs: Served,
) -> None:
    client = otcs.client
    auth = await login(client)
    category = (await client.get(f"{API}/v2/nodes/9001", headers=auth)).json()
    props = category["results"]["data"]["properties"]
    assert (props["id"], props["type"], props["type_name"]) == (9001, 131, "Category")
    rm_class = (await client.get(f"{API}/v2/nodes/5001", headers=auth)).json()
    assert rm_class["results"]["data"]["properties"]["type"] == 551
    assert (await client.get(f"{API}/v2/nodes/9999", headers=auth)).status_code == 404

    form = await client.get(
        f"{API}/v1/forms/nodes/categories/create",
        params={"id": 2000, "category_id": 9001},
        headers=auth,
    )
    assert form.status_code == 200, form.text
    [alpaca] = form.json()["forms"]
    properties = alpaca["schema"]["properties"]
    assert properties["9001_2"] == {"title": "deal_id", "type": "string"}
    assert set(properties["9001_10"]["items"]["properties"]) == {"9001_10_x_11", "9001_10_x_12"}
    unknown = await client.get(
        f"{API}/v1/forms/nodes/categories/create",
        params={"id": 2000, "category_id": 9999},
        headers=auth,
    )
    assert unknown.status_code == 400
    assert "9999" in unknown.json()["error"]
    no_node = await client.get(
        f"{API}/v1/forms/nodes/categories/create",
        params={"id": 424242, "category_id": 9001},
        headers=auth,
    )
    assert no_node.status_code == 404
