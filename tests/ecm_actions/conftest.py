"""Lifecycle-action fixtures: the Content Server and ERP simulators over HTTP, the real
activities pointed at them (notifications recorded), and helpers to make a document and the
ECM event that approves it."""

from __future__ import annotations

import json
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy

from activities.business_processes import BusinessProcessActivities
from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.content_server.status_writeback import StatusWritebackActivities
from docflow.config.bundle import BundleReader
from docflow.models import Notification
from docflow.models.ecm_events import (
    EcmEvent,
    EcmNode,
    LifecycleActionInput,
    LifecycleActionResult,
    action_workflow_id,
)
from docflow.settings import Settings
from simulators.content_server import create_app as content_server_app
from simulators.erp import create_app as erp_app
from simulators.kit.server import ServedApp
from tests.activities.simulated import Sim
from tests.conftest import TEST_CONFIG_DIR
from tests.read_model_fake import record_process_change
from workflows.ecm_action import LifecycleActionWorkflow

INVOICE_RULE = "invoice-final-approval"
STATUS_CATEGORY = 9400


@pytest.fixture(scope="module")
async def _content_server() -> AsyncIterator[ServedApp]:
    async with ServedApp(content_server_app(), name="content-server-sim") as served:
        yield served


@pytest.fixture(scope="module")
async def _erp() -> AsyncIterator[ServedApp]:
    async with ServedApp(erp_app(), name="erp-sim") as served:
        yield served


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


@pytest.fixture
async def content_server(_content_server: ServedApp, http: httpx.AsyncClient) -> Sim:
    sim = Sim(_content_server, http)
    await sim.control("POST", "/reset")
    return sim


@pytest.fixture
async def erp(_erp: ServedApp, http: httpx.AsyncClient) -> Sim:
    sim = Sim(_erp, http)
    await sim.control("POST", "/reset")
    return sim


@pytest.fixture
def settings(tmp_path: Path, content_server: Sim, erp: Sim) -> Settings:
    """The suite's settings, with SAP's process API and Content Server at the simulators."""
    return Settings().with_overrides(
        content_server={"base_url": f"{content_server.url}/otcs/cs.exe/api", "timeout_s": 5.0},
        source_systems={"processes_endpoints": {"SAP": f"{erp.url}/api/processes"}},
        documents={"root": str(tmp_path / "documents")},
    )


@pytest.fixture
def otcs(http: httpx.AsyncClient, settings: Settings) -> ContentServerClient:
    base = settings.content_server.base_url
    auth = OtcsTicketAuth(http, base, "docflow", "dev-otcs-password")
    return ContentServerClient(http, base, auth, timeout_s=5.0)


def edited_bundle(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> BundleReader:
    """A copy of the suite's bundle with `ecm-events.json` edited."""
    root = tmp_path / "config"
    shutil.copytree(TEST_CONFIG_DIR / "local", root / "local")
    path = root / "local" / "ecm-events.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return BundleReader("local", root)


@dataclass
class Actions:
    """The real activities against the simulators; notifications recorded."""

    processes: BusinessProcessActivities
    status: StatusWritebackActivities
    notified: list[Notification] = field(default_factory=list)

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> None:
        self.notified.append(notification)

    def activities(self) -> list[Callable[..., Any]]:
        p = self.processes
        return [
            record_process_change,
            p.resolve_rule,
            p.start,
            p.read,
            p.await_finished,
            self.status.write_ecm_status,
            self.notify,
        ]


def actions(
    settings: Settings, http: httpx.AsyncClient, config: BundleReader | None = None
) -> Actions:
    return Actions(
        BusinessProcessActivities(settings, http, config=config),
        StatusWritebackActivities.from_settings(settings, http),
    )


async def a_document(otcs: ContentServerClient, name: str) -> EcmNode:
    """A document in the simulator's Customers folder."""
    node = await otcs.upload_document(parent_id=2000, name=name, content=b"%PDF-1.4 invoice")
    return EcmNode(id=node.id, parent_id=2000, name=name, version=1)


def approved(node: EcmNode) -> EcmEvent:
    """An approval: the event's identity is (node, type, version); the simulator numbers nodes
    from the same id in every test, so each approval names a version of its own."""
    now = datetime.now(UTC)
    return EcmEvent(
        type="node.approved",
        node=node.model_copy(update={"version": secrets.randbelow(10**9) + 1}),
        audit_date=now.isoformat(timespec="microseconds"),
        received_at=now,
    )


async def start_action(
    client: Client, task_queue: str, event: EcmEvent, rule_id: str = INVOICE_RULE
) -> WorkflowHandle[LifecycleActionWorkflow, LifecycleActionResult]:
    """As the document's event workflow starts it: the (rule, event) id, once."""
    return await client.start_workflow(
        LifecycleActionWorkflow.run,
        LifecycleActionInput(rule_id=rule_id, event=event, config_version="planned"),
        id=action_workflow_id(rule_id, event),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


async def status_category(otcs: ContentServerClient, node_id: int) -> dict[str, Any]:
    return (await otcs.get_categories(node_id)).get(STATUS_CATEGORY, {})


async def status_writes(content_server: Sim, node_id: int) -> list[dict[str, Any]]:
    changes = await content_server.control("GET", f"/categories/changes?node_id={node_id}")
    return [c for c in changes["results"] if c.get("category_id") == STATUS_CATEGORY]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
