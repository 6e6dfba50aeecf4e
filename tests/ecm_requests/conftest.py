"""ECM request fixtures: the Content Server simulator (its Document Status category) plays ECM,
the CRM simulator plays the requester (it verifies docflow's signed callbacks), the real
activities run against both; notifications are recorded by a stand-in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities.content_server.document_status import EcmRequestActivities
from activities.source_systems import SourceSystemActivities
from docflow.docstore import LocalDocumentStore
from docflow.models import Notification
from docflow.models.ecm_requests import ContentUpdateInput, ReviewTaskInput
from docflow.settings import Settings
from simulators.content_server import create_app as content_server_app
from simulators.crm import create_app as crm_app
from simulators.kit.server import ServedApp
from tests.activities.simulated import Sim
from tests.api.conftest import make_settings
from tests.read_model_fake import record_process_change
from tests.workflows.kit.support import RUNNER
from workflows.delivery import DeliveryWorkflow
from workflows.ecm_review import EcmReviewTaskWorkflow
from workflows.ecm_update import EcmContentUpdateWorkflow

PDF = b"%PDF-1.4\n% a contract\n%%EOF\n"
FOLDER = 2000  # "Customers", seeded by the simulator
STATUS_CATEGORY = 9400  # "Document Status": ecm-requests.json (tests/config/local)
WORKFLOWS = [EcmReviewTaskWorkflow, EcmContentUpdateWorkflow, DeliveryWorkflow]
_ = (ReviewTaskInput, ContentUpdateInput)


@pytest.fixture(scope="module")
async def _content_server() -> AsyncIterator[ServedApp]:
    app = content_server_app()
    async with ServedApp(app, name="content-server-sim") as served:
        yield served


@pytest.fixture(scope="module")
async def _crm() -> AsyncIterator[ServedApp]:
    async with ServedApp(crm_app(), name="crm-sim") as served:
        yield served


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


@pytest.fixture
async def ecm(_content_server: ServedApp, http: httpx.AsyncClient) -> AsyncIterator[Sim]:
    sim = Sim(_content_server, http)
    await sim.control("POST", "/reset")
    yield sim


@pytest.fixture
async def requester(_crm: ServedApp, http: httpx.AsyncClient) -> AsyncIterator[Sim]:
    sim = Sim(_crm, http)
    await sim.control("POST", "/reset")
    yield sim


@pytest.fixture
def settings(tmp_path: Path, task_queue: str, ecm: Sim, requester: Sim) -> Settings:
    """The API test keys (crm acts for SFDC; alice and bob decide) and the simulators."""
    return make_settings(
        tmp_path,
        task_queue,
        content_server={"base_url": f"{ecm.url}/otcs/cs.exe/api", "timeout_s": 5.0},
        source_systems={"endpoints": {"SFDC": f"{requester.url}/webhooks/docflow"}},
    )


@pytest.fixture
def store(settings: Settings) -> LocalDocumentStore:
    return LocalDocumentStore(settings.documents.root)


class Systems:
    """The real ECM request and source-system activities; notifications recorded."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient, store: LocalDocumentStore):
        self.ecm = EcmRequestActivities.from_settings(settings, http, store)
        self.source = SourceSystemActivities(http, settings)
        self.notified: list[Notification] = []

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        self.notified.append(notification)

    def kinds(self) -> list[str]:
        return [n.kind.value for n in self.notified]

    def activities(self) -> list[Callable[..., Any]]:
        e = self.ecm
        return [
            record_process_change,
            e.confirm_document,
            e.write_review_status,
            e.node_versions,
            e.add_version,
            e.apply_metadata,
            self.source.deliver_message,
            self.notify,
        ]


@pytest.fixture
def systems(settings: Settings, http: httpx.AsyncClient, store: LocalDocumentStore) -> Systems:
    return Systems(settings, http, store)


async def replays(handle: WorkflowHandle) -> None:
    """The run's history replays on the current code (no nondeterminism in the story)."""
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=pydantic_data_converter, workflow_runner=RUNNER
    )
    await replayer.replay_workflow(await handle.fetch_history())


async def new_document(ecm: Sim, http: httpx.AsyncClient, name: str | None = None) -> int:
    """A document node (version 1) in the simulator, made as a person would."""
    api = f"{ecm.url}/otcs/cs.exe/api"
    ticket = (
        await http.post(
            f"{api}/v1/auth", data={"username": "docflow", "password": "dev-otcs-password"}
        )
    ).json()["ticket"]
    body = f'{{"type": 144, "name": "{name or uuid.uuid4().hex[:10]}.pdf", "parent_id": {FOLDER}}}'
    response = await http.post(
        f"{api}/v2/nodes",
        headers={"OTCSTicket": ticket},
        data={"body": body},
        files={"file": ("contract.pdf", PDF, "application/pdf")},
    )
    response.raise_for_status()
    return int(response.json()["id"])


def node(ecm: Sim, node_id: int) -> Any:
    return ecm.state.nodes[node_id]


async def callbacks(requester: Sim, event_type: str, count: int = 1) -> list[dict[str, Any]]:
    """The requester's verified callbacks of a type, once `count` have arrived."""
    for _ in range(200):
        found = await requester.control("GET", f"/messages?type={event_type}")
        if found["count"] >= count:
            return [m["payload"] for m in found["results"]]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} {event_type} callback(s) never arrived: {found}")
