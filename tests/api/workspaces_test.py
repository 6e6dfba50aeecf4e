"""Workspaces over HTTP on the dev server: the business-object receiver (bad input refused
before anything starts, a closed object's late events ignored), portal requests and filed
documents — the real BusinessObjectWorkflow behind them, with stand-in systems."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from docflow.docstore import LocalDocumentStore
from docflow.settings import ApiKeyConfig, Settings
from docflow.temporal import business_object_workflow_id
from starter.api import create_app
from tests.api.conftest import auth, closed_port, make_settings
from tests.api.support import PDF
from tests.workflows.kit.support import kit_worker
from tests.workflows.workspace_test import Systems
from workflows.delivery import DeliveryWorkflow
from workflows.workspace import BusinessObjectWorkflow

SFDC_SECRET = "whsec_" + base64.b64encode(b"dev-sfdc-events-secret-1234").decode()
URL = "/webhooks/business-objects/SFDC"
FIELDS = {"name": "Acme", "account_number": "A-1", "owner": "alice@example.com"}


def signed(body: dict[str, Any], secret: str = SFDC_SECRET, msg_id: str | None = None):  # type: ignore[no-untyped-def]
    raw = json.dumps(body)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, raw),
    }
    return raw, headers


def change(
    bo_id: str, version: int, kind: str = "updated", bo_type: str = "Account", **fields: Any
) -> dict[str, Any]:
    return {
        "type": f"business_object.{kind}",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {
            "ext_system_id": "SFDC",
            "bo_type": bo_type,
            "bo_id": bo_id,
            "version": version,
            "occurred_at": datetime.now(UTC).isoformat(),
            "data": {**FIELDS, **fields},
        },
    }


@pytest.fixture
def portal_settings(tmp_path: Path, task_queue: str) -> Settings:
    settings = make_settings(tmp_path, task_queue)
    portal = ApiKeyConfig(
        name="portal",
        key="value:test-portal-key",
        subject="app:portal",
        scopes=["processes:start", "processes:read"],
        source_systems=["PORTAL"],
    )
    return settings.with_overrides(
        api={"api_keys": [*[k.model_dump() for k in settings.api.api_keys], portal.model_dump()]}
    )


@pytest.fixture
async def stack(
    dev_server_env: WorkflowEnvironment, task_queue: str, portal_settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Client, Systems]]:
    systems = Systems()
    client = dev_server_env.client
    store = LocalDocumentStore(portal_settings.documents.root)
    app = create_app(portal_settings, client, store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        kit_worker(
            client,
            portal_settings.temporal.task_queue,
            [BusinessObjectWorkflow, DeliveryWorkflow],
            systems.activities(),  # type: ignore[arg-type]
        ),
        httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as api,
    ):
        yield api, client, systems


async def exists(client: Client, bo_id: str, bo_type: str = "Account") -> bool:
    try:
        await client.get_workflow_handle(
            business_object_workflow_id("SFDC", bo_type, bo_id)
        ).describe()
    except RPCError:
        return False
    return True


async def wait_status(api: httpx.AsyncClient, path: str, check: Any) -> dict[str, Any]:
    import asyncio

    for _ in range(200):
        response = await api.get(path, headers=auth("crm"))
        if response.status_code == 200 and check(response.json()):
            return response.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached: {response.status_code} {response.text[:300]}")


async def test_an_account_event_provisions_its_workspace(stack) -> None:  # type: ignore[no-untyped-def]
    api, _client, _systems = stack
    bo_id = f"ACC{uuid.uuid4().hex[:8]}"
    raw, headers = signed(change(bo_id, 1, "created"))
    response = await api.post(URL, content=raw, headers=headers)
    assert response.status_code == 200 and response.json() == {"status": "accepted"}
    again = await api.post(URL, content=raw, headers=headers)  # a retry of the same message
    assert again.json() == {"status": "accepted"}
    status = await wait_status(
        api, f"/v1/business-objects/SFDC/Account/{bo_id}", lambda s: s["state"] == "in_sync"
    )
    assert status["workspace"]["name"] == f"Acme ({bo_id})"
    assert status["applied"] == 1 and status["ignored"] == 1  # the retry, counted once
    hidden = await api.get(f"/v1/business-objects/SFDC/Account/{bo_id}", headers=auth("erp"))
    assert hidden.status_code == 404  # another application's object does not exist for it


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("bad signature", 401, "invalid_signature"),
        ("no signature", 401, "invalid_signature"),
        ("malformed", 422, "invalid_request"),
        ("missing version", 422, "invalid_request"),
        ("other system", 422, "invalid_request"),
        ("unknown system", 404, "not_found"),
        ("too large", 413, "payload_too_large"),
    ],
)
async def test_bad_events_are_refused_and_start_nothing(stack, case, status, code) -> None:  # type: ignore[no-untyped-def]
    api, client, _ = stack
    bo_id = f"BAD{uuid.uuid4().hex[:8]}"
    body = change(bo_id, 1, "created")
    url = URL
    if case == "missing version":
        del body["data"]["version"]
    if case == "other system":
        body["data"]["ext_system_id"] = "SAP"
    if case == "too large":
        body["data"]["data"]["notes"] = "x" * 300_000
    raw, headers = (
        signed(body, secret="whsec_" + base64.b64encode(b"wrong").decode())
        if (case == "bad signature")
        else signed(body)
    )
    if case == "no signature":
        del headers["webhook-signature"]
    if case == "malformed":
        raw, headers = signed({"type": "business_object.created", "data": "nope"})
    if case == "unknown system":
        url = "/webhooks/business-objects/WORKDAY"
    response = await api.post(url, content=raw, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert not await exists(client, bo_id)


async def test_unmapped_types_and_closed_objects_are_acknowledged_and_ignored(stack) -> None:  # type: ignore[no-untyped-def]
    api, client, systems = stack
    opportunity = f"OPP{uuid.uuid4().hex[:8]}"
    raw, headers = signed(change(opportunity, 1, "created", bo_type="Opportunity"))
    response = await api.post(URL, content=raw, headers=headers)
    assert response.json() == {"status": "ignored"}
    assert not await exists(client, opportunity, "Opportunity")

    bo_id = f"ACC{uuid.uuid4().hex[:8]}"
    for version, kind, fields in ((1, "created", {}), (2, "status_changed", {"status": "Closed"})):
        raw, headers = signed(change(bo_id, version, kind, **fields))
        assert (await api.post(URL, content=raw, headers=headers)).status_code == 200
    handle = client.get_workflow_handle(business_object_workflow_id("SFDC", "Account", bo_id))
    result = await handle.result()
    assert result["state"] == "closed"  # type: ignore[index]
    raw, headers = signed(change(bo_id, 3, name="Acme reopened"))
    late = await api.post(URL, content=raw, headers=headers)
    assert late.json() == {"status": "ignored"}  # never re-creates a closed workspace
    assert len(systems.created) == 1 and len(systems.closed) == 1


async def test_temporal_down_is_503_with_retry_after(portal_settings: Settings) -> None:
    async def unreachable() -> Client:
        return await Client.connect(f"127.0.0.1:{closed_port()}")

    store = LocalDocumentStore(portal_settings.documents.root)
    app = create_app(portal_settings, unreachable, store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as api:
        raw, headers = signed(change("ACCDOWN", 1, "created"))
        response = await api.post(URL, content=raw, headers=headers)
    assert response.status_code == 503 and response.headers["Retry-After"]


async def test_a_portal_request_gets_its_workspace_or_every_reason(stack) -> None:  # type: ignore[no-untyped-def]
    api, _client, systems = stack
    portal = {"X-API-Key": "test-portal-key"}
    request_id = f"REQ-{uuid.uuid4().hex[:8]}"
    bad = await api.post(
        "/v1/workspace-requests",
        json={"request_type": "onboarding", "request_id": request_id, "fields": {"x": 1}},
        headers=portal,
    )
    assert bad.status_code == 422
    message = bad.json()["error"]["message"]
    assert "field 'name' is required" in message and "field 'region' is required" in message
    assert not systems.created  # refused before anything started
    body = {
        "request_type": "onboarding",
        "request_id": request_id,
        "fields": {"name": "Globex", "region": "EMEA"},
        "members": [{"role": "Onboarding Team", "members": ["bob@example.com"]}],
    }
    good = await api.post("/v1/workspace-requests", json=body, headers=portal)
    assert good.status_code == 201, good.text
    assert good.json()["workspace"]["name"] == f"Onboarding Globex ({request_id})"
    again = await api.post("/v1/workspace-requests", json=body, headers=portal)
    assert again.json()["workspace"] == good.json()["workspace"] and len(systems.created) == 1
    crm = await api.post("/v1/workspace-requests", json=body, headers=auth("crm"))
    assert crm.status_code == 403  # the CRM does not act for the portal


async def test_documents_are_filed_into_the_objects_workspace(stack) -> None:  # type: ignore[no-untyped-def]
    api, _client, systems = stack
    bo_id = f"ACC{uuid.uuid4().hex[:8]}"
    raw, headers = signed(change(bo_id, 1, "created"))
    await api.post(URL, content=raw, headers=headers)
    path = f"/v1/business-objects/SFDC/Account/{bo_id}"
    await wait_status(api, path, lambda s: s["state"] == "in_sync")
    files = {"file": ("msa.pdf", PDF, "application/pdf")}
    filing = {"filing": json.dumps({"document_type": "contract", "source_record": "Opp/1"})}
    first = await api.post(f"{path}/documents", files=files, data=filing, headers=auth("crm"))
    assert first.status_code == 201, first.text
    assert first.json()["outcome"] == "created"
    second = await api.post(f"{path}/documents", files=files, data=filing, headers=auth("crm"))
    assert second.status_code == 200 and second.json()["outcome"] == "unchanged"
    erp = await api.post(f"{path}/documents", files=files, data=filing, headers=auth("erp"))
    assert erp.status_code == 403
    unknown = await api.post(
        "/v1/business-objects/SFDC/Account/NOPE/documents",
        files=files,
        data=filing,
        headers=auth("crm"),
    )
    assert unknown.status_code == 404
    assert [m.event_type for m in systems.messages if m.business_key.endswith(bo_id)][:2] == [
        "workspace.provisioned",
        "document.filed",
    ]


async def test_a_repair_is_refused_when_no_step_waits_for_one(stack) -> None:  # type: ignore[no-untyped-def]
    api, _client, _systems = stack
    bo_id = f"ACC{uuid.uuid4().hex[:8]}"
    raw, headers = signed(change(bo_id, 1, "created"))
    await api.post(URL, content=raw, headers=headers)
    path = f"/v1/business-objects/SFDC/Account/{bo_id}"
    await wait_status(api, path, lambda s: s["state"] == "in_sync")
    body = {"action": "retry", "comment": "fixed the category"}
    refused = await api.post(f"{path}/repairs", json=body, headers=auth("ops"))
    assert refused.status_code == 409, refused.text
    assert "no step is waiting for a repair" in refused.json()["error"]["message"]
    crm = await api.post(f"{path}/repairs", json=body, headers=auth("crm"))
    assert crm.status_code == 403  # repairs are support's (processes:correct)
