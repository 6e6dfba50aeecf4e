"""The simulators answer in the vendors' documented shapes: the same keys and JSON types as
the documented payloads the client contract tests use (tests/activities/fixtures/), so a
simulator cannot drift into a dialect of its own."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.simulators.conftest import CallbackReceiver, Served
from tests.simulators.content_server_test import API, create_workspace, login, upload
from tests.simulators.core_signature_test import bearer, create_document, flush, send_for_signing

FIXTURES = Path(__file__).parents[1] / "activities" / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def kind(value: Any) -> str:
    return {bool: "bool", int: "number", float: "number", str: "string", list: "array"}.get(
        type(value), "object" if isinstance(value, dict) else "null"
    )


def assert_same_shape(documented: Any, simulated: Any, *, exact: bool, where: str = "$") -> None:
    """Same JSON types (null matches anything: the docs show optional fields empty); with
    `exact`, objects have exactly the documented keys, else at least them."""
    if documented is None or simulated is None:
        return
    assert kind(simulated) == kind(documented), f"{where}: {kind(simulated)} != {kind(documented)}"
    if isinstance(documented, dict):
        missing = set(documented) - set(simulated)
        assert not missing, f"{where}: missing {sorted(missing)}"
        if exact:
            extra = set(simulated) - set(documented)
            assert not extra, f"{where}: not in the vendor's shape: {sorted(extra)}"
        for key in documented:
            assert_same_shape(documented[key], simulated[key], exact=exact, where=f"{where}.{key}")
    elif isinstance(documented, list) and documented and simulated:
        assert_same_shape(documented[0], simulated[0], exact=exact, where=f"{where}[0]")


# ----------------------------------------------------------------- Core Signature


async def test_callbacks_have_the_documented_shape(
    core_sig: Served, receiver: CallbackReceiver
) -> None:
    client = core_sig.client
    auth = await bearer(client)
    await create_document(client, auth, "shape", receiver.url)
    await flush(core_sig)

    [delivered] = receiver.received
    documented = fixture("core_signature/callback.json")
    body = delivered["body"]
    # The envelope exactly; the document carries the vendor's document resource.
    assert set(body) == set(documented)
    top = {k: v for k, v in documented.items() if k != "document"}
    assert_same_shape(top, {k: body[k] for k in top}, exact=True)
    assert_same_shape(documented["document"], body["document"], exact=False)
    # event_time: Unix seconds as a string; timestamp: ISO-8601.
    assert body["event_time"].isdigit()
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None


async def test_events_list_items_are_the_event_resource(
    core_sig: Served, receiver: CallbackReceiver
) -> None:
    client = core_sig.client
    auth = await bearer(client)
    doc = await create_document(client, auth, "events", receiver.url)
    await flush(core_sig)
    page = await client.get("/api/v1/events/", headers=auth, params={"document__uuid": doc["uuid"]})

    documented = fixture("core_signature/event.json")
    simulated = page.json()
    assert set(simulated) == set(documented)
    [item] = simulated["results"]
    doc_item = documented["results"][0]
    assert set(item) == set(doc_item)  # no event_time, event_hash or token_name
    assert_same_shape(
        {k: v for k, v in doc_item.items() if k != "document"},
        {k: item[k] for k in doc_item if k != "document"},
        exact=True,
    )
    assert_same_shape(doc_item["document"], item["document"], exact=False)


async def test_templates_have_the_documented_shape(core_sig: Served) -> None:
    page = await core_sig.client.get("/api/v1/templates/", headers=await bearer(core_sig.client))
    assert page.status_code == 200
    assert_same_shape(fixture("core_signature/templates.json"), page.json(), exact=True)


async def test_cancel_and_resend_answer_201_in_the_documented_shape(
    core_sig: Served, receiver: CallbackReceiver
) -> None:
    client = core_sig.client
    auth = await bearer(client)
    doc = await create_document(client, auth, "cancel-shape", receiver.url)
    request = (await send_for_signing(client, auth, doc["url"])).json()
    base = f"/api/v1/signature-requests/{request['uuid']}"

    resent = await client.post(f"{base}/resend_signrequest_email/", headers=auth)
    cancelled = await client.post(f"{base}/cancel_signrequest/", headers=auth)

    assert resent.status_code == cancelled.status_code == 201
    assert_same_shape(fixture("core_signature/resend.json"), resent.json(), exact=True)
    assert_same_shape(fixture("core_signature/cancel.json"), cancelled.json(), exact=True)


# ----------------------------------------------------------------- Content Server


async def test_workspace_answers_have_the_documented_shape(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    created = await create_workspace(client, ticket, "0015g00000ABC", "ACME Corp")
    assert_same_shape(
        fixture("content_server/workspace_create.json")["results"],
        created.json()["results"],
        exact=True,
    )
    workspace_id = created.json()["results"]["id"]

    lookup = await client.get(
        f"{API}/v2/businessworkspaces",
        headers=ticket,
        params={
            "expanded_view": "true",
            "where_ext_system_id": "SFDC",
            "where_bo_type": "Account",
            "where_bo_id": "0015g00000ABC",
        },
    )
    documented = fixture("content_server/workspace_lookup.json")
    assert_same_shape(documented["paging"], lookup.json()["paging"], exact=True)
    assert_same_shape(
        documented["results"][0]["data"]["properties"],
        lookup.json()["results"][0]["data"]["properties"],
        exact=False,
    )
    assert "wnd_att_type_id" not in lookup.json()["results"][0]["data"]["properties"]

    one = await client.get(
        f"{API}/v2/businessworkspaces/{workspace_id}",
        headers=ticket,
        params={"fields": ["properties", "business_properties", "workspace_references"]},
    )
    documented = fixture("content_server/workspace.json")["results"]["data"]
    data = one.json()["results"]["data"]
    assert set(data) == set(documented)
    assert_same_shape(documented["properties"], data["properties"], exact=False)
    assert_same_shape(documented["business_properties"], data["business_properties"], exact=True)
    assert_same_shape(documented["workspace_references"], data["workspace_references"], exact=True)


async def test_workspace_types_have_the_documented_shape(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    types = await client.get(
        f"{API}/v2/businessworkspacetypes",
        headers=ticket,
        params={"expand_templates": "true", "expand_wksp_info": "true"},
    )
    documented = fixture("content_server/workspace_types.json")
    assert_same_shape(documented, types.json(), exact=True)


async def test_duplicate_name_and_children_have_the_documented_shape(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    assert (await upload(client, ticket, 2000, "Contract Q-1.pdf")).status_code == 200
    duplicate = await upload(client, ticket, 2000, "Contract Q-1.pdf")
    assert duplicate.status_code == 500
    assert "already exists" in duplicate.text
    assert_same_shape(fixture("content_server/duplicate_name.json"), duplicate.json(), exact=True)

    children = await client.get(
        f"{API}/v2/nodes/2000/nodes",
        headers=ticket,
        params={"where_name": "Contract", "limit": 100},
    )
    documented = fixture("content_server/children.json")
    assert_same_shape(
        documented["collection"]["paging"], children.json()["collection"]["paging"], exact=True
    )
    assert_same_shape(
        documented["results"][0]["data"]["properties"],
        children.json()["results"][0]["data"]["properties"],
        exact=False,
    )


async def test_where_name_is_a_substring_filter(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    for name in ("Contract Q-1.pdf", "Old Contract Q-1.pdf", "Contract Q-10.pdf", "Invoice.pdf"):
        assert (await upload(client, ticket, 2000, name)).status_code == 200
    children = await client.get(
        f"{API}/v2/nodes/2000/nodes", headers=ticket, params={"where_name": "contract q-1"}
    )
    names = sorted(r["data"]["properties"]["name"] for r in children.json()["results"])
    assert names == ["Contract Q-1.pdf", "Contract Q-10.pdf", "Old Contract Q-1.pdf"]


async def test_workspace_role_member_audit_answers_have_the_documented_shape(
    otcs: Served,
) -> None:
    client = otcs.client
    ticket = await login(client)
    created = await create_workspace(client, ticket, "0015g00000ABC", "ACME Corp")
    workspace_id = created.json()["results"]["id"]
    base = f"{API}/v2/businessworkspaces/{workspace_id}"

    def first_properties(body: dict[str, Any]) -> dict[str, Any]:
        results = body["results"]
        item = results[0] if isinstance(results, list) else results
        return dict(item["data"]["properties"])

    members = (
        await client.get(f"{API}/v2/members", headers=ticket, params={"where_name": "legal"})
    ).json()
    documented = fixture("content_server/members.json")
    assert_same_shape(documented["collection"], members["collection"], exact=True)
    assert_same_shape(first_properties(documented), first_properties(members), exact=False)

    roles = (await client.get(f"{base}/roles", headers=ticket)).json()
    assert_same_shape(
        first_properties(fixture("content_server/roles.json")), first_properties(roles), exact=False
    )
    role_id = roles["results"][0]["data"]["properties"]["id"]
    added = await client.post(
        f"{base}/roles/{role_id}/members", headers=ticket, data={"id": "1001"}
    )
    assert_same_shape(
        first_properties(fixture("content_server/add_role_member.json")),
        first_properties(added.json()),
        exact=False,
    )
    listed = (await client.get(f"{base}/roles/{role_id}/members", headers=ticket)).json()
    assert_same_shape(
        first_properties(fixture("content_server/role_members.json")),
        first_properties(listed),
        exact=False,
    )

    audit = (
        await client.get(
            f"{API}/v2/nodes/{workspace_id}/audit",
            headers=ticket,
            params={"sort": "asc_audit_date"},
        )
    ).json()
    assert_same_shape(fixture("content_server/audit.json"), audit, exact=True)

    doc = await upload(client, ticket, workspace_id, "Signed.pdf", {"9001_2": "Q-1"})
    doc_id = doc.json()["results"]["data"]["properties"]["id"]
    versions = (await client.get(f"{API}/v2/nodes/{doc_id}/versions", headers=ticket)).json()
    assert_same_shape(fixture("content_server/versions.json"), versions, exact=True)
    categories = (await client.get(f"{API}/v2/nodes/{doc_id}/categories", headers=ticket)).json()
    documented_categories = fixture("content_server/categories.json")
    assert set(categories["results"][0]) == set(documented_categories["results"][0])
    assert_same_shape(
        documented_categories["results"][0]["metadata"]["9100"],
        categories["results"][0]["metadata"]["9001"],
        exact=True,
    )

    form = (
        await client.get(
            f"{API}/v2/forms/businessworkspaces/create",
            headers=ticket,
            params={"template_id": 20001},
        )
    ).json()
    assert_same_shape(fixture("content_server/create_form.json"), form, exact=False)

    other = await client.post(
        f"{API}/v2/businessworkspaces",
        headers=ticket,
        data={
            "body": json.dumps(
                {"template_id": 20003, "wksp_type_id": 9, "type": 848, "name": "Project P-1"}
            )
        },
    )
    other_id = other.json()["results"]["id"]
    await client.post(
        f"{base}/relateditems",
        headers=ticket,
        data={"rel_bw_id": str(other_id), "rel_type": "child"},
    )
    related = (await client.get(f"{base}/relateditems", headers=ticket)).json()
    documented = fixture("content_server/related_items.json")
    assert_same_shape(documented["paging"], related["paging"], exact=True)
    assert_same_shape(first_properties(documented), first_properties(related), exact=False)
