"""Approvers decide from the notification's link, in a real browser (Debian's chromium).

The real API on a real port, the real SigningWorkflow on the dev server, the real `notify`
activity minting the links (its messages captured at the HTTP boundary), stand-ins for the
other systems.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.http.webhooks import WebhookSender
from activities.notifications import NotificationActivities
from docflow.action_links import ActionLinks
from docflow.docstore import LocalDocumentStore
from docflow.models import Decision, DocumentRef, SigningState, SigningStatus
from starter.api import create_app
from starter.processes.base import ProcessRuleViolation
from starter.processes.signing import SigningProcesses
from tests.api.conftest import auth, closed_port, make_settings
from tests.api.real_workflow_test import Systems
from tests.api.support import PDF, new_key, signing_request, wait_until, workflow
from workflows.signing import SigningWorkflow

CHROMIUM = Path("/usr/bin/chromium")
ALICE, BOB = "alice@example.com", "bob@example.com"
LINK_KEY = "test-action-link-key"


@dataclass
class Stack:
    base_url: str
    document: DocumentRef
    notifications: list[dict[str, Any]] = field(default_factory=list)

    async def links(self, business_key: str, principal: str) -> dict[str, str]:
        """The action links the notification service received for this person."""
        async with asyncio.timeout(10):
            while True:
                for message in self.notifications:
                    links = message.get("action_links") or {}
                    if message["business_key"] == business_key and principal in links:
                        return links[principal]
                await asyncio.sleep(0.05)


def _require_chromium() -> None:
    """Fail (never skip): without the browser the approvers' page would go untested."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the action-link tests need Debian's chromium "
            "(apt-get update && apt-get install -y chromium; .ci/run installs it)"
        )


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    _require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        await launched.close()


@pytest.fixture
async def stack(
    dev_server_env: WorkflowEnvironment, tmp_path: Path, task_queue: str
) -> AsyncIterator[Stack]:
    port = closed_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        tmp_path, task_queue, api={"public_url": base_url, "action_link_key": f"value:{LINK_KEY}"}
    )
    store = LocalDocumentStore(settings.documents.root)
    document = await store.put(PDF, filename="msa.pdf", content_type="application/pdf")
    result = Stack(base_url, document)

    def received(request: httpx.Request) -> httpx.Response:
        result.notifications.append(json.loads(request.content))
        return httpx.Response(200, json={"status": "accepted"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(received)) as http:
        sender = WebhookSender(http, settings.secret(settings.notifications.webhook_secret))
        notify = NotificationActivities(sender, settings).notify
        systems = Systems(document)
        activities = systems.activities(notify=notify)
        client = dev_server_env.client
        app = create_app(settings, client, store)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        async with Worker(
            client, task_queue=task_queue, workflows=[SigningWorkflow], activities=activities
        ):
            serving = asyncio.create_task(server.serve())
            try:
                for _ in range(500):
                    if server.started:
                        break
                    await asyncio.sleep(0.02)
                assert server.started, "the API did not start"
                yield result
            finally:
                server.should_exit = True
                await serving


async def _start(stack: Stack, approvers: list[str]) -> str:
    key = new_key("LINK")
    body = {
        "request": signing_request(key, approvers=approvers).model_dump(mode="json"),
        "document": stack.document.model_dump(),
    }
    async with httpx.AsyncClient(base_url=stack.base_url) as api:
        started = await api.post("/v1/signing-processes", json=body, headers=auth("crm"))
    assert started.status_code == 201, started.text
    return key


async def test_an_approver_decides_in_the_browser_and_the_link_then_refuses(
    stack: Stack, browser: Browser, dev_server_env: WorkflowEnvironment
) -> None:
    key = await _start(stack, [ALICE, BOB])
    handle = workflow(dev_server_env.client, key)
    await wait_until(handle, lambda s: s.state is SigningState.AWAITING_APPROVAL)
    alice = await stack.links(key, ALICE)
    bob = await stack.links(key, BOB)

    page = await browser.new_page()
    response = await page.goto(alice["approve"])
    assert response is not None and response.status == 200
    assert await page.locator("#process").inner_text() == key
    assert await page.locator("#stage").inner_text() == "legal"
    assert await page.locator("#principal").inner_text() == ALICE
    assert "UTC" in await page.locator("#deadline").inner_text()
    assert await page.locator("button.chosen").inner_text() == "Approve"
    document_url = await page.locator("#document").evaluate("a => a.href")
    document = await page.request.get(document_url)
    assert document.status == 200 and await document.body() == PDF

    await page.fill("#comment", "Fine by legal <b>really</b>")
    await page.click("button[value=approve]")
    assert await page.locator("#notice").get_attribute("data-code") == "recorded"
    assert "Decision recorded" in await page.title()

    status = await wait_until(handle, lambda s: s.state is SigningState.AWAITING_SIGNATURE)
    decisions = [e for e in status.audit if e.kind == "decision"]
    assert [(e.actor, e.data["decision"], e.data["comment"]) for e in decisions] == [
        (ALICE, "approve", "Fine by legal <b>really</b>")
    ]
    assert status.stages[0].approvals == [ALICE]

    # The same link again: used. Another of Alice's links: used too. Bob's: the stage closed.
    again = await page.goto(alice["approve"])
    assert again is not None and again.status == 410
    assert await page.locator("#notice").get_attribute("data-code") == "used"
    reject = await page.goto(alice["reject"])
    assert reject is not None and reject.status == 410
    closed = await page.goto(bob["request_changes"])
    assert closed is not None and closed.status == 410
    assert await page.locator("#notice").get_attribute("data-code") == "closed"
    assert "Traceback" not in await page.content()

    # A double submit (the form posted again) applies nothing more.
    token = alice["approve"].rsplit("/", 1)[1]
    resubmit = await page.request.post(
        alice["approve"], form={"token": token, "decision": "reject", "comment": "again"}
    )
    assert resubmit.status == 410
    final = await handle.query("status", result_type=SigningStatus)
    assert [e.actor for e in final.audit if e.kind == "decision"] == [ALICE]


async def test_tampered_and_expired_links_are_refused_with_a_page(
    stack: Stack, browser: Browser, dev_server_env: WorkflowEnvironment
) -> None:
    key = await _start(stack, [ALICE])
    handle = workflow(dev_server_env.client, key)
    await wait_until(handle, lambda s: s.state is SigningState.AWAITING_APPROVAL)
    link = (await stack.links(key, ALICE))["approve"]
    page = await browser.new_page()

    payload, signature = link.rsplit("/", 1)[1].split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    tampered = await page.goto(f"{stack.base_url}/actions/{payload}.{flipped}")
    assert tampered is not None and tampered.status == 403
    assert await page.locator("#notice").get_attribute("data-code") == "tampered"
    garbage = await page.goto(f"{stack.base_url}/actions/not-a-token")
    assert garbage is not None and garbage.status == 403

    # A genuine link whose stage deadline has passed (minted as the activity would have).
    links = ActionLinks(LINK_KEY, stack.base_url)
    claims = links.verify(link.rsplit("/", 1)[1]).model_copy(
        update={"expires_at": datetime.now(UTC) - timedelta(minutes=1)}
    )
    expired_url = links.url(links.mint(claims))
    expired = await page.goto(expired_url)
    assert expired is not None and expired.status == 410
    assert await page.locator("#notice").get_attribute("data-code") == "expired"
    document = await page.request.get(f"{expired_url}/document")
    assert document.status == 410

    # None of these decided anything; the real link still works.
    status = await handle.query("status", result_type=SigningStatus)
    assert not [e for e in status.audit if e.kind == "decision"]
    assert (await page.goto(link)) is not None
    assert await page.locator("button.chosen").inner_text() == "Approve"


async def test_a_cross_site_post_is_refused_and_a_link_of_an_old_cycle_is_closed(
    stack: Stack, dev_server_env: WorkflowEnvironment, tmp_path: Path, task_queue: str
) -> None:
    key = await _start(stack, [ALICE])
    handle = workflow(dev_server_env.client, key)
    await wait_until(handle, lambda s: s.state is SigningState.AWAITING_APPROVAL)
    link = (await stack.links(key, ALICE))["approve"]
    token = link.rsplit("/", 1)[1]
    form = {"token": token, "decision": "approve"}
    async with httpx.AsyncClient() as http:
        cross_site = await http.post(link, data=form, headers={"Origin": "https://evil.example"})
        assert cross_site.status_code == 403
        wrong_form = await http.post(link, data={**form, "token": "other"})
        assert wrong_form.status_code == 403
        no_decision = await http.post(link, data={**form, "decision": "maybe"})
        assert no_decision.status_code == 422
        # The same stage of another cycle (document v2): the workflow itself refuses it.
        links = ActionLinks(LINK_KEY, stack.base_url)
        old = links.verify(token).model_copy(update={"version": 2, "nonce": "other-cycle"})
        old_link = links.url(links.mint(old))
        refused = await http.post(old_link, data={**form, "token": old_link.rsplit("/", 1)[1]})
        assert refused.status_code == 410
        assert 'data-code="closed"' in refused.text
    # Past the page, the workflow refuses a decision pinned to a version not up for approval.
    store = LocalDocumentStore(tmp_path / "documents")
    processes = SigningProcesses(dev_server_env.client, make_settings(tmp_path, task_queue), store)
    with pytest.raises(ProcessRuleViolation, match="v2 is no longer up for approval"):
        await processes.decide(key, ALICE, Decision.APPROVE, stage="legal", version=2)
    status = await handle.query("status", result_type=SigningStatus)
    assert not [e for e in status.audit if e.kind == "decision"]
    assert status.state is SigningState.AWAITING_APPROVAL
