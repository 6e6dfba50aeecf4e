"""Business workspaces end to end on the dev server: the CRM's own signed events, the receiver,
the BusinessObjectWorkflow, the Content Server simulator, and the write-backs to the CRM."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from devstack.embedded import EmbeddedStack
from devstack.samples import contract_pdf, sample_request
from docflow.models import SigningState
from docflow.models.signing import WorkspaceTarget
from docflow.models.status import TERMINAL_STATES
from starter.api_client import DocflowApiClient
from tests.e2e.signing_e2e_test import control, wait_status
from tests.stacks import get_json


async def eventually(
    read: Callable[[], Any], check: Callable[[Any], bool], within: float = 60
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await read()
        if check(value):
            return value
        assert loop.time() < deadline, f"never reached: {str(value)[:600]}"
        await asyncio.sleep(0.1)


async def read_status(api: DocflowApiClient, path: str) -> dict[str, Any]:
    try:
        return await api.call("GET", path)
    except Exception:  # not there yet (404) or a worker restart (503)
        return {}


async def test_an_account_lives_its_life_in_its_workspace(
    stack: EmbeddedStack, http: httpx.AsyncClient, crm_app: DocflowApiClient
) -> None:
    crm, otcs = stack.crm_url, stack.content_server_url
    bo_id = f"001E2E{uuid.uuid4().hex[:10].upper()}"
    path = f"/v1/business-objects/SFDC/Account/{bo_id}"

    async def status() -> dict[str, Any]:
        return await read_status(crm_app, path)

    async def record() -> dict[str, Any]:
        return await get_json(http, f"{crm}/_control/objects/Account/{bo_id}")

    async def node(node_id: int) -> dict[str, Any]:
        return await get_json(http, f"{otcs}/_control/nodes/{node_id}")

    # 1. Created in the CRM: its workspace is provisioned and the CRM record learns it.
    created = await http.post(
        f"{crm}/_control/objects/Account",
        json={
            "bo_id": bo_id,
            "fields": {
                "name": "Initech",
                "account_number": "A-77",
                "owner": "alice@example.com",
                "region": "EMEA",
                "status": "Active",
            },
        },
    )
    assert created.status_code == 201, created.text
    synced = await eventually(status, lambda s: s.get("state") == "in_sync")
    workspace = synced["workspace"]
    assert workspace["name"] == f"Initech ({bo_id})" and workspace["how"] == "created"
    written = await eventually(record, lambda r: r["writeback"].get("workspace_id"))
    assert written["writeback"]["workspace_id"] == workspace["workspace_id"]
    detail = (await node(workspace["workspace_id"]))["detail"]
    assert "Initech" in str(detail["categories"]) and "A-77" in str(detail["categories"])

    # 2. Renamed in the CRM: the workspace's metadata follows.
    await http.patch(
        f"{crm}/_control/objects/Account/{bo_id}", json={"fields": {"name": "Initrode"}}
    )
    await eventually(status, lambda s: s.get("applied_version", 0) >= 2)
    detail = (await node(workspace["workspace_id"]))["detail"]
    assert "Initrode" in str(detail["categories"])

    # 3. A contract for the account is signed: the CRM record gets the status and the
    # signed document's reference, and the account team is told.
    key = f"E2E-WS-{uuid.uuid4().hex[:6]}"
    request = sample_request(key, stages=[]).model_copy(
        update={
            "workspace": WorkspaceTarget(
                ext_system_id="SFDC", bo_type="Account", bo_id=bo_id, name="Initrode"
            ),
            "document_type": "nda",
        }
    )
    await crm_app.start(request, contract_pdf(key))
    waiting = await wait_status(crm_app, key, lambda s: s.state is SigningState.AWAITING_SIGNATURE)
    await control(
        http, stack.core_signature_url, f"documents/{waiting.signature.document_uuid}/sign"
    )
    final = await wait_status(crm_app, key, lambda s: s.state in TERMINAL_STATES)
    assert final.state is SigningState.COMPLETED, final.outcome_reason
    assert final.archive.workspace_id == workspace["workspace_id"]  # one workspace, shared
    told = await eventually(
        record,
        lambda r: any(
            c.get("node_id") == final.archive.document_node_id for c in r["content_references"]
        ),
    )
    assert told["fields"]["status"] == "Contract signed"
    notes = await eventually(
        lambda: get_json(http, f"{crm}/_control/notifications?kind=workspace_milestone"),
        lambda n: any(bo_id in str(m) for m in n["results"]),
    )
    [note] = [m["payload"] for m in notes["results"] if bo_id in str(m)]
    assert note["recipients"] == ["account-team@example.com"]
    assert note["data"]["link"].endswith(f"/nodes/{final.archive.document_node_id}")

    # 4. Closed in the CRM: the workspace is closed per policy, its content kept.
    await http.post(f"{crm}/_control/objects/Account/{bo_id}/status", json={"status": "Closed"})
    closed = await eventually(status, lambda s: s.get("state") == "closed")
    assert "Closed" in closed["outcome_reason"]
    detail = (await node(workspace["workspace_id"]))["detail"]
    assert "5003" in str(detail) and "Closed" in str(detail["categories"])
    signed = await node(final.archive.document_node_id)
    assert signed["properties"]["name"].endswith("(signed).pdf")  # content is never deleted


async def test_an_event_storm_ends_at_the_newest_version(
    stack: EmbeddedStack, http: httpx.AsyncClient, crm_app: DocflowApiClient
) -> None:
    """Renames held back and released out of order, redeliveries (same webhook-id), stale
    replays (new ids, old versions), interleaved with documents filed for the object: the
    workspace ends with the newest name, and every event is either applied or ignored."""
    crm, otcs = stack.crm_url, stack.content_server_url
    bo_id = f"001STORM{uuid.uuid4().hex[:8].upper()}"
    base = f"{crm}/_control/objects/Account/{bo_id}"
    path = f"/v1/business-objects/SFDC/Account/{bo_id}"
    fields = {"name": "Storm v1", "account_number": "A-1", "owner": "bob@example.com"}
    await http.post(f"{crm}/_control/objects/Account", json={"bo_id": bo_id, "fields": fields})
    await eventually(lambda: read_status(crm_app, path), lambda s: s.get("state") == "in_sync")
    renames = 24
    sent = 1
    for version in range(2, renames + 2):  # every third one held back, sent later
        held = version % 3 == 0
        await http.patch(
            f"{base}?deliver={'false' if held else 'true'}",
            json={"fields": {"name": f"Storm v{version}"}},
        )
        sent += 0 if held else 1
        if version % 8 == 0:  # a document filed in between (a milestone-like write-back)
            files = {"file": (f"note-{version}.pdf", contract_pdf(f"{bo_id}-{version}"))}
            filing = {"filing": '{"document_type": "correspondence"}'}
            filed = await crm_app.call("POST", f"{path}/documents", files=files, data=filing)
            assert filed["outcome"] == "created"
    for version in range(renames + 1, 1, -1):  # the held ones, newest first; stale replays
        if version % 3 == 0:
            await http.post(f"{base}/replay?version={version}")
            sent += 1
        if version % 5 == 0:
            await http.post(f"{base}/replay?version={version}&same_id=true")
            sent += 1
    newest = renames + 1
    final = await eventually(
        lambda: read_status(crm_app, path),
        lambda s: s.get("applied_version") == newest and s["applied"] + s["ignored"] >= sent,
    )
    assert final["applied"] + final["ignored"] == sent, final
    detail = await get_json(http, f"{otcs}/_control/nodes/{final['workspace']['workspace_id']}")
    assert f"Storm v{newest}" in str(detail["detail"]["categories"])
