"""The Amplience client against the simulator over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from activities.amplience.auth import token_provider
from activities.amplience.client import AmplienceClient, WorkflowStateNotFoundError
from activities.amplience.errors import (
    InvalidContentError,
    VersionConflictError,
    raise_for_amplience,
)
from activities.amplience.webhooks import (
    SIGNATURE_HEADER,
    InvalidWebhookError,
    parse_webhook,
    sign,
    verify_signature,
)
from activities.http.error_mapping import to_application_error
from activities.http.errors import (
    NotFoundError,
    PermanentServiceError,
    RetryableServiceError,
)
from activities.http.oauth import ClientCredentialsTokenProvider
from docflow.settings import AmplienceSettings, Settings
from simulators.kit.server import ServedApp
from tests.activities.amplience.conftest import CONFIG, SCHEMA
from tests.activities.simulated import Sim
from tests.simulators.conftest import CallbackReceiver

REPO = CONFIG.repository_id


def product(key: str | None = None, **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"schema": SCHEMA}
    if key:
        meta["deliveryKey"] = key
    return {"_meta": meta, **fields}


async def test_token_is_fetched_once_and_refreshed_on_401(
    client: AmplienceClient, amplience_sim: Sim, tokens: ClientCredentialsTokenProvider
) -> None:
    item = await client.create_item(REPO, label="P-1", body=product(price=1), locale="en-GB")
    assert (await client.get_item(item.id)).version == 1
    assert tokens.fetches == 1
    await amplience_sim.control("POST", "/tokens/revoke")
    again = await client.get_item(item.id)
    assert again.id == item.id and tokens.fetches == 2


async def test_token_is_cached_until_30_s_before_its_300_s_expire(
    amplience_sim: Sim, http: httpx.AsyncClient
) -> None:
    now = [1000.0]
    tokens = token_provider(
        http,
        f"{amplience_sim.url}/oauth/token",
        CONFIG.client_id,
        CONFIG.client_secret,
        clock=lambda: now[0],
    )
    first = await tokens.token()
    now[0] += 269
    assert await tokens.token() == first and tokens.fetches == 1
    now[0] += 2
    assert await tokens.token() != first and tokens.fetches == 2


async def test_credentials_go_in_the_form_body(amplience_sim: Sim, http: httpx.AsyncClient) -> None:
    tokens = token_provider(http, f"{amplience_sim.url}/oauth/token", "docflow-dev", "wrong")
    with pytest.raises(PermanentServiceError) as caught:
        await tokens.token()
    assert caught.value.status == 400
    good = token_provider(
        http, f"{amplience_sim.url}/oauth/token", CONFIG.client_id, CONFIG.client_secret
    )
    assert await good.token()


async def test_items_versions_and_invalid_content(client: AmplienceClient) -> None:
    item = await client.create_item(REPO, label="P-1", body=product(key="p-1", price=1))
    assert item.meta.schema_ == SCHEMA and item.delivery_key == "p-1"
    updated = await client.update_item(item.id, 1, {"body": product(key="p-1", price=2)})
    assert updated.version == 2
    first = await client.get_version(item.id, 1)
    assert (first.version, first.body["price"]) == (1, 1)
    with pytest.raises(VersionConflictError):
        await client.update_item(item.id, 1, {"label": "stale"})
    with pytest.raises(InvalidContentError) as caught:
        await client.create_item(REPO, label="bad", body={"_meta": {}})
    assert caught.value.errors[0]["property"] == "body._meta.schema"
    assert "body._meta.schema" in caught.value.message
    with pytest.raises(NotFoundError):
        await client.get_item("does-not-exist")


async def test_conflict_is_reread_and_reapplied(
    client: AmplienceClient, amplience_sim: Sim
) -> None:
    item = await client.create_item(REPO, label="P-1", body=product(price=1, stock=5))
    # A content person edits the item after docflow read it.
    await amplience_sim.control(
        "POST", f"/items/{item.id}/edit", json={"body": product(price=1, stock=7)}
    )

    def raise_price(current: Any) -> dict[str, Any]:
        return {"body": {**current.body, "price": 2}}

    patched = await client.patch_item(item.id, raise_price, version=item.version)
    assert patched.version == 3
    assert (patched.body["price"], patched.body["stock"]) == (2, 7)  # the edit survived

    # A mapping change at a stale version is re-applied at the current one.
    relabelled = await client.patch_item(item.id, {"label": "P-1 new"}, version=1)
    assert (relabelled.label, relabelled.version) == ("P-1 new", 4)


async def test_workflow_states_by_label_and_set_state_with_conflict(
    client: AmplienceClient, amplience_sim: Sim
) -> None:
    states = await client.workflow_states()
    assert [s.label for s in states] == ["Draft", "Approved", "Distributed", "Integration failed"]
    failed = await client.workflow_state_id("integration FAILED")
    with pytest.raises(WorkflowStateNotFoundError):
        await client.workflow_state_id("Nope")

    item = await client.create_item(REPO, label="P-1", body=product())
    await amplience_sim.control("POST", f"/items/{item.id}/workflow", json={"state": "Approved"})
    moved = await client.set_workflow_state(item.id, failed, version=item.version)  # stale
    assert moved.workflow_state == failed and moved.version == 3
    again = await client.set_workflow_state(item.id, failed)
    assert again.version == 3  # already there: nothing sent


async def test_publish_follows_the_job_and_delivery_serves_it(
    client: AmplienceClient, amplience_sim: Sim
) -> None:
    item = await client.create_item(REPO, label="P-1", body=product(key="shop/p-1", price=1))
    with pytest.raises(NotFoundError):
        await client.delivered_by_key("shop/p-1")
    job = await client.publish_and_wait(item.id)
    assert job.state == "COMPLETED"
    assert (await client.delivered_by_key("shop/p-1")).content["price"] == 1
    delivered = await client.delivered_by_id(item.id)
    assert delivered.delivery_id == item.id
    current = await client.get_item(item.id)
    assert (current.publishing_status, current.last_published_version) == ("LATEST", 1)

    await amplience_sim.control("PUT", "/publishing", json={"fail_next": 1})
    failed = await client.publish_and_wait(item.id)
    assert failed.state == "FAILED" and failed.publish_error_status


async def test_429_over_the_publish_limit_is_retryable_without_retry_after(
    client: AmplienceClient, amplience_sim: Sim
) -> None:
    await amplience_sim.control("PUT", "/publishing", json={"limit": 1})
    item = await client.create_item(REPO, label="P-1", body=product())
    await client.publish(item.id)
    with pytest.raises(RetryableServiceError) as caught:
        await client.publish(item.id)
    assert caught.value.status == 429 and caught.value.retry_after is None
    error = to_application_error("publish", caught.value)
    assert not error.non_retryable and error.next_retry_delay is None  # policy back-off


async def test_5xx_is_retryable_and_4xx_is_not(client: AmplienceClient, amplience_sim: Sim) -> None:
    item = await client.create_item(REPO, label="P-1", body=product())
    await amplience_sim.fail_next(503, match="GET /v2/content/content-items")
    with pytest.raises(RetryableServiceError):
        await client.get_item(item.id)
    with pytest.raises(VersionConflictError) as caught:
        await client.update_item(item.id, 99, {"label": "x"})
    assert to_application_error("update", caught.value).non_retryable


def test_error_shapes_are_read() -> None:
    request = httpx.Request("PATCH", "https://api.amplience.net/v2/content/content-items/1")
    conflict = httpx.Response(
        409,
        json={"errors": [{"entity": "ContentItem", "property": "version", "message": "stale"}]},
        request=request,
    )
    with pytest.raises(VersionConflictError, match="version: stale"):
        raise_for_amplience(conflict)
    plain = httpx.Response(403, json={"message": "Forbidden"}, request=request)
    with pytest.raises(PermanentServiceError, match="Forbidden"):
        raise_for_amplience(plain)
    limited = httpx.Response(429, json={"message": "Too Many Requests"}, request=request)
    with pytest.raises(RetryableServiceError):
        raise_for_amplience(limited)


async def test_find(client: AmplienceClient) -> None:
    await client.create_item(REPO, label="Red shoe", body=product())
    await client.create_item(REPO, label="Blue hat", body=product())
    page = await client.find("shoe")
    assert [i.label for i in page.items("content-items")] == ["Red shoe"]
    assert page.page is not None and page.page.total_elements == 1


def test_signature_verification_good_and_bad() -> None:
    raw = b'{"sequenceId":1,"id":"e1","name":"dynamic-content.content-item.updated",'
    raw += b'"requestId":"r1","resource":"hub","payload":{"id":"i1","version":2,"label":"x",'
    raw += b'"body":{"_meta":{"schema":"s"}},"workflow":{"state":"w1"}}}'
    signature = sign(raw, "secret")
    assert verify_signature(raw, signature, "secret")
    assert not verify_signature(raw + b" ", signature, "secret")
    assert not verify_signature(raw, signature, "other")
    assert not verify_signature(raw, None, "secret")
    assert not verify_signature(raw, "not base64 at all ✓", "secret")
    envelope = parse_webhook(raw, signature, "secret")
    item = envelope.content_item()
    assert item is not None and (item.id, item.version, item.workflow_state) == ("i1", 2, "w1")
    with pytest.raises(InvalidWebhookError):
        parse_webhook(raw, sign(raw, "other"), "secret")
    with pytest.raises(InvalidWebhookError):
        parse_webhook(b"[]", sign(b"[]", "secret"), "secret")
    assert SIGNATURE_HEADER == "X-Amplience-Webhook-Signature"


async def test_webhooks_from_the_simulator_verify(
    client: AmplienceClient, amplience_sim: Sim
) -> None:
    receiver = CallbackReceiver()
    async with ServedApp(receiver.app(), name="amp-hook") as served:
        receiver.base_url = served.base_url
        await amplience_sim.control("PUT", "/webhook", json={"url": receiver.url, "secret": "k"})
        item = await client.create_item(REPO, label="P-1", body=product())
        await amplience_sim.control("POST", f"/items/{item.id}/workflow", json={"state": "Draft"})
        await amplience_sim.control("POST", "/webhooks/flush")
    assert len(receiver.received) == 2
    for hook in receiver.received:
        envelope = parse_webhook(hook["raw"], hook["headers"][SIGNATURE_HEADER.lower()], "k")
        assert envelope.is_content_item_event
    last = parse_webhook(
        receiver.received[1]["raw"], receiver.received[1]["headers"][SIGNATURE_HEADER.lower()], "k"
    )
    assert last.name == "dynamic-content.content-item.workflow.updated"
    moved = last.content_item()
    assert moved is not None and moved.version == 2 and moved.workflow_state


def test_settings_default_to_the_real_service_and_build_a_client() -> None:
    # A bundle that names no Amplience URLs gets the real service's.
    amp = AmplienceSettings(
        hub_id="hub-1", hub_name="acme", client_id="id", client_secret="value:secret"
    )
    settings = Settings().with_overrides(amplience=amp.model_dump())
    assert amp.auth_url == "https://auth.amplience.net/oauth/token"
    assert amp.api_url == "https://api.amplience.net/v2/content"
    assert amp.delivery_base == "https://acme.cdn.content.amplience.net"
    AmplienceClient.from_settings(settings, httpx.AsyncClient())
    with pytest.raises(ValueError):
        AmplienceClient.from_settings(
            Settings().with_overrides(amplience={"hub_id": ""}), httpx.AsyncClient()
        )
