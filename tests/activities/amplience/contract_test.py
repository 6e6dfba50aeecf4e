"""Amplience contract: the documented payloads (tests/activities/fixtures/amplience/) are read
by the client's models, sent in the documented request shapes, and produced by the simulator
with the same keys and JSON types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

from activities.amplience.auth import token_provider
from activities.amplience.client import AmplienceClient
from activities.amplience.models import ContentItem, PublishingJob, WebhookEnvelope
from activities.amplience.webhooks import parse_webhook, sign
from tests.activities.amplience.conftest import CONFIG, SCHEMA
from tests.activities.contract_test import Vendor, answer
from tests.activities.simulated import Sim
from tests.simulators.contract_test import assert_same_shape

FIXTURES = Path(__file__).parents[1] / "fixtures" / "amplience"
API = "https://api.amplience.net/v2/content"
HUB = "5b32377e4cedfd01c45036d8"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class _Token:
    async def token(self) -> str:
        return "token-1"

    def invalidate(self, token: str | None = None) -> None:
        pass


def mocked(vendor: Vendor) -> tuple[AmplienceClient, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(vendor))
    client = AmplienceClient(
        http,
        api_url=API,
        delivery_url="https://acme.cdn.content.amplience.net",
        hub_id=HUB,
        tokens=_Token(),
        poll_interval_s=0,
    )
    return client, http


# ----------------------------------------------------------------- the client


async def test_token_request_posts_credentials_in_the_body() -> None:
    vendor = Vendor(
        {("POST", "/oauth/token"): answer(200, {"access_token": "t", "expires_in": 300})}
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(vendor)) as http:
        tokens = token_provider(http, "https://auth.amplience.net/oauth/token", "id", "secret")
        assert await tokens.token() == "t"
    [request] = vendor.requests
    assert "authorization" not in request.headers
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    sent = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert sent == {
        "grant_type": "client_credentials",
        "client_id": "id",
        "client_secret": "secret",
    }


async def test_client_reads_the_documented_item_and_patches_with_the_version() -> None:
    item = fixture("content_item.json")
    path = f"/v2/content/content-items/{item['id']}"
    patched = {**item, "version": 4, "label": "Renamed"}
    vendor = Vendor({("GET", path): answer(200, item), ("PATCH", path): answer(200, patched)})
    client, http = mocked(vendor)
    async with http:
        read = await client.get_item(item["id"])
        renamed = await client.patch_item(item["id"], {"label": "Renamed"}, version=read.version)
    assert (read.version, read.workflow_state, read.delivery_key) == (
        3,
        "5f1a0c1e2b3c4d5e6f700002",
        "products/p-1",
    )
    assert read.publishing_status == "LATEST" and read.meta.schema_ == SCHEMA
    assert renamed.version == 4
    [patch] = vendor.sent("PATCH", path)
    assert json.loads(patch.content) == {"label": "Renamed", "version": 3}
    assert patch.headers["authorization"] == "bearer token-1"


async def test_client_reads_the_workflow_states_page_and_moves_an_item() -> None:
    item = fixture("content_item.json")
    moved = {**item, "version": 4, "workflow": {"state": "5f1a0c1e2b3c4d5e6f700004"}}
    vendor = Vendor(
        {
            ("GET", f"/v2/content/hubs/{HUB}/workflow-states"): answer(
                200, fixture("workflow_states.json")
            ),
            ("PATCH", f"/v2/content/content-items/{item['id']}/workflow"): answer(200, moved),
        }
    )
    client, http = mocked(vendor)
    async with http:
        state = await client.workflow_state_id("Integration failed")
        result = await client.set_workflow_state(item["id"], state, version=3)
    assert state == "5f1a0c1e2b3c4d5e6f700004" and result.workflow_state == state
    [patch] = vendor.sent("PATCH", f"/v2/content/content-items/{item['id']}/workflow")
    assert json.loads(patch.content) == {"state": state, "version": 3}


async def test_publish_follows_location_to_the_documented_job() -> None:
    job = fixture("publishing_job.json")
    item_id = fixture("content_item.json")["id"]
    location = f"{API}/publishing-jobs/{job['id']}"
    vendor = Vendor(
        {
            ("POST", f"/v2/content/content-items/{item_id}/publish"): lambda request: (
                httpx.Response(204, headers={"Location": location})
            ),
            ("GET", f"/v2/content/publishing-jobs/{job['id']}"): [
                answer(200, {**job, "state": "PREPARING"}),
                answer(200, job),
            ],
        }
    )
    client, http = mocked(vendor)
    async with http:
        done = await client.publish_and_wait(item_id)
    assert (done.id, done.state) == (job["id"], "COMPLETED")
    [publish] = vendor.sent("POST", f"/v2/content/content-items/{item_id}/publish")
    assert publish.content == b""


def test_documented_webhooks_verify_and_parse() -> None:
    for name in ("webhook_snapshot_published.json", "webhook_workflow_updated.json"):
        raw = (FIXTURES / name).read_bytes()
        envelope = parse_webhook(raw, sign(raw, "whk"), "whk")
        assert envelope.name.startswith("dynamic-content.")
    snapshot = WebhookEnvelope.model_validate(fixture("webhook_snapshot_published.json"))
    assert snapshot.content_item() is None
    workflow = WebhookEnvelope.model_validate(fixture("webhook_workflow_updated.json"))
    item = workflow.content_item()
    assert item is not None and item.version == 3
    assert PublishingJob.model_validate(fixture("publishing_job.json")).is_final
    assert ContentItem.model_validate(fixture("content_item.json")).label == "Product P-1"


# ----------------------------------------------------------------- the simulator


async def test_simulator_answers_in_the_documented_shapes(
    client: AmplienceClient, amplience_sim: Sim, http: httpx.AsyncClient
) -> None:
    token = await token_provider(
        http, f"{amplience_sim.url}/oauth/token", CONFIG.client_id, CONFIG.client_secret
    ).token()
    auth = {"Authorization": f"bearer {token}"}
    api = f"{amplience_sim.url}/v2/content"
    body = {"_meta": {"schema": SCHEMA, "deliveryKey": "products/p-1"}, "title": "P-1", "price": 1}
    created = await client.create_item(CONFIG.repository_id, label="Product P-1", body=body)
    await client.set_workflow_state(created.id, await client.workflow_state_id("Approved"))
    job_id = await client.publish(created.id)
    await amplience_sim.control("POST", "/webhooks/flush")

    item = (await http.get(f"{api}/content-items/{created.id}", headers=auth)).json()
    documented_item = fixture("content_item.json")
    assert_same_shape(documented_item, item, exact=False)

    states = (await http.get(f"{api}/hubs/{CONFIG.hub_id}/workflow-states", headers=auth)).json()
    documented_states = fixture("workflow_states.json")
    assert set(states) == set(documented_states)
    for key in ("_embedded", "page"):
        assert_same_shape(documented_states[key], states[key], exact=True)
    assert_same_shape(documented_states["_links"], states["_links"], exact=False)

    job = (await http.get(f"{api}/publishing-jobs/{job_id}", headers=auth)).json()
    documented_job = fixture("publishing_job.json")
    assert set(job) == set(documented_job)
    assert_same_shape(documented_job, job, exact=False)

    events = (await amplience_sim.control("GET", "/webhook-events"))["results"]
    snapshot = next(e for e in events if e["name"] == "dynamic-content.snapshot.published")
    assert_same_shape(fixture("webhook_snapshot_published.json"), snapshot, exact=True)
    workflow = next(
        e for e in events if e["name"] == "dynamic-content.content-item.workflow.updated"
    )
    documented = fixture("webhook_workflow_updated.json")
    assert set(workflow) == set(documented)
    assert_same_shape(documented["payload"], workflow["payload"], exact=False)
