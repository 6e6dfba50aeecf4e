"""Fault-test fixtures: the HTTP API served on loopback in front of the real SigningWorkflow.

The workflow runs on the dev server with the stand-in activities of tests/workflows, so every
Core Signature document is named `doc-{external_id}` and callbacks can be built in advance.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from docflow.docstore import LocalDocumentStore
from docflow.models import DocumentRef, SignatureEvent
from docflow.settings import Settings
from simulators.kit.server import ServedApp
from starter.api import create_app
from tests.workflows.conftest import FakeSystems
from workflows.signing import SigningWorkflow

DEFAULT_STORM_SIZE = 30
PDF = b"%PDF-1.4\n% docflow fault-test document\n%%EOF\n"
# Keys of the local bundle (tests/config/local/settings.toml, literal secrets allowed).
CRM_KEY = {"X-API-Key": "dev-crm-key"}
OPS_KEY = {"X-API-Key": "dev-ops-key"}
ALICE_KEY = {"X-API-Key": "dev-alice-key"}
ALICE = "alice@example.com"


def pytest_addoption(parser: pytest.Parser) -> None:
    # Honoured when pytest is pointed at tests/faults (conftest options need an initial
    # conftest); DOCFLOW_STORM_SIZE works from anywhere.
    parser.addoption(
        "--storm-size",
        type=int,
        default=None,
        help=f"processes in the webhook storm (default {DEFAULT_STORM_SIZE})",
    )


@pytest.fixture(scope="module")
def storm_size(request: pytest.FixtureRequest) -> int:
    option = request.config.getoption("storm_size", default=None)
    if option is None:
        option = int(os.environ.get("DOCFLOW_STORM_SIZE", DEFAULT_STORM_SIZE))
    return int(option)


@dataclass
class SigningApi:
    """The served API, its settings, the Temporal client and the stand-in systems."""

    url: str
    client: Client
    settings: Settings
    systems: FakeSystems
    document: DocumentRef
    hash_key: bytes

    @property
    def task_queue(self) -> str:
        return self.settings.temporal.task_queue

    def sign(self, event_time: str, event_type: str, key: bytes | None = None) -> str:
        """hex(HMAC-SHA256(key, event_time + event_type)), as Core Signature signs."""
        message = (event_time + event_type).encode()
        return hmac.new(key or self.hash_key, message, hashlib.sha256).hexdigest()

    def start_body(self, business_key: str, *, approval: bool = False) -> dict[str, Any]:
        stages = [{"name": "legal", "approvers": [ALICE]}] if approval else []
        return {
            "request": {
                "business_key": business_key,
                "document_type": "sales_contract",
                "title": "MSA Acme",
                "source": {"system": "SFDC", "record_type": "Opportunity", "record_id": "0065X"},
                "approval_stages": stages,
                "signers": [{"email": "signer@acme.example.com", "first_name": "Sam"}],
                "workspace": {
                    "ext_system_id": "SFDC",
                    "bo_type": "Account",
                    "bo_id": "0015X",
                    "name": "Acme",
                },
            },
            "document": self.document.model_dump(mode="json"),
        }

    async def signals(self, business_key: str) -> list[SignatureEvent]:
        """The signature events signalled to the process, from its history."""
        handle = self.client.get_workflow_handle(f"signing-{business_key}")
        return await signalled_events(await handle.fetch_history())


async def signalled_events(history: WorkflowHistory) -> list[SignatureEvent]:
    found = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        attributes = event.workflow_execution_signaled_event_attributes
        assert attributes.signal_name == "signature_event"
        [decoded] = await pydantic_data_converter.decode(
            list(attributes.input.payloads), [SignatureEvent]
        )
        found.append(decoded)
    return found


@pytest.fixture(scope="module")
async def signing_api(
    dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SigningApi]:
    data_dir: Path = tmp_path_factory.mktemp("faults")
    settings = Settings(
        profile="local",
        data_dir=data_dir,
        temporal={"task_queue": f"faults-{uuid.uuid4().hex[:10]}", "ui_url": "http://ui.test"},
        core_signature={"event_hash_key": f"value:faults-{uuid.uuid4().hex}"},
        documents={"root": data_dir / "documents"},
        signing_policy={"max_resends": 1},
    )
    store = LocalDocumentStore(settings.documents.root)
    document = await store.put(PDF, filename="contract.pdf", content_type="application/pdf")
    systems = FakeSystems()
    client = dev_server_env.client
    async with (
        Worker(
            client,
            task_queue=settings.temporal.task_queue,
            workflows=[SigningWorkflow],
            activities=systems.activities(),
            max_concurrent_workflow_tasks=50,
        ),
        ServedApp(create_app(settings, client, store), name="docflow API (faults)") as served,
    ):
        yield SigningApi(
            url=served.base_url,
            client=client,
            settings=settings,
            systems=systems,
            document=document,
            hash_key=settings.secret(settings.core_signature.event_hash_key).encode(),
        )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as client:
        yield client
