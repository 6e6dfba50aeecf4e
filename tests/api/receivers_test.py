"""Core Signature callback receiver: verify first, signal once, answer only after the signal."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from docflow.docstore import LocalDocumentStore
from docflow.models import DocumentRef, SigningState
from docflow.settings import Settings
from simulators.core_signature import CoreSignatureConfig
from simulators.core_signature import create_app as core_signature_app
from simulators.kit.delivery import RetryPolicy
from simulators.kit.server import ServedApp
from starter.api import create_app
from starter.processes.signing import SigningProcesses
from tests.api.conftest import closed_port, make_settings
from tests.api.support import (
    HASH_KEY,
    callback,
    events_in,
    new_key,
    settle,
    signals_received,
    signing_request,
    wait_until,
    workflow,
)
from tests.hangup import assert_logged_without_error, hang_up_mid_body

URL = "/webhooks/core-signature"


async def assert_no_signal(handle: WorkflowHandle[Any, Any], business_key: str) -> None:
    status = await settle(handle, business_key)
    assert await signals_received(handle) == 1  # the sentinel only
    assert [e.detail for e in status.audit if e.kind == "event"] == ["signer_viewed"]


async def started(processes: SigningProcesses, document: DocumentRef) -> str:
    key = new_key("CB")
    await processes.start(signing_request(key), document, "app:crm")
    return key


async def test_valid_callback_is_signalled_once(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    key = await started(processes, document)
    body = callback(key, "signer_signed", message=None)

    response = await api.post(URL, json=body)

    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    handle = workflow(processes.client, key)
    status = await wait_until(handle, lambda s: events_in(s, body["uuid"]) > 0)
    assert events_in(status, body["uuid"]) == 1
    entry = next(e for e in status.audit if e.kind == "event")
    assert entry.detail == "signer_signed"
    assert entry.data["signer"] == "signer@acme.example.com"


async def test_duplicate_delivery_is_applied_once(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    key = await started(processes, document)
    body = callback(key, "signer_signed")

    first = await api.post(URL, json=body)
    second = await api.post(URL, json=body)

    assert (first.status_code, second.status_code) == (200, 200)
    handle = workflow(processes.client, key)
    status = await settle(handle, key)
    assert await signals_received(handle) == 2 + 1  # both delivered durably (+ sentinel) ...
    assert events_in(status, body["uuid"]) == 1  # ... and applied once


async def test_decline_message_becomes_the_event_detail(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    key = await started(processes, document)
    response = await api.post(URL, json=callback(key, "declined", message="wrong price"))

    assert response.status_code == 200
    handle = workflow(processes.client, key)
    result = await handle.result()
    assert result.state is SigningState.DECLINED
    assert result.audit[-1].data["detail"] == "wrong price"


async def test_event_after_the_process_ended_is_ignored(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    key = await started(processes, document)
    assert (await api.post(URL, json=callback(key, "signed"))).json() == {"status": "accepted"}
    await workflow(processes.client, key).result()

    response = await api.post(URL, json=callback(key, "downloaded"))

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}


async def test_bad_signature_is_refused_without_signal(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    key = await started(processes, document)
    forged = callback(key, "signed", key="not-the-key")
    missing = callback(key, "signed")
    del missing["event_hash"]
    tampered = callback(key, "signer_signed")
    tampered["event_type"] = "signed"  # hash covers the type: a changed type must fail

    responses = [await api.post(URL, json=body) for body in (forged, missing, tampered)]

    assert [r.status_code for r in responses] == [401, 401, 401]
    assert responses[0].json()["error"]["code"] == "invalid_callback"
    assert "WWW-Authenticate" in responses[0].headers
    await assert_no_signal(workflow(processes.client, key), key)


async def test_old_or_future_but_hashed_events_are_hints_not_refusals(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    """Core Signature retries for ~90 minutes and answers a 401 by giving up: a correctly
    hashed event of any age is taken as a hint (the workflow confirms deciding claims)."""
    key = await started(processes, document)
    late = callback(key, "signer_viewed", event_time=str(int(time.time()) - 80 * 60))
    skewed = callback(key, "signer_viewed", event_time=str(int(time.time()) + 60 * 60))

    responses = [await api.post(URL, json=body) for body in (late, skewed)]

    assert [r.status_code for r in responses] == [200, 200]
    assert [r.json()["status"] for r in responses] == ["accepted", "accepted"]
    status = await settle(workflow(processes.client, key), key)  # + the sentinel
    assert [e.detail for e in status.audit if e.kind == "event"] == ["signer_viewed"] * 3


async def test_malformed_bodies_are_422_without_traceback(api: httpx.AsyncClient) -> None:
    not_json = await api.post(
        URL, content=b"{not json", headers={"content-type": "application/json"}
    )
    wrong_shape = await api.post(URL, json={"uuid": "e1", "event_type": "signed"})
    bad_time = await api.post(URL, json={**callback("K-1"), "event_time": "yesterday"})
    huge_time = await api.post(URL, json={**callback("K-1"), "event_time": "9" * 30})
    not_object = await api.post(URL, json=["signed"])

    for response in (not_json, wrong_shape, bad_time, huge_time, not_object):
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_request"
        assert "Traceback" not in response.text
    assert not_json.json()["error"]["message"] == "body is not valid JSON"


async def test_unknown_document_is_404_without_signal(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    key = await started(processes, document)
    foreign = callback(key, "signed")
    foreign["document"]["external_id"] = f"someone-else:{key}"
    no_workflow = callback(new_key("NOPE"), "signed")

    responses = [await api.post(URL, json=body) for body in (foreign, no_workflow)]

    assert [r.status_code for r in responses] == [404, 404]
    assert all(r.json()["error"]["message"] == "unknown document" for r in responses)
    await assert_no_signal(workflow(processes.client, key), key)


async def test_temporal_unreachable_is_a_500_core_signature_retries(
    tmp_path: Path, task_queue: str, store: LocalDocumentStore
) -> None:
    """Core Signature retries only a timeout or a 500: a 503 would end its retries."""
    settings: Settings = make_settings(tmp_path, task_queue)
    unreachable = await Client.connect(
        f"127.0.0.1:{closed_port()}", lazy=True, data_converter=pydantic_data_converter
    )

    async def refuse() -> Client:
        raise ConnectionRefusedError("temporal is down")

    for source in (unreachable, refuse):
        app = create_app(settings, source, store)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            response = await api.post(URL, json=callback("K-1", "signed"))
            forged = await api.post(URL, json=callback("K-1", "signed", key="wrong"))

        assert response.status_code == 500
        assert response.headers["Retry-After"].isdigit()
        assert response.json()["error"]["code"] == "temporarily_unavailable"
        assert "Traceback" not in response.text
        assert forged.status_code == 401  # verification comes before any Temporal call


async def test_a_hanging_temporal_is_answered_at_the_receiver_deadline(
    tmp_path: Path, task_queue: str, store: LocalDocumentStore
) -> None:
    """A blackholed Temporal holds no callback longer than `receiver_deadline_s` (the API's
    own connect timeout is five seconds; senders wait less)."""
    settings: Settings = make_settings(tmp_path, task_queue)
    settings.core_signature.receiver_deadline_s = 0.2

    async def hang() -> Client:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    app = create_app(settings, hang, store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        response = await api.post(URL, json=callback("K-1", "signed"))

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "temporarily_unavailable"


async def test_bookkeeping_events_are_acknowledged_without_signal(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    key = await started(processes, document)
    bodies = [callback(key, kind) for kind in ("converted", "sent", "downloaded")]

    responses = [await api.post(URL, json=body) for body in bodies]

    assert [r.json() for r in responses] == [{"status": "ignored"}] * 3
    await assert_no_signal(workflow(processes.client, key), key)


async def test_a_caller_hanging_up_mid_body_is_one_log_line(
    settings: Settings,
    temporal: Client,
    store: LocalDocumentStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A sender killed while posting: an INFO line instead of a 500 and its traceback, and the
    next callback is served as usual."""
    caplog.set_level(logging.INFO)
    async with ServedApp(create_app(settings, temporal, store)) as served:
        await hang_up_mid_body(served.port, "/webhooks/core-signature", b'{"uuid": ')
        await assert_logged_without_error(
            caplog, "POST /webhooks/core-signature: the client disconnected"
        )
        async with httpx.AsyncClient(base_url=served.base_url) as http:
            response = await http.post("/webhooks/core-signature", content=b"{}")
        assert response.status_code == 422


async def test_the_simulators_real_format_callbacks_are_verified_and_signalled(
    settings: Settings, temporal: Client, store: LocalDocumentStore, document: DocumentRef
) -> None:
    """End to end over HTTP: the Core Signature simulator sends its callbacks (event_time Unix
    seconds as a string, timestamp ISO-8601, hashed with the shared key) to the receiver."""
    processes = SigningProcesses(temporal, settings, store)
    key = await started(processes, document)
    sim_config = CoreSignatureConfig(
        event_hash_key=HASH_KEY,
        convert_delay_ms=0,
        callback_retry=RetryPolicy.core_signature(minute_s=0.01, timeout_s=5),
    )
    async with (
        ServedApp(create_app(settings, temporal, store), name="docflow-api") as api_served,
        ServedApp(core_signature_app(sim_config), name="core-signature") as sim_served,
        httpx.AsyncClient(base_url=sim_served.base_url, timeout=10) as sim,
    ):
        token = await sim.post(
            "/tenants/docflow/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("docflow-dev", "dev-core-signature-secret"),
        )
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        doc = await sim.post(
            "/api/v1/documents/",
            headers=auth,
            json={
                "file_from_content": "JVBERi0xLjQgdGVzdA==",
                "file_from_content_name": "contract.pdf",
                "external_id": f"{key}#1",
                "events_callback_url": f"{api_served.base_url}{URL}",
            },
        )
        request = await sim.post(
            "/api/v1/signature-requests/",
            headers=auth,
            json={
                "document": doc.json()["url"],
                "signers": [{"email": "signer@acme.example.com"}],
                "from_email": "sales@example.com",
            },
        )
        assert request.status_code == 201, request.text
        uuid = doc.json()["uuid"]
        await sim.post(f"/_control/documents/{uuid}/view", json={})
        await sim.post(f"/_control/documents/{uuid}/forward", json={})
        await sim.post(f"/_control/documents/{uuid}/sign", json={})
        flushed = await sim.post("/_control/callbacks/flush", params={"timeout_s": 10})
        assert flushed.is_success
        deliveries = (await sim.get("/_control/callbacks")).json()["results"]
        events = (await sim.get("/_control/events", params={"document_uuid": uuid})).json()

    sent = {e["uuid"]: e["callback"] for e in events["results"]}
    assert all(c["event_time"].isdigit() for c in sent.values())
    # Every callback was accepted (200): none refused as unverifiable (401) or malformed (422),
    # the types docflow does not know included.
    assert {(d["event_type"], d["last_status_code"]) for d in deliveries} >= {
        ("signer_viewed_email", 200),
        ("signer_forwarded", 200),
        ("signer_signed", 200),
    }
    assert {d["last_status_code"] for d in deliveries} == {200}
    signer_signed = next(u for u, c in sent.items() if c["event_type"] == "signer_signed")
    handle = workflow(processes.client, key)
    status = await wait_until(handle, lambda s: events_in(s, signer_signed) > 0)
    assert events_in(status, signer_signed) == 1
