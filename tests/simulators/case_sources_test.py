"""Mail-archive and forms-portal simulators over HTTP: listing by case reference with cursors,
bearer keys, stable downloads, byte-identical duplicates, faults that fail for a while and
then recover."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest

from simulators import forms_portal, mail_archive
from tests.simulators.conftest import Served, _serve

MAIL_KEY = {"Authorization": "Bearer dev-mail-archive-key"}
FORMS_KEY = {"Authorization": "Bearer dev-forms-portal-key"}


@pytest.fixture(scope="session")
async def _mail_session() -> AsyncIterator[Served]:
    async for served in _serve(mail_archive.create_app(), "mail-archive"):
        yield served


@pytest.fixture(scope="session")
async def _forms_session() -> AsyncIterator[Served]:
    async for served in _serve(forms_portal.create_app(), "forms-portal"):
        yield served


@pytest.fixture
async def mail(_mail_session: Served) -> AsyncIterator[Served]:
    await _mail_session.client.post("/_control/reset")
    yield _mail_session


@pytest.fixture
async def forms(_forms_session: Served) -> AsyncIterator[Served]:
    await _forms_session.client.post("/_control/reset")
    yield _forms_session


async def test_messages_are_listed_by_case_reference_page_by_page(mail: Served) -> None:
    client = mail.client
    seeded = await client.post(
        "/_control/seed",
        json={"case_reference": "CLM-7", "count": 5, "attachments_per_message": 2},
    )
    assert seeded.json() == {
        "case_reference": "CLM-7",
        "messages": 5,
        "attachments": 10,
        "items": 15,
    }
    seen: list[str] = []
    cursor = None
    while True:
        params = {"case_reference": "CLM-7", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/messages", params=params, headers=MAIL_KEY)).json()
        assert len(page["items"]) <= 2
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"CLM7-M{n:05d}" for n in range(1, 6)]
    message = (
        await client.get(
            "/api/messages", params={"case_reference": "CLM-7", "limit": 1}, headers=MAIL_KEY
        )
    ).json()["items"][0]
    assert set(message) == {
        "id",
        "subject",
        "from",
        "to",
        "sent_at",
        "size",
        "sha256",
        "attachments",
    }
    assert set(message["attachments"][0]) == {"id", "filename", "content_type", "size", "sha256"}
    other = await client.get("/api/messages", params={"case_reference": "NONE"}, headers=MAIL_KEY)
    assert other.json() == {"items": [], "next_cursor": None}


async def test_downloads_are_stable_and_match_the_listed_hashes(mail: Served) -> None:
    client = mail.client
    await client.post("/_control/seed", json={"case_reference": "C-1", "count": 2, "duplicates": 1})
    page = (
        await client.get("/api/messages", params={"case_reference": "C-1"}, headers=MAIL_KEY)
    ).json()
    first, _, forwarded = page["items"]
    raw = await client.get(f"/api/messages/{first['id']}/raw", headers=MAIL_KEY)
    assert raw.headers["content-type"].startswith("message/rfc822")
    assert hashlib.sha256(raw.content).hexdigest() == first["sha256"]
    assert len(raw.content) == first["size"]
    assert b"Subject: Case C-1: message 1" in raw.content
    attachment = first["attachments"][0]
    one = await client.get(f"/api/attachments/{attachment['id']}", headers=MAIL_KEY)
    again = await client.get(f"/api/attachments/{attachment['id']}", headers=MAIL_KEY)
    assert one.content == again.content and one.content.startswith(b"%PDF-")
    assert hashlib.sha256(one.content).hexdigest() == attachment["sha256"]
    # The forwarded copy: another id, the very same bytes.
    copy = forwarded["attachments"][0]
    assert copy["id"] != attachment["id"] and copy["sha256"] == attachment["sha256"]
    assert (await client.get(f"/api/attachments/{copy['id']}", headers=MAIL_KEY)).content == (
        one.content
    )
    assert (await client.get("/api/attachments/nope", headers=MAIL_KEY)).status_code == 404
    assert (await client.get("/api/messages/nope/raw", headers=MAIL_KEY)).status_code == 404


async def test_a_bearer_key_is_required_and_cursors_are_checked(mail: Served) -> None:
    client = mail.client
    params = {"case_reference": "CLM-2026-001"}
    assert (await client.get("/api/messages", params=params)).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await client.get("/api/messages", params=params, headers=wrong)).status_code == 401
    assert (await client.get("/api/attachments/x", headers=wrong)).status_code == 401
    bad = await client.get("/api/messages", params={**params, "cursor": "!!"}, headers=MAIL_KEY)
    assert bad.status_code == 400
    # The default case is seeded at start for the dev stack.
    default = await client.get("/api/messages", params=params, headers=MAIL_KEY)
    assert len(default.json()["items"]) == 4


async def test_a_source_fails_for_a_while_then_recovers(mail: Served) -> None:
    client = mail.client
    params = {"case_reference": "CLM-2026-001"}
    await client.put(
        "/_control/faults",
        json={"fail_next": {"count": 2, "status": 503, "retry_after_s": 1}},
    )
    for _ in range(2):
        failed = await client.get("/api/messages", params=params, headers=MAIL_KEY)
        assert failed.status_code == 503 and failed.headers["Retry-After"] == "1"
        assert failed.json() == {"error": "Service temporarily unavailable."}
    assert (await client.get("/api/messages", params=params, headers=MAIL_KEY)).status_code == 200

    outage = await client.put("/_control/outage", json={"seconds": 0.3, "status": 502})
    assert outage.json()["down"] is True
    down = await client.get("/api/messages", params=params, headers=MAIL_KEY)
    assert down.status_code == 502
    assert (await client.get("/_control/cases")).status_code == 200  # control is never gated
    await asyncio.sleep(0.35)
    assert (await client.get("/api/messages", params=params, headers=MAIL_KEY)).status_code == 200
    assert (await client.get("/_control/outage")).json()["down"] is False


async def test_submissions_are_listed_and_their_pdfs_downloaded(forms: Served) -> None:
    client = forms.client
    await client.post(
        "/_control/seed", json={"case_reference": "SVC-1", "count": 130, "duplicates": 1}
    )
    assert (
        await client.get("/api/submissions", params={"case_reference": "SVC-1"})
    ).status_code == 401
    page = (
        await client.get(
            "/api/submissions", params={"case_reference": "SVC-1", "limit": 500}, headers=FORMS_KEY
        )
    ).json()
    assert len(page["items"]) == 100  # the limit is clamped
    rest = (
        await client.get(
            "/api/submissions",
            params={"case_reference": "SVC-1", "cursor": page["next_cursor"]},
            headers=FORMS_KEY,
        )
    ).json()
    assert len(rest["items"]) == 31 and rest["next_cursor"] is None
    first, resubmitted = page["items"][0], rest["items"][-1]
    assert set(first) == {"id", "form", "submitted_at", "submitted_by", "size", "sha256"}
    assert resubmitted["id"] != first["id"] and resubmitted["sha256"] == first["sha256"]
    pdf = await client.get(f"/api/submissions/{first['id']}/pdf", headers=FORMS_KEY)
    assert pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == first["sha256"]
    assert (await client.get("/api/submissions/x/pdf", headers=FORMS_KEY)).status_code == 404
    summary = (await client.get("/_control/cases")).json()
    assert summary["cases"]["SVC-1"] == {"submissions": 131} and summary["downloads"] == 1


async def test_forms_portal_faults_and_reset(forms: Served) -> None:
    client = forms.client
    params = {"case_reference": "CLM-2026-001"}
    await client.put("/_control/faults", json={"rate_limit_every": 2, "retry_after_s": 3})
    assert (
        await client.get("/api/submissions", params=params, headers=FORMS_KEY)
    ).status_code == 200
    limited = await client.get("/api/submissions", params=params, headers=FORMS_KEY)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    await client.post("/_control/reset")
    for _ in range(3):
        ok = await client.get("/api/submissions", params=params, headers=FORMS_KEY)
        assert ok.status_code == 200
    assert len(ok.json()["items"]) == 3  # the default case: two forms and a resubmission
