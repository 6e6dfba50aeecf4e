"""Content Server simulator, business workspaces in depth: the dev structure, members, roles,
references, related workspaces, the create form, categories, the audit trail, the control
knobs (seeded workspaces, ECM's own connectors racing us) and faults on the new routes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.simulators.conftest import Served
from tests.simulators.content_server_test import API, login, upload


async def create(
    client: httpx.AsyncClient,
    ticket: dict[str, str],
    *,
    type_id: int = 7,
    template_id: int = 20001,
    name: str = "ACME Corp",
    bo_id: str | None = "0015g00000ABC",
    categories: dict[str, Any] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "template_id": template_id,
        "wksp_type_id": type_id,
        "type": 848,
        "name": name,
    }
    if bo_id is not None:
        body |= {"ext_system_id": "SFDC", "bo_type": "Account", "bo_id": bo_id}
    if categories is not None:
        body["roles"] = {"categories": categories}
    return await client.post(
        f"{API}/v2/businessworkspaces", headers=ticket, data={"body": json.dumps(body)}
    )


async def created_id(client: httpx.AsyncClient, ticket: dict[str, str], **kwargs: Any) -> int:
    response = await create(client, ticket, **kwargs)
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["id"])


async def roles_by_name(
    client: httpx.AsyncClient, ticket: dict[str, str], workspace_id: int
) -> dict[str, int]:
    response = await client.get(f"{API}/v2/businessworkspaces/{workspace_id}/roles", headers=ticket)
    assert response.status_code == 200, response.text
    return {
        r["data"]["properties"]["name"]: r["data"]["properties"]["id"]
        for r in response.json()["results"]
    }


async def detail(client: httpx.AsyncClient, node_id: int) -> dict[str, Any]:
    response = await client.get(f"/_control/nodes/{node_id}")
    assert response.status_code == 200, response.text
    return dict(response.json()["detail"])


async def test_dev_structure_matches_the_workspaces_mapping(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    for folder_id, name in [
        (2000, "Customers"),
        (2001, "Suppliers"),
        (2002, "Projects"),
        (2003, "Cases"),
        (2004, "Requests"),
    ]:
        node = await client.get(f"{API}/v2/nodes/{folder_id}", headers=ticket)
        assert node.json()["results"]["data"]["properties"]["name"] == name
    types = await client.get(
        f"{API}/v2/businessworkspacetypes", headers=ticket, params={"expand_templates": "true"}
    )
    found = {
        p["wksp_type_id"]: (
            p["wksp_type_name"],
            p["wksp_creation"]["location_value"],
            p["templates"][0]["id"],
        )
        for p in (r["data"]["properties"] for r in types.json()["results"])
    }
    assert found == {
        7: ("Customer", "2000", 20001),
        8: ("Supplier", "2001", 20002),
        9: ("Project", "2002", 20003),
        10: ("Case", "2003", 20004),
        11: ("Onboarding", "2004", 20005),
        12: ("Legal Matter", "2004", 20006),
    }

    case_form = await client.get(
        f"{API}/v2/forms/businessworkspaces/create", headers=ticket, params={"template_id": 20004}
    )
    [categories] = [f for f in case_form.json()["forms"] if f.get("role_name") == "categories"]
    schema = categories["schema"]["properties"]["9200"]
    assert schema["title"] == "Case"
    assert [a["title"] for a in schema["properties"].values()] == [
        "case_id",
        "case_type",
        "title",
        "status",
        "customer",
    ]
    unknown = await client.get(
        f"{API}/v2/forms/businessworkspaces/create", headers=ticket, params={"template_id": 1}
    )
    assert unknown.status_code == 400 and "error" in unknown.json()

    # Category 9100 goes on a Customer workspace; a Case gets 9200; 9300 on documents.
    workspace_id = await created_id(
        client, ticket, categories={"9100": {"9100_1": "ACC-1", "9100_5": "Active"}}
    )
    applied = await client.get(f"{API}/v2/nodes/{workspace_id}/categories", headers=ticket)
    [values] = applied.json()["results"]
    assert values["data"]["categories"] == {"9100_1": "ACC-1", "9100_5": "Active"}
    assert values["metadata"]["9100"]["name"] == "Business Object"
    doc = await upload(client, ticket, workspace_id, "Filed.pdf", {"9300_1": "contract"})
    assert doc.status_code == 200, doc.text
    classified = await client.post(
        f"{API}/v1/nodes/{workspace_id}/rmclassifications",
        headers=ticket,
        data={"body": json.dumps({"class_id": 5003, "apply_to_sub_items": True})},
    )
    assert classified.status_code == 200
    assert (await detail(client, doc.json()["id"]))["rm_classifications"] == [5003]


async def test_templates_bring_folders_roles_and_documents(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    onboarding = await created_id(
        client, ticket, type_id=11, template_id=20005, name="Onboarding ACME (REQ-1)", bo_id=None
    )
    node = await detail(client, onboarding)
    assert node["parent_id"] == 2004
    assert node["references"] == []
    assert {c["name"] for c in node["children"]} == {"Forms", "Contracts"}
    assert [(r["name"], r["members"]) for r in node["roles"]] == [("Onboarding Team", [])]
    [forms] = [c for c in node["children"] if c["name"] == "Forms"]
    documents = await client.get(f"{API}/v2/nodes/{forms['id']}/nodes", headers=ticket)
    by_name = {
        r["data"]["properties"]["name"]: r["data"]["properties"]
        for r in documents.json()["results"]
    }
    assert set(by_name) == {"Welcome pack.pdf", "Onboarding checklist.pdf"}
    welcome = by_name["Welcome pack.pdf"]
    assert welcome["type"] == 144 and welcome["mime_type"] == "application/pdf"
    content = await client.get(f"{API}/v1/nodes/{welcome['id']}/content", headers=ticket)
    assert content.content.startswith(b"%PDF-")

    customer = await created_id(client, ticket)
    assert set(await roles_by_name(client, ticket, customer)) == {"Account Team", "Legal"}
    customer_node = await detail(client, customer)
    assert {c["name"] for c in customer_node["children"]} == {
        "Contracts",
        "Correspondence",
        "Drawings",
        "Documents",
    }


async def test_members_directory(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    alice = await client.get(
        f"{API}/v2/members", headers=ticket, params={"where_name": "alice@example.com"}
    )
    [hit] = alice.json()["results"]
    props = hit["data"]["properties"]
    assert (props["id"], props["type"], props["type_name"]) == (1001, 0, "User")
    # where_name matches parts of names; where_type narrows to users or groups.
    teams = await client.get(
        f"{API}/v2/members", headers=ticket, params={"where_name": "team", "where_type": 1}
    )
    assert sorted(r["data"]["properties"]["name"] for r in teams.json()["results"]) == [
        "account-team",
        "case-team",
        "project-team",
    ]
    paged = await client.get(f"{API}/v2/members", headers=ticket, params={"limit": 4, "page": 3})
    assert paged.json()["collection"]["paging"]["total_count"] == 11
    assert [r["data"]["properties"]["id"] for r in paged.json()["results"]] == [2003, 2004, 2005]
    one = await client.get(f"{API}/v2/members/2002", headers=ticket)
    assert one.json()["results"]["data"]["properties"]["name"] == "legal"
    missing = await client.get(f"{API}/v2/members/9999", headers=ticket)
    assert missing.status_code == 404 and "error" in missing.json()

    added = await client.post(
        "/_control/members", json={"id": 1100, "name": "zoe@example.com", "type": 0}
    )
    assert added.status_code == 200
    zoe = await client.get(f"{API}/v2/members", headers=ticket, params={"where_name": "zoe"})
    assert [r["data"]["properties"]["id"] for r in zoe.json()["results"]] == [1100]
    await client.post("/_control/reset")
    gone = await client.get(f"{API}/v2/members", headers=ticket, params={"where_name": "zoe"})
    assert gone.json()["results"] == []


async def test_roles_members_and_permissions(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    workspace_id = await created_id(client, ticket)
    base = f"{API}/v2/businessworkspaces/{workspace_id}"
    roles = await roles_by_name(client, ticket, workspace_id)
    legal = roles["Legal"]

    one = await client.get(f"{base}/roles/{legal}", headers=ticket)
    assert one.json()["results"]["data"]["properties"]["name"] == "Legal"
    assert (await client.get(f"{base}/roles/1", headers=ticket)).status_code == 404
    not_workspace = await client.get(f"{API}/v2/businessworkspaces/2000/roles", headers=ticket)
    assert not_workspace.status_code == 400 and "error" in not_workspace.json()

    add = await client.post(f"{base}/roles/{legal}/members", headers=ticket, data={"id": "2002"})
    assert add.status_code == 200, add.text
    assert add.json()["results"]["data"]["properties"]["name"] == "legal"
    again = await client.post(f"{base}/roles/{legal}/members", headers=ticket, data={"id": "2002"})
    assert again.status_code == 400 and "already a member" in again.json()["error"]
    unknown = await client.post(f"{base}/roles/{legal}/members", headers=ticket, data={"id": "77"})
    assert unknown.status_code == 400 and "error" in unknown.json()
    as_json = await client.post(f"{base}/roles/{legal}/members", headers=ticket, json={"id": 1001})
    assert as_json.status_code == 400
    await client.post(f"{base}/roles/{legal}/members", headers=ticket, data={"id": "1001"})
    listed = await client.get(f"{base}/roles/{legal}/members", headers=ticket)
    assert [r["data"]["properties"]["id"] for r in listed.json()["results"]] == [2002, 1001]

    removed = await client.delete(f"{base}/roles/{legal}/members/1001", headers=ticket)
    assert removed.status_code == 200
    not_member = await client.delete(f"{base}/roles/{legal}/members/1001", headers=ticket)
    assert not_member.status_code == 400

    permissions = {"permissions": ["see", "see_contents", "modify"], "apply_to": 2}
    put = await client.put(
        f"{base}/roles/{legal}", headers=ticket, data={"body": json.dumps(permissions)}
    )
    assert put.status_code == 200, put.text
    bad = await client.put(
        f"{base}/roles/{legal}",
        headers=ticket,
        data={"body": json.dumps({"permissions": ["see", "fly"]})},
    )
    assert bad.status_code == 400 and "fly" in bad.json()["error"]
    bad_scope = await client.put(
        f"{base}/roles/{legal}",
        headers=ticket,
        data={"body": json.dumps({"permissions": ["see"], "apply_to": 7})},
    )
    assert bad_scope.status_code == 400

    [legal_role] = [
        r for r in (await detail(client, workspace_id))["roles"] if r["name"] == "Legal"
    ]
    assert legal_role == {
        "id": legal,
        "name": "Legal",
        "permissions": ["see", "see_contents", "modify"],
        "apply_to": 2,
        "members": ["legal"],
    }


async def test_references_bind_unbind_and_lookup_by_path(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    seeded = await client.post(
        "/_control/workspaces", json={"wksp_type_id": 7, "name": "Made by hand"}
    )
    assert seeded.status_code == 200, seeded.text
    workspace_id = seeded.json()["id"]
    assert seeded.json()["references"] == [] and seeded.json()["parent_id"] == 2000
    path = f"{API}/v2/externalsystems/SFDC/botypes/Account/boids/0015g00000HAND"
    assert (await client.get(path, headers=ticket)).json()["results"] == []

    ref = {"ext_system_id": "SFDC", "bo_type": "Account", "bo_id": "0015g00000HAND"}
    base = f"{API}/v2/businessworkspaces/{workspace_id}/workspacereferences"
    assert (await client.put(base, headers=ticket, data=ref)).status_code == 200
    [bound] = (await client.get(path, headers=ticket)).json()["results"]
    assert bound["data"]["properties"]["id"] == workspace_id
    assert bound["data"]["business_properties"]["business_object_id"] == "0015g00000HAND"

    other = await created_id(client, ticket, name="Other", bo_id="0015g00000OTHER")
    taken = await client.put(
        f"{API}/v2/businessworkspaces/{other}/workspacereferences", headers=ticket, data=ref
    )
    assert taken.status_code == 400 and "already bound" in taken.json()["error"]

    unbound = await client.request("DELETE", base, headers=ticket, data=ref)
    assert unbound.status_code == 200, unbound.text
    assert unbound.json()["results"]["data"]["workspace_references"] == []
    assert (await client.get(path, headers=ticket)).json()["results"] == []
    again = await client.request("DELETE", base, headers=ticket, data=ref)
    assert again.status_code == 400 and "not bound" in again.json()["error"]
    incomplete = await client.request(
        "DELETE", base, headers=ticket, data={"ext_system_id": "SFDC"}
    )
    assert incomplete.status_code == 400


async def test_related_workspaces(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    customer = await created_id(client, ticket)
    project = await created_id(
        client, ticket, type_id=9, template_id=20003, name="P-1 Plant", bo_id="P-1"
    )
    base = f"{API}/v2/businessworkspaces/{customer}/relateditems"
    related = await client.post(
        base, headers=ticket, data={"rel_bw_id": str(project), "rel_type": "child"}
    )
    assert related.status_code == 200, related.text
    twice = await client.post(base, headers=ticket, data={"rel_bw_id": str(project)})
    assert twice.status_code == 400 and "already exists" in twice.json()["error"]
    to_self = await client.post(base, headers=ticket, data={"rel_bw_id": str(customer)})
    assert to_self.status_code == 400
    bad_type = await client.post(
        base, headers=ticket, data={"rel_bw_id": str(project), "rel_type": "cousin"}
    )
    assert bad_type.status_code == 400
    not_workspace = await client.post(base, headers=ticket, data={"rel_bw_id": "2000"})
    assert not_workspace.status_code == 400

    children = await client.get(base, headers=ticket, params={"where_relationtype": "child"})
    assert [r["data"]["properties"]["id"] for r in children.json()["results"]] == [project]
    assert (await client.get(base, headers=ticket, params={"where_relationtype": "parent"})).json()[
        "results"
    ] == []
    # One direction suffices: the project sees the customer as its parent.
    parents = await client.get(
        f"{API}/v2/businessworkspaces/{project}/relateditems",
        headers=ticket,
        params={"where_relationtype": "parent"},
    )
    assert [r["data"]["properties"]["id"] for r in parents.json()["results"]] == [customer]


async def test_audit_trail(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    workspace_id = await created_id(client, ticket)
    doc = await upload(client, ticket, workspace_id, "Audited.pdf")
    doc_id = doc.json()["id"]
    await client.post(
        f"{API}/v2/nodes/{doc_id}/versions",
        headers=ticket,
        files={"file": ("Audited.pdf", b"%PDF-1.4 v2", "application/pdf")},
    )
    await client.post(
        f"{API}/v2/nodes/{doc_id}/categories",
        headers=ticket,
        data={"category_id": "9300", "9300_1": "x"},
    )
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
        data={"ext_system_id": "SAP", "bo_type": "KNA1", "bo_id": "42"},
    )

    audit = await client.get(
        f"{API}/v2/nodes/{doc_id}/audit", headers=ticket, params={"sort": "asc_audit_date"}
    )
    assert audit.status_code == 200
    data = audit.json()["results"]["data"]
    assert [a["audit_name"] for a in data["audit"]] == [
        "Create",
        "Add Version",
        "Attribute Value Changed",
        "Classification Applied",
        "Hold Applied",
    ]
    assert all(a["id"] == doc_id for a in data["audit"])
    names = {t["id"]: t["name"] for t in data["audit_event_types"]}
    assert names[10] == "Attribute Value Changed" and names[264] == "Classification Applied"

    newest_first = await client.get(f"{API}/v2/nodes/{doc_id}/audit", headers=ticket)
    assert newest_first.json()["results"]["data"]["audit"][0]["audit_name"] == "Hold Applied"
    paged = await client.get(
        f"{API}/v2/nodes/{doc_id}/audit",
        headers=ticket,
        params={"sort": "asc_audit_date", "limit": 2, "page": 3},
    )
    assert paged.json()["collection"]["paging"]["page_total"] == 3
    assert [a["audit_name"] for a in paged.json()["results"]["data"]["audit"]] == ["Hold Applied"]

    workspace_audit = await client.get(
        f"{API}/v2/nodes/{workspace_id}/audit", headers=ticket, params={"sort": "asc_audit_date"}
    )
    assert [a["audit_name"] for a in workspace_audit.json()["results"]["data"]["audit"]] == [
        "Create",
        "Business Object Reference Added",
    ]

    today = datetime.now(UTC).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    later = await client.get(
        f"{API}/v2/nodes/{doc_id}/audit",
        headers=ticket,
        params={"where_audit_date_start": tomorrow},
    )
    assert later.json()["results"]["data"]["audit"] == []
    # Day-granular: today's start includes everything of today.
    since_today = await client.get(
        f"{API}/v2/nodes/{doc_id}/audit",
        headers=ticket,
        params={"where_audit_date_start": today.isoformat()},
    )
    assert len(since_today.json()["results"]["data"]["audit"]) == 5
    bad_sort = await client.get(
        f"{API}/v2/nodes/{doc_id}/audit", headers=ticket, params={"sort": "x"}
    )
    assert bad_sort.status_code == 400
    bad_date = await client.get(
        f"{API}/v2/nodes/{doc_id}/audit", headers=ticket, params={"where_audit_date_start": "soon"}
    )
    assert bad_date.status_code == 400


async def test_connector_knob_preempts_the_next_create(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    knob = await client.put("/_control/connector", json={"preempt_next": 1})
    assert knob.json() == {"preempt_next": 1}

    ours = await create(client, ticket, bo_id="0015g00000RACE")
    assert ours.status_code == 400 and "already exists" in ours.json()["error"]
    lookup = await client.get(
        f"{API}/v2/businessworkspaces",
        headers=ticket,
        params={
            "expanded_view": "true",
            "where_ext_system_id": "SFDC",
            "where_bo_type": "Account",
            "where_bo_id": "0015g00000RACE",
        },
    )
    [theirs] = lookup.json()["results"]
    connector_made = await detail(client, theirs["data"]["properties"]["id"])
    assert connector_made["name"] == "ACME Corp"
    assert connector_made["audit"][0]["user_id"] == 999  # the connector's, not ours
    assert (await client.get("/_control/connector")).json() == {"preempt_next": 0}

    # Only once: the next object gets its workspace from us.
    assert (await create(client, ticket, name="Beta", bo_id="0015g00000BETA")).status_code == 200
    await client.put("/_control/connector", json={"preempt_next": 2})
    await client.post("/_control/reset")
    assert (await client.get("/_control/connector")).json() == {"preempt_next": 0}


async def test_control_node_detail(otcs: Served) -> None:
    client = otcs.client
    ticket = await login(client)
    workspace_id = await created_id(client, ticket)
    doc = await upload(client, ticket, workspace_id, "Detail.pdf", {"9001_2": "Q-1"})
    doc_id = doc.json()["id"]
    node = await detail(client, doc_id)
    assert node["categories"] == {"9001": {"9001_2": "Q-1"}}
    [version] = node["versions"]
    assert version["version_number"] == 1 and len(version["sha256"]) == 64
    assert node["audit"][0]["audit_name"] == "Create"
    workspace = await detail(client, workspace_id)
    assert workspace["references"] == [
        {"ext_system_id": "SFDC", "bo_type": "Account", "bo_id": "0015g00000ABC"}
    ]
    assert workspace["wksp_type_id"] == 7 and workspace["template_id"] == 20001
    bad_seed = await client.post("/_control/workspaces", json={"wksp_type_id": 99, "name": "x"})
    assert bad_seed.status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/members"),
        ("GET", "/v2/businessworkspaces/{ws}/roles"),
        ("GET", "/v2/businessworkspaces/{ws}/relateditems"),
        ("GET", "/v2/nodes/{ws}/audit"),
        ("GET", "/v2/nodes/{ws}/categories"),
        ("GET", "/v2/externalsystems/SFDC/botypes/Account/boids/0015g00000ABC"),
        ("GET", "/v2/forms/businessworkspaces/create?template_id=20001"),
    ],
)
async def test_fault_knobs_cover_the_new_routes(otcs: Served, method: str, path: str) -> None:
    client = otcs.client
    ticket = await login(client)
    workspace_id = await created_id(client, ticket)
    url = f"{API}{path.format(ws=workspace_id)}"
    await client.put(
        "/_control/faults",
        json={
            "fail_next": {
                "count": 1,
                "status": 503,
                "retry_after_s": 4,
                "match": path.split("{")[0].split("?")[0],
            }
        },
    )
    failed = await client.request(method, url, headers=ticket)
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "4"
    assert failed.json() == {"error": "Service temporarily unavailable."}
    assert (await client.request(method, url, headers=ticket)).status_code == 200

    await client.put("/_control/faults", json={"rate_limit_every": 1, "retry_after_s": 2})
    throttled = await client.request(method, url, headers=ticket)
    assert throttled.status_code == 429 and "error" in throttled.json()
    await client.put("/_control/faults", json={})


async def test_control_counts_bindings_and_times_category_writes(otcs: Served) -> None:
    """What the workspaces benchmark reads at scale: bindings without a tree dump, and each
    category write with the values it set and its time."""
    client = otcs.client
    ticket = await login(client)
    first = await created_id(client, ticket, name="Bench 1", bo_id="001BWx0001")
    second = await created_id(client, ticket, name="Bench 2", bo_id="001BWx0002")
    await created_id(client, ticket, name="Other", bo_id="0015g00000ZZZ")
    counted = (await client.get("/_control/bindings", params={"prefix": "001BWx"})).json()
    assert counted == {"count": 2, "workspaces": 2}
    listed = await client.get(
        "/_control/bindings",
        params={"ext_system_id": "SFDC", "bo_type": "Account", "prefix": "001BW", "detail": True},
    )
    results = listed.json()["results"]
    assert {k: v["workspace_id"] for k, v in results.items()} == {
        "001BWx0001": first,
        "001BWx0002": second,
    }
    assert datetime.fromisoformat(results["001BWx0001"]["created"]).tzinfo is not None

    before = (await client.get("/_control/categories/changes")).json()["next"]
    for node_id, name in ((first, "Renamed 1"), (second, "Renamed 2"), (first, "Again 1")):
        response = await client.post(
            f"{API}/v2/nodes/{node_id}/categories",
            headers=ticket,
            data={"category_id": "9100", "9100_2": name},
        )
        assert response.status_code == 200, response.text
    changes = (await client.get("/_control/categories/changes", params={"after": before})).json()
    assert [(c["node_id"], c["values"]) for c in changes["results"]] == [
        (first, {"9100_2": "Renamed 1"}),
        (second, {"9100_2": "Renamed 2"}),
        (first, {"9100_2": "Again 1"}),
    ]
    times = [datetime.fromisoformat(c["at"]) for c in changes["results"]]
    assert times == sorted(times) and changes["next"] == changes["results"][-1]["seq"]
    only_first = await client.get(
        "/_control/categories/changes", params={"after": before, "node_id": first, "limit": 1}
    )
    assert [c["values"] for c in only_first.json()["results"]] == [{"9100_2": "Renamed 1"}]
    later = await client.get("/_control/categories/changes", params={"after": changes["next"]})
    assert later.json() == {"count": 0, "next": changes["next"], "results": []}
