"""Master data over HTTP on the dev server: a batch checked record by record (every reason of
a refusal, nothing started for it), accepted records written by the real MasterDataWorkflow
into the Amplience simulator, batch bounds, scopes and sources."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from docflow.docstore import LocalDocumentStore
from docflow.settings import ApiKeyConfig, Settings
from docflow.temporal import master_data_workflow_id
from simulators.kit.server import ServedApp
from starter.api import create_app
from starter.cli import app as cli
from tests.activities.simulated import Sim
from tests.api.conftest import auth, make_settings
from tests.workflows.kit.support import kit_worker
from tests.workflows.master_data_test import PRODUCT, Systems, amplience, sim, systems
from workflows.master_data import MasterDataWorkflow

__all__ = ["amplience", "sim", "systems"]  # the simulator fixtures, shared with the workflow test
URL = "/v1/master-data/PIM/records"


@pytest.fixture
def pim_settings(tmp_path: Path, task_queue: str) -> Settings:
    settings = make_settings(tmp_path, task_queue)
    pim = ApiKeyConfig(
        name="pim",
        key="value:test-pim-key",
        subject="app:pim",
        scopes=["masterdata:write", "processes:read"],
        source_systems=["PIM"],
    )
    return settings.with_overrides(
        api={"api_keys": [*[k.model_dump() for k in settings.api.api_keys], pim.model_dump()]}
    )


@pytest.fixture
async def api(
    dev_server_env: WorkflowEnvironment, pim_settings: Settings, systems: Systems
) -> AsyncIterator[tuple[httpx.AsyncClient, Client]]:
    client = dev_server_env.client
    app = create_app(pim_settings, client, LocalDocumentStore(pim_settings.documents.root))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        kit_worker(
            client, pim_settings.temporal.task_queue, [MasterDataWorkflow], systems.activities()
        ),
        httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as http,
    ):
        yield http, client


def product(record_id: str, version: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "record_type": "product",
        "record_id": record_id,
        "version": version,
        "fields": {**PRODUCT, **fields},
    }


async def started(client: Client, record_id: str) -> bool:
    handle = client.get_workflow_handle(master_data_workflow_id("PIM", "product", record_id))
    try:
        await handle.describe()
    except RPCError:
        return False
    return True


async def wait_status(http: httpx.AsyncClient, path: str, check: Any) -> dict[str, Any]:
    for _ in range(200):
        response = await http.get(path, headers=auth("pim"))
        if response.status_code == 200 and check(response.json()):
            return response.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached: {response.status_code} {response.text[:300]}")


async def test_a_batch_answers_per_record_and_writes_only_the_valid_ones(
    api: tuple[httpx.AsyncClient, Client], sim: Sim
) -> None:
    http, client = api
    good, bad = f"OK-{uuid.uuid4().hex[:8]}", f"BAD-{uuid.uuid4().hex[:8]}"
    batch = {"records": [product(good), product(bad, price=-1, currency="JPY", colour="red")]}
    response = await http.post(URL, json=batch, headers=auth("pim"))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["refused"]) == (1, 1)
    ok, refused = answer["results"]
    assert ok["outcome"] == "accepted" and ok["reasons"] == []
    assert ok["workflow_id"] == f"md:PIM:product:{good}"
    assert ok["status_url"] == f"http://docflow.test/v1/master-data/PIM/product/{good}"
    assert refused["outcome"] == "refused" and refused["workflow_id"] is None
    assert refused["reasons"] == [
        "price is -1, less than 0",
        "currency is 'JPY', not one of: EUR, USD, GBP",
        "unknown fields: colour",
    ]
    status = await wait_status(
        http, f"/v1/master-data/PIM/product/{good}", lambda s: s["applied_version"] == 1
    )
    [item] = sim.state.items.values()
    assert status["item_id"] == item.id and status["delivery_key"] == f"md/PIM/product/{good}"
    assert not await started(client, bad)


async def test_a_batch_of_refused_records_is_422_and_starts_nothing(
    api: tuple[httpx.AsyncClient, Client],
) -> None:
    http, client = api
    record_id = f"BAD-{uuid.uuid4().hex[:8]}"
    batch = {"records": [product(record_id, sku="lower case"), product("bad id!")]}
    response = await http.post(URL, json=batch, headers=auth("pim"))
    assert response.status_code == 422
    answer = response.json()
    assert answer["error"]["code"] == "records_refused"
    assert answer["accepted"] == 0 and answer["refused"] == 2
    assert answer["results"][0]["reasons"] == ["sku does not match ^[A-Z0-9-]+$"]
    assert answer["results"][1]["reasons"][0].startswith("record_id 'bad id!' must be")
    assert not await started(client, record_id)


async def test_batch_bounds(api: tuple[httpx.AsyncClient, Client]) -> None:
    http, _ = api
    too_many = {"records": [product(f"R{i}") for i in range(101)]}
    response = await http.post(URL, json=too_many, headers=auth("pim"))
    assert response.status_code == 422 and "100" in response.text
    empty = await http.post(URL, json={"records": []}, headers=auth("pim"))
    assert empty.status_code == 422
    huge = json.dumps({"records": [product("R1", description="x" * (1024 * 1024))]})
    response = await http.post(
        URL, content=huge, headers={**auth("pim"), "content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_scopes_and_sources(api: tuple[httpx.AsyncClient, Client]) -> None:
    http, _ = api
    batch = {"records": [product("SKU-1")]}
    no_scope = await http.post(URL, json=batch, headers=auth("crm"))
    assert no_scope.status_code == 403 and no_scope.json()["error"]["code"] == "insufficient_scope"
    other_source = await http.post("/v1/master-data/ERP/records", json=batch, headers=auth("pim"))
    assert other_source.status_code == 403
    assert other_source.json()["error"]["code"] == "not_permitted"
    hidden = await http.get("/v1/master-data/PIM/product/SKU-1", headers=auth("crm"))
    assert hidden.status_code == 404
    unknown = await http.get("/v1/master-data/PIM/product/NOPE-1", headers=auth("pim"))
    assert unknown.status_code == 404


async def test_the_cli_pushes_a_file_and_shows_a_records_status(
    dev_server_env: WorkflowEnvironment, pim_settings: Settings, systems: Systems, tmp_path: Path
) -> None:
    """`docflow content master-data push/status` against the API served on loopback."""
    client = dev_server_env.client
    app = create_app(pim_settings, client, LocalDocumentStore(pim_settings.documents.root))
    good = f"CLI-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "records.json"
    path.write_text(json.dumps({"source": "PIM", "records": [product(good), product("x y")]}))

    async def docflow(base_url: str, *args: str) -> Any:
        argv = [*args, "--api-url", base_url, "--api-key", "test-pim-key"]
        return await asyncio.to_thread(CliRunner().invoke, cli, argv)

    async with (
        kit_worker(
            client, pim_settings.temporal.task_queue, [MasterDataWorkflow], systems.activities()
        ),
        ServedApp(app, name="docflow API (CLI)") as served,
    ):
        pushed = await docflow(served.base_url, "content", "master-data", "push", str(path))
        assert pushed.exit_code == 0, pushed.output
        assert "1 accepted, 1 refused" in pushed.output and "must be 1-100" in pushed.output
        for _ in range(100):
            shown = await docflow(
                served.base_url, "content", "master-data", "status", "PIM", "product", good
            )
            if "in_sync" in shown.output:
                break
            await asyncio.sleep(0.1)
        assert shown.exit_code == 0 and f"md/PIM/product/{good}" in shown.output, shown.output
