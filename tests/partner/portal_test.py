"""Portals read the latest APPROVED version only, with ETag/304, Range 206/416 and digests."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx
import pytest

from docflow.docstore import LocalDocumentStore, content_key
from starter.api import create_app
from tests.partner.conftest import (
    NO_SCOPE,
    PDF_V1,
    PDF_V2,
    PDF_V3,
    PORTAL,
    Stack,
    approved,
    no_temporal,
    settings_for,
    sha,
)


async def test_the_latest_approved_version_is_served_never_the_newer_unapproved_one(
    stack: Stack,
) -> None:
    response = await stack.api.get(f"/v1/portal/documents/{stack.spec}", headers=PORTAL)
    assert response.status_code == 200, response.text
    assert response.content == PDF_V2  # v3 exists in Content Server but is not approved
    assert response.content != PDF_V3
    digest = hashlib.sha256(PDF_V2).digest()
    assert response.headers["etag"] == f'"{sha(PDF_V2)}"'
    assert response.headers["repr-digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
    assert "spec.pdf" in response.headers["content-disposition"]
    # The hash was learnt and written back; the bytes are cached by it.
    row = stack.records.approved_version("ecm", str(stack.spec), 2)
    assert row is not None and row.sha256 == sha(PDF_V2) and row.size == len(PDF_V2)
    # The unapproved version is not served by number either.
    v3 = await stack.api.get(f"/v1/portal/documents/{stack.spec}/versions/3", headers=PORTAL)
    assert v3.status_code == 404
    assert v3.json()["error"]["code"] == "not_found"


async def test_a_superseded_version_is_gone(stack: Stack) -> None:
    response = await stack.api.get(f"/v1/portal/documents/{stack.spec}/versions/1", headers=PORTAL)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "version_superseded"
    current = await stack.api.get(f"/v1/portal/documents/{stack.spec}/versions/2", headers=PORTAL)
    assert current.status_code == 200 and current.content == PDF_V2
    # Approving v3 supersedes v2: from then on v3 is the one served, v2 is gone.
    stack.approve(approved(stack.spec, 3))
    latest = await stack.api.get(f"/v1/portal/documents/{stack.spec}", headers=PORTAL)
    assert latest.content == PDF_V3
    old = await stack.api.get(f"/v1/portal/documents/{stack.spec}/versions/2", headers=PORTAL)
    assert old.status_code == 410


async def test_a_known_hash_that_does_not_match_is_never_served(stack: Stack) -> None:
    node = await stack.cs.upload_document(parent_id=2001, name="tampered.pdf", content=PDF_V1)
    stack.approve(approved(node.id, 1, sha=sha(PDF_V2), name="tampered.pdf"))
    response = await stack.api.get(f"/v1/portal/documents/{node.id}", headers=PORTAL)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "content_unavailable"


async def test_etag_and_if_none_match(stack: Stack) -> None:
    first = await stack.api.get(f"/v1/portal/documents/{stack.spec}", headers=PORTAL)
    etag = first.headers["etag"]
    again = await stack.api.get(
        f"/v1/portal/documents/{stack.spec}", headers={**PORTAL, "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = await stack.api.get(
        f"/v1/portal/documents/{stack.spec}", headers={**PORTAL, "If-None-Match": '"abc"'}
    )
    assert other.status_code == 200


async def test_range_requests(stack: Stack) -> None:
    url = f"/v1/portal/documents/{stack.spec}"
    part = await stack.api.get(url, headers={**PORTAL, "Range": "bytes=0-9"})
    assert part.status_code == 206
    assert part.content == PDF_V2[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(PDF_V2)}"
    tail = await stack.api.get(url, headers={**PORTAL, "Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == PDF_V2[-5:]
    beyond = await stack.api.get(url, headers={**PORTAL, "Range": f"bytes={len(PDF_V2)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(PDF_V2)}"
    assert beyond.json()["error"]["code"] == "range_not_satisfiable"
    stale = await stack.api.get(url, headers={**PORTAL, "Range": "bytes=0-9", "If-Range": '"x"'})
    assert stale.status_code == 200 and stale.content == PDF_V2


async def test_amplience_content_is_the_approved_versions_json(stack: Stack) -> None:
    response = await stack.api.get(f"/v1/portal/content/{stack.item_id}", headers=PORTAL)
    assert response.status_code == 200, response.text
    assert response.content == stack.item_bytes[2]
    assert response.json()["title"] == "v2"
    assert response.headers["etag"] == f'"{sha(stack.item_bytes[2])}"'
    old = await stack.api.get(f"/v1/portal/content/{stack.item_id}/versions/1", headers=PORTAL)
    assert old.status_code == 410


async def test_callers_without_content_read_or_credentials_are_refused(stack: Stack) -> None:
    no_scope = await stack.api.get(f"/v1/portal/documents/{stack.spec}", headers=NO_SCOPE)
    assert no_scope.status_code == 403
    anonymous = await stack.api.get(f"/v1/portal/documents/{stack.spec}")
    assert anonymous.status_code == 401
    bad_id = await stack.api.get("/v1/portal/documents/abc", headers=PORTAL)
    assert bad_id.status_code == 422
    denied = [e for e in stack.events() if e.action == "denied"]
    assert {e.party for e in denied} >= {"app:crm", "anonymous"}


async def test_every_read_and_refusal_is_in_the_access_log(stack: Stack) -> None:
    await stack.api.get(f"/v1/portal/documents/{stack.spec}", headers=PORTAL)
    await stack.api.get(f"/v1/portal/documents/{stack.spec}/versions/1", headers=PORTAL)
    await stack.api.get(
        f"/v1/portal/documents/{stack.spec}", headers={**PORTAL, "User-Agent": "portal/1.0"}
    )
    events = stack.events(object_id=str(stack.spec))
    reads = [e for e in events if e.action == "read"]
    refusals = [e for e in events if e.action == "denied"]
    assert len(reads) == 2 and all(e.party == "app:portal" and e.version == 2 for e in reads)
    assert any(e.user_agent == "portal/1.0" for e in reads)
    assert refusals[0].outcome == "version_superseded" and refusals[0].version == 1
    assert all(e.client_ip for e in events)


async def test_revalidation_of_a_known_hash_needs_no_content(stack: Stack) -> None:
    class Down:
        async def ecm_version(self, node_id: int, version: int) -> bytes:
            raise AssertionError("Content Server must not be asked")

    node = await stack.cs.upload_document(parent_id=2001, name="known.pdf", content=PDF_V1)
    stack.approve(approved(node.id, 1, sha=sha(PDF_V1), name="known.pdf"))
    stack.app.state.content_reader = Down()
    response = await stack.api.get(
        f"/v1/portal/documents/{node.id}", headers={**PORTAL, "If-None-Match": f'"{sha(PDF_V1)}"'}
    )
    assert response.status_code == 304
    assert response.headers["etag"] == f'"{sha(PDF_V1)}"'


async def test_a_range_of_a_cached_version_reads_only_that_range(stack: Stack) -> None:
    """Once cached (hash and size known), a part is read from the document store alone: the
    whole file is not read, hashed or fetched again for each part."""

    class Down:
        async def ecm_version(self, node_id: int, version: int) -> bytes:
            raise AssertionError("Content Server must not be asked")

    node = await stack.cs.upload_document(parent_id=2001, name="parts.pdf", content=PDF_V1)
    stack.approve(approved(node.id, 1, sha=sha(PDF_V1), name="parts.pdf"))
    url = f"/v1/portal/documents/{node.id}"
    whole = await stack.api.get(url, headers=PORTAL)  # fetched, verified, cached, size learnt
    assert whole.status_code == 200 and whole.content == PDF_V1
    stack.app.state.content_reader = Down()
    # A byte outside the range changed on disk: a whole read would notice, a part cannot.
    cached = Path(stack.app.state.docflow.store.root) / content_key(sha(PDF_V1))
    data = bytearray(cached.read_bytes())
    data[-1] ^= 0xFF
    cached.write_bytes(bytes(data))
    part = await stack.api.get(url, headers={**PORTAL, "Range": "bytes=5-14"})
    assert part.status_code == 206 and part.content == PDF_V1[5:15]
    assert part.headers["content-range"] == f"bytes 5-14/{len(PDF_V1)}"
    assert part.headers["etag"] == f'"{sha(PDF_V1)}"'
    with pytest.raises(AssertionError, match="must not be asked"):  # the whole is verified:
        await stack.api.get(url, headers=PORTAL)  # the tampered copy is not served


async def test_several_ranges_or_other_units_get_the_whole_content(stack: Stack) -> None:
    url = f"/v1/portal/documents/{stack.spec}"
    for header in ("bytes=0-1,5-6", "items=0-1"):
        response = await stack.api.get(url, headers={**PORTAL, "Range": header})
        assert response.status_code == 200 and response.content == PDF_V2


async def test_the_app_opens_its_store_from_the_settings(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path), no_temporal, LocalDocumentStore(tmp_path / "d"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as api:
        response = await api.get("/v1/portal/documents/1", headers=PORTAL)
        again = await api.get("/v1/portal/documents/2", headers=PORTAL)
    assert response.status_code == again.status_code == 404
    assert (tmp_path / "records.db").is_file()
    store = app.state.records_store
    try:
        assert [e.object_id for e in store.access_log(limit=5).items] == ["2", "1"]
    finally:
        store.close()
