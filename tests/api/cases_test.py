"""The case routes and `docflow case ...`: refused before anything starts (every reason, even
with Temporal down), then a case assembled on the dev server by the real workflows in front of
stand-in activities — a gap, a person's retry over the API, the status over the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner, Result

from docflow.config.bundle import load_bundle
from docflow.docstore import LocalDocumentStore
from docflow.models import DocumentRef
from docflow.settings import ApiKeyConfig, Settings
from simulators.kit.server import ServedApp
from starter.api import create_app
from starter.cli import app as cli
from tests.api.conftest import API_KEYS, auth, make_settings
from tests.api.support import PDF, new_key
from tests.conftest import TEST_CONFIG_DIR
from tests.workflows.case_stand_ins import FakeCaseSystems, forms, mail, transactions
from workflows.case_assembly import CaseAssemblyWorkflow, CaseSourceWorkflow

# The claims application acts for CASES; ops (support, '*') reads and retries; crm does not.
CASE_KEYS = {
    **API_KEYS,
    "claims": ("app:claims", ["processes:start", "processes:read"], ["CASES"]),
}


def case_settings(tmp_path: Path, task_queue: str) -> Settings:
    keys = [
        ApiKeyConfig(
            name=name, key=f"value:test-{name}-key", subject=sub, scopes=scopes, source_systems=sy
        ).model_dump()
        for name, (sub, scopes, sy) in CASE_KEYS.items()
    ]
    return make_settings(tmp_path, task_queue, api={"api_keys": keys})


def client_for(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://docflow.test")


async def temporal_down() -> Client:
    raise ConnectionError("Temporal is down in this test")


@pytest.fixture
def cases_settings(tmp_path: Path, task_queue: str) -> Settings:
    return case_settings(tmp_path, task_queue)


@pytest.fixture
def cases_store(cases_settings: Settings) -> LocalDocumentStore:
    return LocalDocumentStore(cases_settings.documents.root)


@pytest.fixture
async def offline(
    cases_settings: Settings, cases_store: LocalDocumentStore
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(cases_settings, temporal_down, cases_store)) as client:
        yield client


@pytest.fixture
def systems() -> FakeCaseSystems:
    return FakeCaseSystems(bundle=load_bundle("local", TEST_CONFIG_DIR, check_secrets=False))


@pytest.fixture
async def online(
    dev_server_env: WorkflowEnvironment,
    task_queue: str,
    cases_settings: Settings,
    cases_store: LocalDocumentStore,
    systems: FakeCaseSystems,
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The API in front of the real case workflows (stand-in activities), and its URL when
    served on loopback (for the CLI)."""
    async with Worker(
        dev_server_env.client,
        task_queue=task_queue,
        workflows=[CaseAssemblyWorkflow, CaseSourceWorkflow],
        activities=systems.activities(),
    ):
        app = create_app(cases_settings, dev_server_env.client, cases_store)
        async with client_for(app) as client, ServedApp(app, name="docflow API (cases)") as api:
            yield client, api.base_url


def claim(case_id: str, **fields: Any) -> dict[str, Any]:
    return {"case_type": "claims", "case_id": case_id, "title": "Flood", **fields}


async def docflow(base_url: str, key: str, *args: str) -> Result:
    argv = [*args, "--api-url", base_url, "--api-key", f"test-{key}-key"]
    return await asyncio.to_thread(CliRunner().invoke, cli, argv)


# ------------------------------------------------------------------ refused up front
async def test_a_bad_case_is_refused_with_every_reason_before_anything_starts(
    offline: httpx.AsyncClient,
) -> None:
    missing = DocumentRef(key="sha256/ab/" + "ab" * 32, sha256="ab" * 32, size=3, filename="x.pdf")
    body = {
        "case_type": "fraud",
        "case_id": "F-1",
        "sources": ["mail_archive", "fax"],
        "attachments": [missing.model_dump()],
    }
    # Temporal is down: the answer can only come from the check that runs before a start.
    refused = await offline.post("/v1/cases", json=body, headers=auth("claims"))
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_request"
    for reason in (
        "unknown case type 'fraud' in local (known: audit, claims, service)",
        "unknown case source 'fax' in local",
        "attachments were sent, but no source of kind 'attachments' is gathered",
        "attachments[0]: document sha256/ab/",
    ):
        assert reason in error["message"], error["message"]

    untitled = await offline.post(
        "/v1/cases", json={"case_type": "claims", "case_id": "C-1"}, headers=auth("claims")
    )
    assert untitled.status_code == 422
    assert "field 'title' is required for CASES/Claim" in untitled.json()["error"]["message"]

    malformed = await offline.post(
        "/v1/cases", json={"case_type": "claims", "case_id": "a b"}, headers=auth("claims")
    )
    assert malformed.status_code == 422
    assert "body.case_id" in malformed.json()["error"]["message"]

    # A good case with Temporal down: 503, retry later.
    down = await offline.post("/v1/cases", json=claim("C-2"), headers=auth("claims"))
    assert down.status_code == 503 and down.headers["Retry-After"]


async def test_only_callers_acting_for_cases_start_and_see_them(
    offline: httpx.AsyncClient,
) -> None:
    not_ours = await offline.post("/v1/cases", json=claim("C-3"), headers=auth("crm"))
    assert (not_ours.status_code, not_ours.json()["error"]["code"]) == (403, "not_permitted")
    no_scope = await offline.post("/v1/cases", json=claim("C-3"), headers=auth("alice"))
    assert (no_scope.status_code, no_scope.json()["error"]["code"]) == (403, "insufficient_scope")
    hidden = await offline.get("/v1/cases/claims/C-3", headers=auth("crm"))
    assert hidden.status_code == 404
    assert hidden.json()["error"]["message"] == "no case for claims/C-3"
    retry = await offline.post(
        "/v1/cases/claims/C-3/sources/erp_history/retry", headers=auth("claims")
    )
    assert (retry.status_code, retry.json()["error"]["code"]) == (403, "insufficient_scope")


# ------------------------------------------------------------------ a case end to end
async def test_a_case_with_a_gap_is_retried_over_the_api_and_read_over_the_cli(
    online: tuple[httpx.AsyncClient, str],
    systems: FakeCaseSystems,
    cases_store: LocalDocumentStore,
) -> None:
    api, base_url = online
    systems.holdings = {
        "mail_archive": mail(2),
        "forms_portal": forms(1),
        "erp_history": transactions(2),
    }
    systems.down = {"erp_history"}
    photo = await cases_store.put(PDF, filename="photo.pdf", content_type="application/pdf")
    case_id = new_key("CLM")
    body = claim(case_id, attachments=[photo.model_dump()])

    started = await api.post("/v1/cases", json=body, headers=auth("claims"))
    assert started.status_code == 202, started.text
    assert started.json()["status_url"] == f"http://docflow.test/v1/cases/claims/{case_id}"
    assert started.json()["workflow_id"] == f"case:claims:{case_id}"
    again = await api.post("/v1/cases", json=body, headers=auth("claims"))
    assert (again.status_code, again.json()["created"]) == (200, False)
    other = await api.post("/v1/cases", json={**body, "title": "Fire"}, headers=auth("claims"))
    assert other.status_code == 409 and "request.title" in other.json()["error"]["message"]

    url = f"/v1/cases/claims/{case_id}"

    async def status_when(state: str) -> dict[str, Any]:
        for _ in range(200):
            status = (await api.get(url, headers=auth("ops"))).json()
            if status["state"] == state:
                return status
            await asyncio.sleep(0.05)
        raise AssertionError(f"never {state}: {status}")

    status = await status_when("assembled_with_gaps")
    assert status["gaps"] == ["erp_history"] and status["finished"] is False
    assert status["sources_done"] == 3 and status["items_filed"] == 4 + 1 + 1

    unknown = await api.post(f"{url}/sources/crm/retry", headers=auth("ops"))
    assert unknown.status_code == 409
    assert "'crm' is not a source of this case" in unknown.json()["error"]["message"]
    done = await api.post(f"{url}/sources/mail_archive/retry", headers=auth("ops"))
    assert done.status_code == 409 and "not failed" in done.json()["error"]["message"]

    systems.down.clear()
    retried = await api.post(f"{url}/sources/erp_history/retry", headers=auth("ops"))
    assert retried.status_code == 200, retried.text
    assert retried.json()["detail"] == "retrying erp_history"
    status = await status_when("assembled")
    assert status["items_filed"] == 8 and status["finished"] is True
    retry = next(e for e in status["audit"] if e["kind"] == "retry_requested")
    assert (retry["actor"], retry["detail"]) == ("ops@example.com", "erp_history")

    shown = await docflow(base_url, "ops", "case", "status", "claims", case_id)
    assert shown.exit_code == 0, shown.output
    assert f"claims/{case_id}: assembled" in shown.output
    assert "sources done 4/4, items filed 8" in shown.output
    late = await docflow(base_url, "ops", "case", "retry", "claims", case_id, "erp_history")
    assert late.exit_code == 1 and "Traceback" not in late.output
