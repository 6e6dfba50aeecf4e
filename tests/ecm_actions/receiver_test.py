"""The business-object receiver takes SAP's `process.completed|failed`: the ERP simulator's own
signed event reaches the waiting action (confirmed with a read, before any poll); a forged
one is 401, a reference that names no action is acknowledged and ignored, a malformed one is
422, and Temporal down is 503 with Retry-After."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.content_server.client import ContentServerClient
from docflow.docstore import LocalDocumentStore
from docflow.settings import Settings
from simulators.kit.server import ServedApp, free_port
from starter.api import create_app
from tests.activities.simulated import Sim
from tests.ecm_actions.conftest import a_document, actions, approved, start_action, status_category
from tests.workflows.kit.support import kit_worker
from workflows.ecm_action import LifecycleActionWorkflow

SAP_EVENTS_SECRET = "whsec_ZGV2LXNhcC1ldmVudHMtc2VjcmV0LTEyMzQ="  # SAP's event_secret (local)
URL = "/webhooks/business-objects/SAP"
NO_SUCH_ACTION = "ecm-action:invoice-final-approval:" + "0" * 24


def signed(body: dict[str, Any], secret: str = SAP_EVENTS_SECRET) -> tuple[str, dict[str, str]]:
    raw, msg_id, now = json.dumps(body), f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    return raw, {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, raw),
    }


def finished(reference: str, status: str = "completed", **data: Any) -> dict[str, Any]:
    return {
        "type": f"process.{status}",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"id": "PRC-1", "process": "invoice_processing", "reference": reference}
        | {"status": status, "result": None, "reason": None, **data},
    }


@pytest.fixture
def api_settings(settings: Settings, task_queue: str) -> Settings:
    return settings.with_overrides(temporal={"task_queue": task_queue})


def api_app(settings: Settings, temporal: Any) -> Any:
    return create_app(settings, temporal, LocalDocumentStore(settings.documents.root))


@pytest.fixture
async def api(
    api_settings: Settings, time_skipping_env: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(
        app=api_app(api_settings, time_skipping_env.client), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as client:
        yield client


async def test_the_erps_result_event_reaches_the_waiting_action(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    api_settings: Settings,
    http: httpx.AsyncClient,
    erp: Sim,
    otcs: ContentServerClient,
) -> None:
    client, acts = time_skipping_env.client, actions(api_settings, http)
    node = await a_document(otcs, "INV-2001.pdf")
    async with (
        ServedApp(api_app(api_settings, client), name="docflow-api") as served,
        kit_worker(client, task_queue, [LifecycleActionWorkflow], acts.activities()),
    ):
        await erp.control("PUT", "/processes/events-url", json={"url": f"{served.base_url}{URL}"})
        handle = await start_action(client, task_queue, approved(node))
        # Real time (nothing awaits the result): the first poll is minutes away, so only the
        # event can finish the action now.
        for _ in range(200):
            summary = await handle.query(LifecycleActionWorkflow.status)
            if summary.state in ("completed", "failed"):
                break
            await asyncio.sleep(0.05)
        result = await handle.result()
    kinds = [entry.kind for entry in summary.audit]
    assert result.outcome == "completed", summary.audit
    assert "result_event" in kinds and "result_confirmed" in kinds and "result_polled" not in kinds
    assert (await status_category(otcs, node.id))["9400_1"] == "Completed"


@pytest.mark.parametrize(
    ("case", "status", "answer"),
    [
        ("forged", 401, "invalid_signature"),
        ("unknown action", 200, "ignored"),
        ("not an action", 200, "ignored"),
        ("malformed", 422, "invalid_request"),
    ],
)
async def test_bad_or_foreign_result_events(
    api: httpx.AsyncClient, case: str, status: int, answer: str
) -> None:
    body = finished(NO_SUCH_ACTION)
    if case == "not an action":
        body = finished("PO-4711")
    if case == "malformed":
        del body["data"]["reference"]
    raw, headers = signed(body, secret="whsec_Zm9yZ2Vk" if case == "forged" else SAP_EVENTS_SECRET)
    response = await api.post(URL, content=raw, headers=headers)
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json() == {"status": answer}
    else:
        assert response.json()["error"]["code"] == answer


async def test_temporal_down_is_503_with_retry_after(api_settings: Settings) -> None:
    async def unreachable() -> Client:
        return await Client.connect(f"127.0.0.1:{free_port()}")

    transport = httpx.ASGITransport(
        app=api_app(api_settings, unreachable), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as api:
        raw, headers = signed(finished(NO_SUCH_ACTION))
        response = await api.post(URL, content=raw, headers=headers)
    assert response.status_code == 503 and response.headers["Retry-After"]
