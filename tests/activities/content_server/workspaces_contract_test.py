"""Client contract tests for the workspace calls: what the client sends (paths, form fields,
`body=<json>` only where the API takes it) and that it reads the documented answers
(tests/activities/fixtures/content_server/)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from activities.content_server.models import GROUP
from activities.http.errors import AlreadyExistsError
from tests.activities.contract_test import API, Vendor, answer, fixture, form, otcs_client

WS = f"{API}/v2/businessworkspaces/224082"


async def test_member_lookup_matches_the_exact_name_among_substring_hits() -> None:
    vendor = Vendor(
        {("GET", f"{API}/v2/members"): answer(200, fixture("content_server/members.json"))}
    )
    client, http = otcs_client(vendor)
    async with http:
        found = await client.find_member("procurement")
        missing = await client.find_member("Procurement Asia", GROUP)

    assert found is not None and (found.id, found.name, found.type) == (17649, "Procurement", 1)
    assert missing is None
    first, second = vendor.requests
    assert (first.url.params["where_name"], first.url.params["limit"]) == ("procurement", "100")
    assert "where_type" not in first.url.params
    assert second.url.params["where_type"] == "1"


async def test_roles_members_and_permissions() -> None:
    vendor = Vendor(
        {
            ("GET", f"{WS}/roles"): answer(200, fixture("content_server/roles.json")),
            ("GET", f"{WS}/roles/81001/members"): answer(
                200, fixture("content_server/role_members.json")
            ),
            ("POST", f"{WS}/roles/81001/members"): answer(
                200, fixture("content_server/add_role_member.json")
            ),
            ("DELETE", f"{WS}/roles/81001/members/15520"): answer(200, {"results": {}}),
            ("PUT", f"{WS}/roles/81002"): answer(200, {"results": {}}),
        }
    )
    client, http = otcs_client(vendor)
    async with http:
        roles = await client.list_roles(224082)
        members = await client.role_members(224082, 81001)
        await client.add_role_member(224082, 81001, 15520)
        await client.remove_role_member(224082, 81001, 15520)
        await client.set_role_permissions(224082, 81002, ["see", "see_contents"])

    assert [(r.id, r.name) for r in roles] == [(81001, "Account Team"), (81002, "Legal")]
    assert [(m.id, m.name, m.type) for m in members] == [(15520, "lwhite", 0)]
    [add] = vendor.sent("POST", f"{WS}/roles/81001/members")
    assert form(add) == {"id": "15520"}
    [put] = vendor.sent("PUT", f"{WS}/roles/81002")
    assert json.loads(form(put)["body"]) == {"permissions": ["see", "see_contents"], "apply_to": 2}


async def test_references_are_plain_form_fields() -> None:
    vendor = Vendor(
        {
            ("PUT", f"{WS}/workspacereferences"): answer(200, {"results": {}}),
            ("DELETE", f"{WS}/workspacereferences"): answer(200, {"results": {}}),
            ("GET", f"{API}/v2/externalsystems/SFDC/botypes/Account/boids/0015g00000ABC"): answer(
                200, fixture("content_server/workspace_lookup.json")
            ),
            ("GET", WS): answer(200, fixture("content_server/workspace.json")),
        }
    )
    client, http = otcs_client(vendor)
    async with http:
        await client.bind_reference(224082, "SFDC", "Account", "0015g00000ABC")
        await client.unbind_reference(224082, "SFDC", "Account", "0015g00000ABC")
        [bound] = await client.workspaces_of_business_object("SFDC", "Account", "0015g00000ABC")
        workspace = await client.get_workspace(224082)

    expected = {"ext_system_id": "SFDC", "bo_type": "Account", "bo_id": "0015g00000ABC"}
    assert form(vendor.sent("PUT", f"{WS}/workspacereferences")[0]) == expected
    assert form(vendor.sent("DELETE", f"{WS}/workspacereferences")[0]) == expected
    assert bound.id == 224082
    assert workspace.properties.name == "ACME Corp" and workspace.type_id == 7
    assert workspace.business_properties.workspace_type_name == "Customer"
    assert workspace.bound and workspace.is_bound_to("SFDC", "Account", "0015g00000ABC")
    [get] = vendor.sent("GET", WS)
    assert get.url.params.get_list("fields") == [
        "properties",
        "business_properties",
        "workspace_references",
    ]


async def test_create_form_lists_the_category_attributes() -> None:
    vendor = Vendor(
        {
            ("GET", f"{API}/v2/forms/businessworkspaces/create"): answer(
                200, fixture("content_server/create_form.json")
            )
        }
    )
    client, http = otcs_client(vendor)
    async with http:
        [category] = await client.create_form_categories(
            20001, ext_system_id="SFDC", bo_type="Account", bo_id="0015g00000ABC"
        )
    assert (category.id, category.title) == (9100, "Business Object")
    assert [(a.key, a.title) for a in category.attributes] == [
        ("9100_1", "account_number"),
        ("9100_2", "name"),
    ]
    params = vendor.requests[0].url.params
    assert (params["template_id"], params["bo_id"]) == ("20001", "0015g00000ABC")


async def test_related_items_versions_categories_and_audit() -> None:
    vendor = Vendor(
        {
            ("POST", f"{WS}/relateditems"): answer(200, {"results": {}}),
            ("GET", f"{WS}/relateditems"): answer(
                200, fixture("content_server/related_items.json")
            ),
            ("GET", f"{API}/v2/nodes/300001/versions"): answer(
                200, fixture("content_server/versions.json")
            ),
            ("GET", f"{API}/v2/nodes/224082/categories"): answer(
                200, fixture("content_server/categories.json")
            ),
            ("GET", f"{API}/v2/nodes/29572/audit"): answer(
                200, fixture("content_server/audit.json")
            ),
        }
    )
    client, http = otcs_client(vendor)
    async with http:
        await client.relate_workspaces(224082, 224090, "child")
        [related] = await client.related_workspaces(224082, "child")
        versions = await client.list_versions(300001)
        categories = await client.get_categories(224082)
        page = await client.audit_page(29572, since=date(2025, 5, 23))

    assert form(vendor.sent("POST", f"{WS}/relateditems")[0]) == {
        "rel_bw_id": "224090",
        "rel_type": "child",
    }
    assert vendor.sent("GET", f"{WS}/relateditems")[0].url.params["where_relationtype"] == "child"
    assert related.id == 224090
    assert [v.version_number for v in versions] == [1, 2]
    assert versions[-1].description is not None and versions[-1].description.startswith("sha256 ")
    assert categories == {9100: {"9100_1": "ACC-1", "9100_2": "ACME Corp", "9100_5": "Active"}}
    assert [(e.event_type, e.audit_name) for e in page.entries] == [
        (10, "Attribute Value Changed"),
        (264, "Classification Applied"),
    ]
    assert page.entries[0].audit_date == datetime(2025, 5, 23, 10, 20, 56, tzinfo=UTC)
    assert page.event_types[264] == "Classification Applied"
    params = vendor.sent("GET", f"{API}/v2/nodes/29572/audit")[0].url.params
    assert (params["sort"], params["where_audit_date_start"]) == ("asc_audit_date", "2025-05-23")


async def test_folder_create_is_a_form_body_and_a_duplicate_is_a_conflict() -> None:
    vendor = Vendor(
        {("POST", f"{API}/v2/nodes"): answer(500, fixture("content_server/duplicate_name.json"))}
    )
    client, http = otcs_client(vendor)
    async with http:
        with pytest.raises(AlreadyExistsError):
            await client.create_folder(224082, "Contracts")
    assert json.loads(form(vendor.requests[0])["body"]) == {
        "type": 0,
        "name": "Contracts",
        "parent_id": 224082,
    }
