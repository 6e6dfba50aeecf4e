"""Client contract tests: docflow's clients against the vendors' documented payloads.

An httpx.MockTransport serves the documented bodies (tests/activities/fixtures/) and records
each request, so the tests assert both what the clients send (the documented request shape)
and that they read the documented answers. The simulators are held to the same fixtures in
tests/simulators/contract_test.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from activities.content_server.client import ContentServerClient
from activities.core_signature.callbacks import parse_callback, signature_event, verify_callback
from activities.core_signature.client import CoreSignatureClient
from activities.http.error_mapping import to_application_error
from activities.http.errors import AlreadyExistsError, error_message
from activities.http.oauth import ClientCredentialsTokenProvider

FIXTURES = Path(__file__).parent / "fixtures"
OTCS = "https://otcs.example.com/otcs/cs.exe/api"
SIGN = "https://sign.core.opentext.com"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


Handler = Callable[[httpx.Request], httpx.Response]


class Vendor:
    """Answers by (method, path) from a table; records every request it saw."""

    def __init__(self, routes: dict[tuple[str, str], Handler | list[Handler]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            return httpx.Response(404, json={"error": f"no route {request.url.path}"})
        if isinstance(route, list):
            return route.pop(0)(request)
        return route(request)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if (r.method, r.url.path) == (method, path)]


def answer(status: int, body: Any) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def form(request: httpx.Request) -> dict[str, str]:
    """A urlencoded or multipart request's plain fields."""
    content_type = request.headers.get("content-type", "")
    raw = request.content.decode()
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    raise AssertionError(f"Content Server takes form bodies, got {content_type!r}")


class _Ticket:
    async def ticket(self) -> str:
        return "ticket-1"

    def invalidate(self, value: str | None = None) -> None:
        pass

    def observe(self, response: httpx.Response) -> None:
        pass


def otcs_client(vendor: Vendor) -> tuple[ContentServerClient, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(vendor))
    return ContentServerClient(http, OTCS, _Ticket(), timeout_s=5.0), http  # type: ignore[arg-type]


API = "/otcs/cs.exe/api"


# ----------------------------------------------------------------- Content Server


async def test_workspace_lookup_searches_beyond_recently_accessed() -> None:
    vendor = Vendor(
        {
            ("GET", f"{API}/v2/businessworkspaces"): answer(
                200, fixture("content_server/workspace_lookup.json")
            )
        }
    )
    client, http = otcs_client(vendor)
    async with http:
        found = await client.find_workspace("SFDC", "Account", "0015g00000ABC")

    [request] = vendor.requests
    assert request.url.params["expanded_view"] == "true"
    assert (
        request.url.params["where_ext_system_id"],
        request.url.params["where_bo_type"],
        request.url.params["where_bo_id"],
    ) == ("SFDC", "Account", "0015g00000ABC")
    assert found is not None
    assert (found.properties.id, found.properties.type) == (224082, 848)


async def test_workspace_create_sends_nested_categories_then_classifies() -> None:
    vendor = Vendor(
        {
            ("POST", f"{API}/v2/businessworkspaces"): answer(
                200, fixture("content_server/workspace_create.json")
            ),
            ("POST", f"{API}/v1/nodes/224082/rmclassifications"): answer(200, {"results": {}}),
        }
    )
    client, http = otcs_client(vendor)
    async with http:
        workspace_id = await client.create_workspace(
            name="ACME Corp",
            template_id=20001,
            wksp_type_id=7,
            parent_id=None,
            ext_system_id="SFDC",
            bo_type="Account",
            bo_id="0015g00000ABC",
            categories={"9001_3": "ACME Corp", "9001_2": "Q-1"},
            rm_classifications=[5001],
        )

    assert workspace_id == 224082
    [create] = vendor.sent("POST", f"{API}/v2/businessworkspaces")
    body = json.loads(form(create)["body"])
    assert body["roles"] == {"categories": {"9001": {"9001_3": "ACME Corp", "9001_2": "Q-1"}}}
    assert body["type"] == 848
    assert "parent_id" not in body  # the workspace type's location decides
    [classify] = vendor.sent("POST", f"{API}/v1/nodes/224082/rmclassifications")
    assert json.loads(form(classify)["body"]) == {"class_id": 5001, "apply_to_sub_items": False}
    assert [r.url.path for r in vendor.requests] == [
        f"{API}/v2/businessworkspaces",
        f"{API}/v1/nodes/224082/rmclassifications",
    ]


async def test_category_values_are_applied_first_when_the_put_is_refused() -> None:
    not_applied = {"error": "Category 9001 is not assigned to node 300001."}
    vendor = Vendor(
        {
            ("PUT", f"{API}/v2/nodes/300001/categories/9001"): answer(400, not_applied),
            ("POST", f"{API}/v2/nodes/300001/categories"): answer(200, {"results": {}}),
        }
    )
    client, http = otcs_client(vendor)
    async with http:
        await client.set_categories(300001, 9001, {"9001_2": "Q-1", "9001_10_1_11": "a@b.example"})

    [put] = vendor.sent("PUT", f"{API}/v2/nodes/300001/categories/9001")
    [post] = vendor.sent("POST", f"{API}/v2/nodes/300001/categories")
    expected = {"category_id": "9001", "9001_2": "Q-1", "9001_10_1_11": "a@b.example"}
    assert form(put) == expected
    assert form(post) == expected


async def test_category_values_on_an_applied_category_are_one_put() -> None:
    vendor = Vendor({("PUT", f"{API}/v2/nodes/300001/categories/9001"): answer(200, {})})
    client, http = otcs_client(vendor)
    async with http:
        await client.set_categories(300001, 9001, {"9001_2": "Q-1"})
    assert [r.method for r in vendor.requests] == ["PUT"]


async def test_duplicate_name_500_is_a_conflict_never_retried() -> None:
    vendor = Vendor(
        {("POST", f"{API}/v2/nodes"): answer(500, fixture("content_server/duplicate_name.json"))}
    )
    client, http = otcs_client(vendor)
    async with http:
        with pytest.raises(AlreadyExistsError) as caught:
            await client.upload_document(parent_id=2000, name="Contract Q-1.pdf", content=b"%PDF")

    assert caught.value.status == 500
    assert "in container 2000" in caught.value.message  # errorDetail is part of the message
    error = to_application_error("archive", caught.value)
    assert error.non_retryable
    assert error.type == "AlreadyExistsError"


async def test_exact_child_is_found_on_a_later_page_of_substring_matches() -> None:
    first = fixture("content_server/children.json")
    second = json.loads(json.dumps(first))
    second["collection"]["paging"] |= {"page": 2, "range_min": 101, "range_max": 101}
    second["results"][0]["data"]["properties"] |= {"id": 300002, "name": "Contract Q-1.pdf"}
    vendor = Vendor(
        {("GET", f"{API}/v2/nodes/2000/nodes"): [answer(200, first), answer(200, second)]}
    )
    client, http = otcs_client(vendor)
    async with http:
        found = await client.find_child_by_name(2000, "Contract Q-1.pdf")

    assert found is not None and found.id == 300002
    assert [(r.url.params["limit"], r.url.params["page"]) for r in vendor.requests] == [
        ("100", "1"),
        ("100", "2"),
    ]
    assert all(r.url.params["where_name"] == "Contract Q-1.pdf" for r in vendor.requests)


async def test_no_exact_child_after_the_last_page_is_none() -> None:
    only = fixture("content_server/children.json")
    only["collection"]["paging"]["page_total"] = 1
    vendor = Vendor({("GET", f"{API}/v2/nodes/2000/nodes"): answer(200, only)})
    client, http = otcs_client(vendor)
    async with http:
        assert await client.find_child_by_name(2000, "Contract Q-1.pdf") is None
    assert len(vendor.requests) == 1


async def test_search_speaks_the_query_language_by_default() -> None:
    page = {"collection": {"paging": {"total_count": 0, "page": 1, "limit": 25}}, "results": []}
    vendor = Vendor({("POST", f"{API}/v2/search"): answer(200, page)})
    client, http = otcs_client(vendor)
    async with http:
        await client.search("OTName: Contract*")
    assert form(vendor.requests[0])["lookfor"] == "complexquery"


def test_error_message_reads_error_detail() -> None:
    body = fixture("content_server/duplicate_name.json")
    response = httpx.Response(500, json=body)
    assert error_message(response) == f"{body['error']} ({body['errorDetail']})"
    only_detail = httpx.Response(400, json={"errorDetail": "Attribute 9001_99 is unknown."})
    assert error_message(only_detail) == "Attribute 9001_99 is unknown."


# ----------------------------------------------------------------- Core Signature


class _Token:
    async def token(self) -> str:
        return "token-1"

    def invalidate(self, token: str | None = None) -> None:
        pass


def signing_client(vendor: Vendor) -> tuple[CoreSignatureClient, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(vendor))
    return CoreSignatureClient(http, SIGN, _Token(), timeout_s=5.0), http


async def test_cancel_and_resend_accept_the_documented_201() -> None:
    vendor = Vendor(
        {
            ("POST", "/api/v1/signature-requests/sr-1/cancel_signrequest/"): answer(
                201, fixture("core_signature/cancel.json")
            ),
            ("POST", "/api/v1/signature-requests/sr-1/resend_signrequest_email/"): answer(
                201, fixture("core_signature/resend.json")
            ),
        }
    )
    client, http = signing_client(vendor)
    async with http:
        cancelled = await client.cancel_signature_request("sr-1")
        resent = await client.resend("sr-1")
    assert (cancelled.cancelled, cancelled.detail) == (True, "OK")
    assert resent == "OK"


async def test_events_page_is_the_documented_event_resource() -> None:
    vendor = Vendor({("GET", "/api/v1/events/"): answer(200, fixture("core_signature/event.json"))})
    client, http = signing_client(vendor)
    async with http:
        page = await client.list_events(document_uuid="f2bac751-4fa1-43f1-91de-a1b8905c239a")
    [event] = page.results
    assert (event.uuid, event.event_type, event.status) == (
        "ffffd4dd-89c7-4133-ba2d-960f65c8d395",
        "converted",
        "ok",
    )
    assert event.timestamp == datetime(2018, 9, 25, 15, 23, 28, 836457, tzinfo=UTC)
    assert event.document is not None and event.document.status == "co"
    assert vendor.requests[0].url.params["document__uuid"] == "f2bac751-4fa1-43f1-91de-a1b8905c239a"


async def test_templates_are_read_from_every_page() -> None:
    second = {**fixture("core_signature/templates.json"), "next": None}
    second["results"] = [{**second["results"][0], "uuid": "u-2", "name": "mutual-nda-v2"}]
    first = {**fixture("core_signature/templates.json"), "count": 2}
    first["next"] = f"{SIGN}/api/v1/templates/?page=2&limit=100"
    vendor = Vendor({("GET", "/api/v1/templates/"): [answer(200, first), answer(200, second)]})
    client, http = signing_client(vendor)
    async with http:
        templates = await client.list_templates()
    assert [(t.name, t.uuid) for t in templates] == [
        ("sales-contract-v3", "8a4b3f0e-5f6d-4c1b-9a7e-2d3c4b5a6f70"),
        ("mutual-nda-v2", "u-2"),
    ]
    assert templates[0].url and templates[0].signers[0].needs_to_sign
    assert [r.url.params["page"] for r in vendor.requests] == ["1", "2"]


KEY = b"test-api-token"


def signed_fixture(event_type: str | None = None) -> bytes:
    """The documented callback, its event_hash made with the test key (the docs' example hash
    was made with a key they do not show)."""
    body = fixture("core_signature/callback.json")
    body["event_type"] = event_type or body["event_type"]
    message = (body["event_time"] + body["event_type"]).encode()
    body["event_hash"] = hmac.new(KEY, message, hashlib.sha256).hexdigest()
    return json.dumps(body).encode()


def test_documented_callback_verifies_and_parses() -> None:
    callback = parse_callback(signed_fixture())
    sent_at = datetime.fromtimestamp(1537889008, tz=UTC)
    # event_time is Unix seconds as a string; the hash covers exactly that text.
    occurred_at = verify_callback(callback, KEY)
    assert occurred_at == sent_at
    event = signature_event(callback, occurred_at)
    assert event is not None
    assert (event.event_id, event.document_uuid, event.external_id) == (
        "ffffd4dd-89c7-4133-ba2d-960f65c8d395",
        "f2bac751-4fa1-43f1-91de-a1b8905c239a",
        "your_id_of_this_document",
    )


@pytest.mark.parametrize(
    "event_type",
    ["signer_viewed_email", "signer_forwarded", "signer_downloaded", "signrequest_received"],
)
def test_newer_event_types_are_verified_and_ignored(event_type: str) -> None:
    callback = parse_callback(signed_fixture(event_type))
    occurred_at = verify_callback(callback, KEY)
    assert signature_event(callback, occurred_at) is None


# ---------------------------------------------------------------------- OAuth


@pytest.mark.parametrize("mode", ["client_secret_basic", "client_secret_post"])
async def test_token_request_authenticates_the_client_as_configured(mode: str) -> None:
    vendor = Vendor(
        {("POST", "/oauth/token"): answer(200, {"access_token": "t", "expires_in": 300})}
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(vendor)) as http:
        provider = ClientCredentialsTokenProvider(
            http,
            "https://auth.example.com/oauth/token",
            "id-1",
            "secret-1",
            auth_method=mode,  # type: ignore[arg-type]
        )
        assert await provider.token() == "t"
    [request] = vendor.requests
    fields = form(request)
    if mode == "client_secret_post":
        assert fields == {
            "grant_type": "client_credentials",
            "client_id": "id-1",
            "client_secret": "secret-1",
        }
        assert "authorization" not in request.headers
    else:
        assert fields == {"grant_type": "client_credentials"}
        assert request.headers["authorization"].startswith("Basic ")
