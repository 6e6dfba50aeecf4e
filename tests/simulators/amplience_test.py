"""Amplience simulator over real HTTP: OAuth, items and versions, workflow, publishing, CD2,
webhooks, the publish limit and the fault knobs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from simulators.amplience import SIGNATURE_HEADER, AmplienceConfig, create_app
from simulators.kit.server import ServedApp
from tests.simulators.conftest import CallbackReceiver, Served

HUB = AmplienceConfig().hub_id
REPO = AmplienceConfig().repository_id
SCHEMA = "https://docflow.example.com/product.json"
API = "/v2/content"


@pytest.fixture(scope="session")
async def _amplience_session() -> AsyncIterator[Served]:
    async with (
        ServedApp(create_app(AmplienceConfig(job_step_ms=10)), name="amplience") as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as client,
    ):
        yield Served(served.app, client)


@pytest.fixture
async def amp(_amplience_session: Served, receiver: CallbackReceiver) -> AsyncIterator[Served]:
    await _amplience_session.client.post("/_control/reset")
    receiver.reset()
    yield _amplience_session


async def bearer(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "docflow-dev",
            "client_secret": "dev-amplience-secret",
        },
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"bearer {response.json()['access_token']}"}


def item_body(label: str = "Product P-1", key: str | None = None, **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": label, "schema": SCHEMA}
    if key:
        meta["deliveryKey"] = key
    return {"label": label, "body": {"_meta": meta, **fields}, "locale": "en-GB"}


async def create_item(
    client: httpx.AsyncClient, auth: dict[str, str], **kwargs: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/content-repositories/{REPO}/content-items", headers=auth, json=item_body(**kwargs)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def settle(amp: Served) -> None:
    response = await amp.client.post("/_control/webhooks/flush", params={"timeout_s": 5})
    assert response.json() == {"idle": True}


async def publish_and_wait(amp: Served, auth: dict[str, str], item_id: str) -> dict[str, Any]:
    response = await amp.client.post(f"{API}/content-items/{item_id}/publish", headers=auth)
    assert response.status_code == 204 and response.content == b""
    await settle(amp)
    job = await amp.client.get(response.headers["Location"], headers=auth)
    return dict(job.json())


async def test_token_takes_credentials_in_the_body_not_basic(amp: Served) -> None:
    client = amp.client
    basic = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("docflow-dev", "dev-amplience-secret"),
    )
    assert basic.status_code == 400 and basic.json()["error"] == "invalid_client"
    wrong = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "docflow-dev", "client_secret": "x"},
    )
    assert wrong.status_code == 400
    ok = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "docflow-dev",
            "client_secret": "dev-amplience-secret",
        },
    )
    assert ok.status_code == 200 and ok.json()["expires_in"] == 300

    assert (await client.get(f"{API}/content-items/nope")).status_code == 401
    token = {"Authorization": f"bearer {ok.json()['access_token']}"}
    assert (await client.get(f"{API}/content-items/nope", headers=token)).status_code == 404
    await client.post("/_control/tokens/revoke")
    assert (await client.get(f"{API}/content-items/nope", headers=token)).status_code == 401


async def test_patch_bumps_version_and_a_stale_version_is_refused(amp: Served) -> None:
    client = amp.client
    auth = await bearer(client)
    item = await create_item(client, auth, price=10)
    assert item["version"] == 1 and item["status"] == "ACTIVE"
    assert item["publishingStatus"] == "NONE"
    url = f"{API}/content-items/{item['id']}"

    body = {**item["body"], "price": 12}
    patched = await client.patch(url, headers=auth, json={"version": 1, "body": body})
    assert patched.status_code == 200 and patched.json()["version"] == 2
    assert patched.json()["body"]["price"] == 12

    stale = await client.patch(url, headers=auth, json={"version": 1, "label": "Other"})
    assert stale.status_code == 409
    [error] = stale.json()["errors"]
    assert set(error) == {"entity", "property", "invalidValue", "message"}
    assert error["property"] == "version" and error["invalidValue"] == 1
    missing = await client.patch(url, headers=auth, json={"label": "Other"})
    assert missing.status_code == 400

    v1 = await client.get(f"{url}/versions/1", headers=auth)
    v2 = await client.get(f"{url}/versions/2", headers=auth)
    assert (v1.json()["body"]["price"], v2.json()["body"]["price"]) == (10, 12)
    assert (await client.get(f"{url}/versions/9", headers=auth)).status_code == 404
    assert (await client.get(url, headers=auth)).json()["label"] == "Product P-1"


async def test_create_refuses_an_item_without_schema(amp: Served) -> None:
    client = amp.client
    auth = await bearer(client)
    response = await client.post(
        f"{API}/content-repositories/{REPO}/content-items",
        headers=auth,
        json={"label": "x", "body": {"_meta": {}}},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["property"] == "body._meta.schema"
    bad_key = item_body(key="/starts-with-slash")
    response = await client.post(
        f"{API}/content-repositories/{REPO}/content-items", headers=auth, json=bad_key
    )
    assert response.status_code == 400


async def test_workflow_states_are_a_hal_page_and_workflow_patch_locks(amp: Served) -> None:
    client = amp.client
    auth = await bearer(client)
    page = (await client.get(f"{API}/hubs/{HUB}/workflow-states", headers=auth)).json()
    assert page["page"] == {"size": 20, "totalElements": 4, "totalPages": 1, "number": 0}
    states = {s["label"]: s["id"] for s in page["_embedded"]["workflow-states"]}
    assert list(states) == ["Draft", "Approved", "Distributed", "Integration failed"]
    small = (
        await client.get(
            f"{API}/hubs/{HUB}/workflow-states", headers=auth, params={"page": 1, "size": 3}
        )
    ).json()
    assert [s["label"] for s in small["_embedded"]["workflow-states"]] == ["Integration failed"]
    assert "prev" in small["_links"] and "next" not in small["_links"]
    assert (await client.get(f"{API}/hubs/other/workflow-states", headers=auth)).status_code == 404

    item = await create_item(client, auth)
    url = f"{API}/content-items/{item['id']}/workflow"
    moved = await client.patch(url, headers=auth, json={"version": 1, "state": states["Approved"]})
    assert moved.status_code == 200
    assert moved.json()["workflow"] == {"state": states["Approved"]}
    assert moved.json()["version"] == 2
    stale = await client.patch(url, headers=auth, json={"version": 1, "state": states["Draft"]})
    assert stale.status_code == 409
    unknown = await client.patch(url, headers=auth, json={"version": 2, "state": "0" * 24})
    assert unknown.status_code == 400


async def test_publish_job_lifecycle_and_delivery_serves_only_published(amp: Served) -> None:
    client = amp.client
    auth = await bearer(client)
    item = await create_item(client, auth, key="products/p-1", price=10)
    item_id = item["id"]
    assert (await client.get("/content/key/products/p-1")).status_code == 404
    missing = await client.get(f"/content/id/{item_id}")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "CONTENT_NOT_FOUND"

    response = await client.post(f"{API}/content-items/{item_id}/publish", headers=auth)
    assert response.status_code == 204 and not response.content
    location = response.headers["Location"]
    assert location.startswith(f"{amp.base_url}{API}/publishing-jobs/")
    first = (await client.get(location, headers=auth)).json()
    assert first["state"] in ("PREPARING", "PUBLISHING")
    await settle(amp)
    job = (await client.get(location, headers=auth)).json()
    assert job["state"] == "COMPLETED" and "snapshot" in job["_links"]

    served = (await client.get("/content/key/products/p-1")).json()["content"]
    assert served["price"] == 10 and served["_meta"]["deliveryId"] == item_id
    assert (await client.get(f"/content/id/{item_id}")).json()["content"]["price"] == 10

    # A newer, unpublished version is not served.
    body = {**item["body"], "price": 99}
    await client.patch(
        f"{API}/content-items/{item_id}", headers=auth, json={"version": 1, "body": body}
    )
    assert (await client.get(f"/content/id/{item_id}")).json()["content"]["price"] == 10
    current = (await client.get(f"{API}/content-items/{item_id}", headers=auth)).json()
    assert (current["publishingStatus"], current["lastPublishedVersion"]) == ("EARLY", 1)

    await client.put("/_control/publishing", json={"fail_next": 1})
    failed = await publish_and_wait(amp, auth, item_id)
    assert failed["state"] == "FAILED" and failed["publishErrorStatus"]
    assert (await client.get(f"/content/id/{item_id}")).json()["content"]["price"] == 10
    done = await publish_and_wait(amp, auth, item_id)
    assert done["state"] == "COMPLETED"
    assert (await client.get(f"/content/id/{item_id}")).json()["content"]["price"] == 99


async def test_find_searches_the_hub(amp: Served) -> None:
    client = amp.client
    auth = await bearer(client)
    await create_item(client, auth, label="Red shoe")
    await create_item(client, auth, label="Blue hat")
    found = (
        await client.get(f"{API}/hubs/{HUB}/content-items/find", headers=auth, params={"q": "shoe"})
    ).json()
    assert [i["label"] for i in found["_embedded"]["content-items"]] == ["Red shoe"]
    assert found["page"]["totalElements"] == 1


async def test_webhooks_carry_the_envelope_and_the_signature(
    amp: Served, receiver: CallbackReceiver
) -> None:
    client = amp.client
    await client.put("/_control/webhook", json={"url": receiver.url, "secret": "s3cr3t"})
    auth = await bearer(client)
    item = await create_item(client, auth, key="p-2")
    body = {**item["body"], "price": 1}
    await client.patch(
        f"{API}/content-items/{item['id']}", headers=auth, json={"version": 1, "body": body}
    )
    moved = await client.post(f"/_control/items/{item['id']}/workflow", json={"state": "Approved"})
    assert moved.json()["version"] == 3
    await publish_and_wait(amp, auth, item["id"])
    await settle(amp)

    names = [r["body"]["name"] for r in receiver.received]
    assert names == [
        "dynamic-content.content-item.created",
        "dynamic-content.content-item.updated",
        "dynamic-content.content-item.workflow.updated",
        "dynamic-content.snapshot.published",
    ]
    for delivered in receiver.received:
        envelope = delivered["body"]
        assert set(envelope) == {"sequenceId", "id", "name", "requestId", "resource", "payload"}
        expected = base64.b64encode(
            hmac.new(b"s3cr3t", delivered["raw"], hashlib.sha256).digest()
        ).decode()
        assert delivered["headers"][SIGNATURE_HEADER.lower()] == expected
    workflow = receiver.received[2]["body"]["payload"]
    assert (workflow["id"], workflow["version"]) == (item["id"], 3)
    assert workflow["workflow"]["state"] == moved.json()["workflow"]["state"]
    snapshot = receiver.received[3]["body"]["payload"]
    assert snapshot["rootContentItem"]["id"] == item["id"]
    assert [r["body"]["sequenceId"] for r in receiver.received] == [1, 2, 3, 4]

    log = (await client.get("/_control/webhooks", params={"item_id": item["id"]})).json()
    assert log["by_state"] == {"delivered": 3}
    events = (await client.get("/_control/webhook-events")).json()
    assert events["count"] == 4 and json.dumps(events["results"][0])


async def test_publish_over_the_limit_is_429(amp: Served) -> None:
    client = amp.client
    auth = await bearer(client)
    await client.put("/_control/publishing", json={"limit": 2, "window_s": 60})
    item = await create_item(client, auth)
    url = f"{API}/content-items/{item['id']}/publish"
    assert (await client.post(url, headers=auth)).status_code == 204
    assert (await client.post(url, headers=auth)).status_code == 204
    limited = await client.post(url, headers=auth)
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    await settle(amp)
    # unpublish shares the limit
    assert (
        await client.post(f"{API}/content-items/{item['id']}/unpublish", headers=auth)
    ).status_code == 429


async def test_fault_knobs_apply_to_api_routes_not_control(amp: Served) -> None:
    client = amp.client
    auth = await bearer(client)
    await client.put(
        "/_control/faults", json={"fail_next": {"count": 1, "status": 503, "match": "GET /v2"}}
    )
    item = await create_item(client, auth)
    first = await client.get(f"{API}/content-items/{item['id']}", headers=auth)
    assert first.status_code == 503 and first.json() == {
        "message": "Service temporarily unavailable."
    }
    assert (await client.get(f"{API}/content-items/{item['id']}", headers=auth)).status_code == 200
    assert (await client.get("/_control/items")).status_code == 200


async def test_webhook_delivery_faults_duplicate_and_drop(
    amp: Served, receiver: CallbackReceiver
) -> None:
    client = amp.client
    await client.put("/_control/webhook", json={"url": receiver.url})
    await client.put("/_control/webhooks/faults", json={"duplicate_min": 2, "duplicate_max": 2})
    auth = await bearer(client)
    item = await create_item(client, auth)
    await settle(amp)
    assert [r["body"]["id"] for r in receiver.received] == [receiver.received[0]["body"]["id"]] * 2
    await client.put("/_control/webhooks/faults", json={"drop_next": 1})
    await client.post(f"/_control/items/{item['id']}/workflow", json={"state": "Approved"})
    await settle(amp)
    assert len(receiver.received) == 2
    # The hub still produced the event: a receiver reconciles by re-reading the item.
    events = (await client.get("/_control/webhook-events", params={"item_id": item["id"]})).json()
    assert events["count"] == 2
