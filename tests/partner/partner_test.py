"""Parties: entitled listing and download, signed links, inbox uploads — and the access log."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from docflow.partner_links import LinkClaims, PartnerLinks
from tests.partner.conftest import (
    ACME,
    AUDITOR,
    NOBODY,
    PDF_V1,
    PDF_V2,
    PDF_V3,
    PORTAL,
    Stack,
    approved,
    sha,
)

LINK_KEY = "dev-partner-link-key-change-me-0123456789"
METADATA = json.dumps({"document_type": "invoice", "source_id": "INV-1"})


async def _link(stack: Stack, headers: dict[str, str], **body: Any) -> Any:
    return await stack.api.post("/v1/partner/links", headers=headers, json=body)


# ------------------------------------------------------------------ listing
async def test_a_party_lists_only_its_entitled_latest_approved_documents(stack: Stack) -> None:
    response = await stack.api.get("/v1/partner/documents", headers=ACME)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["object_id"], i["version"]) for i in items] == [(str(stack.spec), 2)]
    auditor = await stack.api.get("/v1/partner/documents", headers=AUDITOR)
    assert [i["object_id"] for i in auditor.json()["items"]] == [str(stack.audit_doc)]
    content = await stack.api.get("/v1/partner/documents?source=amplience", headers=ACME)
    assert [i["object_id"] for i in content.json()["items"]] == [stack.item_id]
    none = await stack.api.get("/v1/partner/documents?source=amplience", headers=AUDITOR)
    assert none.json()["items"] == []


async def test_a_party_cannot_fetch_or_link_outside_its_entitlements(stack: Stack) -> None:
    for node in (stack.foreign, stack.audit_doc):
        fetched = await stack.api.get(f"/v1/partner/documents/ecm/{node}/content", headers=ACME)
        assert fetched.status_code == 404
        assert fetched.json()["error"]["code"] == "not_found"
        linked = await _link(stack, ACME, object_id=str(node))
        assert linked.status_code == 404
    mine = await stack.api.get(f"/v1/partner/documents/ecm/{stack.spec}/content", headers=ACME)
    assert mine.status_code == 200 and mine.content == PDF_V2
    denied = stack.events(party="acme-supplies")
    assert sum(e.action == "denied" and e.outcome == "not_found" for e in denied) == 4
    assert any(e.action == "download" and e.version == 2 for e in denied)


async def test_unknown_credentials_and_other_scopes_are_refused_and_logged(stack: Stack) -> None:
    response = await stack.api.get("/v1/partner/documents", headers={"X-API-Key": "nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    portal_key = await stack.api.get("/v1/partner/documents", headers=PORTAL)
    assert portal_key.status_code == 403  # portals are no parties
    assert [e.outcome for e in stack.events(party="anonymous")] == ["unauthenticated"]
    assert [e.outcome for e in stack.events(party="app:portal")] == ["insufficient_scope"]


async def test_a_partner_principal_no_party_names_is_entitled_to_nothing(stack: Stack) -> None:
    listed = await stack.api.get("/v1/partner/documents", headers=NOBODY)
    assert listed.status_code == 200 and listed.json()["items"] == []
    fetched = await stack.api.get(f"/v1/partner/documents/ecm/{stack.spec}/content", headers=NOBODY)
    assert fetched.status_code == 404
    assert (await _link(stack, NOBODY, object_id=str(stack.spec))).status_code == 404
    assert (await _upload(stack, PDF_V1, headers=NOBODY)).status_code == 404


# --------------------------------------------------------------------- links
async def test_a_link_downloads_one_version_without_a_credential(stack: Stack) -> None:
    created = await _link(stack, ACME, object_id=str(stack.spec), ttl_seconds=3600)
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["version"] == 2 and link["sha256"] == sha(PDF_V2)
    assert link["url"].startswith("http://docflow.test/v1/links/")
    got = await stack.api.get(f"/v1/links/{link['token']}")
    assert got.status_code == 200 and got.content == PDF_V2
    assert got.headers["etag"] == f'"{sha(PDF_V2)}"'
    ranged = await stack.api.get(f"/v1/links/{link['token']}", headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206 and ranged.content == b"%PDF"
    # The same party's credential alongside is fine.
    own = await stack.api.get(f"/v1/links/{link['token']}", headers=ACME)
    assert own.status_code == 200


async def test_link_ttl_is_bounded(stack: Stack) -> None:
    too_long = await _link(stack, ACME, object_id=str(stack.spec), ttl_seconds=31 * 86400)
    assert too_long.status_code == 422
    default = await _link(stack, ACME, object_id=str(stack.spec))
    expires = datetime.fromisoformat(default.json()["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)


async def test_forged_expired_and_other_party_links_are_refused(stack: Stack) -> None:
    token = (await _link(stack, ACME, object_id=str(stack.spec))).json()["token"]
    payload, signature = token.split(".")
    forged = await stack.api.get(f"/v1/links/{payload}.{signature[:-2]}AA")
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "invalid_link"
    minted_elsewhere = PartnerLinks("another-key", "http://x").mint(
        _claims(stack, expires=datetime.now(UTC) + timedelta(days=1))
    )
    assert (await stack.api.get(f"/v1/links/{minted_elsewhere}")).status_code == 403
    garbage = await stack.api.get("/v1/links/not-a-token-at-all-really")
    assert garbage.status_code == 403 and garbage.json()["error"]["code"] == "invalid_link"

    expired = PartnerLinks(LINK_KEY, "http://x").mint(
        _claims(stack, expires=datetime.now(UTC) - timedelta(seconds=1))
    )
    answer = await stack.api.get(f"/v1/links/{expired}")
    assert answer.status_code == 410
    assert answer.json()["error"]["code"] == "link_expired"

    other = await stack.api.get(f"/v1/links/{token}", headers=AUDITOR)
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "wrong_party"

    outcomes = {e.outcome for e in stack.events() if e.action == "denied"}
    assert {"invalid_link", "link_expired", "wrong_party"} <= outcomes
    wrong = [e for e in stack.events(party="kpmg-audit") if e.outcome == "wrong_party"]
    assert len(wrong) == 1 and wrong[0].object_id == str(stack.spec)


async def test_a_link_to_a_superseded_version_is_gone(stack: Stack) -> None:
    token = (await _link(stack, ACME, object_id=str(stack.spec))).json()["token"]
    stack.approve(approved(stack.spec, 3))  # v3 approved: v2 superseded
    answer = await stack.api.get(f"/v1/links/{token}")
    assert answer.status_code == 410
    assert answer.json()["error"]["code"] == "version_superseded"
    assert PDF_V2 not in answer.content
    # A named superseded version cannot be linked either; the new one can.
    assert (await _link(stack, ACME, object_id=str(stack.spec), version=2)).status_code == 410
    fresh = (await _link(stack, ACME, object_id=str(stack.spec))).json()
    assert fresh["version"] == 3 and fresh["sha256"] == sha(PDF_V3)
    assert (await stack.api.get(f"/v1/links/{fresh['token']}")).content == PDF_V3


def _claims(stack: Stack, *, expires: datetime) -> LinkClaims:
    return LinkClaims(
        party="acme-supplies",
        source="ecm",
        object_id=str(stack.spec),
        version=2,
        sha256=sha(PDF_V2),
        expires_at=expires,
        nonce="abcdefghij",
    )


# --------------------------------------------------------------------- inbox
def _upload(
    stack: Stack,
    data: bytes,
    *,
    name: str = "invoice.pdf",
    content_type: str = "application/pdf",
    metadata: str | None = METADATA,
    request_id: str = "UP-1",
    workspace: int = 30001,
    headers: dict[str, str] = ACME,
) -> Any:
    form = {"request_id": request_id}
    if metadata is not None:
        form["metadata"] = metadata
    return stack.api.post(
        f"/v1/partner/inbox/{workspace}",
        headers=headers,
        data=form,
        files={"file": (name, data, content_type)},
    )


async def test_a_good_upload_is_filed_into_the_inbox_folder_only(stack: Stack) -> None:
    response = await _upload(stack, PDF_V1)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "filed" and body["folder_id"] == 2001
    assert response.headers["location"] == body["status_url"]
    filed = body["document"]
    assert filed["folder_id"] == 2001 and filed["sha256"] == sha(PDF_V1)
    node = await stack.cs.get_node(filed["node_id"])
    assert node.properties.parent_id == 2001
    categories = await stack.cs.get_categories(filed["node_id"])
    assert categories[9300]["9300_1"] == "invoice" and categories[9300]["9300_3"] == "INV-1"
    assert [i.workspace_id for i in stack.inbox.items] == [2001]
    assert filed["name"] == "acme-supplies UP-1 - invoice.pdf"
    # The same request again is the same filing; another request is another node, even with
    # the same file name (a party never versions what is already in the folder).
    again = await _upload(stack, PDF_V1)
    assert again.json()["document"]["node_id"] == filed["node_id"]
    other = await _upload(stack, PDF_V2, request_id="UP-2")
    assert other.json()["document"]["node_id"] != filed["node_id"]
    assert other.json()["document"]["version"] == 1
    status = await stack.api.get(
        body["status_url"].removeprefix("http://docflow.test"), headers=ACME
    )
    assert status.status_code == 200 and status.json()["status"] == "filed"
    uploads = [e for e in stack.events(party="acme-supplies") if e.action == "upload"]
    assert {e.object_id for e in uploads} == {
        str(filed["node_id"]),
        str(other.json()["document"]["node_id"]),
    }


async def test_bad_uploads_are_refused(stack: Stack) -> None:
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    cases = [
        # (upload kwargs, status, what)
        ({"data": b"GIF89a not a document"}, 415, "bad type"),
        ({"data": PDF_V1, "name": "invoice.docx"}, 415, "signature does not match the name"),
        ({"data": PDF_V1, "content_type": "application/msword"}, 415, "wrong declared type"),
        ({"data": PDF_V1 + b"x" * 5000}, 413, "oversize"),
        ({"data": PDF_V1, "metadata": json.dumps({"document_type": "x"})}, 422, "missing"),
        (
            {"data": PDF_V1, "metadata": json.dumps({**json.loads(METADATA), "x": 1})},
            422,
            "unknown",
        ),
        ({"data": PDF_V1, "metadata": "[1]"}, 422, "not an object"),
        ({"data": PDF_V1, "request_id": "../x"}, 422, "bad request id"),
        ({"data": PDF_V1, "workspace": 30002}, 404, "no inbox there"),
        ({"data": PDF_V1, "headers": AUDITOR}, 404, "a party without inboxes"),
    ]
    for kwargs, status, what in cases:
        data = kwargs.pop("data")
        response = await _upload(stack, data, **kwargs)
        assert response.status_code == status, (what, response.text)
        assert "error" in response.json(), what
    assert stack.inbox.items == []  # nothing was filed
    refused = [e for e in stack.events() if e.action == "denied"]
    assert len(refused) == len(cases)
    assert {e.outcome for e in refused} >= {
        "unsupported_document",
        "payload_too_large",
        "invalid_request",
        "not_found",
    }


async def test_every_access_is_logged_with_who_what_and_outcome(stack: Stack) -> None:
    await stack.api.get("/v1/partner/documents", headers={**ACME, "User-Agent": "acme/2"})
    link = (await _link(stack, ACME, object_id=str(stack.spec))).json()
    await stack.api.get(f"/v1/links/{link['token']}")
    await _upload(stack, PDF_V2, request_id="UP-9")
    events = stack.events(party="acme-supplies")
    actions = sorted({e.action for e in events})
    assert actions == ["download", "link_created", "read", "upload"]
    assert all(e.client_ip and e.at and e.outcome == "ok" for e in events)
    assert any(e.user_agent == "acme/2" for e in events)


async def test_an_upload_still_filing_is_accepted_with_its_status_location(stack: Stack) -> None:
    class Slow:
        async def file(self, key: str, item: Any, wait: timedelta) -> None:
            return None

        async def result(self, key: str, wait: timedelta) -> None:
            return None

    stack.app.state.partner_inbox = Slow()
    response = await _upload(stack, PDF_V1, request_id="UP-SLOW")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "filing" and body["document"] is None
    assert response.headers["location"].endswith("/v1/partner/inbox/30001/uploads/UP-SLOW")
    filing = [e for e in stack.events(party="acme-supplies") if e.action == "upload"]
    assert [e.outcome for e in filing] == ["filing"]


async def test_a_link_to_amplience_content_gives_the_approved_json(stack: Stack) -> None:
    created = await _link(stack, ACME, source="amplience", object_id=stack.item_id)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 2
    got = await stack.api.get(f"/v1/links/{created.json()['token']}")
    assert got.status_code == 200 and got.content == stack.item_bytes[2]
    assert got.headers["content-type"].startswith("application/json")
