"""ECM requests over HTTP on the dev server with the real workflows and activities: content
updates (a new version with metadata, the same request again, a stale base version, bad
input, oversized, unknown node) and review tasks (start, the same again, decisions by who may
and who may not, another system's task)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from docflow.docstore import LocalDocumentStore
from docflow.models.ecm_requests import ContentUpdateAnswer
from docflow.settings import Settings
from simulators.kit.server import ServedApp
from starter.api import create_app
from starter.api.routes.ecm_requests import update_response
from starter.cli import app as cli
from starter.processes.ecm_requests import EcmContentUpdates
from tests.activities.simulated import Sim
from tests.api.conftest import auth
from tests.ecm_requests.conftest import (
    PDF,
    STATUS_CATEGORY,
    WORKFLOWS,
    Systems,
    callbacks,
    new_document,
    node,
    replays,
)
from tests.workflows.kit.support import kit_worker

ALICE = "alice@example.com"


@pytest.fixture
async def api(
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    store: LocalDocumentStore,
    systems: Systems,
) -> AsyncIterator[httpx.AsyncClient]:
    client = dev_server_env.client
    app = create_app(settings, client, store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        kit_worker(client, settings.temporal.task_queue, WORKFLOWS, systems.activities()),
        httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as http,
    ):
        yield http


def request_id() -> str:
    return f"REQ-{uuid.uuid4().hex[:8]}"


async def update(
    api: httpx.AsyncClient,
    node_id: int,
    request: str,
    base_version: int | str,
    *,
    content: bytes = PDF,
    metadata: dict[str, Any] | None = None,
    key: str = "crm",
) -> httpx.Response:
    form = {"base_version": str(base_version), "request_id": request}
    if metadata is not None:
        form["metadata"] = json.dumps(metadata)
    return await api.post(
        f"/v1/ecm/nodes/{node_id}/versions",
        data=form,
        files={"file": ("contract-v2.pdf", content, "application/pdf")},
        headers=auth(key),
    )


# ---------------------------------------------------------------- updates
async def test_a_new_version_is_added_once_with_its_metadata_and_called_back(
    api: httpx.AsyncClient,
    ecm: Sim,
    requester: Sim,
    http: httpx.AsyncClient,
    dev_server_env: WorkflowEnvironment,
) -> None:
    node_id, request = await new_document(ecm, http), request_id()
    metadata = {"document_info": {"document_type": "contract", "source_id": "006X"}}
    response = await update(api, node_id, request, 1, metadata=metadata)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["workflow_id"] == f"ecm-update:SFDC:{request}"
    assert answer["result"]["outcome"] == "updated" and answer["result"]["version"] == 2
    assert answer["status_url"] == f"http://docflow.test/v1/ecm/updates/SFDC/{request}"
    versions = node(ecm, node_id).versions
    assert len(versions) == 2 and versions[1].content == PDF
    assert f"docflow:SFDC:{request}" in versions[1].description
    assert node(ecm, node_id).categories[9300] == {"9300_1": "contract", "9300_3": "006X"}
    # The same request again: the same result, no second version.
    again = await update(api, node_id, request, 1, metadata=metadata)
    assert again.status_code == 201 and again.json()["result"]["version"] == 2
    assert len(node(ecm, node_id).versions) == 2
    [message] = await callbacks(requester, "ecm.content.updated")
    assert message["data"]["outcome"] == "updated" and message["data"]["version"] == 2
    status = await api.get(f"/v1/ecm/updates/SFDC/{request}", headers=auth("crm"))
    assert status.status_code == 200 and status.json()["outcome"] == "updated"
    await replays(dev_server_env.client.get_workflow_handle(answer["workflow_id"]))
    assert (
        await api.get(f"/v1/ecm/updates/SFDC/{request}", headers=auth("erp"))
    ).status_code == 404


async def test_a_stale_base_version_is_a_conflict_and_adds_nothing(
    api: httpx.AsyncClient, ecm: Sim, requester: Sim, http: httpx.AsyncClient
) -> None:
    node_id = await new_document(ecm, http)
    assert (await update(api, node_id, request_id(), 1)).status_code == 201
    stale = await update(api, node_id, request_id(), 1, content=PDF + b"% other\n")
    assert stale.status_code == 409, stale.text
    body = stale.json()
    assert body["error"]["code"] == "version_conflict" and body["current_version"] == 2
    assert body["result"]["outcome"] == "conflict"
    assert len(node(ecm, node_id).versions) == 2
    outcomes = [m["data"]["outcome"] for m in await callbacks(requester, "ecm.content.updated", 2)]
    assert sorted(outcomes) == ["conflict", "updated"]


async def test_the_same_request_id_with_another_body_is_refused(
    api: httpx.AsyncClient, ecm: Sim, http: httpx.AsyncClient
) -> None:
    node_id, request = await new_document(ecm, http), request_id()
    assert (await update(api, node_id, request, 1)).status_code == 201
    other = await update(api, node_id, request, 1, content=PDF + b"% other\n")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    assert len(node(ecm, node_id).versions) == 2


async def test_bad_updates_are_refused_before_anything_starts(
    api: httpx.AsyncClient, ecm: Sim, http: httpx.AsyncClient
) -> None:
    node_id = await new_document(ecm, http)
    unknown = await update(api, node_id, request_id(), 1, metadata={"document_info": {"x": 1}})
    assert unknown.status_code == 422 and "unknown fields x" in unknown.text
    category = await update(api, node_id, request_id(), 1, metadata={"secret": {"a": 1}})
    assert category.status_code == 422 and "unknown category" in category.text
    assert (await update(api, node_id, request_id(), "latest")).status_code == 422
    assert (await update(api, node_id, "bad id!", 1)).status_code == 422
    big = PDF + b"0" * (1024 * 1024)  # tests/config/local allows 1 MiB
    assert (await update(api, node_id, request_id(), 1, content=big)).status_code == 413
    fake = await update(api, node_id, request_id(), 1, content=b"MZ not a pdf")
    assert fake.status_code == 415
    erp = await update(api, node_id, request_id(), 1, key="alice")  # no processes:start
    assert erp.status_code == 403
    assert len(node(ecm, node_id).versions) == 1


async def test_an_unknown_node_is_404(api: httpx.AsyncClient, requester: Sim) -> None:
    response = await update(api, 987654, request_id(), 1)
    assert response.status_code == 404, response.text
    assert response.json()["result"]["outcome"] == "refused"
    [message] = await callbacks(requester, "ecm.content.updated")
    assert message["data"]["outcome"] == "refused"


# ------------------------------------------------------------ review tasks
def review_body(node_id: int, request: str, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request,
        "node_id": node_id,
        "title": "Check the contract",
        "assignees": [ALICE],
        "proposer": "paul@example.com",
        **extra,
    }


async def wait_state(api: httpx.AsyncClient, path: str, state: str) -> dict[str, Any]:
    for _ in range(200):
        response = await api.get(path, headers=auth("crm"))
        if response.status_code == 200 and response.json()["state"] == state:
            return response.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {state}: {response.status_code} {response.text[:300]}")


async def test_a_review_task_is_requested_decided_written_and_called_back(
    api: httpx.AsyncClient, ecm: Sim, requester: Sim, http: httpx.AsyncClient
) -> None:
    node_id, request = await new_document(ecm, http), request_id()
    body = review_body(node_id, request, deadline="P2D")
    created = await api.post("/v1/ecm/review-tasks", json=body, headers=auth("crm"))
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["workflow_id"] == f"ecm-review:SFDC:{request}" and answer["created"]
    path = f"/v1/ecm/review-tasks/SFDC/{request}"
    assert answer["status_url"] == f"http://docflow.test{path}"
    again = await api.post("/v1/ecm/review-tasks", json=body, headers=auth("crm"))
    assert again.status_code == 200 and again.json()["created"] is False
    other = {**body, "title": "Something else"}
    conflict = await api.post("/v1/ecm/review-tasks", json=other, headers=auth("crm"))
    assert conflict.status_code == 409 and "title" in conflict.json()["error"]["message"]
    status = await wait_state(api, path, "awaiting_decision")
    assert status["version"] == 1 and status["participants"] == [ALICE]
    decision = {"decision": "approve", "comment": "looks right"}
    bob = await api.post(f"{path}/decision", json=decision, headers=auth("bob"))
    assert bob.status_code == 404  # not his task: it does not exist for him
    assert (await api.get(path, headers=auth("erp"))).status_code == 404
    alice = await api.post(f"{path}/decision", json=decision, headers=auth("alice"))
    assert alice.status_code == 200, alice.text
    done = await wait_state(api, path, "approved")
    assert done["decided_by"] == ALICE and done["comment"] == "looks right"
    values = node(ecm, node_id).categories[STATUS_CATEGORY]
    assert values[f"{STATUS_CATEGORY}_1"] == "Approved"
    [message] = await callbacks(requester, "ecm.review.completed")
    assert message["data"]["outcome"] == "approved" and message["data"]["node_id"] == node_id
    late = await api.post(f"{path}/decision", json=decision, headers=auth("alice"))
    assert late.status_code == 409


async def test_review_requests_are_checked_before_anything_starts(
    api: httpx.AsyncClient,
) -> None:
    post = "/v1/ecm/review-tasks"
    proposer = review_body(1, request_id(), assignees=[ALICE, "paul@example.com"])
    refused = await api.post(post, json=proposer, headers=auth("crm"))
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert "paul@example.com is not a known reviewer" in message
    assert "proposed the review and cannot review it" in message
    too_long = review_body(1, request_id(), deadline="P90D")
    assert (await api.post(post, json=too_long, headers=auth("crm"))).status_code == 422
    callback = review_body(1, request_id(), callback_url="https://evil.example/")
    assert (await api.post(post, json=callback, headers=auth("crm"))).status_code == 422
    many = review_body(1, request_id(), assignees=[f"p{n}@example.com" for n in range(21)])
    assert (await api.post(post, json=many, headers=auth("crm"))).status_code == 422
    other = review_body(1, request_id(), system="SAP")
    assert (await api.post(post, json=other, headers=auth("crm"))).status_code == 403


def test_the_cli_documents_the_ecm_commands() -> None:
    runner = CliRunner()
    for args in (
        ["ecm", "--help"],
        ["ecm", "review", "create", "--help"],
        ["ecm", "update", "--help"],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    assert "--base-version" in runner.invoke(cli, ["ecm", "update", "--help"]).output


async def test_the_cli_requests_decides_and_updates_through_the_api(
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    store: LocalDocumentStore,
    systems: Systems,
    ecm: Sim,
    http: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    """`docflow ecm review create|status|decide` and `docflow ecm update` on loopback."""
    client = dev_server_env.client
    app = create_app(settings, client, store)
    node_id, request = await new_document(ecm, http), request_id()
    file = tmp_path / "contract-v2.pdf"
    file.write_bytes(PDF + b"% v2\n")

    async def docflow(base_url: str, key: str, *args: str) -> Any:
        argv = [*args, "--api-url", base_url, "--api-key", f"test-{key}-key"]
        return await asyncio.to_thread(CliRunner().invoke, cli, argv)

    async with (
        kit_worker(client, settings.temporal.task_queue, WORKFLOWS, systems.activities()),
        ServedApp(app, name="docflow API (CLI)") as served,
    ):
        url = served.base_url
        created = await docflow(
            url, "crm", "ecm", "review", "create", str(node_id), "--request-id", request,
            "--title", "Check it", "--assignee", ALICE,
        )  # fmt: skip
        assert created.exit_code == 0 and f"ecm-review:SFDC:{request}" in created.output
        for _ in range(100):
            shown = await docflow(url, "crm", "ecm", "review", "status", "SFDC", request)
            if "awaiting_decision" in shown.output:
                break
            await asyncio.sleep(0.1)
        assert "awaiting_decision" in shown.output, shown.output
        decided = await docflow(
            url, "alice", "ecm", "review", "decide", "SFDC", request, "approve", "--comment", "ok"
        )
        assert decided.exit_code == 0, decided.output
        updated = await docflow(
            url, "crm", "ecm", "update", str(node_id), str(file),
            "--base-version", "1", "--request-id", request,
        )  # fmt: skip
        assert updated.exit_code == 0 and "updated — version 2" in updated.output, updated.output
        stale = await docflow(
            url, "crm", "ecm", "update", str(node_id), str(file),
            "--base-version", "1", "--request-id", request_id(),
        )  # fmt: skip
        assert stale.exit_code == 1 and "409" in stale.output, stale.output


async def test_an_update_still_running_is_answered_202_with_its_status_url(
    api: httpx.AsyncClient,
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    store: LocalDocumentStore,
    ecm: Sim,
    http: httpx.AsyncClient,
) -> None:
    node_id, request = await new_document(ecm, http), request_id()
    await ecm.fail_next(503, count=2)  # Content Server busy: the first reads are retried
    updates = EcmContentUpdates(dev_server_env.client, settings)
    document = await store.put(PDF, filename="v2.pdf", content_type="application/pdf")
    await updates.start(
        system="SFDC",
        request_id=request,
        node_id=node_id,
        base_version=1,
        document=document,
        metadata={},
        started_by="app:crm",
    )
    assert await updates.result("SFDC", request, timedelta(milliseconds=50)) is None
    answer = ContentUpdateAnswer(workflow_id="w", status_url="http://docflow.test/s")
    running = update_response(answer, None)
    assert running.status_code == 202 and json.loads(running.body)["result"] is None
    done = await updates.result("SFDC", request, timedelta(seconds=20))
    assert done is not None and done.outcome == "updated" and done.version == 2
